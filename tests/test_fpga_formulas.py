"""The FPGA model's formulas, each with its arithmetic: the sparse DSP chain, GEMV re-tiling and
cycles, HBM loads on own and crossed channels, resources, the channel share behind the
profiler's 3.2, the timeline, and length-adaptive compilation."""

from __future__ import annotations

import dataclasses

import pytest

from hwmodels import HardwareSpecError, load_hardware
from hwmodels.fpga import HBMPlacement
from mappers.fpga import chain_allocation, gemv_tiling, weight_format
from sim.engines.fpga.engine import plan_op, simulate_on_fpga
from sim.engines.fpga.storage import group_lengths, resize_sequence
from sim.engines.fpga.timeline import Program, Unit, schedule
from workloads.annotate import annotate
from workloads.dtypes import DType
from workloads.op import Op, Operand, OpGraph, OpKind, Role, gemm_op

PARAM = (("weight_is_param", 1),)


def _gemv(n: int = 4096, k: int = 4096, weights: str | None = None, sparsity: str | None = None) -> Op:
    op = gemm_op(1, n, k, name="proj", input_dtype=DType.INT8, weight_dtype=DType.INT8,
                 output_dtype=DType.INT8, attrs=PARAM)
    graph = annotate(OpGraph(name="g", ops=(op,)), weights=weights, sparsity=sparsity)
    return graph.ops[0]


def _interleaved(spec):
    overlay = dataclasses.replace(spec.overlay, placement=HBMPlacement.INTERLEAVED)
    return dataclasses.replace(spec, overlay=overlay)


def _one_core(*overrides: str):
    """A one-core U280 overlay with a fixed 16 x 64 GEMV array and no channel sharing."""
    return load_hardware("u280_flightllm", ["overlay.cores=1", "overlay.gemv_pk=16", "overlay.gemv_pn=64",
                                            "overlay.kv_append_reads_cache=false", *overrides])


@pytest.mark.parametrize(
    ("n", "m", "group", "outputs", "k_per_cycle"),
    [
        # dense: the 16-DSP chain reduces 16 products of one output per cycle
        (16, 16, 16, 1, 16),
        # 8:16: groups of 8 DSPs, 16 // 8 = 2 outputs per cycle, each covering M = 16 of K: 32
        (8, 16, 8, 2, 32),
        # 4:16: 4 groups of 4 → 4 outputs · 16 = 64 K per cycle
        (4, 16, 4, 4, 64),
        # 2:16: 8 groups of 2 → 8 · 16 = 128
        (2, 16, 2, 8, 128),
        # 1:16: one kept weight still takes a whole 2-DSP group: 8 groups, 8 · 16 = 128 (not 256)
        (1, 16, 2, 8, 128),
    ],
)
def test_a_16_dsp_chain_gives_one_output_per_group_under_nm(n, m, group, outputs, k_per_cycle):
    nm = None if n == m else (n, m)
    chain = chain_allocation(16, n / m, nm)
    assert (chain.group_dsps, chain.outputs_per_cycle, chain.k_per_cycle) == (group, outputs, k_per_cycle)
    assert chain.speedup == k_per_cycle / 16


def test_a_chain_that_the_group_does_not_divide_leaves_dsps_idle_and_long_chains_need_overflow_adjust():
    # 4:8 on a 6-DSP chain: one group of 4 fits (2 DSPs idle): 1 output · 8 = 8 K/cycle vs 6 dense
    chain = chain_allocation(6, 0.5, (4, 8))
    assert (chain.outputs_per_cycle, chain.k_per_cycle) == (1, 8)
    assert chain.speedup == pytest.approx(8 / 6)
    # 8:16 on a 4-DSP chain: a group of 8 spans 2 passes: 16 K every 2 cycles = 8 per cycle (2x)
    assert chain_allocation(4, 0.5, (8, 16)).k_per_cycle == 8
    # packed 18-bit lanes overflow past 8 accumulations: 8 DSPs need no adjust, 10 do
    assert not chain_allocation(8, 1.0, None).overflow_adjust
    assert chain_allocation(10, 1.0, None).overflow_adjust


def test_nm_index_metadata_is_log2_m_bits_per_kept_weight():
    spec = load_hardware("u280_flightllm", ["overlay.sparsity_n=8", "overlay.sparsity_m=16",
                                            "overlay.weight_bits=4"])
    fmt = weight_format(_gemv(), spec)
    # 8:16 keeps half; each kept 4-bit value carries a log2(16) = 4-bit position
    assert (fmt.density, fmt.index_bits) == (0.5, 4)
    # HBM bytes per dense weight: 0.5 · (4 + 4) / 8 = 0.5, plus a group's fp16 scale and 4-bit
    # zero point over 128 weights: (2 + 0.5) / 128
    assert fmt.hbm_bytes_per_weight == pytest.approx(0.5 + 2.5 / 128)


def test_gemv_cycles_of_a_4096_square_on_a_16x64_array():
    spec = _one_core()
    plan, timed = plan_op(_gemv(), spec)
    # INT8 weights: a 512-column tile's 4096 · 512 B is 2 MiB, over half the 2 MiB weight buffer,
    # so K splits in 2. Per tile and split: ceil(2048 / 16) · ceil(512 / 64) = 128 · 8 = 1024
    # cycles; 8 tiles · 2 splits · 1024 = 16,384 cycles on the GEMV unit, plus the 2-cycle
    # overflow-adjust stage of the 16-DSP chain (longer than 8) on the first
    assert timed.busy[Unit.MV] == 16384 + 2
    assert plan.mode == "gemv"


def test_gemv_re_tiling_keeps_memory_time_under_compute_time():
    # VHK158 core: 8 channels · 25.6 GB/s · 0.7 = 143.36 GB/s. INT4 with a 128-group fp16 scale and
    # int4 zero point: 0.5 + 2.5/128 = 0.5195 B/weight → 143.36e9 / 0.5195 / 225e6 = 1226 weights
    # per cycle. pK = 16: pN = 64 gives 1024 <= 1226, pN = 128 gives 2048 > 1226 → 16 x 64, the
    # artifact's MV_PARALLEL (64 x 16)
    vhk = load_hardware("vhk158_flightllm")
    op = _gemv(weights="int4")
    fmt = weight_format(op, vhk)
    tiling = gemv_tiling(vhk, fmt, 4096, vhk.core_streams)
    assert (tiling.pk, tiling.pn, tiling.retiled) == (16, 64, True)
    # U280 core: 8 · 14.375 GB/s · 0.7 / 0.5195 / 225e6 = 689 → 16 x 32 (512 <= 689 < 1024)
    u280 = load_hardware("u280_flightllm")
    assert gemv_tiling(u280, weight_format(op, u280), 4096, u280.core_streams).pn == 32


def test_an_hbm_load_on_crossed_channels_takes_twice_the_time_of_one_on_its_own():
    own = _one_core("overlay.hbm_channels_per_core=8")
    crossed = _interleaved(own)
    # own: 8 channels · 14.375e9 · 0.7 = 80.5 GB/s
    assert own.core_streams.weight_bytes_per_s == pytest.approx(8 * 14.375e9 * 0.7)
    # interleaved: the core stripes over all 32 channels (its share: 32 / 1 core) at 0.35
    assert crossed.core_streams.weight_bytes_per_s == pytest.approx(32 * 14.375e9 * 0.35)
    # with 8 channels each side, a load takes 0.7 / 0.35 = 2x longer crossed
    four = _one_core("overlay.hbm_channels_per_core=8", "overlay.cores=4", "device.dsp_slices=20000",
                     "device.uram_blocks=2000")
    four_crossed = _interleaved(four)
    op = _gemv()
    own_ld = plan_op(op, four)[1].busy[Unit.LD]
    crossed_ld = plan_op(op, four_crossed)[1].busy[Unit.LD]
    latency = 100e-9 * 225e6  # the op's first load pays the HBM latency once, either way
    assert (crossed_ld - latency) / (own_ld - latency) == pytest.approx(2.0)


def test_resources_name_the_resource_the_need_and_what_the_device_has():
    # per core: 128 · 16 · 2 = 4096 INT8 MACs / 2 per DSP48E2 = 2048, plus 16 FP16 SFU lanes · 2
    # DSPs = 32: 2080. Five cores: 10,400 > 9,024
    need = r"overlay needs 10,400 DSP slices, xcu280 has 9,024 \(5 cores\)"
    with pytest.raises(HardwareSpecError, match=need):
        load_hardware("u280_flightllm", ["overlay.cores=5"])
    with pytest.raises(HardwareSpecError, match="memory channels, xcu280 has 32"):
        load_hardware("u280_flightllm", ["overlay.hbm_channels_per_core=11"])  # 3 · 11 = 33
    with pytest.raises(HardwareSpecError, match=r"on-chip buffer bytes \(BRAM \+ URAM\)"):
        load_hardware("u280_flightllm", ["overlay.weight_buffer_bytes=16777216"])
    used = load_hardware("u280_flightllm").resources
    assert (used.dsps, used.channels) == (3 * 2080, 3 * 8)  # 3 cores · 8 pseudo-channels each


def test_the_profilers_3_2_is_four_cores_sharing_32_channels_among_40_streams():
    # each VHK158 core drives 8 weight channels + 2 more streams (B/meta/bias, instructions):
    # 4 · 10 = 40 streams on 32 channels: each core is served 32 / 40 = 0.8 of the time; 4 · 0.8 = 3.2
    vhk = load_hardware("vhk158_flightllm")
    assert vhk.core_streams.share == pytest.approx(0.8)
    assert vhk.overlay.cores * vhk.core_streams.share == pytest.approx(3.2)
    # the U280 preset's 3 cores own 30 of 32 pseudo-channels: no sharing
    assert load_hardware("u280_flightllm").core_streams.share == 1.0


def test_the_timeline_double_buffers_and_is_never_below_the_busiest_unit():
    program = Program()
    # two tiles: LD 10 then MV 20 each; tile 1's load overlaps tile 0's compute:
    # LD0 0-10, MV0 10-30, LD1 10-20, MV1 30-50 → 50 cycles; closed form max(20, 40) = 40
    ld0 = program.add(Unit.LD, 10)
    mv0 = program.add(Unit.MV, 20, (ld0,))
    ld1 = program.add(Unit.LD, 10)
    program.add(Unit.MV, 20, (ld1, mv0))
    timed = schedule(program)
    assert (timed.makespan, timed.closed_form, timed.bottleneck) == (50, 40, Unit.MV)


def test_rows_carry_the_timeline_the_closed_form_and_the_resources():
    spec = load_hardware("u280_flightllm")
    (row,) = simulate_on_fpga(_gemv(weights="int4"), spec)
    assert row["latency_s"] == row["timeline_s"] >= row["closed_form_s"] > 0
    assert row["dsps_used"] == 6240 and row["channels_used"] == 24  # 3 cores · 8 pseudo-channels
    closed = load_hardware("u280_flightllm", ["timing=closed_form"])
    (fast,) = simulate_on_fpga(_gemv(weights="int4"), closed)
    assert fast["latency_s"] == fast["closed_form_s"] == pytest.approx(row["closed_form_s"])


def test_the_compiler_cuts_k_into_floor_sized_pieces_with_a_remainder():
    from mappers.fpga import k_pieces

    # K = 11008 in 16-wide blocks is 688 blocks; 3 pieces of 688 // 3 = 229 blocks leave 1 over
    assert k_pieces(11008, 3, 16) == (229 * 16, 229 * 16, 229 * 16, 16)
    # 4096 in 2: 256 blocks, 128 each, nothing over
    assert k_pieces(4096, 2, 16) == (2048, 2048)
    # K not a multiple of the block: the last piece is short (100 = 6 blocks of 16, the last 4)
    assert k_pieces(100, 1, 16) == (100,)


def test_length_adaptive_compilation_runs_a_step_at_its_groups_length_and_resizes_graphs():
    assert [group_lengths(n, 16) for n in (1, 16, 17, 145)] == [16, 16, 32, 160]
    attention = Op(
        name="attn", kind=OpKind.ATTENTION,
        dims=(("B", 1), ("H", 4), ("Hkv", 4), ("Sq", 1), ("Skv", 97), ("D", 8), ("Dv", 8)),
        operands=(
            Operand(name="Q", role=Role.INPUT, dims=("B", "H", "Sq", "D"), elements=32, dtype=DType.INT8),
            Operand(name="K", role=Role.KV_CACHE, dims=("B", "Hkv", "Skv", "D"), elements=4 * 97 * 8,
                    dtype=DType.INT8),
            Operand(name="V", role=Role.KV_CACHE, dims=("B", "Hkv", "Skv", "Dv"), elements=4 * 97 * 8,
                    dtype=DType.INT8),
            Operand(name="O", role=Role.OUTPUT, dims=("B", "H", "Sq", "Dv"), elements=32, dtype=DType.INT8),
        ),
        flops=2 * 4 * 97 * 16,
    )
    graph = resize_sequence(OpGraph(name="g", ops=(attention,), context_len=97), 97, 194)
    resized = graph.ops[0]
    # Skv 97 → 194: K and V double, Q and O do not, nor the other dims
    assert resized.dim("Skv") == 194 and resized.dim("D") == 8 and graph.context_len == 194
    assert [o.elements for o in resized.operands] == [32, 4 * 194 * 8, 4 * 194 * 8, 32]


def test_the_roofline_sees_the_overlays_weight_bits_and_sparse_chain():
    from sim.engines.roofline import device_rates, evaluate, prepare_workload
    from sim.system_run import roofline_cost

    graph = OpGraph(name="g", ops=(_gemv(),))  # 1 x 4096 x 4096, int8 weights in the workload
    sparse = ["overlay.weight_bits=4", "overlay.sparsity_n=8", "overlay.sparsity_m=16"]
    specs = [load_hardware("u280_flightllm", o) for o in ([], ["overlay.weight_bits=4"], sparse)]
    workload = prepare_workload(graph, type(specs[0]))
    rates, errors = device_rates(specs, workload.dtypes, workload)
    metrics = evaluate(workload, rates)
    assert errors == [None, None, None]
    # activations in and out: 4,096 + 4,096 B (int8). Weights, 4096 · 4096 = 16,777,216 of them:
    # as the workload has them, int8: 16,777,216 B;
    # 4-bit: 0.5 B + (2 B fp16 scale + 0.5 B int4 zero) / 128 = 0.51953125 B each: 8,716,288 B;
    # 8:16 at 4 bits: half kept, 4 value + log2(16) = 4 index bits each: 0.5 · 1 B + 2.5/128, the same
    assert metrics["dram_bytes"].tolist() == pytest.approx([16_785_408, 8_724_480, 8_724_480])
    # at the achievable 460 GB/s · 0.7 = 322 GB/s
    assert metrics["memory_s"].tolist() == pytest.approx([16_785_408 / 322e9, 8_724_480 / 322e9,
                                                          8_724_480 / 322e9])
    # 2 · 4096² = 33,554,432 FLOPs at the INT8 peak, 2 · 3 cores · 2,048 DSPs · 2 MACs · 225 MHz =
    # 5.5296e12 FLOP/s; 8:16 on the 16-DSP chain covers 32 of K per cycle instead of 16: twice that
    assert metrics["compute_s"].tolist() == pytest.approx([33_554_432 / 5.5296e12] * 2
                                                          + [33_554_432 / 11.0592e12])
    # the system roofline costs the op the same way
    for spec, latency in zip(specs, metrics["latency_s"], strict=True):
        assert roofline_cost(graph.ops[0], spec).latency_s == pytest.approx(latency)


@pytest.mark.parametrize("overrides", [[], ["overlay.weight_bits=4"], ["overlay.weight_bits=2",
                                       "overlay.sparsity_n=4", "overlay.sparsity_m=16"]])
def test_the_roofline_stays_a_lower_bound_of_the_fpga_engine(overrides):
    from sim.engines.roofline import device_rates, evaluate, prepare_workload
    from sim.simulate import simulate, summarize

    spec = load_hardware("u280_flightllm", overrides)
    graph = OpGraph(name="g", ops=(_gemv(), _gemv(n=11008)))
    workload = prepare_workload(graph, type(spec))
    rates, _ = device_rates([spec], workload.dtypes, workload)
    roofline = evaluate(workload, rates)
    total = summarize(simulate(graph, spec), spec)
    assert roofline["latency_s"][0] <= float(total["latency_s"])
    assert roofline["dram_bytes"][0] == pytest.approx(float(total["dram_bytes"]), rel=0.01)


def test_a_spilled_activation_load_and_store_pay_dram_row_switches_and_bus_turnarounds():
    spec = _one_core("overlay.always_on_chip=false")
    plan, _ = plan_op(_gemv(), spec)
    program = plan.program
    ld_in, st = program.units.index(Unit.LD), program.units.index(Unit.ST)
    # activations move at the core's stream rate; one core: share 1
    rate, clock = spec.core_streams.weight_bytes_per_s, spec.clock_hz
    # the input, 4,096 int8 bytes, after the op's one HBM latency (100 ns), and the weight stream's
    # DRAM rows closed and reopened: 2 · (tRP + tRCD) = 2 · (14 + 14) = 56 ns
    assert program.cycles[ld_in] == pytest.approx((4096 / rate + 100e-9 + 56e-9) * clock)
    # the output, 1 · 512 columns · 8 tiles = 4,096 bytes: the same 56 ns of row switches, and the
    # bus turned around twice: read to write CL + BL/2 - CWL = 14 + 2 - 4 = 12 ns, write to read
    # CWL + BL/2 + tWTR_L = 4 + 2 + 8 = 14 ns: 82 ns
    assert program.cycles[st] == pytest.approx((4096 / rate + 82e-9) * clock)
    # kept on chip, the op loads and stores no activations
    kept, _ = plan_op(_gemv(), _one_core())
    assert Unit.ST not in kept.program.units


def test_prefill_attention_executes_each_batch_and_heads_kept_pairs_once():
    # non-causal, 32 heads, 512 x 512, head dim 128: 32 · 512 · 512 · (128 + 128) = 2^31 MACs per
    # sequence; a batch of 2 executes twice that, as the op itself counts (it was 4x: the kept pairs,
    # already summed over batch and heads, were multiplied by the batch again)
    from sim.engines.fpga.engine import plan_op
    from workloads.kernel_ops import op_for_measurement

    spec = load_hardware("vhk158_flightllm")
    for batch in (1, 2):
        shape = {"batch": batch, "heads": 32, "kv_heads": 32, "seq_q": 512, "seq_kv": 512, "head_dim": 128}
        op = op_for_measurement({"family": "attention_prefill", "a_dtype": "fp16", "causal": 0, **shape})
        plan, _ = plan_op(op, spec)
        assert plan.executed_macs == op.macs == batch * 32 * 512 * 512 * 256


def test_causal_prefill_attention_keeps_the_key_blocks_its_mask_alignment_gives():
    # 256 queries over 1024 keys, one head of 128, in 128-row tiles over 64-key mask blocks:
    # bottom-right (a chunk after 768 cached keys) tile rows end at 128 + 768 and 256 + 768 keys:
    # 128 · 896 + 128 · 1024 = 245,760 kept pairs; torch's top-left mask keeps 128 · 128 + 128 ·
    # 256 = 49,152 (the FPGA engine shifted every causal mask bottom-right before)
    from sim.engines.fpga.engine import plan_op
    from workloads.kernel_ops import op_for_measurement

    spec = load_hardware("vhk158_flightllm")
    assert (spec.overlay.gemm_pm, spec.overlay.attention_block) == (128, 64)
    shape = {"batch": 1, "heads": 1, "kv_heads": 1, "seq_q": 256, "seq_kv": 1024, "head_dim": 128}
    for causal, pairs in ((2, 128 * 896 + 128 * 1024), (1, 128 * 128 + 128 * 256)):
        op = op_for_measurement({"family": "attention_prefill", "a_dtype": "fp16", "causal": causal, **shape})
        plan, _ = plan_op(op, spec)
        assert plan.executed_macs == pairs * 256
