"""Speed and agreement: the same layers through SCALE-Sim 3.0.0 and codesign's systolic engine.

Prints one row per layer: SCALE-Sim's wall time, ours (median of repeated runs, after one warm-up
call), the speed ratio, and whether the compute cycles agree.
SCALE-Sim runs in its own virtual environment (``benchmarks/scalesim_reference/setup_venv.sh``)
through ``run_scalesim.py``; it is never imported here.

    python benchmarks/bench_systolic_vs_scalesim.py [--scalesim-python .scalesim-venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from hwmodels.systolic import Dataflow, SystolicArraySpec
from sim.simulate import simulate
from workloads.op import conv2d_op, gemm_op

HERE = Path(__file__).parent
RUNNER = HERE / "scalesim_reference" / "run_scalesim.py"
REPEATS = 20

#: (name, kind, shape, dataflow, array rows, array cols). The first is the issue's yardstick:
#: SCALE-Sim takes about 47 s for it on this machine.
CASES = [
    ("gemm_128x1024x1024", "gemm", (128, 1024, 1024), "os", 32, 32),
    ("gemm_128x1024x1024", "gemm", (128, 1024, 1024), "ws", 32, 32),
    ("gemm_128x1024x1024", "gemm", (128, 1024, 1024), "is", 32, 32),
    ("gemm_100x37x250", "gemm", (100, 37, 250), "os", 32, 32),
    ("gemm_100x37x250", "gemm", (100, 37, 250), "ws", 32, 32),
    ("gemm_100x37x250", "gemm", (100, 37, 250), "is", 32, 32),
    ("gemv_1x4096x4096", "gemm", (1, 4096, 4096), "os", 128, 128),
    ("gemm_512x512x512", "gemm", (512, 512, 512), "ws", 128, 128),
    ("conv_58x58x64_3x3x64", "conv", (58, 58, 3, 3, 64, 64, 1), "ws", 32, 32),
]
SRAM_KB = 64
BANDWIDTH_WORDS = 10


def scalesim_case(name, kind, shape, dataflow, rows, cols) -> dict:
    case = {
        "case_id": f"{name}_{dataflow}_{rows}x{cols}",
        "kind": kind,
        "name": name,
        "dataflow": dataflow,
        "rows": rows,
        "cols": cols,
        "ifmap_kb": SRAM_KB,
        "filter_kb": SRAM_KB,
        "ofmap_kb": SRAM_KB,
        "bw_mode": "USER",
        "bandwidth_words_per_cycle": BANDWIDTH_WORDS,
    }
    if kind == "gemm":
        case.update(zip(("M", "N", "K"), shape, strict=True))
    else:
        keys = ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "num_filters", "stride")
        case.update(zip(keys, shape, strict=True))
    return case


def our_op(name, kind, shape):
    if kind == "gemm":
        return gemm_op(*shape, name=name)
    ifmap_h, ifmap_w, filter_h, filter_w, channels, num_filters, stride = shape
    return conv2d_op(
        ifmap_h=ifmap_h, ifmap_w=ifmap_w, filter_h=filter_h, filter_w=filter_w, channels=channels,
        num_filters=num_filters, stride_h=stride, stride_w=stride, name=name,
    )


def our_array(dataflow, rows, cols) -> SystolicArraySpec:
    # SCALE-Sim USER mode: three DRAM ports of BANDWIDTH_WORDS 1-byte words/cycle; 1 GHz clock
    return SystolicArraySpec(
        name=f"{rows}x{cols}", rows=rows, cols=cols, dataflow=Dataflow(dataflow),
        ifmap_sram_bytes=SRAM_KB * 1024, filter_sram_bytes=SRAM_KB * 1024,
        ofmap_sram_bytes=SRAM_KB * 1024, dram_bytes_per_s=3 * BANDWIDTH_WORDS * 1e9, clock_hz=1e9,
    )


def time_ours(op, hardware) -> tuple[float, int]:
    simulate(op, hardware)  # warm-up: first-call imports and caches
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = simulate(op, hardware)
        times.append(time.perf_counter() - start)
    return statistics.median(times), int(result["compute_cycles"].iloc[0])


def run_scalesim(python: str, case: dict) -> dict:
    done = subprocess.run(
        [python, str(RUNNER)], input=json.dumps([case]), capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scalesim-python",
        default=os.environ.get("SCALESIM_PYTHON", ".scalesim-venv/bin/python"),
        help="python of the SCALE-Sim venv",
    )
    args = parser.parse_args()
    if not Path(args.scalesim_python).exists():
        print(f"no SCALE-Sim python at {args.scalesim_python}; run setup_venv.sh", file=sys.stderr)
        return 2
    header = f"{'layer':<24}{'df':<4}{'array':<9}{'scalesim_s':>11}{'codesign_s':>12}{'speedup':>10}"
    print(header + f"{'cycles (ss/ours)':>22}{'equal':>7}")
    for name, kind, shape, dataflow, rows, cols in CASES:
        reference = run_scalesim(args.scalesim_python, scalesim_case(name, kind, shape, dataflow, rows, cols))
        ours_s, ours_cycles = time_ours(our_op(name, kind, shape), our_array(dataflow, rows, cols))
        ss_cycles = int(reference["total_cycles"]) - int(reference["stall_cycles"])
        print(
            f"{name:<24}{dataflow:<4}{f'{rows}x{cols}':<9}{reference['scalesim_wall_s']:>11.2f}"
            f"{ours_s:>12.5f}{reference['scalesim_wall_s'] / ours_s:>9.0f}x"
            f"{f'{ss_cycles}/{ours_cycles}':>22}{str(ss_cycles == ours_cycles):>7}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
