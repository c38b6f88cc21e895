"""Bytes of an LLM decode step from first principles: weights, quantization metadata, KV cache, MoE.

LLaMA-2-7B (meta-llama/Llama-2-7b-hf config.json): dim 4096, 32 layers, 32 heads (= KV heads),
head dim 128, MLP 11008, vocab 32000, untied LM head.

Linear weights per layer: q, k, v, o = 4·4096² = 67,108,864; gate, up, down = 3·4096·11008 =
135,266,304; together 202,375,168, × 32 layers = 6,476,005,376, plus the LM head 32000·4096 =
131,072,000: 6,607,077,376 linear parameters, each read once per decode step.
All parameters: 6,738,415,616 (the embedding table adds 131,072,000, of which a step reads one row
per token; the norms 65·4096).
"""

from __future__ import annotations

import pytest

from workloads import OpKind, Role, graph_totals, load_model_graph
from workloads.zoo.layers import experts_touched

LINEAR_PARAMS_7B = 6_607_077_376
NORM_PARAMS_7B = 65 * 4096  # two per layer and the final one


def linear_weight_bytes(graph) -> float:
    return sum(
        op.operand(Role.WEIGHT).bytes * op.count
        for op in graph.ops
        if op.kind is OpKind.GEMM and dict(op.attrs).get("weight_is_param") == 1
    )


@pytest.fixture(scope="module")
def llama_7b_decode():
    return load_model_graph("llama-2-7b", phase="decode", context=1024)


def test_llama_2_7b_fp16_decode_reads_13_2_gb_of_linear_weights(llama_7b_decode):
    graph = llama_7b_decode
    assert graph.params == 6_738_415_616
    # fp16: 6,607,077,376 · 2 B = 13,214,154,752 B ≈ 13.2 GB; all params · 2 B = 13.48 GB ≈ 13.5 GB
    assert linear_weight_bytes(graph) == LINEAR_PARAMS_7B * 2
    # every weight the step reads: the linears, the norms and one embedding row (4096 · 2 B)
    totals = graph_totals(graph)
    assert totals["weight_bytes"] == (LINEAR_PARAMS_7B + NORM_PARAMS_7B + 4096) * 2
    assert totals["weight_bytes"] == pytest.approx(graph.params * 2, rel=0.02)  # ≈ 13.5 GB


def test_llama_2_7b_int4_group_128_is_a_quarter_plus_scales_and_zeros():
    graph = load_model_graph("llama-2-7b", phase="decode", context=1024, weights="int4")
    # 4 bits: 6,607,077,376 · 0.5 B = 3,303,538,688 B, a quarter of fp16's 13,214,154,752 B
    assert linear_weight_bytes(graph) == LINEAR_PARAMS_7B // 2
    # groups of 128 along K (4096 = 32·128 and 11008 = 86·128 divide evenly):
    # 6,607,077,376 / 128 = 51,617,792 groups, each an fp16 scale (2 B) and an int4 zero (0.5 B)
    groups = LINEAR_PARAMS_7B // 128
    assert graph_totals(graph)["metadata_bytes"] == groups * 2.5  # 129,044,480 B
    # norms and the embedding row stay fp16
    assert graph_totals(graph)["weight_bytes"] == LINEAR_PARAMS_7B / 2 + (NORM_PARAMS_7B + 4096) * 2


def test_group_size_changes_only_the_metadata():
    # --group-size 64 doubles the groups: 6,607,077,376 / 64 · 2.5 B = 258,088,960 B
    graph = load_model_graph("llama-2-7b", phase="decode", context=16, weights="int4", group_size=64)
    assert graph_totals(graph)["metadata_bytes"] == LINEAR_PARAMS_7B // 64 * 2.5


def test_decode_kv_cache_bytes_follow_context_and_kv_heads(llama_7b_decode):
    # K and V per layer: B·Hkv·context·D·2 B = 1·32·1024·128·2 = 8,388,608 B each;
    # 2 · 32 layers · 8,388,608 = 536,870,912 B read; one position written: 536,870,912 / 1024
    totals = graph_totals(llama_7b_decode)
    assert totals["kv_cache_bytes"] == 536_870_912
    assert totals["kv_cache_write_bytes"] == 536_870_912 // 1024
    # twice the context, twice the reads
    longer = graph_totals(load_model_graph("llama-2-7b", phase="decode", context=2048))
    assert longer["kv_cache_bytes"] == 2 * 536_870_912
    # LLaMA-3-8B has the same 32 layers and head dim but 8 KV heads (GQA): a quarter
    llama3 = graph_totals(load_model_graph("llama-3-8b", phase="decode", context=1024))
    assert llama3["kv_cache_bytes"] == 536_870_912 // 4


def test_batch_multiplies_kv_not_weights_and_kv_dtype_scales_it():
    one = load_model_graph("llama-2-7b", phase="decode", context=512)
    four = load_model_graph("llama-2-7b", phase="decode", context=512, batch=4, kv="int8")
    # 4 sequences of int8 KV (1 B) read 4 · ½ = 2× the bytes of one fp16 sequence
    assert graph_totals(four)["kv_cache_bytes"] == 2 * graph_totals(one)["kv_cache_bytes"]
    assert linear_weight_bytes(four) == linear_weight_bytes(one)


def test_expected_experts_touched():
    # E·(1 − (1 − k/E)^T) with E = 8, k = 2: T = 1 → 2 exactly; T = 4 → 8·(1 − 0.75⁴) = 5.47 → 5;
    # a long prefill touches all 8
    assert experts_touched(1, 8, 2) == 2
    assert experts_touched(4, 8, 2) == 5
    assert experts_touched(4096, 8, 2) == 8


def test_mixtral_decode_reads_the_experts_it_routes_to():
    # Mixtral-8x7B per layer: attention q, o = 4096² each, k, v = 4096·1024 each (8 KV heads):
    # 41,943,040; router 4096·8 = 32,768; one expert 3·4096·14336 = 176,160,768.
    attention, router, expert = 41_943_040, 32_768, 176_160_768
    lm_head = 32000 * 4096
    one = load_model_graph("mixtral-8x7b", phase="decode", context=128)
    # batch 1: one token routes to top-2 of 8 experts
    assert linear_weight_bytes(one) == (32 * (attention + router + 2 * expert) + lm_head) * 2
    # FLOPs: each token does 2 experts' worth, 2·176,160,768 MACs = 704,643,072 FLOPs per layer
    experts = [op for op in one.ops if ".experts." in op.module and op.kind is OpKind.GEMM]
    assert sum(op.flops for op in experts) == 32 * 2 * (2 * expert)
    # batch 4: 4 tokens touch 5 experts on average (above) while FLOPs stay 2 experts per token
    four = load_model_graph("mixtral-8x7b", phase="decode", context=128, batch=4)
    assert linear_weight_bytes(four) == (32 * (attention + router + 5 * expert) + lm_head) * 2
    experts = [op for op in four.ops if ".experts." in op.module and op.kind is OpKind.GEMM]
    assert sum(op.flops for op in experts) == 4 * 32 * 2 * (2 * expert)


def test_resident_bytes_are_the_parameters_and_the_kv_cache():
    # LLaMA-2-7B fp16, decode at context 4096, batch 8: weights 2 B × 6,738,415,616 params (every
    # parameter, though a decode step reads only 8 embedding rows); KV cache 2 (K, V) × 32 layers ×
    # 4096 positions × 4096 (32 heads × 128) × 2 B × 8 sequences = 17.18 GB read, plus the new
    # token's slots written: 2 × 32 × 4096 × 2 B × 8
    from workloads.summary import resident_bytes

    graph = load_model_graph("llama-2-7b", phase="decode", context=4096, batch=8)
    need = resident_bytes(graph)
    assert graph.params == 6_738_415_616
    assert need["weights"] == pytest.approx(2 * graph.params, rel=1e-3)
    assert need["kv_cache"] == 2 * 32 * 4096 * 4096 * 2 * 8 + 2 * 32 * 4096 * 2 * 8
    quantized = load_model_graph("llama-2-7b", phase="decode", context=4096, batch=8, weights="int4")
    int4 = resident_bytes(quantized)
    assert 0.25 < int4["weights"] / need["weights"] < 0.3  # 4 bits + group-128 scales and zeros, over 16


def test_param_bytes_are_an_ops_parameter_operands():
    # a LLaMA-2-7B decode q_proj at batch 8: its weight 4096 × 4096 × 2 B is a parameter; attention's
    # Q·K product has no parameter (weight_is_param 0 or no weight operand): 0
    from workloads.summary import param_bytes

    graph = load_model_graph("llama-2-7b", phase="decode", context=4096, batch=8)
    q_proj = next(op for op in graph.ops if op.module.endswith("q_proj"))
    attention = next(op for op in graph.ops if op.kind.value == "attention")
    assert param_bytes(q_proj) == 4096 * 4096 * 2
    assert param_bytes(attention) == 0.0
