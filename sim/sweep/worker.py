"""Evaluating one chunk of a sweep's configs: the function every engine (process pool, Ray) runs.

A `Job` is what every chunk shares (fidelity, base spec, prepared workloads) and is shipped once per
worker; a `Chunk` is a run of config ids with their overrides. `run_chunk` builds each config's spec
as `hwmodels.apply_overrides` does (the loader converts, the spec validates; `sim.sweep.build`),
evaluates every workload on it and returns one row per (config, workload):

``config_id``, each swept and derived field, ``workload``, ``phase``, the metrics (the roofline's
`ROOFLINE_METRICS`, or at cycle fidelity every number of `simulate.summarize`'s total row, so
columns an engine adds flow through), `sim.cost.run_metrics` (power, tokens/s, energy per token,
area, price, tokens per dollar), ``achieved_flops_per_s``, ``energy_basis`` (`sim.cost.TDP_ENERGY_NOTE`
where the energy figures are TDP × time, bounds rather than models; else empty) and ``error``
(None, or why the config or the workload failed on it: its metrics are then NaN).
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hwmodels.device import Device
from sim.cost import energy_note, run_metrics
from sim.engines.roofline import ROOFLINE_METRICS, RooflineWorkload, device_rates, evaluate, prepare_workload
from sim.simulate import simulate, summarize
from sim.sweep.build import SpecBuilder
from sim.sweep.spec import RUN_METRICS, Fidelity
from workloads.errors import CodesignError
from workloads.op import OpGraph

#: How often a pool worker checks that the sweep's process is still its parent, seconds.
PARENT_POLL_S = 0.2
#: Entries of `summarize`'s total row that name rather than measure; left out of result rows.
LABEL_COLUMNS = ("layer", "kind", "device", "mapping")


@dataclass(frozen=True, kw_only=True)
class PreparedWorkload:
    """A workload ready to evaluate: its graph (cycle fidelity) or per-op arrays (roofline), and
    its facts (phase, batch, lengths: the graph without its ops) for `sim.cost.run_metrics`."""

    name: str
    facts: OpGraph
    graph: OpGraph | None = None
    roofline: RooflineWorkload | None = None
    # a serving stack's step (`sim.stack_step`): its name, the steps the graph runs as (graph,
    # times), the model's GQA group and weight dtype its kernels are picked by
    stack: str = ""
    steps: tuple[tuple[OpGraph, int], ...] = ()
    group: int = 1
    weights: str = ""
    host_s: float = 0.0  # what each step waits for on the host, and why (`WorkloadSpec.host`)
    host_why: str = ""


@dataclass(frozen=True, kw_only=True)
class Job:
    """What every chunk of a sweep shares. The base spec travels as its class and fields (specs
    hold read-only mapping proxies, which do not pickle) and is rebuilt, and so revalidated, by
    `base`."""

    fidelity: Fidelity
    base_class: type
    base_fields: dict[str, Any]
    fields: tuple[str, ...]
    workloads: tuple[PreparedWorkload, ...]

    @classmethod
    def of(
        cls,
        fidelity: Fidelity,
        base: Device,
        fields: tuple[str, ...],
        workloads: tuple[PreparedWorkload, ...],
    ) -> Job:
        values = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
        plain = {name: dict(value) if isinstance(value, Mapping) else value for name, value in values.items()}
        return cls(
            fidelity=fidelity, base_class=type(base), base_fields=plain, fields=fields, workloads=workloads
        )

    def base(self) -> Any:
        return self.base_class(**self.base_fields)


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """Configs `config_ids` (ascending), each with its field values and ``field=value`` overrides."""

    index: int
    config_ids: tuple[int, ...]
    values: tuple[dict[str, Any], ...]
    overrides: tuple[tuple[str, ...], ...]


def prepare(name: str, graph: OpGraph, fidelity: Fidelity, spec_type: type, **stack: Any) -> PreparedWorkload:
    """What a worker needs of `graph` at `fidelity`; `stack`: a serving stack's `PreparedWorkload`
    fields (cycle fidelity)."""
    facts = dataclasses.replace(graph, ops=())
    if fidelity is Fidelity.ROOFLINE:
        return PreparedWorkload(name=name, facts=facts, roofline=prepare_workload(graph, spec_type))
    return PreparedWorkload(name=name, facts=facts, graph=graph, **stack)


def run_chunk(job: Job, chunk: Chunk) -> pd.DataFrame:
    """Rows of every (config, workload) of `chunk`, configs in id order, workloads in spec order."""
    specs: list[Any] = []
    errors: list[str | None] = []
    builder = SpecBuilder(job.base())
    for overrides in chunk.overrides:
        try:
            specs.append(builder.build(overrides))
            errors.append(None)
        except CodesignError as error:
            specs.append(None)
            errors.append(str(error))
    evaluate_all = _roofline if job.fidelity is Fidelity.ROOFLINE else _cycle
    columns: dict[str, list[Any]] = {
        "config_id": [],
        **{name: [] for name in job.fields},
        "workload": [],
        "phase": [],
    }
    metric_rows: list[dict[str, float]] = []
    row_errors: list[str | None] = []
    per_workload = [evaluate_all(workload, specs, errors) for workload in job.workloads]
    for i, config_id in enumerate(chunk.config_ids):
        for workload, (metrics, failures) in zip(job.workloads, per_workload, strict=True):
            columns["config_id"].append(config_id)
            for name in job.fields:
                columns[name].append(chunk.values[i][name])
            columns["workload"].append(workload.name)
            columns["phase"].append(workload.facts.phase.value if workload.facts.phase else "")
            metric_rows.append(_with_run_metrics(metrics[i], specs[i], workload.facts))
            row_errors.append(failures[i])
    frame = pd.concat([pd.DataFrame(columns), pd.DataFrame(metric_rows)], axis=1)
    frame["error"] = pd.Series(row_errors, dtype=object)
    return frame


def _with_run_metrics(metrics: dict[str, float], spec: Device, facts: OpGraph) -> dict[str, float]:
    """The engine's metrics plus `sim.cost.run_metrics` (power, tokens/s, energy per token, area,
    price, tokens per dollar) and the achieved FLOP/s; NaN where the config or workload failed."""
    latency = metrics.get("latency_s", math.nan)
    if spec is None or not (latency > 0 and math.isfinite(latency)):
        failed = dict.fromkeys((*RUN_METRICS, "achieved_flops_per_s"), math.nan)
        return metrics | failed | {"energy_basis": ""}
    # a string in every row (never NaN), so every Parquet part types the column alike
    basis = energy_note(spec) if math.isfinite(metrics.get("energy_j", math.nan)) else ""
    achieved = {"achieved_flops_per_s": metrics["flops"] / latency, "energy_basis": basis}
    return metrics | run_metrics(metrics, spec, facts) | achieved


def _roofline(
    workload: PreparedWorkload, specs: list[Any], errors: list[str | None]
) -> tuple[list[dict[str, float]], list[str | None]]:
    """Metrics per config, evaluated at once over the valid ones (`sim.engines.roofline`)."""
    valid = [i for i, spec in enumerate(specs) if spec is not None]
    nan_row = dict.fromkeys(ROOFLINE_METRICS, math.nan)
    metrics = [nan_row] * len(specs)
    failures = list(errors)
    if valid:
        roofline = workload.roofline
        rates, rate_errors = device_rates([specs[i] for i in valid], roofline.dtypes, roofline)
        values = evaluate(workload.roofline, rates)
        table = np.column_stack([values[name] for name in ROOFLINE_METRICS])
        for row, (i, error) in enumerate(zip(valid, rate_errors, strict=True)):
            failures[i] = error
            metrics[i] = nan_row if error else dict(zip(ROOFLINE_METRICS, table[row].tolist(), strict=True))
    return metrics, failures


def _cycle(
    workload: PreparedWorkload, specs: list[Any], errors: list[str | None]
) -> tuple[list[dict[str, float]], list[str | None]]:
    """Metrics per config from `simulate` and `summarize` (every number of the total row)."""
    metrics: list[dict[str, float]] = []
    failures = list(errors)
    for i, spec in enumerate(specs):
        if spec is None:
            metrics.append({})
            continue
        try:
            total = summarize(*_step(workload, spec))
        except CodesignError as error:
            failures[i] = str(error)
            metrics.append({})
            continue
        except Exception as error:  # noqa: BLE001 — an engine failing on one config must not end the sweep
            failures[i] = f"internal error: {type(error).__name__}: {error}"
            metrics.append({})
            continue
        metrics.append({key: float(value) for key, value in total.items() if key not in LABEL_COLUMNS})
    return metrics, failures


def _step(workload: PreparedWorkload, spec: Any) -> tuple[pd.DataFrame, Any]:
    """The workload's rows on `spec`, and the spec they ran on: as its serving stack runs the
    step where it names one (`sim.stack_step`: the stack's kernels and launch mode, each of its
    prefill steps, its host time), as `codesign simulate --stack` does."""
    if not workload.stack:
        return simulate(workload.graph, spec), spec
    from sim.stack_step import simulate_steps, stack_spec

    phase = workload.facts.phase.value if workload.facts.phase else "prefill"
    spec = stack_spec(spec, workload.stack, phase, group=workload.group, weights=workload.weights)
    return simulate_steps(workload.steps, spec, workload.host_s, workload.host_why), spec


_JOB: Job | None = None


def init_worker(job: Job, parent_pid: int) -> None:
    """Process-pool initializer: keep the job; leave Ctrl-C to the parent (which stops the sweep
    and keeps what is written), so a worker is not killed mid-chunk by the terminal's SIGINT; and
    exit when the parent dies (a killed parent leaves its pool waiting on a queue forever)."""
    global _JOB
    _JOB = job
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _exit_with_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def run_chunk_in_worker(chunk: Chunk) -> tuple[int, pd.DataFrame]:
    """`run_chunk` on the job `init_worker` kept."""
    assert _JOB is not None, "init_worker did not run"
    return chunk.index, run_chunk(_JOB, chunk)
