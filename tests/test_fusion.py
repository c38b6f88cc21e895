"""`group_experts`: an MoE layer's per-expert kernels as grouped kernels; totals kept, launches cut."""

from __future__ import annotations

import math

import pytest

from hwmodels import load_hardware
from sim.cli import main
from sim.simulate import simulate, summarize
from workloads.fusion import group_experts
from workloads.model_graph import load_model_graph
from workloads.op import Role
from workloads.zoo.layers import experts_touched

BATCH, CONTEXT = 4, 128
#: Mixtral-8x7B: 32 layers of 8 experts, top-2 (mistralai/Mixtral-8x7B-v0.1 config.json).
LAYERS, EXPERTS, TOP_K, DIM, HIDDEN = 32, 8, 2, 4096, 14336


@pytest.fixture(scope="module")
def mixtral():
    eager = load_model_graph("mixtral-8x7b", phase="decode", context=CONTEXT, batch=BATCH)
    return eager, group_experts(eager)


def _bytes(graph) -> float:
    return sum(operand.bytes for op in graph.ops for operand in op.operands)


def test_totals_are_unchanged(mixtral):
    eager, grouped = mixtral
    assert sum(op.flops for op in grouped.ops) == sum(op.flops for op in eager.ops)
    assert _bytes(grouped) == _bytes(eager)
    weights = sum(op.operand(Role.WEIGHT).bytes for op in grouped.ops if op.kind.value == "gemm")
    assert weights == sum(op.operand(Role.WEIGHT).bytes for op in eager.ops if op.kind.value == "gemm")


def test_each_layer_runs_three_grouped_gemms_over_the_experts_it_routes_to(mixtral):
    # 4 decode tokens, top-2 of 8: E·(1 - (1 - 2/8)^4) = 8·(1 - 0.316) = 5.47 -> 5 experts touched,
    # 8 (token, expert) pairs over 5 experts: 2,2,2,1,1 rows, so M = 2 (the most rows of any)
    touched = experts_touched(BATCH, EXPERTS, TOP_K)
    assert touched == 5
    eager, grouped = mixtral
    gemms = [op for op in grouped.ops if dict(op.attrs).get("grouped_experts")]
    projections = [op for op in gemms if op.kind.value == "gemm"]
    assert len(projections) == 3 * LAYERS
    for op in projections:
        assert op.dim("B") == touched and op.dim("M") == math.ceil(TOP_K * BATCH / touched)
        assert op.flops == 2 * TOP_K * BATCH * DIM * HIDDEN  # the rows routed, not the padded ones
        assert op.operand(Role.WEIGHT).elements == touched * DIM * HIDDEN
    # per layer: 5 ops per expert (gate, SiLU, up, product, down) became 5 ops
    assert len(eager.ops) - len(grouped.ops) == LAYERS * 5 * (touched - 1)


def test_fewer_launches_make_decode_faster_on_a_gpu(mixtral):
    # per layer 5·(5 - 1) = 20 launches fewer at 3 us each: at least 32·20·3 us = 1.9 ms saved,
    # less what padding the 1-row experts to 2 rows adds (nothing: weight reads bound them)
    eager, grouped = mixtral
    h100 = load_hardware("h100_sxm")
    eager_s = summarize(simulate(eager, h100), h100)["latency_s"]
    grouped_s = summarize(simulate(grouped, h100), h100)["latency_s"]
    assert eager_s - grouped_s >= LAYERS * 20 * h100.launch_overhead_s * 0.9


def test_a_dense_model_is_left_as_traced():
    graph = load_model_graph("gpt2-small", phase="decode", context=16)
    assert group_experts(graph) is graph


def test_cli_moe_grouped(capsys):
    argv = ["trace", "mixtral-8x7b", "--phase", "decode", "--context", "64", "--format", "csv"]
    assert main([*argv, "--moe", "grouped"]) == 0
    out = capsys.readouterr().out
    assert "layers.0.mlp.experts.*.gate_proj" in out and "B=2;M=1;N=14336;K=4096" in out
    with pytest.raises(SystemExit):
        main([*argv, "--moe", "fused"])
    assert "invalid choice: 'fused'" in capsys.readouterr().err


def test_a_bad_moe_mode_names_the_valid_ones():
    from workloads.errors import WorkloadError

    with pytest.raises(WorkloadError, match=r"--moe 'fused': valid: eager, grouped"):
        load_model_graph("gpt2-small", phase="decode", context=16, moe="fused")
