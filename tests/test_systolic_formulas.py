"""The systolic engine's formulas, one test per formula, with the arithmetic written out.

Shapes are GEMMs C[M,N] += A[M,K] B[K,N]; R x C is the array. Dataflows place dims as
os: rows<-M, cols<-N, time<-K;  ws: rows<-K, cols<-N, time<-M;  is: rows<-K, cols<-M, time<-N.
"""

from __future__ import annotations

import pytest
from conftest import make_array

from hwmodels.systolic import Dataflow
from sim.simulate import simulate
from workloads.dtypes import DType
from workloads.op import conv2d_op, gemm_op

OS, WS, IS = Dataflow.OS, Dataflow.WS, Dataflow.IS


def row(op, **array_fields):
    return simulate(op, make_array(**array_fields)).iloc[0]


@pytest.mark.parametrize(
    ("dataflow", "expected"),
    [
        # os: folds ceil(100/32)=4 x ceil(37/32)=2 = 8; per fold T+R+C-2 = 250+32+32-2 = 312;
        #     8*312 - 1 = 2495 (SCALE-Sim reports the index of the last cycle)
        (OS, 8 * 312 - 1),
        # ws: folds ceil(250/32)=8 x ceil(37/32)=2 = 16; per fold 2R+C+T-2 = 64+32+100-2 = 194
        (WS, 16 * 194 - 1),
        # is: folds ceil(250/32)=8 x ceil(100/32)=4 = 32; per fold 2R+C+T-2 = 64+32+37-2 = 131
        (IS, 32 * 131 - 1),
    ],
)
def test_compute_cycles_per_dataflow(dataflow, expected):
    assert row(gemm_op(100, 37, 250), dataflow=dataflow)["compute_cycles"] == expected


def test_layer_smaller_than_array_is_one_fold():
    # 8x8x8 on 32x32 os: one fold of 8 + 32 + 32 - 2 = 70 cycles, last index 69
    result = row(gemm_op(8, 8, 8))
    assert result["folds"] == 1
    assert result["compute_cycles"] == 69
    # 64 of 1024 PEs hold an output
    assert result["mapping_efficiency"] == pytest.approx(64 / 1024)


def test_non_square_array():
    # 64x64x64 on 16 rows x 64 cols, ws: folds ceil(64/16)=4 x 1; per fold 32+64+64-2 = 158
    result = row(gemm_op(64, 64, 64), rows=16, cols=64, dataflow=WS)
    assert result["compute_cycles"] == 4 * 158 - 1


@pytest.mark.parametrize(
    ("dataflow", "ifmap", "filt", "ofmap"),
    [
        # os: A(M,K) re-read per column fold (2), B(K,N) per row fold (4), C written once
        (OS, 2 * 100 * 250, 4 * 250 * 37, 100 * 37),
        # ws: A per column fold (2), B once, C per K (row) fold: ceil(250/32) = 8 partial sums
        (WS, 2 * 100 * 250, 250 * 37, 8 * 100 * 37),
        # is: A once, B per column fold (ceil(100/32) = 4), C per K fold (8)
        (IS, 100 * 250, 4 * 250 * 37, 8 * 100 * 37),
    ],
)
def test_sram_accesses(dataflow, ifmap, filt, ofmap):
    result = row(gemm_op(100, 37, 250), dataflow=dataflow)
    assert result["ifmap_sram_reads"] == ifmap
    assert result["filter_sram_reads"] == filt
    assert result["sram_reads"] == ifmap + filt
    assert result["ofmap_sram_writes"] == ofmap


def test_dram_reads_once_when_operands_fit():
    # 64 kB SRAMs hold A (25,000 B) and B (9,250 B) whole: each is read from DRAM once
    result = row(gemm_op(100, 37, 250))
    assert result["dram_ifmap_read_bytes"] == 100 * 250
    assert result["dram_filter_read_bytes"] == 250 * 37
    assert result["dram_write_bytes"] == 100 * 37


def test_dram_refetch_when_operand_does_not_fit():
    # os, 256x256x1024 on 32x32 with 16 kB SRAMs (8 kB working halves):
    # A = 256*1024 = 256 kB > 8 kB, reused across ceil(256/32) = 8 column folds -> read 8 times;
    # B's column tile = 32 cols x 1024 = 32 kB > 8 kB, reused across 8 row folds -> read 8 times.
    result = row(gemm_op(256, 256, 1024), sram_bytes=16 * 1024)
    assert result["dram_ifmap_read_bytes"] == 8 * 256 * 1024
    assert result["dram_filter_read_bytes"] == 8 * 1024 * 256


def test_ws_partial_sums_spill_when_output_tile_does_not_fit():
    # ws, 4096x32x64 on 32x32, 64 kB SRAMs: the output column tile is 4096 x 32 = 128 kB > 32 kB,
    # so each of the ceil(64/32) = 2 K folds writes it and the second reads it back first.
    result = row(gemm_op(4096, 32, 64), dataflow=WS)
    assert result["dram_write_bytes"] == 2 * 4096 * 32
    assert result["dram_psum_read_bytes"] == 1 * 4096 * 32


def test_conv_lowered_like_scalesim():
    # 14x14x32 ifmap, 3x3 filters, 64 of them, stride 1: output 12x12, so
    # M = 144 pixels, N = 64 filters, K = 3*3*32 = 288 (SCALE-Sim's topo_calc_hyperparams)
    op = conv2d_op(ifmap_h=14, ifmap_w=14, filter_h=3, filter_w=3, channels=32, num_filters=64)
    assert (op.dim("M"), op.dim("N"), op.dim("K")) == (144, 64, 288)
    # DRAM reads the ifmap once (14*14*32 = 6272 B), not once per window (144*288)
    assert row(op)["dram_ifmap_read_bytes"] == 14 * 14 * 32
    # stride 2 on 28x28 with 5x5: ceil((28-5+2)/2) = 13 per side
    strided = conv2d_op(
        ifmap_h=28, ifmap_w=28, filter_h=5, filter_w=5, channels=8, num_filters=16, stride_h=2,
        stride_w=2,
    )
    assert strided.dim("M") == 13 * 13


def test_packed_pe_shrinks_the_reduction_dim():
    # An int4 PE doing 4 MACs/cycle: K = 256 becomes 64 packed steps.
    # os 32x32x256: one fold of 64 + 32 + 32 - 2 = 126 cycles -> 125; fp16 at 1 MAC: 256+62-1 = 317
    macs = {DType.INT4: 4, DType.FP16: 1}
    int4 = gemm_op(32, 32, 256, input_dtype=DType.INT4, weight_dtype=DType.INT4)
    fp16 = gemm_op(32, 32, 256, input_dtype=DType.FP16, weight_dtype=DType.FP16)
    fields = {"macs_per_pe_per_cycle": macs, "default_dtype": DType.FP16}
    assert row(int4, **fields)["compute_cycles"] == 125
    assert row(fp16, **fields)["compute_cycles"] == 317
    # utilization counts the packed peak: 32*32*256 MACs / (1024 PEs * 4 * 125 cycles)
    assert row(int4, **fields)["utilization"] == pytest.approx(32 * 32 * 256 / (1024 * 4 * 125))


def test_bytes_follow_dtype():
    # fp16 operands are 2 bytes: A = 100*250*2 = 50,000 B, read once from a 1 MiB SRAM
    op = gemm_op(100, 37, 250, input_dtype=DType.FP16, weight_dtype=DType.FP16)
    assert row(op, sram_bytes=1 << 20)["dram_ifmap_read_bytes"] == 100 * 250 * 2
    # ... but twice (once per column fold) from a 64 kB one, whose 32 kB working half cannot hold it
    assert row(op)["dram_ifmap_read_bytes"] == 2 * 100 * 250 * 2


def test_stalls_when_dram_cannot_keep_up():
    # GEMV 1x4096x4096 os on 32x32 at 30 B/cycle: B (16 MiB) streams once; the array needs it in
    # 128 column folds of 4096+62 = 4158 cycles each, 532,223 cycles in all, while DRAM needs
    # 4096*4096/30 = 559,241 cycles: the run is bandwidth-bound, so it stalls for the difference
    # less the first fold's prefetch (which precedes compute and is reported apart).
    result = row(gemm_op(1, 4096, 4096), dram_bytes_per_cycle=30.0)
    assert result["compute_cycles"] == 128 * 4158 - 1
    dram_cycles = (4096 * 4096 + 4096) / 30
    assert result["stall_cycles"] > 0
    assert result["prefetch_cycles"] + result["total_cycles"] == pytest.approx(dram_cycles, rel=0.01)


def test_latency_is_cycles_over_clock():
    result = row(gemm_op(100, 37, 250), clock_hz=500e6)
    assert result["latency_s"] == pytest.approx(result["total_cycles_incl_prefetch"] / 500e6)
