"""The trace cache: a zoo model's traced `OpGraph`, kept on disk so the next call skips torch.

Tracing LLaMA-2-7B's decode step takes about 5 s on the 2-core CI machine, most of it importing
torch and `torch._dynamo` (which meta-tensor decompositions import on first use), against 20 ms to
read the pickled graph back (2026-11-22). A graph is keyed by what it was traced from: the
arguments (model, phase, batch, lengths), the installed torch version, and a fingerprint of every
file of the `workloads` package (the tracer, the op registry, the zoo configs), so editing any of
them, or upgrading torch, misses the old entries instead of reading a stale graph. Rewrites and
annotations (fusion, MoE grouping, precision, sparsity) run after the cache, on every call.

Where: ``$CODESIGN_CACHE_DIR`` if set (``off`` turns the cache off), else
``$XDG_CACHE_HOME/codesign/graphs`` or ``~/.cache/codesign/graphs``. An entry that cannot be read is
traced again and rewritten; a directory that cannot be written leaves the graph uncached.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path

from workloads.errors import warn_unmodeled
from workloads.op import OpGraph

#: Environment variable naming the cache directory, or ``off``.
CACHE_ENV = "CODESIGN_CACHE_DIR"
#: Values of `CACHE_ENV` that turn the cache off.
OFF = ("off", "0", "none", "")
#: Bumped when the stored format changes (what is pickled, how the key is made).
FORMAT_VERSION = 1
#: The package whose source a cached graph depends on.
PACKAGE_DIR = Path(__file__).resolve().parent
#: Files of that package the fingerprint reads: code and the data it may load.
SOURCE_SUFFIXES = (".py", ".yaml", ".json", ".csv")


def cache_dir() -> Path | None:
    """The directory graphs are kept in, or None when the cache is off."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        return None if configured.strip().lower() in OFF else Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = Path.home() / ".cache"
        except RuntimeError:  # no home directory to be found: run without the cache
            return None
    return Path(base) / "codesign" / "graphs"


@functools.lru_cache(maxsize=1)
def source_fingerprint() -> str:
    """SHA-256 over the relative path and bytes of each `SOURCE_SUFFIXES` file of the package."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def torch_version() -> str:
    """The installed torch's version, read from its package metadata (torch is not imported)."""
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "none"


def entry_key(arguments: dict[str, object]) -> str:
    """The file name of the entry for a trace's `arguments` (hex digest of them, the torch version,
    the source fingerprint and `FORMAT_VERSION`)."""
    identity = {
        "arguments": arguments,
        "torch": torch_version(),
        "source": source_fingerprint(),
        "format": FORMAT_VERSION,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def cached(arguments: dict[str, object], make: Callable[[], OpGraph]) -> OpGraph:
    """The graph traced from `arguments`: read from the cache, or made by `make()` and stored."""
    directory = cache_dir()
    if directory is None:
        return make()
    path = directory / f"{entry_key(arguments)}.pickle"
    graph = _read(path)
    if graph is not None:
        warn_unmodeled(graph)  # as the trace that made it did
        return graph
    graph = make()
    _write(path, graph)
    return graph


def _read(path: Path) -> OpGraph | None:
    try:
        with path.open("rb") as stream:
            graph = pickle.load(stream)  # our own cache directory, written by _write
    except Exception:  # noqa: BLE001 - missing, truncated or foreign: trace again and replace it
        return None
    return graph if isinstance(graph, OpGraph) else None


def _write(path: Path, graph: OpGraph) -> None:
    """Store atomically (a temporary file renamed over the entry), so a reader never sees half a
    file and two processes tracing the same model at once both leave a whole one. A read-only or
    full disk leaves the graph uncached."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as stream:
            pickle.dump(graph, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
