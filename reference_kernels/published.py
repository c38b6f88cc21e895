"""Published GPU kernel measurements, in the measured-data format, for `codesign compare`.

`reference_kernels/data/published_figures.csv` holds figures other people measured on real GPUs and
published (a README table, a blog's table, a paper's abstract), one per row with its source, where
in the source it is, and a verbatim quote that holds the number (`published_figures.md` says how
far each source can be trusted). `published_measurements` turns the rows that time a kernel we
model into rows of the format `codesign measure` writes (docs/measured_format.md), so the same
`compare` that checks the simulator against our own runs checks it against theirs:

* ``latency_us`` rows: ``latency_s = value / 1e6``.
* ``tflops`` rows of a GEMM or an attention with its whole shape: ``latency_s = flops / (value ·
  1e12)``, with the FLOPs the source's own convention counts (``2·M·N·K``; attention
  ``4·B·H·Sq·Skv·D`` forward, no causal halving, as the FlashAttention benchmarks count).
* DeepGEMM's grouped GEMMs for MoE (``batch`` = groups, ``m`` = rows per group, each group its own
  weight): a GEMM row with ``batch`` groups of ``M×N×K`` (``2·G·M·N·K`` FLOPs), kernel
  ``deepgemm_fp8_grouped``. The contiguous and masked layouts both give every group the same rows.

Left out, with the reason in `SKIPPED_BECAUSE`: bandwidth, fraction-of-peak and speedup rows (no
shape to simulate), GPUs with no preset. FlashAttention v2.0.9's decode rows of the Flash-Decoding
blog (before split-KV existed) are compared with ``partition = fa2``: the simulator's FA2
partition only. The preset each GPU is compared on is `PRESET_OF_GPU`. Each row's `timing` and
`l2_flush` are its source's in `data/sources.csv` (`reference_kernels.sources.harness`), with the
benchmark code or commit that shows them in its `harness_note`.

Every row carries its source's `source_id` and `split` from the registry
(`reference_kernels.sources`): all of this file's sources are calibration sources (fits and presets
use them). `calibration_measurements` adds the calibration rows of `published_validation.csv`
(sources moved there because they share a publication with one of these) and is what a fit on
published data may use.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reference_kernels.sources import calibration_only, harness, with_split

PUBLISHED_FIGURES = Path(__file__).parent / "data" / "published_figures.csv"

#: The preset that models each GPU of the published rows. The H800 SXM is the H100 SXM's die
#: (132 SMs, the same tensor rates and 3.35 TB/s HBM3) with NVLink cut to 400 GB/s, so single-GPU
#: kernels compare with `h100_sxm`. Rows whose A100 or H100 variant the source does not state are
#: compared with the SXM preset, the part those authors' other figures name.
PRESET_OF_GPU = {
    "h100_sxm": "h100_sxm",
    "h800_sxm": "h100_sxm",
    "h100_pcie": "h100_pcie",
    "h200": "h200",
    "h20": "h20",
    "a100_80gb_sxm": "a100_80gb_sxm",
    "other:a100_sxm_unspecified_memory": "a100_80gb_sxm",
    "other:a100_unspecified_variant": "a100_80gb_sxm",
    "other:h100_unspecified_variant": "h100_sxm",
}
#: Published dtype names → the measured format's.
DTYPES = {
    "bf16": "bf16",
    "fp16": "fp16",
    "16bit_unspecified": "bf16",  # tritonbench's default dtype is bf16
    "fp8_e4m3": "fp8",
    "fp8_e4m3_blockscaled": "fp8",
    "fp8_e4m3_blockscaled_128": "fp8",
}
#: The published kernel → our family (fp8 MAMF rows become `gemm_fp8` in `_measured_row`).
FAMILY = {
    "mamf": "gemm",
    "gemm_fp8": "gemm_fp8",
    "attention_prefill": "attention_prefill",
    "attention_decode": "attention_decode",
}
SKIPPED_BECAUSE = {
    "metric": "not a latency or a throughput of one shape",
    "gpu": "no preset models this GPU",
    "shape": "the source gives no whole shape",
}


def published_measurements(path: str | Path = PUBLISHED_FIGURES) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows in the measured format with `preset`, `source`, `locator` and `quote` columns; the
    published rows left out, each with its `reason`)."""
    figures = with_split(pd.read_csv(path, dtype=str, keep_default_na=False), Path(path).name)
    kept, skipped = [], []
    for _, figure in figures.iterrows():
        reason = _skip_reason(figure)
        if reason:
            skipped.append({**figure.to_dict(), "reason": SKIPPED_BECAUSE[reason]})
            continue
        kept.append(_measured_row(figure))
    return pd.DataFrame(kept), pd.DataFrame(skipped)


def calibration_measurements() -> pd.DataFrame:
    """The published kernel rows a fit may use: this file's (all calibration) and the calibration
    rows of `published_validation.csv` (`reference_kernels.published_validation`)."""
    from reference_kernels.published_validation import validation_kernels

    rows, _ = published_measurements()
    moved, _ = validation_kernels()
    return calibration_only(pd.concat([rows, moved], ignore_index=True))


def _skip_reason(figure: pd.Series) -> str:
    if figure["metric"] not in ("latency_us", "tflops") or figure["kernel"] not in FAMILY:
        return "metric"
    if figure["gpu"] not in PRESET_OF_GPU:
        return "gpu"
    if figure["kernel"] in ("mamf", "gemm_fp8"):
        if not (figure["m"] and figure["n"] and figure["k"]):
            return "shape"
    elif not (figure["batch"] and figure["heads"] and figure["seq_kv"] and figure["head_dim"]):
        return "shape"
    return ""


#: Kernels whose FP8 GEMMs write FP8: the MAMF table's ``torch._scaled_mm(A, B, scale, scale)``
#: (mamf-finder.py at b068e4d: no out_dtype, so A's; since e38751c ``out=C`` with C of the
#: benchmarked dtype). Every other FP8 row (DeepGEMM, vLLM's block-FP8 GEMMs) writes bf16.
FP8_OUT_KERNELS = frozenset({"mamf"})


def _out_dtype(figure: pd.Series, dtype: str) -> str:
    if dtype != "fp8":
        return dtype
    return "fp8" if figure["kernel"] in FP8_OUT_KERNELS else "bf16"


def _measured_row(figure: pd.Series) -> dict[str, object]:
    dtype = DTYPES[figure["dtype"]]
    family = FAMILY[figure["kernel"]]
    if family == "gemm" and dtype == "fp8":
        family = "gemm_fp8"
    row: dict[str, object] = {
        "family": family,
        "kernel": _kernel_name(figure),
        "a_dtype": dtype,
        "b_dtype": dtype,
        "device": "cuda",
        "device_name": figure["gpu"],
        "preset": PRESET_OF_GPU[figure["gpu"]],
        **harness(figure["source_id"])._asdict(),  # how the source timed it (sources.csv)
    }
    if family.startswith("gemm"):
        m, n, k = (int(figure[c]) for c in ("m", "n", "k"))
        groups = int(figure["batch"] or 1)
        row |= {"M": m, "N": n, "K": k, "out_dtype": _out_dtype(figure, dtype)}
        if figure["batch"]:  # a grouped GEMM's table (one group is still the grouped kernel)
            row |= {"batch": groups, "kernel": "deepgemm_fp8_grouped"}
        flops = 2 * groups * m * n * k
    else:
        b, h, skv, d = (int(figure[c]) for c in ("batch", "heads", "seq_kv", "head_dim"))
        sq = int(figure["seq_q"] or 1)
        row |= {
            "batch": b,
            "heads": h,
            "kv_heads": int(figure["kv_heads"] or h),
            "seq_q": sq,
            "seq_kv": skv,
            "head_dim": d,
            "causal": 1 if figure["causal"] in ("1", "true") else 0,
        }
        if "no split-KV" in figure["locator"]:  # FlashAttention v2.0.9: one partition, FA2
            row |= {"kernel": "flash_attention_v2.0.9", "partition": "fa2"}
        flops = 4 * b * h * sq * skv * d
    value = float(figure["value"])
    row["latency_s"] = value * 1e-6 if figure["metric"] == "latency_us" else flops / (value * 1e12)
    row["flops"] = flops
    derived = f"latency = {flops:.4g} FLOPs / {value} TFLOP/s"
    row["derived"] = "" if figure["metric"] == "latency_us" else derived
    cited = ("source", "source_id", "split", "locator", "quote")
    return row | {column: figure[column] for column in cited}


def _kernel_name(figure: pd.Series) -> str:
    """A short name of the implementation the source timed, from its locator."""
    locator = figure["locator"].lower()
    for needle, name in (
        ("flash-decoding", "flash_decoding"),
        ("flash_v3", "flash_attention_3"),
        ("triton_tutorial", "triton_tutorial_fa2"),
        ("vllm cutlass", "cutlass_fp8_blockscaled"),
        ("maximum achievable matmul", "torch_mm_best_shape"),
    ):
        if needle in locator:
            return name
    if "deepgemm" in figure["source"].lower():
        return "deepgemm_fp8_blockscaled"
    return figure["kernel"]
