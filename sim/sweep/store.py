"""A sweep's output folder: a manifest and a Parquet dataset written one chunk at a time.

``DIR/_sweep.json`` names the sweep (its spec hash and text, config and chunk counts, the codesign
version); ``DIR/part-000123.parquet`` holds the rows of chunk 123. The folder opens as it is with
``pandas.read_parquet(DIR)``, ``pyarrow.dataset.dataset(DIR)`` and the other data-lake readers
(Spark, DuckDB, Ray), which skip files whose names start with ``_`` or ``.``: the manifest and the
temporaries are named so. Folders written before the manifest had its underscore (``sweep.json``)
are still read, and `--resume` or `--force` renames their manifest. A part is written to a hidden
temporary name, flushed to disk and renamed into place (`os.replace` is atomic on POSIX), so a part
is either complete or absent: an interrupted sweep loses no finished chunk, and resuming runs the
chunks whose part is missing.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.sweep.expr import SweepSpecError
from sim.sweep.spec import SweepSpec
from workloads.errors import CodesignError
from workloads.files import writing

MANIFEST = "_sweep.json"
#: The manifest's name in folders written before it was hidden from Parquet readers.
LEGACY_MANIFEST = "sweep.json"
PART_PATTERN = re.compile(r"^part-(\d{6})\.parquet$")
TEMP_PREFIX = ".part-"


def part_path(out_dir: Path, index: int) -> Path:
    return out_dir / f"part-{index:06d}.parquet"


def write_part(out_dir: Path, index: int, frame: pd.DataFrame) -> None:
    """Write chunk `index`'s rows atomically (temporary file, fsync, rename).

    A column with no value in this chunk (``error`` where every config ran) has Arrow's null type;
    it is written as a string column, the type it has in the chunks where it has values, so every
    part has one schema and a dataset reader, which takes the first part's schema for all, can
    read the folder."""
    temp = out_dir / f"{TEMP_PREFIX}{index:06d}.{os.getpid()}.tmp"
    table = pa.Table.from_pandas(frame, preserve_index=False)
    schema = table.schema
    for position, field in enumerate(schema):
        if pa.types.is_null(field.type):
            schema = schema.set(position, field.with_type(pa.string()))
    pq.write_table(table.cast(schema), temp)
    with open(temp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, part_path(out_dir, index))


def finished_chunks(out_dir: Path) -> set[int]:
    """Indices of the chunks whose part is in `out_dir` and readable."""
    done = set()
    for path in out_dir.iterdir():
        match = PART_PATTERN.match(path.name)
        if match:
            try:
                pq.read_metadata(path)
            except (OSError, ValueError):  # not a whole Parquet file (written by other means): rerun it
                path.unlink()
                continue
            done.add(int(match.group(1)))
    return done


def open_out_dir(
    out_dir: Path, spec: SweepSpec, *, configs: int, chunk_configs: int, resume: bool, force: bool
) -> tuple[int, set[int]]:
    """Make `out_dir` ready for `spec`: the chunk size to use and the chunks already done.

    A folder holding another sweep (a different spec hash), or this sweep's parts without
    `resume`, or files but no manifest, is refused unless `force`, which deletes the sweep's files
    (manifest, parts, temporaries) and starts over. On `resume` the manifest's chunk size is kept,
    so parts line up with the chunks they were written for.
    """
    with writing(out_dir, option="--out", error=SweepSpecError):
        out_dir.mkdir(parents=True, exist_ok=True)
    for path in out_dir.glob(f"{TEMP_PREFIX}*.tmp"):  # left by a killed run
        path.unlink()
    legacy = out_dir / LEGACY_MANIFEST
    if legacy.is_file() and not (out_dir / MANIFEST).exists():
        os.replace(legacy, out_dir / MANIFEST)  # the folder then opens with pandas and pyarrow too
    manifest = read_manifest(out_dir)
    done = finished_chunks(out_dir) if manifest else set()
    if manifest is None and any(out_dir.iterdir()) and not force:
        raise SweepSpecError(
            f"--out {out_dir}: the folder has files but no {MANIFEST}; choose an empty or new folder, "
            "or --force to write the sweep there"
        )
    if manifest is not None and not force:
        if manifest.get("spec_hash") != spec.hash:
            raise SweepSpecError(
                f"--out {out_dir}: holds a different sweep ({manifest.get('spec_name')!r}, spec hash "
                f"{str(manifest.get('spec_hash'))[:12]}, this spec {spec.hash[:12]}); use another folder, "
                "or --force to replace it"
            )
        if done and not resume:
            raise SweepSpecError(
                f"--out {out_dir}: already holds this sweep ({len(done)} of {manifest['chunks']} chunks "
                "done); --resume to finish it, or --force to start over"
            )
        if resume:
            return int(manifest["chunk_configs"]), done
    if force:
        clear(out_dir)
    chunks = -(-configs // chunk_configs)
    with writing(out_dir, option="--out", error=SweepSpecError):
        write_manifest(out_dir, spec, configs=configs, chunk_configs=chunk_configs, chunks=chunks)
    return chunk_configs, set()


def clear(out_dir: Path) -> None:
    """Delete the sweep's own files in `out_dir` (nothing else)."""
    for path in out_dir.iterdir():
        if path.name in (MANIFEST, LEGACY_MANIFEST) or PART_PATTERN.match(path.name):
            path.unlink()


def read_manifest(out_dir: Path) -> dict[str, Any] | None:
    """The folder's manifest (`MANIFEST`, else an older folder's `LEGACY_MANIFEST`), or None."""
    path = out_dir / MANIFEST
    if not path.is_file():
        path = out_dir / LEGACY_MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise SweepSpecError(f"{path}: not a sweep manifest ({error}); delete it or use --force") from None


def write_manifest(out_dir: Path, spec: SweepSpec, *, configs: int, chunk_configs: int, chunks: int) -> None:
    manifest = {
        "spec_name": spec.name,
        "spec_hash": spec.hash,
        "configs": configs,
        "chunk_configs": chunk_configs,
        "chunks": chunks,
        "fidelity": spec.fidelity.value,
        "workloads": [workload.name for workload in spec.workloads],
        "objectives": {objective.column: objective.goal.value for objective in spec.objectives},
        "codesign_version": _version(),
        "spec_text": spec.text,
    }
    temp = out_dir / f"{MANIFEST}.tmp"
    temp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(temp, out_dir / MANIFEST)


def read_sweep(out_dir: str | Path) -> pd.DataFrame:
    """Every row written to `out_dir`, sorted by config id (workloads in spec order within a config),
    whichever engine and however many workers wrote them."""
    out_dir = Path(out_dir)
    if read_manifest(out_dir) is None:
        raise CodesignError(f"{out_dir}: not a sweep folder (no {MANIFEST})")
    parts = sorted(path for path in out_dir.iterdir() if PART_PATTERN.match(path.name))
    if not parts:
        raise CodesignError(f"{out_dir}: the sweep has no finished chunk yet")
    frame = pd.concat([pd.read_parquet(path) for path in parts], ignore_index=True)
    return frame.sort_values("config_id", kind="stable", ignore_index=True)


def _version() -> str:
    try:
        return importlib.metadata.version("codesign")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def best_configs(frame: pd.DataFrame, objectives: dict[str, str]) -> pd.DataFrame:
    """Per workload and objective (column → ``min`` or ``max``), the row that does best, among
    rows without an error; ties go to the lowest config id. Columns: ``objective``, ``goal`` and
    the row's own."""
    ok = frame[frame["error"].isna()]
    best = []
    for workload, rows in ok.groupby("workload", sort=False):
        for column, goal in objectives.items():
            values = rows[column].dropna()
            if values.empty:
                continue
            index = values.idxmin() if goal == "min" else values.idxmax()
            best.append(
                {"objective": column, "goal": goal, **rows.loc[index].to_dict(), "workload": workload}
            )
    return pd.DataFrame(best)
