"""Time torch.matmul, scaled_dot_product_attention and a numpy copy on this CPU, for the CPU model.

Writes rows in the measured-data format (docs/measured_format.md) to
``reference_kernels/data/cpu_calibration.csv`` (the session-2 file there was taken while the shared
machine was loaded; `hwmodels/presets/cpu_ci.yaml` is now calibrated on
``reference_kernels/data/cpu_ci_small_runs.csv`` with ``codesign calibrate --fastest``). Median of
`RUNS` timed runs after `WARMUP` untimed ones, `time.perf_counter_ns`, no cache flush.
``--call-overhead`` prints only the warm per-call time of a one-element ``copy_`` (the preset's
``launch_overhead_s``): `CALLS` calls in a loop, `REPEATS` times.

    .venv/bin/python benchmarks/calibrate_cpu.py [--call-overhead]
"""

from __future__ import annotations

import csv
import datetime
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

OUT = Path(__file__).parent.parent / "reference_kernels" / "data" / "cpu_calibration.csv"
WARMUP, RUNS = 2, 7
#: Calls per timed loop and loops of the warm call-overhead measurement.
CALLS, REPEATS = 10_000, 5
COPY_BYTES = 256 * 2**20  # 256 MiB: 32x the 8 MiB L3 of the machine this was written on

GEMMS = [  # M, N, K
    (256, 256, 256),
    (512, 512, 512),
    (1024, 1024, 1024),
    (2048, 2048, 2048),
    (1, 4096, 4096),
    (8, 4096, 4096),
    (32, 4096, 4096),
    (128, 4096, 4096),
    (512, 4096, 1024),
    (2048, 512, 2048),
]
ATTENTION = [  # batch, heads, seq_q, seq_kv, head_dim, causal
    (1, 8, 512, 512, 64, 0),
    (1, 8, 512, 512, 64, 1),
    (1, 16, 1024, 1024, 64, 0),
    (1, 16, 1024, 1024, 64, 1),
    (4, 12, 256, 256, 64, 0),
    (1, 32, 1, 4096, 128, 0),
    (8, 32, 1, 1024, 128, 0),
    (1, 32, 1, 16384, 128, 0),
]


def timed(fn) -> list[float]:
    for _ in range(WARMUP):
        fn()
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) * 1e-9)
    return samples


def row(family: str, kernel: str, samples: list[float], flops: float, **shape) -> dict:
    quantiles = statistics.quantiles(samples, n=10)
    return {
        "family": family,
        "kernel": kernel,
        **shape,
        "a_dtype": "fp32",
        "b_dtype": "fp32",
        "out_dtype": "fp32",
        "device": "cpu",
        "device_name": platform.processor() or _model_name(),
        "latency_s": statistics.median(samples),
        "p10_s": quantiles[0],
        "p90_s": quantiles[-1],
        "runs": len(samples),
        "flops": flops,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "host": platform.node(),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "threads": torch.get_num_threads(),
    }


def _model_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "cpu"


def main() -> None:
    torch.manual_seed(0)
    rows = []
    src = np.ones(COPY_BYTES // 4, dtype=np.float32)
    dst = np.empty_like(src)
    rows.append(row("copy", "numpy_copyto", timed(lambda: np.copyto(dst, src)), 0, bytes=COPY_BYTES))
    for m, n, k in GEMMS:
        a, b = torch.randn(m, k), torch.randn(k, n)
        rows.append(
            row(
                "gemm",
                "torch_matmul",
                timed(lambda a=a, b=b: torch.matmul(a, b)),
                2 * m * n * k,
                M=m,
                N=n,
                K=k,
            )
        )
    for batch, heads, sq, skv, d, causal in ATTENTION:
        q = torch.randn(batch, heads, sq, d)
        k, v = torch.randn(batch, heads, skv, d), torch.randn(batch, heads, skv, d)
        pairs = sq * (sq + 1) // 2 if causal else sq * skv
        family = "attention_decode" if sq == 1 else "attention_prefill"
        fn = lambda q=q, k=k, v=v, c=bool(causal): F.scaled_dot_product_attention(q, k, v, is_causal=c)  # noqa: E731
        rows.append(
            row(
                family,
                "torch_sdpa",
                timed(fn),
                4 * batch * heads * pairs * d,
                batch=batch,
                heads=heads,
                kv_heads=heads,
                seq_q=sq,
                seq_kv=skv,
                head_dim=d,
                causal=causal,
            )
        )
    columns = list(dict.fromkeys(key for r in rows for key in r))
    with OUT.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    for r in rows:
        rate = r["flops"] / r["latency_s"] / 1e9 if r["flops"] else 2 * r["bytes"] / r["latency_s"] / 1e9
        print(f"{r['family']:<18} {r['kernel']:<14} {r['latency_s'] * 1e3:9.3f} ms  {rate:8.2f} G/s")


def warm_call_overhead_s() -> list[float]:
    """Seconds per call of a one-element ``copy_``, warm (after 1,000 untimed calls), per loop."""
    src, dst = torch.ones(1, dtype=torch.int32), torch.empty(1, dtype=torch.int32)
    for _ in range(1000):
        dst.copy_(src)
    loops = []
    for _ in range(REPEATS):
        start = time.perf_counter_ns()
        for _ in range(CALLS):
            dst.copy_(src)
        loops.append((time.perf_counter_ns() - start) * 1e-9 / CALLS)
    return loops


if __name__ == "__main__":
    if "--call-overhead" in sys.argv[1:]:
        loops = warm_call_overhead_s()
        print("warm one-element copy_, us per call:", ", ".join(f"{t * 1e6:.2f}" for t in loops))
    else:
        main()
