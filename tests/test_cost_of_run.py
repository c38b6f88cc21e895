"""Energy of simulated runs: each part by hand for one GEMM, totals as sums of rows, more SRAM more
area, GPU energy from TDP, and per-token and per-dollar figures."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from hwmodels import load_hardware
from sim.cost import design_cost, run_metrics
from sim.simulate import simulate, summarize
from workloads.dtypes import DType
from workloads.op import OpGraph, gemm_op

PJ = 1e-12


def test_energy_of_one_gemm_is_the_sum_of_its_parts():
    hw = replace(load_hardware("scalesim_32x32"), static_power_w=2.0)  # 45 nm, DDR4, 64 KiB SRAMs
    row = simulate(gemm_op(64, 64, 64), hw).iloc[0]
    # MACs: 64^3 = 262,144 int8 MACs x (0.2 + 0.1) pJ
    assert row["energy_mac_j"] == pytest.approx(262144 * 0.3 * PJ)
    # SRAM: every buffer is 64 KiB: 10 pJ x sqrt(64 KiB / 8 KiB) per 64 bits = 0.4419 pJ per bit
    per_bit = 10 * math.sqrt(8) / 64 * PJ
    buffered = row["ifmap_sram_read_bytes"] + row["filter_sram_read_bytes"] + row["ofmap_sram_write_bytes"]
    assert buffered == pytest.approx(row["sram_bytes"])  # int8 everywhere: bytes = accesses
    assert row["energy_sram_j"] == pytest.approx(buffered * 8 * per_bit)
    # DRAM: 1300 pJ per 64-bit access = 162.5 pJ per byte
    assert row["energy_dram_j"] == pytest.approx(row["dram_bytes"] * 162.5 * PJ)
    # static: 2 W for the row's latency
    assert row["energy_static_j"] == pytest.approx(2.0 * row["latency_s"])
    parts = row["energy_mac_j"] + row["energy_sram_j"] + row["energy_dram_j"] + row["energy_static_j"]
    assert row["energy_j"] == pytest.approx(parts)


def test_energy_totals_are_sums_of_rows_and_unmodeled_rows_are_nan():
    hw = load_hardware("systolic_128x128")
    graph = OpGraph(name="g", ops=(gemm_op(128, 512, 256, input_dtype=DType.BF16, weight_dtype=DType.BF16,
                                           output_dtype=DType.BF16), gemm_op(8, 64, 64, name="g2")))
    results = simulate(graph, hw)
    total = summarize(results, hw)
    for column in ("energy_j", "energy_mac_j", "energy_sram_j", "energy_dram_j", "energy_static_j"):
        assert total[column] == pytest.approx(results[column].sum())
    assert (results["energy_j"] > 0).all()


def test_a_smaller_node_and_hbm_use_less_energy():
    graph = gemm_op(256, 256, 256)
    base = load_hardware("scalesim_32x32")
    energy = simulate(graph, base)["energy_j"].iloc[0]
    assert simulate(graph, replace(base, technology_nm=7.0))["energy_j"].iloc[0] < energy
    hbm = load_hardware("scalesim_32x32", ["dram_kind=hbm2"])
    assert simulate(graph, hbm)["energy_dram_j"].iloc[0] < simulate(graph, base)["energy_dram_j"].iloc[0]


def test_more_sram_means_more_area():
    base = load_hardware("scalesim_32x32")
    areas = [design_cost(replace(base, ifmap_sram_bytes=kib * 1024)).area_mm2 for kib in (16, 64, 256, 1024)]
    assert areas == sorted(areas) and len(set(areas)) == 4
    cost = design_cost(base)
    # 1024 PEs, each sized for its widest dtype (fp32: 7700 + 4184 µm² at 45 nm)
    assert cost.pe_area_mm2 == pytest.approx(1024 * (7700 + 4184) * 1e-6)
    assert cost.area_mm2 == pytest.approx(cost.pe_area_mm2 + cost.sram_area_mm2)
    assert math.isnan(cost.usd_per_hour)


def test_gpu_energy_is_tdp_times_time_and_nan_without_tdp():
    op = gemm_op(1024, 1024, 1024, input_dtype=DType.BF16, weight_dtype=DType.BF16, output_dtype=DType.BF16)
    h100 = load_hardware("h100_sxm")
    row = simulate(op, h100).iloc[0]
    assert row["energy_j"] == pytest.approx(700.0 * row["latency_s"])
    no_tdp = load_hardware("h20")
    results = simulate(op, no_tdp)
    assert results["energy_j"].isna().all() and math.isnan(summarize(results, no_tdp)["energy_j"])


def test_run_metrics_per_token_and_per_dollar():
    h100 = load_hardware("h100_sxm")
    op = gemm_op(8, 4096, 4096, input_dtype=DType.BF16, weight_dtype=DType.BF16, output_dtype=DType.BF16)
    graph = OpGraph(name="step", ops=(op,), phase="decode", batch=8)
    total = summarize(simulate(graph, h100), h100)
    metrics = run_metrics(total, h100, graph)
    tokens_per_s = 8 / total["latency_s"]
    assert metrics["tokens_per_s"] == pytest.approx(tokens_per_s)
    assert metrics["power_w"] == pytest.approx(700.0)  # TDP x time / time
    assert metrics["energy_per_token_j"] == pytest.approx(total["energy_j"] / 8)
    # $2.49 per GPU-hour: tokens per hour / 2.49
    assert metrics["tokens_per_usd"] == pytest.approx(tokens_per_s * 3600 / 2.49)
    assert math.isnan(run_metrics(total, h100, OpGraph(name="x", ops=(op,)))["tokens_per_s"])


def test_tdp_energy_is_labelled_an_upper_bound_wherever_it_is_shown(capsys):
    from sim.cli import main
    from sim.cost import TDP_ENERGY_NOTE
    from sim.present.plot import scatter_figure
    from sim.present.views import breakdown_figure
    from sim.sweep.worker import _with_run_metrics

    h100, array = load_hardware("h100_sxm"), load_hardware("scalesim_32x32")
    # simulate's summary line: "; ≤ 0.127 J (TDP × time, an upper bound)" on a GPU, plain on an array
    assert main(["simulate", "--hw", "h100_sxm", "--gemm", "4096,4096,4096"]) == 0
    lines = capsys.readouterr().out.splitlines()
    summary = next(line for line in lines if line.startswith("gemm on h100_sxm"))
    assert summary.endswith(" J (TDP × time, an upper bound)")
    assert main(["simulate", "--hw", "h100_sxm", "--gemm", "4096,4096,4096"]) == 0
    assert "; ≤ " in capsys.readouterr().out
    assert main(["simulate", "--hw", "scalesim_32x32", "--gemm", "100,37,250"]) == 0
    line = capsys.readouterr().out.rstrip().splitlines()[-1]
    assert line.endswith(" J") and "≤" not in line
    # the rows (CSV, JSON) say so
    op = gemm_op(1024, 1024, 1024, input_dtype=DType.BF16, weight_dtype=DType.BF16, output_dtype=DType.BF16)
    rows = simulate(op, h100)
    assert (rows["energy_basis"] == TDP_ENERGY_NOTE).all()
    assert "energy_basis" not in simulate(gemm_op(100, 37, 250), array).columns
    # plots: the energy axis of a scatter and of a breakdown
    scatter = scatter_figure(rows, "latency_s", "energy_j")
    assert scatter.layout.yaxis.title.text == f"energy (J), {TDP_ENERGY_NOTE}"
    assert TDP_ENERGY_NOTE in breakdown_figure({"h100_sxm": rows}, "energy_j").layout.yaxis.title.text
    # a sweep's rows carry the basis (its summary and plots label the figures from it)
    graph = OpGraph(name="step", ops=(op,))
    total = summarize(rows, h100)
    assert _with_run_metrics(total, h100, graph)["energy_basis"] == TDP_ENERGY_NOTE
    assert _with_run_metrics(summarize(simulate(op, array), array), array, graph)["energy_basis"] == ""
