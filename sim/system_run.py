"""One step of a placed model on a system: each task costed on its resource, the timeline run.

Each device task's ops are costed on the group's device by an `OpCoster`:

* ``engine`` (`engine_cost`, what ``codesign simulate --system`` uses): the engine of the device's
  kind (`sim.engines.registry.model_for(spec).simulate_op`: the GPU model on a GPU, the FPGA model
  on an FPGA, ...), exactly as `sim.simulate.simulate` does for one device;
* ``roofline`` (`roofline_cost`, for sweeps): ``max(compute, memory)`` plus a launch, with the
  rates `sim.engines.roofline` uses.

A task's duration is the sum of its ops' (the slowest rank's, where ranks run different experts).
Each communication task is costed on its link by `mappers.collectives.comm_cost`.
`sim.timeline.schedule` then gives the step's latency (the critical path) and each resource's
busy time. A placement's distinct ops are found once (`TaskIndex`), so a sweep that keeps the
placement and changes devices or links recosts only those (a (tasks × distinct ops) product).

Energy: every device of the system draws its TDP (its power limit where one is set below it) for
the whole step (`power_w` × latency, summed): the upper bound `sim.cost.tdp_energy` takes for one
device, here including the time a device waits on another or on a link. NaN if a device's TDP is unknown.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from hwmodels.system import SystemSpec
from mappers.collectives import comm_cost
from mappers.placement import Placement, Task
from sim.engines.registry import model_for
from sim.engines.roofline import ATTENTION, DENSE, SPARSE, op_work, stored_weight_bytes
from sim.timeline import Schedule, schedule
from workloads.op import Op

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class OpCost:
    """What one op costs on one device: seconds, FLOPs, DRAM bytes (its repeats included);
    `unmodeled` when the engine has no model of it (its time is then 0 here, and counted)."""

    latency_s: float
    flops: float
    dram_bytes: float
    unmodeled: bool = False


#: How one op is costed on one device spec.
OpCoster = Callable[[Op, Any], OpCost]


def engine_cost(op: Op, device: Any) -> OpCost:
    """The op on its device kind's engine (module docstring)."""
    rows = model_for(device).simulate_op(op, device)
    if any(row["unmodeled"] for row in rows):
        return OpCost(latency_s=0.0, flops=float(op.flops * op.count), dram_bytes=0.0, unmodeled=True)
    return OpCost(
        latency_s=float(sum(row["latency_s"] for row in rows)),
        flops=float(op.flops * op.count),
        dram_bytes=float(sum(row.get("dram_bytes", 0.0) for row in rows)),
    )


def roofline_cost(op: Op, device: Any) -> OpCost:
    """The op as `sim.engines.roofline` costs it: matrix FLOPs at the device's matrix rate for the
    op's math dtype (attention's at its attention rate, with its softmax on the vector unit),
    the rest at the vector rate, every operand's bytes once at the achievable DRAM rate (a GEMM's
    weight as the device stores it, `DeviceModel.stored_weights`); the longer of compute and
    memory, plus a launch per kernel."""
    if op.unmodeled:
        return OpCost(latency_s=0.0, flops=float(op.flops * op.count), dram_bytes=0.0, unmodeled=True)
    model = model_for(device)
    n = op.count
    matrix, vector_flops, moved, op_class, dtype = op_work(op, model.math_dtype)
    compute = vector_flops / model.vector_flops(device) if vector_flops else 0.0
    if dtype is not None:
        dense, sparse, attention, _ = model.matrix_rates(device, dtype)
        rate = {DENSE: dense, SPARSE: sparse, ATTENTION: attention}[op_class]
        stored = model.stored_weights(op, device) if model.stored_weights and op_class != ATTENTION else None
        if stored:  # weights as the device stores them (`sim.engines.roofline`)
            moved += (stored[0] - stored_weight_bytes(op)) * n
            rate = dense * stored[1]
        compute = matrix / rate + compute
    latency = max(compute, moved / device.achievable_dram_bytes_per_s) + device.launch_overhead_s * n
    return OpCost(latency_s=latency, flops=float(op.flops * n), dram_bytes=float(moved))


@dataclass(frozen=True)
class TaskIndex:
    """A placement's device work as distinct (group, op) pairs and, per task, how many times it
    runs each (`counts`, tasks × distinct; rows of communication and per-rank tasks are 0).
    `ranked` lists the per-rank tasks (expert parallelism) with each rank's distinct-op indices."""

    distinct: tuple[tuple[str, Op], ...]
    counts: np.ndarray
    ranked: tuple[tuple[int, tuple[tuple[int, ...], ...]], ...]

    @classmethod
    def of(cls, placement: Placement) -> TaskIndex:
        index: dict[tuple[str, Op], int] = {}
        distinct: list[tuple[str, Op]] = []

        def position(group: str, op: Op) -> int:
            key = (group, replace(op, name="", module=""))  # what decides its cost, as sim.simulate keys ops
            if key not in index:
                index[key] = len(distinct)
                distinct.append(key)
            return index[key]

        rows: list[list[int]] = []
        ranked = []
        for number, task in enumerate(placement.tasks):
            group = placement.resources[task.resource].group
            rows.append([position(group, op) for op in task.ops])
            if task.rank_ops:
                ranked.append(
                    (number, tuple(tuple(position(group, op) for op in ops) for ops in task.rank_ops))
                )
        counts = np.zeros((len(rows), len(distinct)))
        for number, positions in enumerate(rows):
            np.add.at(counts[number], positions, 1.0)
        return cls(distinct=tuple(distinct), counts=counts, ranked=tuple(ranked))


@dataclass(frozen=True)
class SystemRun:
    """A placed step, costed and scheduled: the task durations, the schedule, per-task FLOPs,
    DRAM bytes and bytes on the wire (per device), and how many ops had no model."""

    system: SystemSpec
    placement: Placement
    durations_s: tuple[float, ...]
    flops: tuple[float, ...]
    dram_bytes: tuple[float, ...]
    wire_bytes: tuple[float, ...]
    timeline: Schedule
    unmodeled_ops: int
    # host time the step waits for before its kernels start (a serving engine's loop: scheduling,
    # preparing inputs, `workloads.stacks.Stack.step_host_s`), on the critical path, no resource busy
    host_s: float = 0.0

    @property
    def latency_s(self) -> float:
        return self.timeline.latency_s + self.host_s

    @property
    def energy_j(self) -> float:
        """Every device at its TDP for the whole step (module docstring)."""
        return self.system.power_w * self.latency_s


def run_system(
    placement: Placement,
    system: SystemSpec,
    *,
    coster: OpCoster = engine_cost,
    index: TaskIndex | None = None,
    cache: dict | None = None,
) -> SystemRun:
    """Cost every task of `placement` on `system` and schedule them (module docstring). `index`
    and `cache` (op costs by device and op, shared across calls) save work across a sweep."""
    index = index or TaskIndex.of(placement)
    cache = {} if cache is None else cache
    costs = []
    for group, op in index.distinct:
        device = system.groups[group].device
        key = (id(device), group, op)
        if key not in cache:
            cache[key] = (coster(op, device), device)  # the device kept alive: its id stays its own
        costs.append(cache[key][0])
    latency = np.array([cost.latency_s for cost in costs])
    durations = index.counts @ latency if len(costs) else np.zeros(len(placement.tasks))
    flops = index.counts @ np.array([cost.flops for cost in costs]) if len(costs) else durations * 0
    dram = index.counts @ np.array([cost.dram_bytes for cost in costs]) if len(costs) else durations * 0
    unmodeled = int(sum(index.counts[:, i].sum() for i, cost in enumerate(costs) if cost.unmodeled))
    for task_number, ranks in index.ranked:
        slowest = max(ranks, key=lambda rank: sum(costs[i].latency_s for i in rank))
        durations[task_number] = sum(costs[i].latency_s for i in slowest)
        flops[task_number] = sum(costs[i].flops for i in slowest)
        dram[task_number] = sum(costs[i].dram_bytes for i in slowest)
        unmodeled += sum(costs[i].unmodeled for i in slowest)
    wire = np.zeros(len(placement.tasks))
    for number, task in enumerate(placement.tasks):
        if task.comm is not None:
            cost = comm_cost(task.comm, system.links[task.comm.link], system.parallel.collective)
            durations[number] = cost.time_s
            wire[number] = cost.wire_bytes
    durations_list = durations.tolist()
    timeline = schedule(
        [task.resource for task in placement.tasks], durations_list, [task.deps for task in placement.tasks]
    )
    return SystemRun(
        system=system,
        placement=placement,
        durations_s=tuple(durations_list),
        flops=tuple(flops.tolist()),
        dram_bytes=tuple(dram.tolist()),
        wire_bytes=tuple(wire.tolist()),
        timeline=timeline,
        unmodeled_ops=unmodeled,
    )


def resource_table(run: SystemRun) -> pd.DataFrame:
    """One row per resource: what it is, how many devices it stands for, its busy time and
    utilization over the step, its FLOPs and DRAM bytes (per device), bytes on the wire (links, per
    device), and per device its weights, KV cache, activations, total memory and capacity."""
    import pandas as pd

    placement, system = run.placement, run.system
    totals: dict[str, dict[str, float]] = {}
    for number, task in enumerate(placement.tasks):
        entry = totals.setdefault(
            task.resource, dict.fromkeys(("flops", "dram_bytes", "wire_bytes", "tasks"), 0.0)
        )
        entry["flops"] += run.flops[number]
        entry["dram_bytes"] += run.dram_bytes[number]
        entry["wire_bytes"] += run.wire_bytes[number]
        entry["tasks"] += 1
    rows = []
    for name, resource in placement.resources.items():
        entry = totals.get(name, dict.fromkeys(("flops", "dram_bytes", "wire_bytes", "tasks"), 0.0))
        busy = run.timeline.busy_s.get(name, 0.0)
        kind = system.links[resource.link].kind.value if resource.is_link else _kind(system, resource.group)
        row: dict[str, object] = {
            "resource": name,
            "kind": kind,
            "spec": resource.link if resource.is_link else system.groups[resource.group].device.name,
            "devices": resource.devices,
            "tasks": int(entry["tasks"]),
            "busy_s": busy,
            "utilization": busy / run.latency_s if run.latency_s > 0 else 0.0,
            "flops": entry["flops"],
            "dram_bytes": entry["dram_bytes"],
            "wire_bytes": entry["wire_bytes"],
        }
        memory = placement.memory.get(name)
        if memory is not None:
            capacity = system.groups[resource.group].device.dram_capacity_bytes
            row |= {
                "weights_bytes": memory.weights_bytes,
                "kv_bytes": memory.kv_bytes,
                "activation_bytes": memory.activation_bytes,
                "memory_bytes": memory.total_bytes,
                "capacity_bytes": float(capacity) if capacity else math.nan,
            }
        rows.append(row)
    return pd.DataFrame(rows)


def timeline_table(run: SystemRun) -> pd.DataFrame:
    """One row per task in order: its name, resource, micro-batch, start, end and duration (s),
    how many ops it runs (per device; the slowest rank's for expert ranks) or which collective it is
    and its message bytes, and the tasks it waited for."""
    import pandas as pd

    rows = []
    for number, task in enumerate(run.placement.tasks):
        comm = task.comm
        rows.append(
            {
                "task": number,
                "name": task.name,
                "resource": task.resource,
                "micro_batch": task.micro_batch,
                "start_s": run.timeline.start_s[number],
                "end_s": run.timeline.end_s[number],
                "duration_s": run.durations_s[number],
                "ops": len(task.ops) or max((len(rank) for rank in task.rank_ops), default=0),
                "collective": comm.collective.value if comm else "",
                "message_bytes": comm.message_bytes if comm else 0.0,
                "after": " ".join(str(dep) for dep in task.deps),
            }
        )
    return pd.DataFrame(rows)


def _kind(system: SystemSpec, group: str) -> str:
    from hwmodels.loader import kind_of

    return kind_of(system.groups[group].device)


def step_lower_bound(run: SystemRun) -> float:
    """The busiest resource's busy time: no schedule of these tasks can be shorter."""
    return max(run.timeline.busy_s.values(), default=0.0)


def task_of(run: SystemRun, name: str) -> list[Task]:
    """The tasks named `name` (e.g. ``all_reduce``, ``send_qkv``), for tests and tables."""
    return [task for task in run.placement.tasks if task.name == name]
