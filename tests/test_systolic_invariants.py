"""Invariants of the systolic engine over a grid of shapes, dataflows, memories and bandwidths."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from conftest import make_array

from hwmodels.systolic import Dataflow
from sim.simulate import SUM_COLUMNS, simulate, summarize
from workloads.op import OpGraph, gemm_op

SHAPES = [(1, 4096, 512), (100, 37, 250), (8, 8, 8), (512, 64, 64), (33, 65, 129), (256, 256, 1024)]
DATAFLOWS = list(Dataflow)


def graph():
    return OpGraph(name="grid", ops=tuple(gemm_op(*s, name=f"g{i}") for i, s in enumerate(SHAPES)))


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_more_bandwidth_is_never_slower(dataflow):
    cycles = [
        simulate(graph(), make_array(dataflow=dataflow, dram_bytes_per_cycle=bw))[
            "total_cycles_incl_prefetch"
        ].to_numpy()
        for bw in (1, 2, 4, 8, 16, 64, 256, np.inf)
    ]
    for slower, faster in itertools.pairwise(cycles):
        assert np.all(faster <= slower + 1e-9)


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_more_sram_never_moves_more_dram_bytes(dataflow):
    traffic = [
        simulate(graph(), make_array(dataflow=dataflow, sram_bytes=kb * 1024))["dram_bytes"]
        for kb in (2, 4, 16, 64, 256, 4096)
    ]
    for smaller, bigger in itertools.pairwise(traffic):
        assert np.all(bigger.to_numpy() <= smaller.to_numpy())


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_dram_traffic_at_least_compulsory(dataflow):
    # every operand crosses the DRAM interface at least once
    results = simulate(graph(), make_array(dataflow=dataflow, sram_bytes=2048))
    for (m, n, k), (_, result) in zip(SHAPES, results.iterrows(), strict=True):
        assert result["dram_ifmap_read_bytes"] >= m * k
        assert result["dram_filter_read_bytes"] >= k * n
        assert result["dram_write_bytes"] >= m * n


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_utilization_and_efficiency_are_fractions(dataflow):
    results = simulate(graph(), make_array(dataflow=dataflow, dram_bytes_per_cycle=4))
    assert results["utilization"].between(0, 1).all()
    assert results["mapping_efficiency"].between(0, 1).all()
    # utilization can't beat the share of PEs the mapping uses
    assert (results["utilization"] <= results["mapping_efficiency"] + 1e-12).all()


def test_total_cycles_are_compute_plus_stalls():
    results = simulate(graph(), make_array(dram_bytes_per_cycle=2))
    assert np.allclose(results["total_cycles"], results["compute_cycles"] + results["stall_cycles"])
    assert (results["stall_cycles"] >= 0).all()


def test_totals_equal_the_sum_of_rows():
    hw = make_array(dram_bytes_per_cycle=8)
    results = simulate(graph(), hw)
    total = summarize(results, hw)
    for column in SUM_COLUMNS:
        assert total[column] == pytest.approx(results[column].sum())
    assert total["utilization"] == pytest.approx(
        results["macs"].sum() / (hw.num_pes * results["total_cycles"].sum())
    )


def test_same_input_same_output():
    hw = make_array(dataflow=Dataflow.WS, dram_bytes_per_cycle=3, sram_bytes=4096)
    pd.testing.assert_frame_equal(simulate(graph(), hw), simulate(graph(), hw))


def test_repeated_layer_counts_once_per_repeat():
    from dataclasses import replace

    hw = make_array(dram_bytes_per_cycle=8)
    single = simulate(gemm_op(100, 37, 250), hw).iloc[0]
    tripled = simulate(replace(gemm_op(100, 37, 250), count=3), hw).iloc[0]
    for column in ("compute_cycles", "total_cycles", "sram_reads", "dram_bytes", "latency_s"):
        assert tripled[column] == pytest.approx(3 * single[column])
    assert tripled["utilization"] == pytest.approx(single["utilization"])
