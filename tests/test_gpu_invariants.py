"""Invariants of the GPU model: more bandwidth or SMs is never slower, more K never faster,
results are deterministic, and totals are sums of rows."""

from __future__ import annotations

import dataclasses
import math
import re

import pandas as pd
import pytest

from hwmodels import load_hardware
from sim.simulate import simulate, simulate_op_latency, summarize
from workloads.dtypes import DType
from workloads.kernel_ops import op_for_measurement
from workloads.op import Op, OpGraph, OpKind

H100 = load_hardware("h100_sxm")
A100 = load_hardware("a100_80gb_sxm")

ROWS = [
    {"family": "gemm", "M": 1, "N": 4096, "K": 4096, "a_dtype": "bf16"},
    {"family": "gemm", "M": 64, "N": 11008, "K": 4096, "a_dtype": "bf16"},
    {"family": "gemm", "M": 2048, "N": 2048, "K": 8192, "a_dtype": "fp16"},
    {"family": "gemm", "M": 8192, "N": 8192, "K": 8192, "a_dtype": "bf16"},
    {"family": "gemm_w4a16", "M": 16, "N": 4096, "K": 4096, "a_dtype": "fp16", "group_size": 128},
    {"family": "gemm_sparse24", "M": 4096, "N": 4096, "K": 4096, "a_dtype": "fp16"},
    {"family": "attention_prefill", "batch": 2, "heads": 16, "kv_heads": 16, "seq_q": 2048,
     "seq_kv": 2048, "head_dim": 128, "causal": 1, "a_dtype": "bf16"},
    {"family": "attention_decode", "batch": 4, "heads": 32, "kv_heads": 8, "seq_kv": 8192,
     "head_dim": 128, "a_dtype": "bf16"},
    {"family": "copy", "bytes": 2**28},
]
OPS = [op_for_measurement(row) for row in ROWS]
IDS = [f"{row['family']}-{i}" for i, row in enumerate(ROWS)]


@pytest.mark.parametrize("spec", [H100, A100], ids=["h100", "a100"])
@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_more_bandwidth_is_never_slower(op, spec):
    faster = dataclasses.replace(
        spec,
        dram_bytes_per_s=2 * spec.dram_bytes_per_s,
        achievable_dram_bytes_per_s=2 * spec.achievable_dram_bytes_per_s,
        l2_bytes_per_s=2 * spec.l2_bytes_per_s,
    )
    assert simulate_op_latency(op, faster) <= simulate_op_latency(op, spec)


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_more_sms_are_never_slower(op):
    # Up to 0.1%: a lean-attention grid sized to more SMs splits more heads, and their fix-up
    # partials (4 B per output element) add a little traffic to a memory-bound decode.
    for sms in (66, 100, 132):
        smaller = dataclasses.replace(H100, sm_count=sms)
        bigger = dataclasses.replace(H100, sm_count=sms + 32)
        assert simulate_op_latency(op, bigger) <= simulate_op_latency(op, smaller) * 1.001


@pytest.mark.parametrize("m,n", [(1, 4096), (128, 4096), (4096, 4096)])
def test_more_k_is_never_faster(m, n):
    times = [
        simulate_op_latency(op_for_measurement({"family": "gemm", "M": m, "N": n, "K": k,
                                                "a_dtype": "bf16"}), H100)
        for k in (256, 512, 1024, 2048, 4096, 8192, 16384)
    ]
    assert times == sorted(times)


def test_results_are_deterministic():
    graph = OpGraph(name="g", ops=tuple(OPS))
    pd.testing.assert_frame_equal(simulate(graph, H100), simulate(graph, H100))


def test_totals_are_sums_of_rows_and_unmodeled_ops_are_kept_apart():
    strange = Op(name="fft", kind=OpKind.OTHER, dims=(("E", 10),), operands=(), flops=0,
                 aten="aten._fft_r2c", unmodeled=True)
    graph = OpGraph(name="g", ops=(*OPS, dataclasses.replace(OPS[0], count=3), strange))
    results = simulate(graph, H100)
    total = summarize(results, H100)
    modeled = results[~results["unmodeled"].astype(bool)]
    for column in ("latency_s", "total_cycles", "macs", "flops", "dram_bytes", "peak_macs"):
        assert total[column] == pytest.approx(modeled[column].sum())
    assert total["unmodeled_ops"] == 1 and math.isnan(results.iloc[-1]["latency_s"])
    assert total["utilization"] == pytest.approx(total["macs"] / total["peak_macs"])
    # count=3 repeats the GEMV three times
    assert results.iloc[len(OPS)]["latency_s"] == pytest.approx(3 * results.iloc[0]["latency_s"])
    assert (modeled["total_cycles"] >= modeled["compute_cycles"]).all()
    assert (modeled["utilization"] <= 1).all()


def test_rows_carry_the_common_columns_and_a_mapping():
    row = simulate(OPS[3], H100).iloc[0]
    for column in ("layer", "kind", "engine", "device", "module", "aten", "unmodeled", "count",
                   "compute_cycles", "stall_cycles", "total_cycles", "latency_s", "macs", "flops",
                   "dram_read_bytes", "dram_write_bytes", "dram_bytes", "sram_bytes", "utilization",
                   "peak_macs", "launches", "mapping"):
        assert column in row.index
    assert "folds" not in row.index and "sram_reads" not in row.index  # the systolic engine's own
    # a tile, its pipeline, its split and its waves (at 8192^3 several tiles tie within 0.3%)
    assert re.fullmatch(r"\d+x\d+x\d+ s\d splitk\d+ waves \d+\.\d\d", row["mapping"]), row["mapping"]
    assert row["total_cycles"] == pytest.approx(row["latency_s"] * H100.clock_hz)


def test_fp32_gemm_on_a_gpu_without_fp32_tensor_cores_is_slower_than_bf16():
    fp32 = op_for_measurement({"family": "gemm", "M": 4096, "N": 4096, "K": 4096, "a_dtype": "fp32"})
    bf16 = op_for_measurement({"family": "gemm", "M": 4096, "N": 4096, "K": 4096, "a_dtype": "bf16"})
    assert simulate_op_latency(fp32, A100) > 8 * simulate_op_latency(bf16, A100)
    assert DType.FP32 not in A100.tensor_macs_per_cycle_per_sm
