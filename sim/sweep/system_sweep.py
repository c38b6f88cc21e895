"""Sweeps over systems of devices: ``codesign sweep`` on a spec whose base is a ``system:``.

```yaml
name: lamina_dop
system: lamina_h100_h20              # a system preset or .yaml file; or {base: ..., set: {path: value}}
axes:                                # any --set path of the system (hwmodels.system_loader)
  compute.count: [1, 2, 4]
  memory.count: [2, 4, 8]
  links.nic.bytes_per_s: {logrange: [1.0e10, 1.0e11, 5]}
  parallel.overlap: [none, eager_q, rotational]
constraints: ["memory.count >= compute.count"]
workloads: [{model: llama-3-70b, phase: decode, context: 1260, batch: 256}]
fidelity: roofline                   # or cycle (each device kind's engine)
objectives: {tbt_s: min, tokens_per_usd: max}
```

Each config is the base system with its axes' values set (`hwmodels.system_loader.SystemPath`, so
it is checked as ``--set`` checks it); a config that does not build, place or fit in memory gets a row
with its error. A step is placed (`mappers.placement.place`) once per distinct placement (the group
counts and the parallel plan: device and link fields change costs only), costed at the fidelity
(`sim.system_run.roofline_cost` or `engine_cost`, each distinct op once per device spec) and
scheduled on the timeline. A workload with a ``stack`` (cycle fidelity) runs on GPUs put in
that stack's state, with its host time and its scheduler's prefill steps (`_Evaluator._as_stack`).
Rows: ``config_id``, each axis, ``workload``, ``phase``, and `SYSTEM_METRICS`. The output folder
is a sweep folder as `sim.sweep.store` writes it, so ``codesign plot DIR --x tbt_s --y
tokens_per_usd --pareto`` reads it.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hwmodels.system import SystemSpec
from hwmodels.system_loader import SystemPath, load_system, system_paths
from sim.sweep.axes import Axis
from sim.sweep.expr import Expression, SweepSpecError
from sim.sweep.spec import (
    Fidelity,
    Objective,
    SweepSpec,
    override_text,
    parse_axes,
    parse_base,
    parse_chunk_configs,
    parse_constraints,
    parse_enum,
    parse_objectives,
    read_spec_file,
    spec_mapping,
    sweep_spec_from_yaml,
)
from sim.sweep.store import open_out_dir, write_part
from sim.sweep.workloads import WorkloadKind, WorkloadSpec, parse_workloads
from workloads.errors import CodesignError

TOP_KEYS = (
    "name",
    "description",
    "system",
    "axes",
    "constraints",
    "workloads",
    "fidelity",
    "objectives",
    "chunk_configs",
)
#: Metric columns of a system sweep row.
SYSTEM_METRICS = (
    "latency_s",
    "tbt_s",
    "tokens_per_s",
    "batch",
    "devices",
    "usd_per_hour",
    "tokens_per_usd",
    "power_w",
    "tokens_per_j",
    "memory_fraction",
    "busiest_utilization",
    "unmodeled_ops",
)
#: Configs per part file.
CHUNK_CONFIGS = 256


@dataclass(frozen=True, kw_only=True)
class SystemSweepSpec:
    """A parsed system sweep (module docstring); what `sim.sweep.store` and the sweep summary read
    of a spec (`name`, `hash`, `text`, `fidelity`, `workloads`, `objectives`, `swept_fields`)."""

    name: str
    text: str
    system: str
    base_set: tuple[str, ...]
    base: SystemSpec
    axes: tuple[Axis, ...]
    constraints: tuple[Expression, ...]
    workloads: tuple[WorkloadSpec, ...]
    fidelity: Fidelity
    objectives: tuple[Objective, ...]
    chunk_configs: int

    @property
    def swept_fields(self) -> tuple[str, ...]:
        return tuple(axis.field for axis in self.axes)

    @property
    def hash(self) -> str:
        data = {
            "system": self.system,
            "set": list(self.base_set),
            "axes": {axis.field: list(axis.values) for axis in self.axes},
            "constraints": [expression.text for expression in self.constraints],
            "workloads": [workload.normalized() for workload in self.workloads],
            "fidelity": self.fidelity.value,
            "objectives": {objective.column: objective.goal.value for objective in self.objectives},
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def load_any_sweep_spec(path: str | Path) -> SweepSpec | SystemSweepSpec:
    """A sweep spec file, read and parsed once: a system sweep when it has a ``system:`` base, else
    a device sweep (`sim.sweep.spec`)."""
    path = Path(path)
    text, data = read_spec_file(path)
    parse = system_sweep_from_yaml if isinstance(data, dict) and "system" in data else sweep_spec_from_yaml
    return parse(text, data, base_dir=path.parent, default_name=path.stem)


def load_system_sweep(path: str | Path) -> SystemSweepSpec:
    """Read and validate a system sweep spec file; relative paths in it are relative to its folder."""
    path = Path(path)
    text, data = read_spec_file(path)
    return system_sweep_from_yaml(text, data, base_dir=path.parent, default_name=path.stem)


def system_sweep_from_yaml(text: str, data: Any, *, base_dir: Path, default_name: str) -> SystemSweepSpec:
    """The system sweep of `text`, whose YAML is `data` (module docstring); parsed as a device
    sweep's spec is (`sim.sweep.spec`), with system paths for fields."""
    data = spec_mapping(data, TOP_KEYS, required=("system", "axes", "workloads"))
    name, base_set, _ = parse_base(
        data["system"],
        base_dir,
        key="system",
        what="a system preset or .yaml file",
        item="path",
        suffixes=(".yaml", ".yml"),
    )
    base = load_system(name, base_set)
    paths = system_paths(base)
    owners = {path.text: (type(path.spec(base)), path.field) for path in paths}
    axes = parse_axes(data["axes"], owners, unknown="system path", listing="paths")
    constraints = parse_constraints(data.get("constraints"), tuple(owners))
    workloads = parse_workloads(data["workloads"], base_dir=base_dir)
    fidelity = parse_enum(Fidelity, data.get("fidelity", "roofline"), "fidelity")
    for workload in workloads:
        if workload.kind is not WorkloadKind.MODEL:
            raise SweepSpecError(
                f"workloads: {workload.name!r}: a system sweep runs zoo models ({{model: ...}})"
            )
        if workload.stack and fidelity is not Fidelity.CYCLE:
            raise SweepSpecError(
                f"workloads: {workload.name!r}: stack {workload.stack!r}: runs the stack's kernels; "
                f"needs fidelity: cycle (got {fidelity.value})"
            )
    return SystemSweepSpec(
        name=str(data.get("name") or default_name),
        text=text,
        system=name,
        base_set=base_set,
        base=base,
        axes=axes,
        constraints=constraints,
        workloads=workloads,
        fidelity=fidelity,
        objectives=parse_objectives(data.get("objectives") or {"tbt_s": "min"}, SYSTEM_METRICS),
        chunk_configs=parse_chunk_configs(data.get("chunk_configs", 0)) or CHUNK_CONFIGS,
    )


@dataclass(frozen=True)
class _Config:
    config_id: int
    values: dict[str, Any]


def _configs(spec: SystemSweepSpec, paths: dict[str, SystemPath]) -> list[_Config]:
    grid = itertools.product(*(axis.values for axis in spec.axes))
    configs = []
    names = [axis.field for axis in spec.axes]
    base = {text: path.value(spec.base) for text, path in paths.items()}
    base = {key: value.value if isinstance(value, enum.Enum) else value for key, value in base.items()}
    for values in grid:
        point = dict(zip(names, values, strict=True))
        env = {**base, **point}
        if all(bool(np.all(expression.evaluate(env))) for expression in spec.constraints):
            configs.append(_Config(config_id=len(configs), values=point))
    if not configs:
        raise SweepSpecError("constraints: no config of the grid satisfies them; no config to run")
    return configs


class _Evaluator:
    """Traces, placements and op costs kept across a sweep's configs (module docstring)."""

    def __init__(self, spec: SystemSweepSpec) -> None:
        from sim.system_run import engine_cost, roofline_cost

        self.spec = spec
        self.coster = roofline_cost if spec.fidelity is Fidelity.ROOFLINE else engine_cost
        self.graphs: dict[tuple, Any] = {}
        self.placements: dict[tuple, Any] = {}
        self.costs: dict = {}

    def graph(self, workload: WorkloadSpec, batch: int):
        key = (workload.name, batch)
        if key not in self.graphs:
            self.graphs[key] = workload.trace(batch)
        return self.graphs[key]

    def placement(self, system: SystemSpec, workload: WorkloadSpec, micro: int):
        """The workload placed with `micro` sequences a micro-batch, and its task index (kept for
        configs with the same device counts and plan)."""
        from mappers.placement import place
        from sim.system_run import TaskIndex

        key = (workload.name, micro, *_layout_key(system))
        if key not in self.placements:
            placement = place(self.graph(workload, micro), system)
            self.placements[key] = (placement, TaskIndex.of(placement))
        return self.placements[key]

    def _as_stack(self, system: SystemSpec, workload: WorkloadSpec, batch: int):
        """`system` with every GPU running the step as the workload's stack does
        (`sim.stack_step.stack_spec`), the host time the step waits for (the stack's or the
        workload's `step_host_s`, once a step), and, where its scheduler splits a prefill
        (`workloads.stacks.Stack.prefill_steps`, per data-parallel replica), the steps placed one
        after another (`mappers.placement.in_steps`) with their task index (None: one step). As
        `codesign simulate --system --stack` runs it, on the system as the sweep places it."""
        from hwmodels.loader import kind_of
        from mappers.placement import in_steps, layout
        from sim.stack_step import stack_spec
        from sim.system_run import TaskIndex
        from workloads.stacks import STACKS, describe_steps
        from workloads.zoo import context_length

        args = dict(workload.args)
        stack = STACKS[workload.stack]
        group, weights = workload.stack_picks()
        host_s = workload.host()[0]

        def as_stack(device):
            if kind_of(device) != "gpu":
                return device
            return stack_spec(device, workload.stack, workload.phase, group=group, weights=weights)

        if not any(kind_of(members.device) == "gpu" for members in system.groups.values()):
            raise CodesignError(f"stack {workload.stack!r}: a GPU's serving stack; the system has no GPU")
        system = system.with_devices(as_stack)
        shape = layout(system)
        seq = int(args.get("seq") or 0)
        sizes = stack.prefill_steps(batch // shape.dp, seq, context_length(workload.model)) if seq else ()
        if workload.phase != "prefill" or len(sizes) < 2:
            return system, host_s, None
        if any(size % shape.micro_batches for size in sizes):
            raise CodesignError(
                f"stack {workload.stack!r}: its {describe_steps(sizes)} do not split into "
                f"{shape.micro_batches} micro-batches"
            )
        key = ("steps", workload.name, sizes, *_layout_key(system))
        if key not in self.placements:  # kept as `placement` keeps its placements
            whole = self.placement(system, workload, batch // (shape.dp * shape.micro_batches))[0]

            def place_step(size: int):
                return self.placement(system, workload, size // shape.micro_batches)[0]

            placement = in_steps(sizes, place_step, whole)
            self.placements[key] = (placement, TaskIndex.of(placement))
        return system, host_s * len(sizes), self.placements[key]

    def row(self, system: SystemSpec, workload: WorkloadSpec) -> dict[str, float]:
        from mappers.placement import plan_batch
        from sim.serving import require_fit, serving_figures
        from sim.system_run import run_system

        batch = int(dict(workload.args).get("batch", 1))
        host_s, steps = 0.0, None
        if workload.stack:  # the step as the serving stack runs it (`_as_stack`)
            system, host_s, steps = self._as_stack(system, workload, batch)
        placement, index = self.placement(system, workload, plan_batch(system, batch))
        uses = require_fit(placement, system)
        if steps:
            placement, index = steps
        run = run_system(placement, system, coster=self.coster, index=index, cache=self.costs)
        run = dataclasses.replace(run, host_s=host_s)
        figures = serving_figures(run, context=int(dict(workload.args).get("context") or 0))
        fraction = max(
            (use.need_bytes / use.usable_bytes for use in uses if use.usable_bytes), default=math.nan
        )
        busiest = max(run.timeline.busy_s.values(), default=0.0)
        return {
            "latency_s": run.latency_s,
            "tbt_s": figures.tbt_s,
            "tokens_per_s": figures.tokens_per_s,
            "batch": float(placement.batch),
            "devices": float(system.device_count),
            "usd_per_hour": figures.usd_per_hour,
            "tokens_per_usd": figures.tokens_per_usd,
            "power_w": figures.power_w,
            "tokens_per_j": figures.tokens_per_j,
            "memory_fraction": fraction,
            "busiest_utilization": busiest / run.latency_s if run.latency_s > 0 else math.nan,
            "unmodeled_ops": float(run.unmodeled_ops),
        }


def _layout_key(system: SystemSpec) -> tuple:
    """What a placement depends on beside the workload: the groups' device counts and the plan
    (device and link fields change only the costs)."""
    return tuple((name, group.count) for name, group in system.groups.items()), system.parallel


def sweep_system(
    spec: SystemSweepSpec,
    out_dir: str | Path,
    *,
    resume: bool = False,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
):
    """Run a system sweep into `out_dir` (module docstring); a `sim.sweep.SweepResult`."""
    from sim.sweep.run import SweepResult

    started = time.perf_counter()
    paths = {path.text: path for path in system_paths(spec.base)}
    configs = _configs(spec, paths)
    out = Path(out_dir)
    chunk, done = open_out_dir(
        out, spec, configs=len(configs), chunk_configs=spec.chunk_configs, resume=resume, force=force
    )
    evaluator = _Evaluator(spec)
    chunks = [configs[i : i + chunk] for i in range(0, len(configs), chunk)]
    todo = [(index, part) for index, part in enumerate(chunks) if index not in done]
    total = sum(len(part) for _, part in todo)
    finished = failed = 0
    if progress:
        progress(0, total)
    for index, part in todo:
        rows = []
        for config in part:
            try:
                system, error = spec.base, None
                for name, value in config.values.items():  # as --set NAME=VALUE sets it
                    system = paths[name].replaced(system, override_text(value), where=f"--set {name}")
            except CodesignError as problem:
                system, error = None, str(problem)
            for workload in spec.workloads:
                row = {
                    "config_id": config.config_id,
                    **config.values,
                    "workload": workload.name,
                    "phase": workload.phase,
                }
                metrics = dict.fromkeys(SYSTEM_METRICS, math.nan)
                message = error
                if system is not None:
                    try:
                        metrics = evaluator.row(system, workload)
                    except CodesignError as problem:
                        message = str(problem)
                rows.append(row | metrics | {"error": message})
                failed += message is not None
        frame = pd.DataFrame(rows)
        frame["error"] = frame["error"].astype(object)
        write_part(out, index, frame)
        finished += len(part)
        if progress:
            progress(finished, total)
    return SweepResult(
        path=out,
        configs=len(configs),
        ran=total,
        reused=len(configs) - total,
        excluded=0,
        failed_rows=failed,
        seconds=time.perf_counter() - started,
    )
