"""A timeline: tasks on resources, each started once its dependencies are done and its resource is
free; a step's latency is the critical path (the last task's end), not the sum of the tasks.

Scheduling is list scheduling, in order of readiness: of the tasks whose dependencies are done,
the one that became ready first (then the one listed first) goes next, and starts when its
resource is free. A resource runs one task at a time (a device set runs one op at a time, a link
direction carries one message at a time). This is deterministic, and

* tasks that form one chain on one resource run back to back, so the latency is the sum of their
  durations (one device without overlap: `sim.simulate.summarize`'s total);
* the latency is at most the sum of all durations (nothing waits for nothing) and at least the
  busiest resource's total (`Schedule.busy_s`), and at least the longest dependency chain.

Pure arithmetic on floats: no clock is read.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    """Start and end of each task (seconds from the step's start, in task order), each resource's
    busy time, and the latency (the last end)."""

    start_s: tuple[float, ...]
    end_s: tuple[float, ...]
    busy_s: dict[str, float]
    latency_s: float

    def utilization(self, resource: str) -> float:
        """The fraction of the step `resource` is busy."""
        return self.busy_s.get(resource, 0.0) / self.latency_s if self.latency_s > 0 else 0.0


def schedule(resources: Sequence[str], durations: Sequence[float], deps: Sequence[Sequence[int]]) -> Schedule:
    """Schedule tasks ``i`` (on `resources[i]`, taking `durations[i]` seconds, after every task in
    `deps[i]`, which must come earlier in the list) as the module docstring says."""
    count = len(durations)
    waiting = [len(set(d)) for d in deps]
    children: list[list[int]] = [[] for _ in range(count)]
    for task, parents in enumerate(deps):
        for parent in set(parents):
            if not 0 <= parent < task:
                raise ValueError(f"task {task} depends on task {parent}, which does not come before it")
            children[parent].append(task)
    ready_at = [0.0] * count
    heap = [(0.0, task) for task in range(count) if waiting[task] == 0]
    heapq.heapify(heap)
    free: dict[str, float] = {}
    busy: dict[str, float] = {}
    start = [0.0] * count
    end = [0.0] * count
    done = 0
    while heap:
        ready, task = heapq.heappop(heap)
        resource = resources[task]
        begin = max(ready, free.get(resource, 0.0))
        finish = begin + durations[task]
        start[task], end[task] = begin, finish
        free[resource] = finish
        busy[resource] = busy.get(resource, 0.0) + durations[task]
        done += 1
        for child in children[task]:
            ready_at[child] = max(ready_at[child], finish)
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(heap, (ready_at[child], child))
    if done != count:  # unreachable with deps pointing backwards; kept as a guard
        raise ValueError("the tasks' dependencies form a cycle")
    return Schedule(start_s=tuple(start), end_s=tuple(end), busy_s=busy, latency_s=max(end, default=0.0))
