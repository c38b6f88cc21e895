"""`sweep()`: a design-space sweep from a spec, into a Parquet dataset, on a process pool or Ray.

The configs are enumerated in a fixed order (`sim.sweep.configs`), cut into chunks of consecutive
config ids, and each chunk is evaluated by `sim.sweep.worker.run_chunk` wherever the engine runs
it; the parent writes each finished chunk as its own part (`sim.sweep.store`). Results depend on
the spec alone: chunking depends on the config count, not on the engine or the worker count, and
`read_sweep` sorts by config id.

Workloads are traced once, in the parent, and shipped to the workers with the job (per-op arrays
at roofline fidelity, the op graph at cycle fidelity).
"""

from __future__ import annotations

import enum
import json
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hwmodels import apply_overrides
from sim.sweep.configs import ConfigTable, enumerate_configs
from sim.sweep.expr import SweepSpecError
from sim.sweep.spec import Fidelity, SweepSpec, load_sweep_spec
from sim.sweep.store import open_out_dir, write_part
from sim.sweep.worker import Chunk, Job, init_worker, prepare, run_chunk, run_chunk_in_worker
from workloads.errors import CodesignError

#: Chunks a sweep is cut into when the spec does not say (`chunk_configs`): enough that an
#: interrupt loses at most about 1/64 of the work, the progress bar moves smoothly and two to
#: sixteen workers stay busy to the end; few enough that per-task overhead (a pickled chunk and
#: frame, a Parquet file) stays small.
TARGET_CHUNKS = 64
#: Bounds on the automatic chunk size, per fidelity. Roofline: at least 16 configs so the numpy
#: work amortizes the task, at most 512 so a chunk's (configs × ops) arrays stay a few MB (512 ×
#: 900 ops × 8 B = 3.7 MB each). Cycle: a config of LLaMA-2-7B takes ~0.1-0.3 s per workload, so
#: 1-8 configs keep a chunk to a few seconds and Ctrl-C prompt.
CHUNK_BOUNDS = {Fidelity.ROOFLINE: (16, 512), Fidelity.CYCLE: (1, 8)}


class Engine(enum.Enum):
    LOCAL = "local"
    RAY = "ray"


class SweepInterrupted(CodesignError):
    """Ctrl-C or a dead worker stopped the sweep; the finished chunks are on disk."""


@dataclass(frozen=True, kw_only=True)
class SweepResult:
    """What one call of `sweep` did: configs in the sweep, run now, found done (resume), left out
    by constraints; rows of this run with an error; wall seconds of this run."""

    path: Path
    configs: int
    ran: int
    reused: int
    excluded: int
    failed_rows: int
    seconds: float


def sweep(
    spec: SweepSpec | str | Path,
    out_dir: str | Path,
    *,
    engine: str = "local",
    workers: int | None = None,
    resume: bool = False,
    force: bool = False,
    address: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    announce: Callable[[str], None] | None = None,
) -> SweepResult:
    """Run the sweep `spec` (a `SweepSpec` or a YAML file) into `out_dir`.

    `engine` ``local`` runs a process pool of `workers` processes (default: all CPUs; 1 runs in
    this process), ``ray`` runs Ray tasks (`address` of a cluster, or a local instance with
    `workers` CPUs). `progress(done, total)` is called with configs finished in this run;
    `announce(line)` with a line saying what the sweep does before `progress` is first called
    (tracing its model workloads, seconds each when the trace cache does not hold them).
    """
    started = time.perf_counter()
    spec = spec if isinstance(spec, SweepSpec) else load_sweep_spec(spec)
    kind = _engine(engine)
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise SweepSpecError(f"--workers {workers}: must be at least 1")
    table = enumerate_configs(spec)
    _check_some_config_is_valid(spec, table)
    out = Path(out_dir)
    chunk_configs, done = open_out_dir(
        out, spec, configs=len(table), chunk_configs=chunk_size(spec, len(table)), resume=resume, force=force
    )
    todo = [chunk for chunk in _chunks(table, chunk_configs) if chunk.index not in done]
    total = sum(len(chunk.config_ids) for chunk in todo)
    finished = failed = 0
    if todo:
        models = [workload.name for workload in spec.workloads if workload.model]
        if models and announce:
            count = f"{len(models)} workload" + ("s" if len(models) > 1 else "")
            announce(f"tracing {count} ({', '.join(models)})...")
        job = _job(spec)
        if progress:
            progress(0, total)
        run = _run_local if kind is Engine.LOCAL else _run_ray
        try:
            for index, frame in run(job, todo, workers, address):
                write_part(out, index, frame)
                finished += int(frame["config_id"].nunique())
                failed += int(frame["error"].notna().sum())
                if progress:
                    progress(finished, total)
        except KeyboardInterrupt:
            raise SweepInterrupted(
                f"interrupted after {finished:,} of {total:,} configs; the finished chunks are kept in "
                f"{out}: run again with --resume to finish"
            ) from None
    return SweepResult(
        path=out,
        configs=len(table),
        ran=finished,
        reused=len(table) - total,
        excluded=table.excluded,
        failed_rows=failed,
        seconds=time.perf_counter() - started,
    )


def chunk_size(spec: SweepSpec, configs: int) -> int:
    """Configs per chunk: the spec's `chunk_configs`, or `TARGET_CHUNKS` chunks within bounds."""
    if spec.chunk_configs:
        return spec.chunk_configs
    low, high = CHUNK_BOUNDS[spec.fidelity]
    return max(low, min(high, math.ceil(configs / TARGET_CHUNKS)))


def _engine(text: str) -> Engine:
    try:
        return Engine(str(text).strip().lower())
    except ValueError:
        raise SweepSpecError(f"--engine {text!r}: valid: {', '.join(e.value for e in Engine)}") from None


def _check_some_config_is_valid(spec: SweepSpec, table: ConfigTable) -> None:
    """Build configs in order until one is valid hardware; an error if none is."""
    first_error = ""
    for config_id in range(len(table)):
        try:
            apply_overrides(spec.base, table.overrides(config_id))
            return
        except CodesignError as error:
            first_error = first_error or f"config {config_id}: {error}"
    raise SweepSpecError(f"axes: none of the {len(table):,} configs is valid hardware, e.g. {first_error}")


def _chunks(table: ConfigTable, size: int) -> Iterator[Chunk]:
    for index, start in enumerate(range(0, len(table), size)):
        ids = range(start, min(start + size, len(table)))
        values = [table.values(i) for i in ids]
        yield Chunk(
            index=index,
            config_ids=tuple(ids),
            values=tuple({k: _column_value(v) for k, v in row.items()} for row in values),
            overrides=tuple(tuple(table.overrides(i)) for i in ids),
        )


def _column_value(value: Any) -> Any:
    """A field's value as a Parquet cell: scalars as they are, mappings and lists as JSON text."""
    return json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict | list) else value


def _job(spec: SweepSpec) -> Job:
    spec_type = type(spec.base)
    prepared = []
    for workload in spec.workloads:
        graph = workload.load(spec.base.default_dtype)
        stack = {}
        if workload.stack:  # the stack's prefill steps, and what picks its kernels
            group, weights = workload.stack_picks()
            steps = workload.steps(graph)
            host_s, host_why = workload.host()
            stack = {"stack": workload.stack, "steps": steps, "group": group, "weights": weights,
                     "host_s": host_s, "host_why": host_why}
        prepared.append(prepare(workload.name, graph, spec.fidelity, spec_type, **stack))
    return Job.of(spec.fidelity, spec.base, spec.swept_fields, tuple(prepared))


def _run_local(
    job: Job, chunks: list[Chunk], workers: int, address: str | None
) -> Iterator[tuple[int, pd.DataFrame]]:
    """Chunks in this process (one worker) or a spawn-started process pool, yielded as they finish."""
    if address:
        raise SweepSpecError("--address is for --engine ray")
    if workers == 1:
        for chunk in chunks:
            yield chunk.index, run_chunk(job, chunk)
        return
    context = multiprocessing.get_context("spawn")  # no fork of a parent that has run torch's threads
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(chunks)),
        mp_context=context,
        initializer=init_worker,
        initargs=(job, os.getpid()),
    )
    futures = [pool.submit(run_chunk_in_worker, chunk) for chunk in chunks]
    try:
        for future in as_completed(futures):
            yield future.result()
    except BrokenProcessPool:
        raise SweepInterrupted(
            "a worker process died; the finished chunks are kept: run again with --resume"
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_ray(
    job: Job, chunks: list[Chunk], workers: int, address: str | None
) -> Iterator[tuple[int, pd.DataFrame]]:
    """Chunks as Ray tasks on the cluster at `address` (or a local instance of `workers` CPUs)."""
    try:
        import ray
    except ImportError:
        raise CodesignError("--engine ray needs Ray: pip install 'codesign[ray]'") from None
    started = not ray.is_initialized()
    if started:
        options = {"address": address} if address else {"num_cpus": workers}
        ray.init(**options, include_dashboard=False, log_to_driver=False, configure_logging=False)
    remote = ray.remote(num_cpus=1)(run_chunk)
    pending: dict[Any, int] = {}
    try:
        job_ref = ray.put(job)
        pending.update({remote.remote(job_ref, chunk): chunk.index for chunk in chunks})
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(ready[0])
            yield index, ray.get(ready[0])
    finally:
        for ref in pending:  # left after Ctrl-C or an error
            ray.cancel(ref)
        if started:
            ray.shutdown()
