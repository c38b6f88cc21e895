"""Invariants of the FPGA model: more HBM bandwidth, more DSPs or a sparser N:M pattern is never
slower; an overlay that fits one board fits a bigger one; results are deterministic, totals are
the sums of rows, the timeline is never below the closed form."""

from __future__ import annotations

import dataclasses

import pytest

from hwmodels import load_hardware
from hwmodels.fpga import FPGASpec, check_fits
from sim.simulate import simulate, summarize
from workloads.annotate import annotate
from workloads.dtypes import DType
from workloads.op import Op, Operand, OpGraph, OpKind, Role, gemm_op

PARAM = (("weight_is_param", 1),)


def _vector(name: str, role: Role, dims: tuple[str, ...], elements: int) -> Operand:
    return Operand(name=name, role=role, dims=dims, elements=elements, dtype=DType.FP16)


def _layer(rows: int) -> OpGraph:
    """A decoder layer's matrix work at `rows` tokens: two projections, attention, a norm, an add."""
    proj = gemm_op(rows, 4096, 4096, name="q", input_dtype=DType.INT8, weight_dtype=DType.INT8,
                   output_dtype=DType.INT8, attrs=PARAM)
    ffn = gemm_op(rows, 11008, 4096, name="up", input_dtype=DType.INT8, weight_dtype=DType.INT8,
                  output_dtype=DType.INT8, attrs=PARAM)
    context = 512 if rows == 1 else rows
    kv_role = Role.KV_CACHE if rows == 1 else Role.INPUT
    attention = Op(
        name="attn", kind=OpKind.ATTENTION,
        dims=(("B", 1), ("H", 32), ("Hkv", 32), ("Sq", rows), ("Skv", context), ("D", 128), ("Dv", 128)),
        operands=(
            Operand(name="Q", role=Role.INPUT, dims=("B", "H", "Sq", "D"), elements=32 * rows * 128,
                    dtype=DType.INT8),
            Operand(name="K", role=kv_role, dims=("B", "Hkv", "Skv", "D"), elements=32 * context * 128,
                    dtype=DType.INT8),
            Operand(name="V", role=kv_role, dims=("B", "Hkv", "Skv", "Dv"), elements=32 * context * 128,
                    dtype=DType.INT8),
            Operand(name="O", role=Role.OUTPUT, dims=("B", "H", "Sq", "Dv"), elements=32 * rows * 128,
                    dtype=DType.INT8),
        ),
        flops=4 * 32 * rows * context * 128,
        attrs=(("causal", int(rows > 1)),),
    )
    elements = rows * 4096
    norm = Op(name="norm", kind=OpKind.NORM, dims=(("R", rows), ("C", 4096)), flops=4 * elements,
              operands=(_vector("x", Role.INPUT, ("R", "C"), elements),
                        _vector("y", Role.OUTPUT, ("R", "C"), elements)))
    add = Op(name="add", kind=OpKind.ELEMENTWISE, dims=(("d0", elements),), flops=elements,
             operands=(_vector("a", Role.INPUT, ("d0",), 2 * elements),
                       _vector("o", Role.OUTPUT, ("d0",), elements)))
    return annotate(OpGraph(name="layer", ops=(norm, proj, attention, ffn, add)), weights="int4")


DECODE, PREFILL = _layer(1), _layer(256)


def _latency(graph: OpGraph, spec: FPGASpec) -> float:
    return float(summarize(simulate(graph, spec), spec)["latency_s"])


@pytest.mark.parametrize("graph", [DECODE, PREFILL], ids=["decode", "prefill"])
@pytest.mark.parametrize("preset", ["u280_flightllm", "vhk158_flightllm"])
def test_more_hbm_bandwidth_is_never_slower(graph, preset):
    rates = [5e9, 10e9, 14.375e9, 25.6e9, 50e9, 100e9]
    times = [_latency(graph, load_hardware(preset, [f"device.channel_bytes_per_s={r}"])) for r in rates]
    assert times == sorted(times, reverse=True)
    assert times[0] > times[-1]  # and bandwidth matters somewhere in the range


@pytest.mark.parametrize("graph", [DECODE, PREFILL], ids=["decode", "prefill"])
def test_more_dsps_are_never_slower(graph):
    # the GEMM array's columns and the GEMV array's, fixed and re-tiled
    sizes = [("1", "8"), ("2", "16"), ("4", "32"), ("8", "64")]
    base = ["device.dsp_slices=40000", "device.uram_blocks=4000"]
    fixed = [_latency(graph, load_hardware("u280_flightllm", [*base, f"overlay.gemm_pn={pn}",
                                                              "overlay.gemv_pk=16", f"overlay.gemv_pn={gv}"]))
             for pn, gv in sizes]
    assert fixed == sorted(fixed, reverse=True)
    retiled = [_latency(graph, load_hardware("u280_flightllm", [*base, f"overlay.gemm_pn={pn}"]))
               for pn, _ in sizes]
    assert retiled == sorted(retiled, reverse=True)


@pytest.mark.parametrize("graph", [DECODE, PREFILL], ids=["decode", "prefill"])
@pytest.mark.parametrize("chain", [4, 8, 16])
def test_a_sparser_nm_pattern_is_never_slower(graph, chain):
    # fewer kept weights of the same M: fewer MACs and fewer value and index bytes
    patterns = [(8, 16), (4, 16), (2, 16), (1, 16)]
    sets = [[f"overlay.chain_length={chain}", f"overlay.sparsity_n={n}", f"overlay.sparsity_m={m}"]
            for n, m in patterns]
    times = [_latency(graph, load_hardware("vhk158_flightllm", overrides)) for overrides in sets]
    assert times == sorted(times, reverse=True)


def test_n_m_index_metadata_can_outweigh_what_pruning_saves():
    # 2-bit weights: dense streams 2/8 = 0.25 B per weight; 8:16 streams half of (2 + 4 index
    # bits) / 8 = 0.375 B. A memory-bound GEMV is then slower pruned than dense; with 8-bit
    # weights 8:16 streams 0.5 · 12 / 8 = 0.75 B < 1 B and is faster
    def decode(bits: int, n: int) -> float:
        return _latency(DECODE, load_hardware("u280_flightllm", [
            f"overlay.weight_bits={bits}", f"overlay.sparsity_n={n}", "overlay.sparsity_m=16"]))

    assert decode(2, 8) > decode(2, 16)
    assert decode(8, 8) < decode(8, 16)


def _bigger(spec: FPGASpec, factor: int) -> FPGASpec:
    d = spec.device
    device = dataclasses.replace(
        d, dsp_slices=d.dsp_slices * factor, luts=d.luts * factor,
        bram36_blocks=d.bram36_blocks * factor, uram_blocks=d.uram_blocks * factor,
        memory_channels=d.memory_channels * factor)
    return dataclasses.replace(spec, device=device)


@pytest.mark.parametrize("preset", ["kv260", "u280_flightllm", "vhk158_flightllm"])
def test_an_overlay_that_fits_one_board_fits_a_bigger_one(preset):
    spec = load_hardware(preset)
    for factor in (2, 3):
        assert check_fits(_bigger(spec, factor).device, spec.overlay) == spec.resources
    # the edge board's overlay fits the U280 and the VHK158 as they are
    small = load_hardware("kv260").overlay
    for board in ("u280_flightllm", "vhk158_flightllm"):
        check_fits(load_hardware(board).device, small)


def test_results_are_deterministic_totals_are_row_sums_and_the_timeline_tops_the_closed_form():
    spec = load_hardware("vhk158_flightllm")
    first, second = simulate(PREFILL, spec), simulate(PREFILL, spec)
    assert first.equals(second)
    total = summarize(first, spec)
    assert total["latency_s"] == pytest.approx(first["latency_s"].sum())
    assert total["energy_j"] == pytest.approx(first["energy_j"].sum())
    assert (first["timeline_s"] >= first["closed_form_s"] - 1e-15).all()
    parts = first[["energy_mac_j", "energy_sram_j", "energy_dram_j", "energy_static_j"]].sum(axis=1)
    assert first["energy_j"].to_numpy() == pytest.approx(parts.to_numpy())


def test_always_on_chip_decode_moves_fewer_hbm_bytes_and_is_never_slower():
    on = load_hardware("u280_flightllm")
    off = load_hardware("u280_flightllm", ["overlay.always_on_chip=false"])
    with_it, without = simulate(DECODE, on), simulate(DECODE, off)
    assert with_it["activations_on_chip"].all() and not without["activations_on_chip"].any()
    assert with_it["dram_bytes"].sum() < without["dram_bytes"].sum()
    assert with_it["latency_s"].sum() <= without["latency_s"].sum()


def test_a_specs_resources_and_streams_are_computed_once_and_follow_a_replaced_overlay():
    # cached on the frozen spec: the same object on every access, not part of its equality
    spec = load_hardware("vhk158_flightllm")
    assert spec.resources is spec.resources and spec.core_streams is spec.core_streams
    assert spec == dataclasses.replace(spec)
    # a spec rebuilt with 2 cores computes its own: 2 · 10 streams on 32 channels, no sharing
    two = dataclasses.replace(spec, overlay=dataclasses.replace(spec.overlay, cores=2))
    assert (two.resources.channel_streams, two.core_streams.share) == (20, 1.0)
    assert (spec.resources.channel_streams, spec.core_streams.share) == (40, 0.8)
