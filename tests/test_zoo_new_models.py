"""LLaMA-1 33B and 65B, OPT-6.7B and GPT-J-6B in the zoo: a decode step traces, and the parameter count is the
published one, computed from the config.

LLaMA-1 (Touvron et al. 2023, Table 2 gives 32.5B and 65.2B): RMSNorm weights, untied embedding
and LM head, no biases. Per layer: q, k, v, o = 4·d²; gate, up, down = 3·d·ffn; two norms 2·d.
Outside the layers: embedding + LM head = 2·32000·d, final norm d.

- LLaMA-33B, d = 6656, ffn = 17920, 60 layers:
  4·6656² = 177,209,344; 3·6656·17920 = 357,826,560; 2·6656 = 13,312 → 535,049,216 per layer,
  × 60 = 32,102,952,960; + 2·32000·6656 = 425,984,000; + 6656 → 32,528,943,616 ≈ 32.5B.
- LLaMA-65B, d = 8192, ffn = 22016, 80 layers:
  4·8192² = 268,435,456; 3·8192·22016 = 541,065,216; 2·8192 = 16,384 → 809,517,056 per layer,
  × 80 = 64,761,364,480; + 2·32000·8192 = 524,288,000; + 8192 → 65,285,660,672 ≈ 65.3B.
  The paper's "65.2B" is this count cut to one decimal, not rounded (65.29B); 7B's
  6,738,415,616 and 13B's 13,015,864,320 print as 6.7B and 13.0B either way.

OPT-6.7B (Zhang et al. 2022; "6.7B"): LayerNorm (weight and bias), biases on every linear, learned
positions with 2050 rows (2048 + OPT's offset of 2), the LM head tied to the token embedding
(counted once). d = 4096, ffn = 16384, 32 layers, vocab 50272:
  attention 4·(4096² + 4096) = 67,125,248; fc1 4096·16384 + 16384 = 67,125,248;
  fc2 16384·4096 + 4096 = 67,112,960; two LayerNorms 2·2·4096 = 16,384 → 201,379,840 per layer,
  × 32 = 6,444,154,880; token embedding 50272·4096 = 205,914,112; positions 2050·4096 = 8,396,800;
  final LayerNorm 2·4096 = 8,192 → 6,658,473,984 ≈ 6.7B.

GPT-J-6B (EleutherAI/gpt-j-6b config.json; the model card's "6B"): one LayerNorm per block,
attention without biases, an MLP with biases, an untied LM head with a bias, no position table.
d = 4096, MLP 16384, 28 layers, vocab 50400:
  q, k, v, out 4·4096² = 67,108,864; fc_in 4096·16384 + 16384 = 67,125,248; fc_out
  16384·4096 + 4096 = 67,112,960; LayerNorm 2·4096 = 8,192 → 201,355,264 per layer,
  × 28 = 5,637,947,392; token embedding 50400·4096 = 206,438,400; final LayerNorm 8,192; LM head
  4096·50400 + 50400 = 206,488,800 → 6,050,882,784. The card's table gives 6,053,381,344 (counted
  in mesh-transformer-jax), 0.04% more.
"""

from __future__ import annotations

import pytest

from workloads import OpKind, graph_totals, load_model_graph
from workloads.zoo import Task, get_model, list_models

CONTEXT = 16

#: name → (exact count from the config, the published count in billions, its tolerance)
PARAMS = {
    "llama-33b": (32_528_943_616, 32.5, 0.05e9),
    "llama-65b": (65_285_660_672, 65.2, 0.1e9),  # 65.29B, printed 65.2B (truncated) in the paper
    "opt-6.7b": (6_658_473_984, 6.7, 0.05e9),
    "gpt-j-6b": (6_050_882_784, 6.053381344, 0.003e9),  # the card's exact 6,053,381,344
}


def llama_params(d: int, ffn: int, layers: int, vocab: int = 32000) -> int:
    return layers * (4 * d * d + 3 * d * ffn + 2 * d) + 2 * vocab * d + d


def opt_params(d: int, ffn: int, layers: int, vocab: int, positions: int) -> int:
    per_layer = 4 * (d * d + d) + (d * ffn + ffn) + (ffn * d + d) + 2 * 2 * d
    return layers * per_layer + vocab * d + (positions + 2) * d + 2 * d


def gptj_params(d: int, mlp: int, layers: int, vocab: int) -> int:
    per_layer = 4 * d * d + (d * mlp + mlp) + (mlp * d + d) + 2 * d
    return layers * per_layer + vocab * d + 2 * d + (d * vocab + vocab)


def test_formulas_give_the_counts_in_the_docstring():
    assert llama_params(6656, 17920, 60) == PARAMS["llama-33b"][0]
    assert llama_params(8192, 22016, 80) == PARAMS["llama-65b"][0]
    assert opt_params(4096, 16384, 32, 50272, 2048) == PARAMS["opt-6.7b"][0]
    assert gptj_params(4096, 16384, 28, 50400) == PARAMS["gpt-j-6b"][0]
    # the same formula gives LLaMA-2-7B's known 6,738,415,616 (tests/test_trace_llm_bytes.py)
    assert llama_params(4096, 11008, 32) == 6_738_415_616


@pytest.mark.parametrize("name", list(PARAMS))
def test_new_models_are_listed_as_causal_lms(name):
    assert name in list_models()
    entry = get_model(name)
    assert entry.task is Task.CAUSAL_LM
    assert entry.max_positions == 2048


@pytest.mark.parametrize("name", list(PARAMS))
def test_decode_traces_with_the_published_parameter_count(name):
    exact, published_b, tolerance = PARAMS[name]
    graph = load_model_graph(name, phase="decode", context=CONTEXT)
    assert graph.params == exact
    assert abs(exact - published_b * 1e9) <= tolerance
    assert graph.phase == "decode" and graph.context_len == CONTEXT
    assert not graph.unmodeled
    totals = graph_totals(graph)
    # a decode step reads every linear weight once: ≈ 2 bytes per parameter in fp16
    assert totals["weight_bytes"] == pytest.approx(2 * exact, rel=0.05)


def _attention(graph):
    return [op for op in graph.ops if op.kind is OpKind.ATTENTION]


@pytest.mark.parametrize(
    ("name", "layers", "heads", "head_dim"),
    [
        ("llama-33b", 60, 52, 128),
        ("llama-65b", 80, 64, 128),
        ("opt-6.7b", 32, 32, 128),
        ("gpt-j-6b", 28, 16, 256),
    ],
)
def test_decode_attention_reads_the_whole_cache_with_full_multi_head_kv(name, layers, heads, head_dim):
    graph = load_model_graph(name, phase="decode", context=CONTEXT)
    attention = _attention(graph)
    assert sum(op.count for op in attention) == layers
    dims = dict(attention[0].dims)
    assert (dims["H"], dims["Sq"], dims["Skv"], dims["D"]) == (heads, 1, CONTEXT, head_dim)
    # multi-head attention (no GQA): K and V caches of layers·2·heads·context·head_dim fp16 values
    assert graph_totals(graph)["kv_cache_bytes"] == layers * 2 * heads * CONTEXT * head_dim * 2


def test_opt_has_layernorm_relu_and_learned_positions():
    graph = load_model_graph("opt-6.7b", phase="decode", context=CONTEXT)
    atens = {op.aten for op in graph.ops}
    assert any("relu" in aten for aten in atens)
    assert any("layer_norm" in aten for aten in atens)
    assert not any("silu" in aten for aten in atens)
    # two embedding lookups per step (tokens and positions), tied LM head: 50272 logits per token
    assert sum(op.count for op in graph.ops if op.kind is OpKind.EMBEDDING) == 2
    lm_head = [op for op in graph.ops if op.kind is OpKind.GEMM and dict(op.dims).get("N") == 50272]
    assert len(lm_head) == 1


def test_gptj_runs_attention_and_mlp_side_by_side_on_one_layernorm_with_partial_rope():
    graph = load_model_graph("gpt-j-6b", phase="decode", context=CONTEXT)
    atens = {op.aten for op in graph.ops}
    assert any("gelu" in aten for aten in atens) and not any("silu" in aten for aten in atens)
    # one LayerNorm per block plus the final one (GPT-2 and OPT have two per block)
    assert sum(op.count for op in graph.ops if "layer_norm" in op.aten) == 28 + 1
    # tokens only: no position table (RoPE), and an untied LM head of 50400 logits
    assert sum(op.count for op in graph.ops if op.kind is OpKind.EMBEDDING) == 1
    lm_head = [op for op in graph.ops if op.kind is OpKind.GEMM and dict(op.dims).get("N") == 50400]
    assert len(lm_head) == 1
    # RoPE rotates 64 of each head's 256 dims: its multiplies run over [B, H, S, 64] = 1·16·1·64
    rotary = [op for op in graph.ops if op.aten == "aten.mul.Tensor" and op.dims[-1] == ("d3", 64)]
    assert rotary and all(op.operands[0].elements == 16 * 64 for op in rotary)
    assert not [op for op in graph.ops if op.aten == "aten.mul.Tensor" and op.dims[-1] == ("d3", 256)]
