"""Validation rows of source 46 (`sglang_pr29638_fp8_gemm_h20`) from the published results file.

`tilelang_vs_tuned_triton_deepgemm.csv` beside this script is a verbatim copy of
sgl-project/sglang@0bd1600d `benchmark/kernels/tilelang_gemm/results/h20_4090_202606/h20/
tilelang_vs_tuned_triton_deepgemm.csv` (PR #29638, cscyuge, 2026-06-29), read through the code
index page by page (the repository is too large to fetch) and checked by its own redundancy: every
row's printed TFLOP/s equals 2·M·N·K over its printed time, for each of its three kernels.

Kept, by a rule fixed before simulating: every row's DeepGEMM time (`deepgemm_ms`: DeepGEMM's
``gemm_nt_f8f8bf16``, the model's `deepgemm_fp8_blockscaled`) and sglang's tuned Triton time
(`baseline_ms`: ``w8a8_block_fp8_matmul``, the model's `w8a8_block_fp8_triton`). The TileLang
column is not kept (its per-shape kernels have no traits in the model).

Run from the repository root: ``python benchmarks/sglang_h20_fp8/make_rows.py``. It replaces this
source's rows in `reference_kernels/data/published_validation.csv` and leaves the others as they are.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
RESULTS = HERE / "tilelang_vs_tuned_triton_deepgemm.csv"
VALIDATION = Path(__file__).parents[2] / "reference_kernels" / "data" / "published_validation.csv"
SOURCE_ID = "sglang_pr29638_fp8_gemm_h20"
COMMIT = "0bd1600d9fdededbd9a94f03733607a71830b7b3"
PATH = "benchmark/kernels/tilelang_gemm/results/h20_4090_202606/h20/tilelang_vs_tuned_triton_deepgemm.csv"
GPU = (
    "NVIDIA H20 (nvidia-smi in the run's environment.txt: "
    "'NVIDIA H20, 535.183.01, 97871 MiB', the 96 GB part)"
)
#: The published column → (the `kernel` cell, its first word the model's kernel name).
KERNELS = {
    "deepgemm_ms": "deepgemm_fp8_blockscaled (DeepGEMM gemm_nt_f8f8bf16 through sglang's deep_gemm_wrapper)",
    "baseline_ms": "w8a8_block_fp8_triton (sglang's Triton w8a8_block_fp8_matmul with its tuned configs)",
}
SETTINGS = (
    "sglang PR #29638's benchmark/kernels/tilelang_gemm/benchmark_tilelang_gemm.py (run at 1a6b7094 "
    "of branch tilelang-fp8-gemm-modernization, not stored; the stored versions at 12f6d26f and "
    "a17e50ba read): triton.testing.do_bench_cudagraph(fn, rep=100, quantiles=[0.5, 0.2, 0.8]), the "
    "median, as run_metadata.txt's bench_backend=cudagraph, bench_rep=100 says: CUDA-graph replays of "
    "repeated calls, no L2 flush; W8A8 FP8 e4m3, activation scales per 1x128, weight scales per "
    "128x128 block, bf16 output, quantization not timed; torch 2.11.0+cu130, triton 3.6.0, "
    "sglang 0.5.13, driver 535.183.01; 8 GPUs of one box shared the shapes (which ran each row is "
    "not recorded)"
)


def rows() -> list[dict[str, str]]:
    """One validation row per kept (published line, kernel column)."""
    lines = RESULTS.read_text().splitlines()
    header = next(csv.reader([lines[0]]))
    out = []
    for number, line in enumerate(lines[1:], start=2):
        cells = dict(zip(header, next(csv.reader(io.StringIO(line))), strict=True))
        for column, kernel in KERNELS.items():
            value = cells[column]
            out.append({
                "gpu": "h20", "preset": "h20", "gpu_as_published": GPU, "family": "gemm_fp8",
                "kernel": kernel, "dtype": "fp8_e4m3_blockscaled_128", "a_dtype": "fp8", "b_dtype": "fp8",
                "group_size": "128", "m": cells["M"], "n": cells["N"], "k": cells["K"],
                "metric": "latency_ms", "value": value, "unit": "ms",
                "latency_s": f"{float(value) * 1e-3:.6g}",
                "latency_derivation": "latency_s = value * 1e-3 (the median of do_bench_cudagraph, ms)",
                "timing_scope": "kernel (CUDA-graph replay)", "settings": SETTINGS,
                "source": SOURCE_ID, "split": "validation",
                "locator": f"sgl-project/sglang@{COMMIT}:{PATH}:{number} (column {column})",
                "quote": line,
            })
    return out


def main() -> None:
    table = pd.read_csv(VALIDATION, dtype=str, keep_default_na=False)
    kept = table[table["source"] != SOURCE_ID]
    new = pd.DataFrame(rows()).reindex(columns=table.columns, fill_value="")
    pd.concat([kept, new], ignore_index=True).to_csv(VALIDATION, index=False)
    print(f"{len(new)} rows of {SOURCE_ID} written to {VALIDATION}")


if __name__ == "__main__":
    main()
