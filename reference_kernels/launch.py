"""Per-kernel launch overhead, launched eagerly and replayed from a CUDA graph.

A step of a model is hundreds of kernels back to back; what each adds beyond its own work is the
preset's `launch_overhead_s` (eager) and `graph_launch_overhead_s` (CUDA graph). Both are timed
here the same way: a chain of `CHAIN` one-element copies (4 bytes each: no work to speak of),
timed as a whole by the harness (`reference_kernels.timing`), divided by `CHAIN`. Eager, the host
launches each copy; from a graph (GPU only), the chain is captured once and replayed. The model
times such a copy as ``memory_latency_s + launch overhead`` (`sim.engines.gpu.timing.memory_bound_s`), so
the overhead to put in a preset is the per-kernel time less the preset's `memory_latency_s`.

    python3 -m reference_kernels.launch cuda OUT.csv    # run_on_gpu.sh does this after the grid
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import torch

from reference_kernels.environment import environment
from reference_kernels.timing import TimingBudget, make_timer, time_kernel

#: Copies per timed chain: long enough that the event pair's own cost (a few us) is spread thin.
CHAIN = 64


def launch_overheads(device: torch.device, budget: TimingBudget | None = None) -> list[dict[str, object]]:
    """One row per launch mode (``eager``; ``cuda_graph`` on a GPU): seconds per kernel of the chain
    (median, p10, p90 over the timed chains), the chain length and the device's environment."""
    source = torch.zeros(1, device=device)
    target = torch.zeros(1, device=device)

    def chain() -> None:
        for _ in range(CHAIN):
            target.copy_(source)

    modes = {"eager": chain}
    if device.type == "cuda":
        graph = torch.cuda.CUDAGraph()
        chain()  # warm the copy kernel before capture
        torch.cuda.synchronize(device)
        with torch.cuda.graph(graph):
            chain()
        modes["cuda_graph"] = graph.replay
    timer = make_timer(device)
    budget = budget or TimingBudget()
    rows = []
    for mode, run in modes.items():
        timing = time_kernel(run, timer, budget)
        rows.append(
            {
                "mode": mode,
                "kernels_per_run": CHAIN,
                "per_kernel_s": timing.median_s / CHAIN,
                "p10_s": timing.p10_s / CHAIN,
                "p90_s": timing.p90_s / CHAIN,
                "runs": timing.runs,
                **environment(device),
            }
        )
    return rows


def write_csv(rows: list[dict[str, object]], path: str | Path) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    device_name, out = sys.argv[1], sys.argv[2]
    found = launch_overheads(torch.device(device_name))
    write_csv(found, out)
    for row in found:
        print(f"{row['mode']}: {row['per_kernel_s'] * 1e6:.3f} us per kernel ({row['device_name']})")
