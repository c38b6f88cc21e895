"""One step of a placed model on a system: each task costed on its resource, the timeline run.

Each device task's ops are simulated by the engine of the group's device kind
(`sim.engines.registry.model_for(spec).simulate_op`: the GPU model on a GPU, the FPGA model on an
FPGA, ...), exactly as `sim.simulate.simulate` does for one device, its duration the sum of its
ops' `latency_s` (the slowest rank's, where ranks run different experts). Each communication task
is costed on its link by `mappers.collectives.comm_cost`. `sim.timeline.schedule` then gives the
step's latency (the critical path) and each resource's busy time.

Energy: every device of the system draws its TDP for the whole step (`tdp_w` × latency, summed):
the upper bound `sim.cost.tdp_energy` takes for one device, here including the time a device waits
on another or on a link. NaN if a device's TDP is unknown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from hwmodels.system import SystemSpec
from mappers.collectives import comm_cost
from mappers.placement import Placement, Task
from sim.engines.registry import model_for
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
    unmodeled: bool


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

    @property
    def latency_s(self) -> float:
        return self.timeline.latency_s

    @property
    def energy_j(self) -> float:
        """Every device at its TDP for the whole step (module docstring); × data-parallel replicas
        is already in `system.tdp_w` (it counts every device)."""
        return self.system.tdp_w * self.latency_s


def run_system(placement: Placement, system: SystemSpec) -> SystemRun:
    """Cost every task of `placement` and schedule them (module docstring)."""
    costs: dict[tuple[str, Any], OpCost] = {}
    durations, flops, dram, wire = [], [], [], []
    unmodeled = 0
    for task in placement.tasks:
        resource = placement.resources[task.resource]
        if task.comm is not None:
            cost = comm_cost(task.comm, system.links[task.comm.link], system.parallel.collective)
            durations.append(cost.time_s)
            flops.append(0.0)
            dram.append(0.0)
            wire.append(cost.wire_bytes)
            continue
        device = system.groups[resource.group].device
        ranks = task.rank_ops or (task.ops,)
        per_rank = [[_op_cost(costs, resource.group, device, op) for op in ops] for ops in ranks]
        slowest = max(per_rank, key=lambda rank: sum(c.latency_s for c in rank))
        durations.append(sum(c.latency_s for c in slowest))
        flops.append(sum(c.flops for c in slowest))
        dram.append(sum(c.dram_bytes for c in slowest))
        wire.append(0.0)
        unmodeled += sum(c.unmodeled for c in slowest)
    timeline = schedule(
        [task.resource for task in placement.tasks], durations, [task.deps for task in placement.tasks]
    )
    return SystemRun(
        system=system,
        placement=placement,
        durations_s=tuple(durations),
        flops=tuple(flops),
        dram_bytes=tuple(dram),
        wire_bytes=tuple(wire),
        timeline=timeline,
        unmodeled_ops=unmodeled,
    )


def _op_cost(costs: dict, group: str, device: Any, op: Op) -> OpCost:
    """The engine's cost of `op` on `device`, once per distinct op (its name and module aside, as
    `sim.simulate.simulate` does)."""
    key = (group, op.kind, op.dims, op.operands, op.flops, op.count, op.attrs, op.aten, op.unmodeled)
    cost = costs.get(key)
    if cost is None:
        rows = model_for(device).simulate_op(replace(op, name="", module=""), device)
        bad = any(row["unmodeled"] for row in rows)
        latency = 0.0 if bad else float(sum(row["latency_s"] for row in rows))
        traffic = 0.0 if bad else float(sum(row.get("dram_bytes", 0.0) for row in rows))
        cost = OpCost(latency_s=latency, flops=float(op.flops * op.count), dram_bytes=traffic, unmodeled=bad)
        costs[key] = cost
    return cost


def resource_table(run: SystemRun) -> pd.DataFrame:
    """One row per resource: what it is, how many devices it stands for, its busy time and
    utilization over the step, its FLOPs and DRAM bytes (per device), bytes on the wire (links, per
    device), and per device its weights, KV cache, activations, total memory and capacity."""
    import pandas as pd

    placement, system = run.placement, run.system
    totals: dict[str, dict[str, float]] = {}
    for index, task in enumerate(placement.tasks):
        entry = totals.setdefault(
            task.resource, {"flops": 0.0, "dram_bytes": 0.0, "wire_bytes": 0.0, "tasks": 0}
        )
        entry["flops"] += run.flops[index]
        entry["dram_bytes"] += run.dram_bytes[index]
        entry["wire_bytes"] += run.wire_bytes[index]
        entry["tasks"] += 1
    rows = []
    for name, resource in placement.resources.items():
        entry = totals.get(name, {"flops": 0.0, "dram_bytes": 0.0, "wire_bytes": 0.0, "tasks": 0})
        busy = run.timeline.busy_s.get(name, 0.0)
        row: dict[str, object] = {
            "resource": name,
            "kind": system.links[resource.link].kind.value
            if resource.is_link
            else _kind(system, resource.group),
            "spec": resource.link if resource.is_link else system.groups[resource.group].device.name,
            "devices": resource.devices,
            "tasks": entry["tasks"],
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


def _kind(system: SystemSpec, group: str) -> str:
    from hwmodels.loader import kind_of

    return kind_of(system.groups[group].device)


def step_lower_bound(run: SystemRun) -> float:
    """The busiest resource's busy time: no schedule of these tasks can be shorter."""
    return max(run.timeline.busy_s.values(), default=0.0)


def task_of(run: SystemRun, name: str) -> list[Task]:
    """The tasks named `name` (e.g. ``all_reduce``, ``send_qkv``), for tests and tables."""
    return [task for task in run.placement.tasks if task.name == name]
