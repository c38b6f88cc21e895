"""The GPU model's formulas, each with its arithmetic: waves, the calibrated H100 figures, copies,
mixed precision, 2:4 sparsity, split-K, causal and grouped-query attention."""

from __future__ import annotations

import dataclasses
import math

import pytest

from hwmodels import load_hardware
from hwmodels.errors import HardwareSpecError
from mappers.gpu_attention import (
    Partition,
    attention_problem,
    candidate_plans,
    ctas_per_sm,
    fa2_tile,
    split_kv_block_n,
)
from mappers.gpu_gemm import PARTIAL_SUM_BYTES, FP8Promotion, GemmTile, candidate_tiles, gemm_problem
from sim.engines.gpu.attention import _blocks_visited, best_attention
from sim.engines.gpu.gemm import _fp8_promotion_ops, best_gemm, cost_gemm
from sim.engines.gpu.timing import CtaWork, kernel_time, mac_rate_per_sm
from sim.simulate import simulate, simulate_op_latency
from workloads.dtypes import DType
from workloads.errors import WorkloadError
from workloads.kernel_ops import op_for_measurement
from workloads.op import Op, Operand, OpKind, Role

H100 = load_hardware("h100_sxm")


def gemm(m, n, k, family="gemm", dtype="bf16", **extra):
    return op_for_measurement({"family": family, "M": m, "N": n, "K": k, "a_dtype": dtype, **extra})


def attention(family="attention_prefill", **shape):
    return op_for_measurement({"family": family, "a_dtype": "bf16", **shape})


def test_mac_rate_per_sm_is_the_datasheet_rate_times_the_fraction():
    # 2048 bf16 MACs/cycle/SM x 1.83e9 Hz x 0.8669 = 3.2490e12 MACs/s per SM
    rate = mac_rate_per_sm(H100, DType.BF16, sparse=False, fraction=H100.achievable_tensor_fraction)
    assert rate == pytest.approx(2048 * 1.83e9 * 0.8669)
    # 2:4 sparse: twice the dense rate
    assert mac_rate_per_sm(H100, DType.BF16, sparse=True, fraction=1.0) == pytest.approx(2 * 2048 * 1.83e9)


def test_fp32_without_a_tensor_path_runs_on_cuda_cores():
    # A100: 128 FP32 FLOPs/cycle/SM = 64 FMAs; 64 x 1.41e9 = 9.024e10 MACs/s per SM
    a100 = load_hardware("a100_80gb_sxm")
    assert mac_rate_per_sm(a100, DType.FP32, sparse=False, fraction=1.0) == pytest.approx(64 * 1.41e9)


def test_133_ctas_on_132_sms_take_two_waves():
    # one CTA per SM: 133 CTAs = one full wave of 132 + a wave of 1; each wave is compute-bound:
    # 1e9 MACs at 1e12 MACs/s = 1 ms, plus fill and drain (2 x memory latency)
    work = CtaWork(tensor_macs=1e9, tensor_macs_per_s=1e12, l2_bytes=0.0, steps=1, stages=2)
    timing = kernel_time(H100, work, ctas=133, ctas_per_sm=1, dram_bytes_of_wave=lambda ctas: 0.0)
    assert timing.wave_count == 2
    assert timing.waves == pytest.approx(133 / 132)
    wave = 1e-3 + 2 * H100.memory_latency_s
    assert timing.total_s == pytest.approx(2 * wave + H100.launch_overhead_s)
    one_wave = kernel_time(H100, work, ctas=132, ctas_per_sm=1, dram_bytes_of_wave=lambda ctas: 0.0)
    assert one_wave.total_s == pytest.approx(wave + H100.launch_overhead_s)


def test_each_wave_adds_its_epilogue_stores_at_the_hbm_rate():
    # 133 CTAs storing 32 KiB each: a full wave of 132 stores 132 x 32768 B = 4.325 MB, at the
    # achievable 3.0e12 B/s 1.442 us; the last wave's one CTA 10.9 ns; both added to the waves
    work = CtaWork(tensor_macs=1e9, tensor_macs_per_s=1e12, l2_bytes=0.0, steps=1, stages=2)
    stored = dataclasses.replace(work, store_bytes=32768)
    none = lambda ctas: 0.0  # noqa: E731 — no DRAM bound, so the waves set the time
    base = kernel_time(H100, work, ctas=133, ctas_per_sm=1, dram_bytes_of_wave=none).total_s
    with_stores = kernel_time(H100, stored, ctas=133, ctas_per_sm=1, dram_bytes_of_wave=none).total_s
    assert with_stores - base == pytest.approx((132 + 1) * 32768 / 3.0e12)


def test_calibration_h100_8192_cubed_bf16_reproduces_the_798_tflops_it_was_fitted_to():
    # A calibration check, not a validation: h100_sxm's achievable_tensor_fraction (0.8669) was
    # fitted so that this GEMM runs at the 798 TFLOP/s measured on this workplace's H100
    # (reference_kernels/data/known_measurements.md); this checks the fit still holds.
    op = gemm(8192, 8192, 8192)
    tflops = op.flops / simulate_op_latency(op, H100) / 1e12
    assert tflops == pytest.approx(798, rel=0.02)


def test_calibration_large_copy_moves_read_plus_written_bytes_at_the_presets_3_tb_per_s():
    # 1 GiB copy: 2 x 2^30 B / 3.0e12 B/s = 715.8 us, plus one memory latency and one launch.
    # A calibration check: 3.0e12 B/s is the preset's achievable_dram_bytes_per_s, set from the
    # measured ~3.0 TB/s copy, so agreeing with that measurement validates nothing.
    size = 2**30
    row = simulate(op_for_measurement({"family": "copy", "bytes": size}), H100).iloc[0]
    expected = 2 * size / 3.0e12 + H100.memory_latency_s + H100.launch_overhead_s
    assert row["latency_s"] == pytest.approx(expected)
    assert row["dram_bytes"] == 2 * size
    assert 2 * size / row["latency_s"] == pytest.approx(3.0e12, rel=0.01)  # the preset's own figure


@pytest.mark.parametrize(
    ("preset", "measured_s"),
    [("h200", 65536 / 52e9), ("a100_80gb_sxm", 65536 / 49e9), ("l40s", 65536 / 70e9)],
)
def test_calibration_graph_launch_reproduces_a_graph_of_minimal_kernels(preset, measured_s):
    # A calibration check: graph_launch_overhead_s was solved (benchmarks/solve_gpu_presets.py) so
    # that a copy of 32 KiB (te42kyfo/gpu-benches gpu-small-kernels' `scale` over 4096 doubles, 64
    # KiB moved) replayed from a CUDA graph takes the measured 64 KiB / 52 GB/s = 1.260 us on the
    # H200 (1.337 on the A100 80GB, 0.936 on the L40): 65536 B / 4.3e12 B/s + 0.370 us + 0.875 us
    spec, copy = load_hardware(preset), op_for_measurement({"family": "copy", "bytes": 32768})
    row = simulate(copy, spec.with_cuda_graphs()).iloc[0]
    expected = 65536 / spec.achievable_dram_bytes_per_s + spec.memory_latency_s + spec.graph_launch_overhead_s
    assert row["latency_s"] == pytest.approx(expected)
    assert row["latency_s"] == pytest.approx(measured_s, rel=0.005)
    # replayed from a graph, such a kernel costs less than launched eagerly
    assert row["latency_s"] < simulate(copy, spec).iloc[0]["latency_s"]


def test_w4a16_decode_gemv_reads_a_quarter_of_fp16_plus_scales_and_zeros():
    # 1x4096x4096: fp16 weight 4096*4096*2 = 33,554,432 B; int4 weight 8,388,608 B; per group of 128
    # along K and column: 32*4096 fp16 scales = 262,144 B, 32*4096 int4 zeros = 65,536 B;
    # activation 4096*2 = 8,192 B. Everything fits in half of the 50 MB L2, so each byte is read once.
    fp16 = simulate(gemm(1, 4096, 4096, dtype="fp16"), H100).iloc[0]
    w4 = simulate(gemm(1, 4096, 4096, family="gemm_w4a16", dtype="fp16", group_size=128), H100).iloc[0]
    assert fp16["dram_read_bytes"] == 33_554_432 + 8_192
    assert w4["dram_read_bytes"] == 8_388_608 + 262_144 + 65_536 + 8_192
    assert w4["latency_s"] < 0.7 * fp16["latency_s"]  # memory-bound: fewer bytes, less time


def test_w4a16_dequant_is_charged_as_cuda_core_instructions():
    # 13/8 instructions per int4 weight (Marlin's dequant + scale): a CTA's k-step of bk x bn weights
    problem = gemm_problem(gemm(4096, 4096, 4096, family="gemm_w4a16", dtype="fp16", group_size=128))
    assert problem.dequant_per_weight == pytest.approx(13 / 8)
    assert problem.math_dtype is DType.FP16 and problem.b_bytes == 0.5


def test_sparse_24_is_up_to_twice_dense_when_compute_bound():
    dense = simulate_op_latency(gemm(8192, 8192, 8192, dtype="fp16"), H100)
    sparse = simulate_op_latency(gemm(8192, 8192, 8192, family="gemm_sparse24", dtype="fp16"), H100)
    assert 1.5 < dense / sparse <= 2.0
    # the weight stores half its values, plus a 4-bit index per group of 4: 8192*8192/4 * 0.5 B
    problem = gemm_problem(gemm(8192, 8192, 8192, family="gemm_sparse24", dtype="fp16"))
    assert problem.b_bytes == 1.0 and problem.side_bytes == 8192 * 8192 / 4 * 0.5


def test_fp8_on_h100_runs_at_twice_the_bf16_rate_when_compute_bound_and_accumulated_fast():
    bf16 = simulate_op_latency(gemm(8192, 8192, 8192), H100)
    fp8_op = gemm(8192, 8192, 8192, family="gemm_fp8", dtype="fp8")
    # accumulated fast (vLLM's CUTLASS scaled_mm) the tensor rate doubles (the epilogue's stores and
    # fill do not shrink)
    fast = dataclasses.replace(fp8_op, attrs=(("kernel", "cutlass_scaled_mm"),))
    assert 1.8 < bf16 / simulate_op_latency(fast, H100) <= 2.0
    # as cuBLAS runs it by default, its partial sums promoted every 128 of K in series: per output
    # element 128 / (4096 x 0.8669) + 1 / 128 cycles where the fast loop takes the first term,
    # 2 / (1 + 4096 x 0.8669 / (128 x 128)) = 1.64 of the bf16 rate
    assert 1.55 < bf16 / simulate_op_latency(fp8_op, H100) < 1.66


def test_fp8_promotion_is_one_instruction_per_accumulator_every_128_of_k_in_series():
    # a CTA tile of 128 x 256 stepping K = 4096: 32 promotions of its 32768 accumulators
    problem = gemm_problem(gemm(8192, 8192, 4096, family="gemm_fp8", dtype="fp8"))
    assert _fp8_promotion_ops(problem, 128, 256, 4096, FP8Promotion.SERIAL) == 32 * 128 * 256
    assert _fp8_promotion_ops(problem, 128, 256, 4096, FP8Promotion.OVERLAPPED) == 0  # cuBLAS's is serial
    # none for bf16, for a kernel that accumulates fast, or for a block-scaled GEMM (its scale's)
    assert _fp8_promotion_ops(gemm_problem(gemm(8192, 8192, 4096)), 128, 256, 4096, FP8Promotion.SERIAL) == 0
    fast = gemm_problem(dataclasses.replace(gemm(8192, 8192, 4096, family="gemm_fp8", dtype="fp8"),
                                            attrs=(("kernel", "cutlass_scaled_mm"),)))
    assert _fp8_promotion_ops(fast, 128, 256, 4096, FP8Promotion.SERIAL) == 0
    # the rate a default FP8 GEMM's main loop sustains on an H100 SM: 128 MACs an element per
    # 128 / (4096 x 0.8669) + 1 / 128 cycles, 0.7125 of the peak
    peak = H100.tensor_macs_per_cycle(DType.FP8) * H100.clock_hz
    promoted = H100.promoted_macs_per_s(DType.FP8, peak * 0.8669)
    assert promoted / peak == pytest.approx(128 / (128 / 0.8669 + 4096 / 128) / 1, rel=1e-9)
    assert promoted / peak == pytest.approx(0.7125, abs=5e-4)
    assert H100.promoted_macs_per_s(DType.BF16, 1e12) == 1e12
    # the mapping says so
    assert best_gemm(problem, H100).describe().endswith(", FP8 sums promoted in series")
    assert "promoted" not in best_gemm(fast, H100).describe()


def test_split_k_for_few_output_tiles_and_long_k():
    # 256x256 output = 4 tiles of 128x128 on 132 SMs: splitting K = 65536 fills the GPU
    op = gemm(256, 256, 65536)
    cost = best_gemm(gemm_problem(op), H100)
    assert cost.tile.split_k > 1 and cost.reduce_s > 0
    few_sms = best_gemm(gemm_problem(gemm(256, 256, 65536)), dataclasses.replace(H100, sm_count=1))
    assert few_sms.tile.split_k == 1  # one SM: splitting only adds the reduction kernel


def test_causal_prefill_costs_about_half_of_non_causal():
    shape = {"batch": 1, "heads": 32, "kv_heads": 32, "seq_q": 16384, "seq_kv": 16384, "head_dim": 128}
    full = simulate_op_latency(attention(causal=0, **shape), H100)
    causal = simulate_op_latency(attention(causal=1, **shape), H100)
    # blocks visited: sum over query blocks of min(i+1, n) / n^2 -> (n+1)/2n = 0.504 at n = 128
    assert 0.45 < causal / full < 0.56


def test_gqa_decode_reads_each_kv_head_once():
    # B1 H32 Hkv8 Skv4096 D128 bf16: K+V = 8 * 4096 * 256 * 2 B = 16,777,216 B; Q = 32*128*2 B
    row = simulate(attention("attention_decode", batch=1, heads=32, kv_heads=8, seq_kv=4096,
                             head_dim=128), H100).iloc[0]
    kv_and_q = 16_777_216 + 8_192
    assert kv_and_q <= row["dram_read_bytes"] < kv_and_q * 1.05  # plus split partials, if any
    mha = simulate(attention("attention_decode", batch=1, heads=32, kv_heads=32, seq_kv=4096,
                             head_dim=128), H100).iloc[0]
    assert mha["latency_s"] > 2 * row["latency_s"]  # 4x the K/V bytes


def test_a_gemv_streams_its_weights_at_the_gemm_bandwidth_fraction():
    # decode GEMV 1x4096x4096 bf16: 33.6 MB of weights. At 3.0 TB/s that is 11.2 us of streaming;
    # at gemm_bandwidth_fraction 0.5, 1.5 TB/s: 22.4 us. The fixed costs (launch 3 us, latencies)
    # do not scale, so the latency grows by about the 11.2 us of extra streaming.
    gemv = gemm(1, 4096, 4096)
    half = dataclasses.replace(H100, gemm_bandwidth_fraction=0.5)
    streaming_s = (33_554_432 + 8_192) / H100.achievable_dram_bytes_per_s
    extra = simulate_op_latency(gemv, half) - simulate_op_latency(gemv, H100)
    assert extra == pytest.approx(streaming_s, rel=0.1)
    # a compute-bound 8192^3 GEMM moves by its exposed epilogue stores alone: 8192^2 * 2 B = 134 MB
    # written at 1.5 instead of 3.0 TB/s, 44.7 us more (3% of 1.38 ms); attention and memory-bound
    # ops keep their rates
    big = gemm(8192, 8192, 8192)
    stores_s = 8192 * 8192 * 2 / H100.achievable_dram_bytes_per_s
    extra = simulate_op_latency(big, half) - simulate_op_latency(big, H100)
    assert extra == pytest.approx(stores_s, rel=0.01)
    decode = attention("attention_decode", batch=8, heads=32, kv_heads=8, seq_kv=8192, head_dim=128)
    assert simulate_op_latency(decode, half) == simulate_op_latency(decode, H100)
    copy = op_for_measurement({"family": "copy", "bytes": 1 << 30, "a_dtype": "bf16"})
    assert simulate_op_latency(copy, half) == simulate_op_latency(copy, H100)
    slower = dataclasses.replace(H100, attention_bandwidth_fraction=0.5)
    assert simulate_op_latency(decode, slower) > 1.6 * simulate_op_latency(decode, H100)


@pytest.mark.parametrize("shape", [(1, 4096, 4096), (16, 11008, 4096), (64, 8192, 28672), (4096, 4096, 4096)])
def test_more_gemm_bandwidth_is_never_slower_and_is_capped_at_the_datasheet(shape):
    latencies = [
        simulate_op_latency(gemm(*shape), dataclasses.replace(H100, gemm_bandwidth_fraction=fraction))
        for fraction in (0.25, 0.5, 0.9, 1.0, H100.max_bandwidth_fraction, 2.0)
    ]
    assert latencies == sorted(latencies, reverse=True)
    # 3.35 / 3.0 = 1.117: beyond it the datasheet's 3.35 TB/s caps the rate
    assert latencies[-1] == latencies[-2]
    assert H100.max_bandwidth_fraction == pytest.approx(3.35 / 3.0)


def test_bandwidth_fractions_are_validated_and_apply_to_the_kernels_that_name_them():
    expected = r"'gemm_bandwidth_fraction' = 0: must be a number in \(0, 2\]"
    with pytest.raises(HardwareSpecError, match=expected):
        dataclasses.replace(H100, gemm_bandwidth_fraction=0)
    with pytest.raises(HardwareSpecError, match=r"'kernel_bandwidth_fractions' entry 'x': 3\.0: .*\(0, 2\]"):
        dataclasses.replace(H100, kernel_bandwidth_fractions={"x": 3.0})
    spec = dataclasses.replace(H100, kernel_bandwidth_fractions={"slow_gemv": 0.6, "slow_gemv:gemm_fp8": 0.4})
    assert spec.for_kernel("slow_gemv", "gemm").gemm_bandwidth_fraction == 0.6
    assert spec.for_kernel("slow_gemv", "gemm_fp8").attention_bandwidth_fraction == 0.4
    assert spec.for_kernel("slow_gemv").achievable_tensor_fraction == H100.achievable_tensor_fraction
    # a measured row naming the kernel runs at its fraction; --gemm-kernel runs every GEMM at it
    named = gemm(1, 4096, 4096, kernel="slow_gemv")
    assert simulate_op_latency(named, spec) > 1.4 * simulate_op_latency(gemm(1, 4096, 4096), spec)
    every = spec.with_kernels(gemm="slow_gemv")
    assert every.gemm_bandwidth_fraction == 0.6 and every.attention_bandwidth_fraction == 1.0
    assert every.achievable_tensor_fraction == H100.achievable_tensor_fraction  # no tensor entry


def test_decode_with_few_heads_splits_the_kv_length():
    # B1 H8 Skv32768: 8 heads alone would occupy 8 of 132 SMs; split-KV or lean spreads the context
    row = simulate(attention("attention_decode", batch=1, heads=8, kv_heads=8, seq_kv=32768,
                             head_dim=128), H100).iloc[0]
    assert row["mapping"].startswith(("split-kv", "lean"))
    kv_bytes = 2 * 8 * 32768 * 128 * 2
    assert row["latency_s"] < 2.0 * (kv_bytes / H100.achievable_dram_bytes_per_s) + 10e-6


def test_memory_bound_op_time_is_bytes_over_bandwidth_plus_launch():
    # rms_norm-like op on 4096x4096 bf16: read 32 MiB, write 32 MiB, (64 MiB) / 3.0e12 B/s
    elements = 4096 * 4096
    norm = Op(
        name="norm", kind=OpKind.NORM, dims=(("R", 4096), ("C", 4096)), flops=4 * elements,
        operands=(
            Operand(name="x", role=Role.INPUT, dims=("R", "C"), elements=elements, dtype=DType.BF16),
            Operand(name="y", role=Role.OUTPUT, dims=("R", "C"), elements=elements, dtype=DType.BF16),
        ),
    )
    row = simulate(norm, H100).iloc[0]
    expected = 4 * elements / 3.0e12 + H100.memory_latency_s + H100.launch_overhead_s
    assert row["latency_s"] == pytest.approx(expected)
    assert row["engine"] == "gpu_memory"


def test_stream_k_spreads_one_extra_tile_over_the_wave():
    # 896x4864x8192 in 128x256x64 tiles: 7 x 19 = 133 tiles of 8192/64 = 128 k-steps on 132 SMs (one
    # CTA each). Data-parallel: two waves of 128 steps, the second holding one CTA. Stream-K: 133·128
    # = 17024 units over 132 CTAs, ceil(17024/132) = 129 steps each: compute 129 / (2·128) = 0.504 of
    # the data-parallel's. CTA j starts at unit 129·j, inside a tile unless 129·j % 128 == 0 (j = 128
    # only): 130 split tiles, each an fp32 128x256 partial written and read once.
    h100 = load_hardware("h100_sxm")
    problem = gemm_problem(gemm(896, 4864, 8192))
    tile = GemmTile(block_m=128, block_n=256, block_k=64, stages=3, split_k=1, ctas_per_sm=1)
    data_parallel = cost_gemm(problem, tile, h100)
    stream_k = cost_gemm(problem, dataclasses.replace(tile, stream_k=True), h100)
    assert data_parallel.main.wave_count == 2 and stream_k.main.wave_count == 1
    assert stream_k.main.compute_s / data_parallel.main.compute_s == pytest.approx(129 / 256)
    partials = 130 * 128 * 256 * PARTIAL_SUM_BYTES
    assert stream_k.dram_write_bytes == problem.write_bytes + partials
    assert stream_k.total_s < 0.6 * data_parallel.total_s


def test_stream_k_is_a_candidate_only_where_the_spec_allows_it_and_a_wave_is_partial():
    h100 = load_hardware("h100_sxm")
    assert not h100.gemm_stream_k  # presets: off (the published fp8 rows disagree; RESULTS.md)
    on = dataclasses.replace(h100, gemm_stream_k=True)
    ragged = gemm_problem(gemm(896, 4864, 8192))
    assert "streamk" not in best_gemm(ragged, h100).describe()
    assert "streamk" in best_gemm(ragged, on).describe()
    assert best_gemm(ragged, on).total_s <= best_gemm(ragged, h100).total_s  # more candidates, never slower
    # 128 x 132 rows of 128-row tiles by one 256-column tile: exactly one wave for one CTA per SM;
    # stream-K may only be tried for the tilings that leave a partial wave
    exact = gemm_problem(gemm(128 * 132, 256, 4096))
    for tile in candidate_tiles(exact, on):
        if tile.stream_k:
            tiles = math.ceil(exact.m / tile.block_m) * math.ceil(exact.n / tile.block_n)
            assert tiles % (132 * tile.ctas_per_sm)


@pytest.mark.parametrize(
    ("head_dim", "preset", "tile"),
    [
        # FlashAttention-2's run_mha_fwd_hdim* (flash_fwd_launch_template.h), A100/H100 branch
        (64, "h100_sxm", (128, 128, 4)),
        (128, "a100_80gb_sxm", (128, 64, 4)),
        (192, "h100_sxm", (128, 64, 8)),
        # head dim 256: 2·256·(128 + 128) = 131,072 B fit both SMs; 4·256·(64 + 128) = 196,608 B
        # fit the H100's 233,472 B (two 64x64 CTAs per SM) but not the A100's 167,936 B
        (256, "a100_80gb_sxm", (128, 64, 8)),
        (256, "h100_sxm", (64, 64, 4)),
    ],
)
def test_fa2_runs_the_tile_its_dispatch_picks_for_the_head_dim(head_dim, preset, tile):
    spec = load_hardware(preset)
    assert fa2_tile(head_dim, spec) == tile
    # 4 x 8 heads x ceil(1024 / 64) = 512 query tiles fill two CTAs an SM: mha_fwd's split heuristic
    # keeps one split and the standard kernel runs (batch 1 would be 128 tiles: its split-KV kernel)
    problem = attention_problem(attention(batch=4, heads=8, seq_q=1024, seq_kv=1024, head_dim=head_dim))
    fa2 = [plan for plan in candidate_plans(problem, spec) if plan.partition is Partition.FA2]
    assert [(plan.block_m, plan.block_n) for plan in fa2] == [tile[:2]]


@pytest.mark.parametrize("preset", ["l40s", "a10", "rtx_4090"])
def test_fa2_on_compute_capability_8_6_and_8_9_runs_its_sm8x_tiles(preset):
    # run_mha_fwd_hdim128's is_sm8x branch: "64 x 64 is the fastest for causal (because it's
    # square), and 128 x 32 (48 KB smem) is the fastest for non-causal since we get 2 CTAs per SM";
    # hdim96: 128 x 64 non-causal, 64 x 64 causal; head dim 64 is the same on every GPU
    spec = load_hardware(preset)
    assert 8 < spec.compute_capability < 9
    assert fa2_tile(128, spec) == (128, 32, 4) and fa2_tile(128, spec, causal=True) == (64, 64, 4)
    assert fa2_tile(96, spec) == (128, 64, 4) and fa2_tile(96, spec, causal=True) == (64, 64, 4)
    assert fa2_tile(64, spec) == fa2_tile(64, load_hardware("h100_sxm")) == (128, 128, 4)
    # 128x32 at head dim 128: Q 128·128·2 + K, V 2·32·128·2 = 48 KB, two CTAs in Ada's 100 KB
    problem = attention_problem(attention(batch=1, heads=8, seq_q=1024, seq_kv=1024, head_dim=128))
    assert ctas_per_sm(problem, spec, 128, 32) == 2


def test_split_kv_key_blocks_follow_the_head_dim_and_the_split_count():
    # run_mha_fwd_splitkv_dispatch: 256 keys up to head dim 64, 128 up to 128, 64 above; one split
    # runs the tile aligned with the standard kernel (128 keys up to head dim 64, else 64)
    assert [split_kv_block_n(d, 8) for d in (64, 128, 256)] == [256, 128, 64]
    assert [split_kv_block_n(d, 1) for d in (64, 128, 256)] == [128, 64, 64]


def test_a_row_naming_one_partition_is_simulated_with_it_alone():
    # FlashAttention v2.0.9 had no split-KV: a decode row with partition fa2 pads its one query row
    # per head to FA2's 128-row tile, 16 CTAs for B=1 and 16 heads; the free choice splits the KV
    a100 = load_hardware("a100_80gb_sxm")
    shape = dict(family="attention_decode", batch=1, heads=16, kv_heads=2, seq_kv=65536, head_dim=128)
    free = simulate(attention(**shape), a100).iloc[0]
    fa2 = simulate(attention(**shape, partition="fa2"), a100).iloc[0]
    assert fa2["mapping"].startswith("fa2 128x64") and not free["mapping"].startswith("fa2")
    assert fa2["latency_s"] > 10 * free["latency_s"]
    with pytest.raises(WorkloadError, match="partition 'fa3': valid: fa2, split-kv, lean"):
        simulate(attention(**shape, partition="fa3"), a100)
    causal = dict(batch=1, heads=8, seq_q=1024, seq_kv=1024, head_dim=128, causal=1)
    with pytest.raises(WorkloadError, match="partition 'split-kv' does not apply to this shape"):
        simulate(attention(**causal, partition="split-kv"), a100)


def test_a_split_k_gemm_and_a_split_kv_decode_launch_two_kernels():
    # 64x64x65536: one 64x64 tile, so split-K fills the SMs and a reduction kernel follows; a
    # split-KV decode's combine kernel is a second launch too, lean's in-kernel fix-up is not
    row = simulate(gemm(64, 64, 65536), H100).iloc[0]
    assert "splitk1 " not in row["mapping"] and row["launches"] == 2
    assert simulate(gemm(4096, 4096, 4096), H100).iloc[0]["launches"] == 1
    shape = dict(family="attention_decode", batch=1, heads=16, kv_heads=2, seq_kv=65536, head_dim=128)
    split = simulate(attention(**shape, partition="split-kv"), H100).iloc[0]
    lean = simulate(attention(**shape, partition="lean"), H100).iloc[0]
    assert split["mapping"].startswith("split-kv") and split["launches"] == 2
    assert lean["launches"] == 1


def test_attention_with_a_narrower_v_counts_its_bytes_and_flops_by_each_head_dim():
    # DeepSeek-style MLA prefill: Q and K at head dim 192, V and the output at 128; batch 2, 128
    # heads, 2048 causal queries: 2048·2049/2 = 2,098,176 pairs a head
    op = attention(batch=2, heads=128, kv_heads=128, seq_q=2048, seq_kv=2048, head_dim=192,
                   head_dim_v=128, causal=1)
    pairs = 2048 * 2049 // 2
    assert op.flops == 2 * 2 * 128 * pairs * (192 + 128)  # Q·Kᵀ over 192, P·V over 128
    elements = {operand.name: operand.elements for operand in op.operands}
    assert elements == {"Q": 2 * 128 * 2048 * 192, "K": 2 * 128 * 2048 * 192,
                        "V": 2 * 128 * 2048 * 128, "O": 2 * 128 * 2048 * 128}
    problem = attention_problem(op)
    assert (problem.d, problem.dv) == (192, 128)
    # a blank head_dim_v is head_dim: the equal-dims op, and V narrower is never slower
    equal = attention(batch=2, heads=128, kv_heads=128, seq_q=2048, seq_kv=2048, head_dim=192, causal=1)
    assert attention_problem(equal).dv == 192 and equal.flops == 4 * 2 * 128 * pairs * 192
    h200 = load_hardware("h200")
    assert simulate_op_latency(op, h200) <= simulate_op_latency(equal, h200)


def test_a_multi_token_decode_step_counts_its_query_tokens():
    # 16 new tokens of 64 heads (8 K/V heads) over 2048 cached keys: Q and O 16 rows a head, K and V
    # the cache, 4·B·H·16·2048·128 FLOPs (the bottom-right triangle, 16·15/2 of 16·2048 pairs, is
    # counted: 0.37%); a blank seq_q is one token, as before
    step = attention("attention_decode", batch=1, heads=64, kv_heads=8, seq_q=16, seq_kv=2048, head_dim=128)
    assert step.dim("Sq") == 16 and step.flops == 4 * 64 * 16 * 2048 * 128
    elements = {operand.name: operand.elements for operand in step.operands}
    assert elements["Q"] == elements["O"] == 64 * 16 * 128 and elements["K"] == 8 * 2048 * 128
    one = attention("attention_decode", batch=1, heads=64, kv_heads=8, seq_kv=2048, head_dim=128)
    assert one.dim("Sq") == 1
    # more tokens over the same cache read the same K/V: never faster, and far from 16 one-token steps
    h200 = load_hardware("h200")
    one_s, step_s = simulate_op_latency(one, h200), simulate_op_latency(step, h200)
    assert one_s <= step_s < 16 * one_s


def test_cudnn_runs_a_step_of_several_tokens_on_its_forward_kernel():
    # cuDNN's decode mode takes one query token (cudnn-frontend sdpa_support_surface.h:
    # ``is_decode_only = (s_q == 1)``); 8 new tokens run its forward: the standard partition on its
    # 128 x 128 sm90 tile, one CTA per batch and query head (1 x 16 here), each over all 131072 keys
    # in 1024 blocks, the 8 rows padded to 128
    shape = dict(batch=1, heads=16, kv_heads=2, seq_kv=131072, head_dim=128, kernel="cudnn_sdpa")
    h200 = load_hardware("h200")
    step = attention_problem(attention("attention_decode", seq_q=8, **shape))
    (plan,) = candidate_plans(step, h200)
    assert plan.partition is Partition.FA2 and (plan.block_m, plan.block_n) == (128, 128)
    cost = best_attention(step, h200)
    assert cost.main.waves == pytest.approx(16 / 132) and cost.reduce_s == 0
    # one token keeps the split-KV decode (FlashAttention's tile, ASSUMED), far faster: 16 CTAs of
    # a whole cache each cannot use the GPU
    one = best_attention(attention_problem(attention("attention_decode", **shape)), h200)
    assert one.plan.partition is Partition.SPLIT_KV and one.total_s < cost.total_s / 10
    # FlashAttention-3 decodes the same step by splitting the keys over the GQA group's stacked rows
    fa3 = attention_problem(attention("attention_decode", seq_q=8, **dict(shape, kernel="flash_attention_3")))
    assert best_attention(fa3, h200).plan.partition is Partition.SPLIT_KV


def test_a_chunked_prefill_under_a_bottom_right_mask_sees_its_cache():
    # 256 queries after 7936 cached keys (8192 in all), 64 heads: query i keeps keys j <= i + 7936,
    # 256·7936 + 256·257/2 = 2,064,512 pairs a head, where a top-left mask keeps only 256·257/2
    shape = dict(batch=1, heads=64, kv_heads=8, seq_q=256, seq_kv=8192, head_dim=128)
    chunk = attention(**shape, causal=2)
    assert chunk.flops == 4 * 64 * (256 * 7936 + 256 * 257 // 2) * 128
    top_left = attention(**shape, causal=1)
    assert top_left.flops == 4 * 64 * (256 * 257 // 2) * 128
    # the chunk's query blocks of 128 rows visit 63 and 64 of the 64 key blocks of 128 (offset 7936)
    problem = attention_problem(chunk)
    assert problem.causal and problem.causal_offset == 7936
    assert [_blocks_visited(problem, i, 128, 128) for i in range(2)] == [63, 64]
    # so it takes nearly the unmasked time, and a square prefill is the same under either mask
    h200 = load_hardware("h200")
    full = simulate_op_latency(attention(**shape), h200)
    assert 0.95 * full <= simulate_op_latency(chunk, h200) <= full
    # a chunk has at most as many queries as keys: more, under a bottom-right mask, is refused
    with pytest.raises(WorkloadError, match=r"causal = 2 \(bottom-right\) with seq_q = 8192 > seq_kv = 2048"):
        attention(**dict(shape, seq_q=8192, seq_kv=2048), causal=2)
    square = dict(shape, seq_q=4096, seq_kv=4096)
    assert attention(**square, causal=1).flops == attention(**square, causal=2).flops
    assert simulate_op_latency(attention(**square, causal=1), h200) == simulate_op_latency(
        attention(**square, causal=2), h200)
