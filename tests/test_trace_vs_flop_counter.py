"""FLOPs per module and in total equal `torch.utils.flop_counter.FlopCounterMode`'s on the same model.

torch's counter counts matmuls, convolutions and attention (GEMM, CONV, ATTENTION ops here) and
nothing else; it attributes each op to every enclosing module, named ``Root.path.to.module``.

One deliberate difference: for a causal attention op torch counts the full ``Sq × Skv`` square of
(query, key) pairs, the tracer only the lower triangle the mask keeps. For the square prefill
case, with S = Sq = Skv, the tracer counts ``2·B·H·(S·(S+1)/2)·(D + Dv)`` and torch
``2·B·H·S²·(D + Dv)``; the comparison puts torch's count back for those ops, after checking the
triangle.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from workloads import OpKind, trace
from workloads.summary import MATMUL_KINDS
from workloads.zoo import Task, encoder, get_model, gpt2, list_models, llama

DTYPE = torch.float16


def full_square_flops(op) -> int:
    """The FLOPs torch's counter gives an attention op: every (query, key) pair."""
    d = dict(op.dims)
    square = 2 * d["B"] * d["H"] * d["Sq"] * d["Skv"] * (d["D"] + d["Dv"])
    if dict(op.attrs).get("causal"):
        s = d["Sq"]
        assert d["Skv"] == s  # the zoo's causal ops are square prefills
        assert op.flops == 2 * d["B"] * d["H"] * (s * (s + 1) // 2) * (d["D"] + d["Dv"])
    return square


def per_module(graph, module: torch.nn.Module) -> dict[str, int]:
    """FLOPs per module, each op added to all its enclosing modules that run (a ModuleList is
    never called), in torch's naming."""
    totals: dict[str, int] = defaultdict(int)
    for op in graph.ops:
        if op.kind not in MATMUL_KINDS:
            continue
        flops = full_square_flops(op) if op.kind is OpKind.ATTENTION else op.flops
        parts = op.module.split(".") if op.module else []
        for depth in range(len(parts) + 1):
            path = ".".join(parts[:depth])
            if not isinstance(module.get_submodule(path), torch.nn.ModuleList):
                totals[".".join([type(module).__name__, *parts[:depth]])] += flops * op.count
    return dict(totals)


def compare(module: torch.nn.Module, inputs: tuple, kv_cache=()) -> int:
    graph = trace(module, inputs, kv_cache=kv_cache)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(*inputs)
    theirs = {
        name: sum(by_op.values()) for name, by_op in counter.get_flop_counts().items() if name != "Global"
    }
    ours = per_module(graph, module)
    assert ours == theirs
    assert sum(op.flops * op.count for op in graph.ops if op.kind in MATMUL_KINDS) > 0
    return counter.get_total_flops()


def causal_lm(module, *, batch: int, seq: int = 0, context: int = 0):
    """Inputs of a prefill (seq tokens) or a decode step (context positions) for an LLM."""
    with torch.device("meta"):
        module = module.to(DTYPE)
        if context:
            cache = module.allocate_kv_cache(batch, context, DTYPE)
            return module, (torch.zeros(batch, 1, dtype=torch.long), context - 1), cache
        cache = module.allocate_kv_cache(batch, seq, DTYPE)
        return module, (torch.zeros(batch, seq, dtype=torch.long), 0), cache


def tiny_llama(**fields):
    config = llama.LlamaConfig(
        source="test", vocab=96, dim=64, layers=2, heads=8, kv_heads=2, ffn=80, max_positions=64
    )
    fields = {name: value for name, value in fields.items()}
    with torch.device("meta"):
        return llama.Llama(llama.LlamaConfig(**{**config.__dict__, **fields}))


@pytest.mark.parametrize("phase", [dict(seq=16), dict(context=24)])
def test_llama_with_grouped_query_attention(phase):
    compare(*causal_lm(tiny_llama(), batch=2, **phase))


@pytest.mark.parametrize("phase", [dict(seq=16), dict(context=24)])
def test_mixtral_style_moe(phase):
    compare(*causal_lm(tiny_llama(experts=4, top_k=2), batch=3, **phase))


def test_gpt2_small_config_decode():
    config = gpt2.GPT2Config(source="test", vocab=100, dim=48, layers=2, heads=4, max_positions=64)
    with torch.device("meta"):
        module = gpt2.GPT2(config)
    compare(*causal_lm(module, batch=2, context=20))


def test_bert_and_vit_small_configs():
    bert = encoder.EncoderConfig(
        source="test", dim=32, layers=2, heads=4, ffn=64, vocab=50, max_positions=40, type_vocab=2
    )
    vit = encoder.EncoderConfig(
        source="test",
        dim=32,
        layers=2,
        heads=4,
        ffn=64,
        image_size=32,
        patch_size=8,
        channels=3,
        classes=10,
    )
    with torch.device("meta"):
        compare(encoder.Bert(bert).to(DTYPE), (torch.zeros(2, 12, dtype=torch.long),))
        compare(encoder.ViT(vit).to(DTYPE), (torch.empty(2, 3, 32, 32, dtype=DTYPE),))


def test_gpt2_small_in_full_at_prefill():
    # The real zoo config (124M params), 128-token prefill: about 2·params·tokens FLOPs plus
    # attention; torch's counter and the tracer agree module by module.
    with torch.device("meta"):
        module = get_model("gpt2-small").build()
    total = compare(*causal_lm(module, batch=1, seq=128))
    assert total > 2 * 85_000_000 * 128  # the non-embedding parameters alone


def test_llama_2_7b_in_full_at_decode():
    with torch.device("meta"):
        module = get_model("llama-2-7b").build()
    compare(*causal_lm(module, batch=2, context=256))


def test_resnet_50_in_full():
    # ResNet-50 at 224×224: about 4.1 GMACs per image (He et al. 2016, Table 1: 3.8·10⁹ FLOPs
    # counting multiply-adds once, without the projection shortcuts' 0.3 G).
    with torch.device("meta"):
        module = get_model("resnet-50").build().to(DTYPE).eval()
        images = torch.empty(1, 3, 224, 224, dtype=DTYPE)
    total = compare(module, (images,))
    assert 4.0e9 < total / 2 < 4.2e9


def zoo_inputs(name: str):
    """A small step of each zoo model at its real size: a 32-token context decode for LLMs, 16
    tokens for encoders, one 224x224 image for vision models."""
    entry = get_model(name)
    with torch.device("meta"):
        module = entry.build().to(DTYPE)
    if entry.task is Task.CAUSAL_LM:
        return causal_lm(module, batch=1, context=32)
    if entry.task is Task.ENCODER:
        return module, (torch.zeros(1, 16, dtype=torch.long, device="meta"),)
    return module.eval(), (torch.empty(1, 3, 224, 224, dtype=DTYPE, device="meta"),)


@pytest.mark.parametrize("name", list_models())
def test_every_zoo_model_in_full(name):
    # every zoo model at its published size: FLOPs per module equal torch's FlopCounterMode's
    compare(*zoo_inputs(name))
