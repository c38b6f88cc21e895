"""The GPU model on the figures measured on this workplace's H100
(reference_kernels/data/known_measurements.md) and its predictions for LLM shapes, with the mapping
chosen. The two measured figures are calibration points, not checks: `h100_sxm`'s
`achievable_tensor_fraction` was fitted to the 8192³ GEMM's 798 TFLOP/s and its
`achievable_dram_bytes_per_s` is the copy's 3.0 TB/s, so they show the fit's residual.

    .venv/bin/python benchmarks/bench_gpu_model.py
"""

from __future__ import annotations

from hwmodels import HardwareSpecError, load_hardware
from sim.simulate import simulate
from workloads.kernel_ops import op_for_measurement

#: Measured on this workplace's H100 SXM, 2026-11-13 (known_measurements.md).
MEASURED_GEMM_TFLOPS, MEASURED_COPY_TB_S = 798.0, 3.0
COPY_BYTES = 2 * 2**30

LLM_ROWS = [
    ("LLaMA-2-7B decode qkv, bf16", {"family": "gemm", "M": 1, "N": 4096, "K": 4096, "a_dtype": "bf16"}),
    (
        "LLaMA-2-7B decode up, W4A16",
        {"family": "gemm_w4a16", "M": 1, "N": 11008, "K": 4096, "a_dtype": "fp16", "group_size": 128},
    ),
    ("LLaMA-2-7B prefill 4k up", {"family": "gemm", "M": 4096, "N": 11008, "K": 4096, "a_dtype": "bf16"}),
    ("same, fp8", {"family": "gemm_fp8", "M": 4096, "N": 11008, "K": 4096, "a_dtype": "fp8"}),
    (
        "same, 2:4 sparse fp16",
        {"family": "gemm_sparse24", "M": 4096, "N": 11008, "K": 4096, "a_dtype": "fp16"},
    ),
    (
        "LLaMA-2-70B batch-64 decode down",
        {"family": "gemm", "M": 64, "N": 8192, "K": 28672, "a_dtype": "bf16"},
    ),
    (
        "prefill attention 4k causal H32 D128",
        {
            "family": "attention_prefill",
            "batch": 1,
            "heads": 32,
            "kv_heads": 32,
            "seq_q": 4096,
            "seq_kv": 4096,
            "head_dim": 128,
            "causal": 1,
            "a_dtype": "bf16",
        },
    ),
    (
        "decode attention 8k GQA 32/8, batch 8",
        {
            "family": "attention_decode",
            "batch": 8,
            "heads": 32,
            "kv_heads": 8,
            "seq_kv": 8192,
            "head_dim": 128,
            "a_dtype": "bf16",
        },
    ),
    (
        "decode attention 32k H8, batch 1",
        {
            "family": "attention_decode",
            "batch": 1,
            "heads": 8,
            "kv_heads": 8,
            "seq_kv": 32768,
            "head_dim": 128,
            "a_dtype": "bf16",
        },
    ),
]


def main() -> None:
    h100 = load_hardware("h100_sxm")
    gemm = simulate(
        op_for_measurement({"family": "gemm", "M": 8192, "N": 8192, "K": 8192, "a_dtype": "bf16"}), h100
    ).iloc[0]
    copy = simulate(op_for_measurement({"family": "copy", "bytes": COPY_BYTES}), h100).iloc[0]
    gemm_tflops = gemm["flops"] / gemm["latency_s"] / 1e12
    copy_tb_s = copy["dram_bytes"] / copy["latency_s"] / 1e12
    print("| calibration point | model | measured, fitted to | fit residual | mapping |")
    print("| --- | ---: | ---: | ---: | --- |")
    print(
        f"| 8192³ bf16 GEMM, TFLOP/s | {gemm_tflops:.1f} | {MEASURED_GEMM_TFLOPS:.0f} | "
        f"{100 * (gemm_tflops / MEASURED_GEMM_TFLOPS - 1):+.1f}% | {gemm['mapping']} |"
    )
    print(
        f"| 2 GiB d2d copy, TB/s (read + written) | {copy_tb_s:.2f} | {MEASURED_COPY_TB_S:.1f} | "
        f"{100 * (copy_tb_s / MEASURED_COPY_TB_S - 1):+.1f}% | {copy['mapping']} |"
    )
    print()
    print("| shape | H100 µs | TFLOP/s | TB/s | A100 µs | mapping (H100) |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    a100 = load_hardware("a100_80gb_sxm")
    for label, row in LLM_ROWS:
        op = op_for_measurement(row)
        result = simulate(op, h100).iloc[0]
        try:
            on_a100 = f"{simulate(op, a100).iloc[0]['latency_s'] * 1e6:,.1f}"
        except HardwareSpecError:  # e.g. fp8: the A100 has no tensor-core path for it
            on_a100 = "no path"
        seconds = result["latency_s"]
        print(
            f"| {label} | {seconds * 1e6:,.1f} | {result['flops'] / seconds / 1e12:.1f} | "
            f"{result['dram_bytes'] / seconds / 1e12:.2f} | {on_a100} | {result['mapping']} |"
        )


if __name__ == "__main__":
    main()
