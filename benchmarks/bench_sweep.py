"""Speed of design-space sweeps: a 10,000-config roofline sweep of LLaMA-2-7B decode on systolic
arrays (target: under 60 s on the 2-core CI machine, tracing included), and cycle-fidelity sweeps
(the systolic and GPU engines) in configs per second, set beside the published per-evaluation
times of GenZ (roofline) and LLMCompass (mapping search).

    python benchmarks/bench_sweep.py [--workers N] [--cycle-configs 48]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from sim.sweep import sweep
from sim.sweep.spec import parse_sweep_spec
from sim.sweep.store import read_sweep

#: Seconds per evaluation of the peers, as the sweep issue quotes them (not re-measured here): GenZ
#: (Bambhaniya et al., "Demystifying Platform Requirements for Diverse LLM Inference Use Cases",
#: 2024), an analytical roofline, 0.06 s; LLMCompass (Zhang et al., ISCA 2024), a mapping search
#: per operator, over a minute.
GENZ_S_PER_EVAL = 0.06
LLMCOMPASS_S_PER_EVAL = 60.0

#: 10 x 10 x 4 x 5 x 5 = 10,000 configs: array shape, one HBM stack's bandwidth (HBM2 .. HBM3E, as in
#: examples/sweep_systolic_llama2_7b.yaml), input and weight SRAM sizes.
ROOFLINE_SPEC = """
name: bench_roofline_10k
hardware: systolic_128x128
axes:
  rows: {range: [32, 320, 32]}
  cols: {range: [32, 320, 32]}
  dram_bytes_per_s: [256.0e9, 460.8e9, 819.2e9, 1228.8e9]
  ifmap_sram_bytes: {doubling: [262144, 4194304]}
  filter_sram_bytes: {doubling: [262144, 4194304]}
workloads:
  - {name: decode, model: llama-2-7b, phase: decode, context: 4096}
fidelity: roofline
"""
#: Cycle fidelity on the systolic engine: `n` configs of array shape and dataflow.
SYSTOLIC_CYCLE_SPEC = """
name: bench_cycle_systolic
hardware: systolic_128x128
axes:
  rows: [32, 64, 128, 256]
  cols: [32, 64, 128, 256]
  dataflow: [os, ws, is]
sampling: {{method: random, samples: {n}, seed: 0}}
workloads:
  - {{name: decode, model: llama-2-7b, phase: decode, context: 4096}}
fidelity: cycle
"""
#: Cycle fidelity on the GPU engine: examples/sweep_gpu_llama2_7b.yaml's axes, decode only.
GPU_CYCLE_SPEC = """
name: bench_cycle_gpu
hardware: h100_sxm
axes:
  sm_count: [78, 108, 132, 144]
  dram_bytes_per_s: [2.039e12, 3.35e12, 4.8e12, 8.0e12]
  l2_bytes: [41943040, 52428800, 104857600]
derived: {{achievable_dram_bytes_per_s: "dram_bytes_per_s * 3.0e12 / 3.35e12"}}
sampling: {{method: random, samples: {n}, seed: 0}}
workloads:
  - {{name: decode, model: llama-2-7b, phase: decode, context: 4096}}
fidelity: cycle
"""


def timed(text: str, out: Path, workers: int) -> tuple[float, float, int]:
    """(wall seconds including tracing, seconds per evaluation, configs) of one sweep."""
    spec = parse_sweep_spec(text)
    start = time.perf_counter()
    result = sweep(spec, out, workers=workers)
    wall = time.perf_counter() - start
    frame = read_sweep(out)
    assert frame["error"].isna().all(), frame.loc[frame["error"].notna(), "error"].iloc[0]
    return wall, wall / result.configs, result.configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--cycle-configs", type=int, default=48)
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} CPUs, {args.workers} workers; "
        "times include tracing LLaMA-2-7B decode (context 4096)"
    )
    print(
        f"{'sweep':<34}{'configs':>8}{'wall_s':>9}{'configs/s':>11}{'s/eval':>10}"
        f"  {'peer at the same fidelity (s/eval)':<36}{'speed-up':>9}"
    )
    with tempfile.TemporaryDirectory() as folder:
        genz, llmcompass = (
            ("GenZ, roofline", GENZ_S_PER_EVAL),
            ("LLMCompass, mapping search", LLMCOMPASS_S_PER_EVAL),
        )
        runs = (
            ("roofline, systolic (10k)", ROOFLINE_SPEC, genz),
            ("cycle, systolic engine", SYSTOLIC_CYCLE_SPEC.format(n=args.cycle_configs), llmcompass),
            ("cycle, GPU engine", GPU_CYCLE_SPEC.format(n=args.cycle_configs), llmcompass),
        )
        for index, (label, text, (peer, peer_s)) in enumerate(runs):
            wall, per_eval, configs = timed(text, Path(folder) / str(index), args.workers)
            print(
                f"{label:<34}{configs:>8,}{wall:>9.1f}{configs / wall:>11.1f}{per_eval:>10.2g}"
                f"  {f'{peer} ({peer_s:g})':<36}{peer_s / per_eval:>8,.0f}x"
            )


if __name__ == "__main__":
    main()
