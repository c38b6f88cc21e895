"""Validation rows of sglang PR #29638's FP8 GEMM results (`PUBLISHED_VALIDATION.md` source 46).

Each folder here (`h20/`, `rtx4090/`) holds a verbatim copy of the run's
`tilelang_vs_tuned_triton_deepgemm.csv`, `environment.txt` and `run_metadata.txt` from
sgl-project/sglang@0bd1600d `benchmark/kernels/tilelang_gemm/results/h20_4090_202606/<folder>/`
(PR #29638, cscyuge, 2026-06-29), read through the code index page by page (the repository is too
large to fetch) and checked by the file's own redundancy: every line's printed TFLOP/s equals
2·M·N·K over its printed time, for each kernel it ran (`tests/test_validation.py`).

Kept, by a rule fixed before simulating: every line's time of each kernel the model has traits for
(`Run.kernels`): DeepGEMM (`deepgemm_ms`: ``gemm_nt_f8f8bf16``, the model's
`deepgemm_fp8_blockscaled`; not on the RTX 4090, where DeepGEMM does not run) and sglang's tuned
Triton kernel (`baseline_ms`: ``w8a8_block_fp8_matmul``, the model's `w8a8_block_fp8_triton`). The
TileLang column is not kept (its per-shape kernels have no traits in the model).

Both Triton columns run sglang's launch (`mappers.gpu_gemm.sglang_block_fp8_launch`): on the H20 the
tuned configuration sglang ships for the GPU and shape (its log prints no warning; the 25 files
copied verbatim from the code index, sgl-project/sglang@1f4eca79, the one stored version, into
`h20/tuned_configs/`, their sources in `SOURCES.txt`), on the RTX 4090 the default, as the run's
log warns for each of its 25 (N, K) pairs (`rtx4090/benchmark_log_notices.txt`: the logs' lines
other than the per-shape results, copied verbatim).

Run from the repository root: ``python benchmarks/sglang_fp8_gemm/make_rows.py``. It replaces these
sources' rows in `reference_kernels/data/published_validation.csv` and leaves the others as they are,
and writes the tuned configurations the model launches with (`mappers/sglang_block_fp8_configs.csv`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
RESULTS = "tilelang_vs_tuned_triton_deepgemm.csv"
VALIDATION = Path(__file__).parents[2] / "reference_kernels" / "data" / "published_validation.csv"
COMMIT = "0bd1600d9fdededbd9a94f03733607a71830b7b3"
FOLDER = "benchmark/kernels/tilelang_gemm/results/h20_4090_202606"
CONFIGS = Path(__file__).parents[2] / "mappers" / "sglang_block_fp8_configs.csv"
#: The tuned configuration files copied, by the preset of the GPU they name.
TUNED = {"h20": HERE / "h20" / "tuned_configs"}
DEEPGEMM = "deepgemm_fp8_blockscaled (DeepGEMM gemm_nt_f8f8bf16 through sglang's deep_gemm_wrapper)"
TRITON = "w8a8_block_fp8_triton_sglang (sglang's Triton w8a8_block_fp8_matmul with its tuned configs)"
#: On the RTX 4090 the file names the column "tuned_triton" too, but sglang has no tuned JSON for that
#: card: the run's benchmark.log warns "Using default W8A8 Block FP8 kernel config. Performance might
#: be sub-optimal! Config file not found at ...device_name=NVIDIA_GeForce_RTX_4090..." for its (N, K)
#: pairs (rtx4090/benchmark_log_notices.txt), so every line ran the kernel's default configuration.
TRITON_UNTUNED = (
    "w8a8_block_fp8_triton_sglang (sglang's Triton w8a8_block_fp8_matmul at its default config, "
    "no tuned JSON for the card: the run's benchmark.log warns so)"
)
HARNESS = (
    "sglang PR #29638's benchmark/kernels/tilelang_gemm/benchmark_tilelang_gemm.py (run at 1a6b7094 "
    "of branch tilelang-fp8-gemm-modernization, not stored; the stored versions at 12f6d26f and "
    "a17e50ba read): triton.testing.do_bench_cudagraph(fn, rep=100, quantiles=[0.5, 0.2, 0.8]), the "
    "median, as run_metadata.txt's bench_backend=cudagraph, bench_rep=100 says: CUDA-graph replays of "
    "repeated calls, no L2 flush; W8A8 FP8 e4m3, activation scales per 1x128, weight scales per "
    "128x128 block, bf16 output, quantization not timed"
)


@dataclass(frozen=True)
class Run:
    """One GPU's results: its folder (here and in the repository), source, preset, the GPU as the
    run's environment names it, the kept columns (published column → the `kernel` cell, whose first
    word is the model's kernel name) and the software the run records."""

    folder: str
    source_id: str
    preset: str
    gpu_as_published: str
    kernels: Mapping[str, str]
    software: str


RUNS = (
    Run(
        "h20", "sglang_pr29638_fp8_gemm_h20", "h20",
        "NVIDIA H20 (nvidia-smi in the run's environment.txt: "
        "'NVIDIA H20, 535.183.01, 97871 MiB', the 96 GB part)",
        {"deepgemm_ms": DEEPGEMM, "baseline_ms": TRITON},
        "torch 2.11.0+cu130, triton 3.6.0, sglang 0.5.13, driver 535.183.01; 8 GPUs of one box shared "
        "the shapes (which ran each row is not recorded)",
    ),
    Run(
        "rtx4090", "sglang_pr29638_fp8_gemm_rtx4090", "rtx_4090",
        "NVIDIA GeForce RTX 4090 (nvidia-smi in the run's environment.txt: "
        "'NVIDIA GeForce RTX 4090, 580.65.06, 24564 MiB')",
        {"baseline_ms": TRITON_UNTUNED},
        "torch 2.11.0+cu130, triton 3.6.0, sglang 0.5.13, driver 580.65.06; run_metadata.txt: "
        "compare_deepgemm=0 (DeepGEMM does not run on SM89), skip_tune=1; 8 GPUs of one box shared "
        "the shapes (which ran each row is not recorded)",
    ),
)


def rows(run: Run) -> list[dict[str, str]]:
    """One validation row per kept (published line, kernel column) of `run`."""
    lines = (HERE / run.folder / RESULTS).read_text().splitlines()
    header = next(csv.reader([lines[0]]))
    out = []
    for number, line in enumerate(lines[1:], start=2):
        cells = dict(zip(header, next(csv.reader(io.StringIO(line))), strict=True))
        for column, kernel in run.kernels.items():
            value = cells[column]
            out.append({
                "gpu": run.preset, "preset": run.preset, "gpu_as_published": run.gpu_as_published,
                "family": "gemm_fp8", "kernel": kernel, "dtype": "fp8_e4m3_blockscaled_128",
                "a_dtype": "fp8", "b_dtype": "fp8", "group_size": "128",
                "m": cells["M"], "n": cells["N"], "k": cells["K"],
                "metric": "latency_ms", "value": value, "unit": "ms",
                "latency_s": f"{float(value) * 1e-3:.6g}",
                "latency_derivation": "latency_s = value * 1e-3 (the median of do_bench_cudagraph, ms)",
                "timing_scope": "kernel (CUDA-graph replay)", "settings": f"{HARNESS}; {run.software}",
                "source": run.source_id, "split": "validation",
                "locator": f"sgl-project/sglang@{COMMIT}:{FOLDER}/{run.folder}/{RESULTS}:{number} "
                f"(column {column})",
                "quote": line,
            })
    return out


def tuned_configs() -> pd.DataFrame:
    """One row per (preset, N, K, M) of the tuned configuration files in `TUNED`: the tile and
    pipeline sglang launches at that M (its JSON's keys)."""
    from mappers.gpu_gemm import tuned_config_rows

    out = [row for preset, folder in TUNED.items() for path in sorted(folder.glob("N=*.json"))
           for row in tuned_config_rows(path, preset)]
    return pd.DataFrame(out).sort_values(["preset", "n", "k", "m"])


def main() -> None:
    table = pd.read_csv(VALIDATION, dtype=str, keep_default_na=False)
    kept = table[~table["source"].isin({run.source_id for run in RUNS})]
    new = pd.DataFrame([row for run in RUNS for row in rows(run)])
    new = new.reindex(columns=table.columns, fill_value="")
    pd.concat([kept, new], ignore_index=True).to_csv(VALIDATION, index=False)
    for run in RUNS:
        print(f"{(new['source'] == run.source_id).sum()} rows of {run.source_id} written to {VALIDATION}")
    configs = tuned_configs()
    configs.to_csv(CONFIGS, index=False)
    print(f"{len(configs)} tuned configurations written to {CONFIGS}")


if __name__ == "__main__":
    main()
