"""Whole-graph simulation: GEMMs on the array, other ops on the vector unit's roofline, batched
GEMMs as repeats, unmodeled ops kept apart and counted."""

from __future__ import annotations

import math

import pytest
from conftest import make_array

from sim.simulate import simulate, summarize
from workloads.dtypes import DType
from workloads.op import Op, Operand, OpGraph, OpKind, Role, gemm_op


def softmax_op(rows: int, cols: int) -> Op:
    # softmax over `cols`: max, subtract, exp, sum, divide ~ 5 FLOPs per element (a stated count)
    elements = rows * cols
    return Op(
        name="softmax",
        kind=OpKind.SOFTMAX,
        dims=(("R", rows), ("C", cols)),
        operands=(
            Operand(name="x", role=Role.INPUT, dims=("R", "C"), elements=elements, dtype=DType.FP16),
            Operand(name="y", role=Role.OUTPUT, dims=("R", "C"), elements=elements, dtype=DType.FP16),
        ),
        flops=5 * elements,
    )


def test_vector_op_is_compute_bound_with_wide_dram():
    # 64x1024 fp16 softmax: 5 * 65,536 = 327,680 FLOPs on 32 lanes = 10,240 cycles;
    # bytes 2 * 65,536 * 2 = 262,144 at 1000 B/cycle = 262 cycles -> compute-bound
    result = simulate(softmax_op(64, 1024), make_array(dram_bytes_per_cycle=1000)).iloc[0]
    assert result["engine"] == "vector"
    assert result["compute_cycles"] == 10240
    assert result["total_cycles"] == 10240 and result["stall_cycles"] == 0
    assert result["dram_bytes"] == 262144


def test_vector_op_is_memory_bound_with_narrow_dram():
    # same op at 4 B/cycle: 262,144 / 4 = 65,536 cycles > 10,240
    result = simulate(softmax_op(64, 1024), make_array(dram_bytes_per_cycle=4)).iloc[0]
    assert result["total_cycles"] == 65536
    assert result["stall_cycles"] == 65536 - 10240


def test_vector_width_field_overrides_the_default():
    # 1024 FLOPs/cycle: 327,680 / 1024 = 320 cycles
    result = simulate(softmax_op(64, 1024), make_array(vector_flops_per_cycle=1024)).iloc[0]
    assert result["compute_cycles"] == 320


def test_batched_gemm_repeats_per_batch():
    # bmm of 12 heads, each 128x64x128: 12 x the single GEMM
    single = gemm_op(128, 64, 128)
    batched = Op(
        name="bmm",
        kind=OpKind.GEMM,
        dims=(("B", 12), ("M", 128), ("N", 64), ("K", 128)),
        operands=(
            Operand(name="A", role=Role.INPUT, dims=("B", "M", "K"), elements=12 * 128 * 128,
                    dtype=DType.INT8),
            Operand(name="B", role=Role.WEIGHT, dims=("B", "K", "N"), elements=12 * 128 * 64,
                    dtype=DType.INT8),
            Operand(name="C", role=Role.OUTPUT, dims=("B", "M", "N"), elements=12 * 128 * 64,
                    dtype=DType.INT8),
        ),
        flops=12 * 2 * 128 * 64 * 128,
    )
    hw = make_array(dram_bytes_per_cycle=16)
    one, twelve = simulate(single, hw).iloc[0], simulate(batched, hw).iloc[0]
    for column in ("compute_cycles", "total_cycles", "dram_bytes", "macs", "sram_reads"):
        assert twelve[column] == pytest.approx(12 * one[column])
    assert twelve["utilization"] == pytest.approx(one["utilization"])


def test_unmodeled_ops_are_listed_and_counted_not_zeroed():
    strange = Op(name="fft", kind=OpKind.OTHER, dims=(("E", 10),), operands=(), flops=0,
                 aten="aten._fft_r2c", unmodeled=True)
    graph = OpGraph(name="g", ops=(gemm_op(100, 37, 250), strange))
    hw = make_array()
    results = simulate(graph, hw)
    assert bool(results.iloc[1]["unmodeled"]) and math.isnan(results.iloc[1]["total_cycles"])
    total = summarize(results, hw)
    assert total["unmodeled_ops"] == 1
    assert total["total_cycles"] == results.iloc[0]["total_cycles"]


@pytest.mark.parametrize("preset", ["h100_sxm", "cpu_ci"])
def test_gpu_and_cpu_rows_carry_the_core_columns_not_the_systolic_ones_and_total_them(preset):
    # a frame of GPU or CPU rows has every core column a total sums and none of the systolic
    # engine's own (a 0 there would read as counted); the total of each core column is the sum of
    # the rows (energy breakdowns are the cost model's: per component on a systolic array,
    # energy_j alone from the TDP on a GPU or CPU)
    from hwmodels import load_hardware
    from sim.columns import CORE_SUM_COLUMNS, SUM_COLUMNS, SYSTOLIC_ONLY_COLUMNS

    assert set(SYSTOLIC_ONLY_COLUMNS) <= set(SUM_COLUMNS) and set(CORE_SUM_COLUMNS) <= set(SUM_COLUMNS)
    hardware = load_hardware(preset)
    ops = (gemm_op(64, 128, 256, name="a"), gemm_op(8, 8, 8, name="b"))
    frame = simulate(OpGraph(name="g", ops=ops), hardware)
    assert set(CORE_SUM_COLUMNS) <= set(frame.columns)
    assert not set(SYSTOLIC_ONLY_COLUMNS) & set(frame.columns)
    total = summarize(frame, hardware)
    for column in CORE_SUM_COLUMNS:  # energy: NaN throughout without a TDP (cpu_ci), NaN in total
        assert total[column] == pytest.approx(frame[column].sum(min_count=1), nan_ok=True)
    assert not set(SYSTOLIC_ONLY_COLUMNS) & set(total)
