"""Several new tokens after a cached context, attending over both: a chunked prefill, or a decode
step of a speculative decoder's drafts.

LLaMA-2-7B (32 heads of 128, no GQA), a chunk of 512 tokens after 3584 cached ones (`--seq 512
--context 4096`): every layer writes the chunk's K/V at positions 3584..4095 and attends over all
4096 under a bottom-right causal mask, query i seeing keys j <= i + 3584:
``512·3584 + 512·513/2 = 1,966,336`` (query, key) pairs a head, ``4·32·pairs·128`` FLOPs a layer.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention.bias import causal_lower_right, causal_upper_left

from hwmodels import load_hardware
from sim.cli import main
from sim.simulate import simulate, summarize
from workloads import OpKind, Role, load_model_graph
from workloads.kernel_ops import BOTTOM_RIGHT, causal_offset, causal_pairs
from workloads.tracer import trace


def attention_ops(graph):
    return [op for op in graph.ops if op.kind is OpKind.ATTENTION]


def test_a_chunk_attends_over_its_cache_under_a_bottom_right_mask():
    chunk = load_model_graph("llama-2-7b", phase="prefill", seq=512, context=4096)
    assert (chunk.seq_len, chunk.context_len) == (512, 4096)
    layers = attention_ops(chunk)
    assert len(layers) == 32
    op = layers[0]
    assert dict(op.dims) == {"B": 1, "H": 32, "Hkv": 32, "Sq": 512, "Skv": 4096, "D": 128, "Dv": 128}
    assert dict(op.attrs) == {"causal": 1, "causal_align": BOTTOM_RIGHT}
    assert causal_offset(op) == 3584
    pairs = 512 * 3584 + 512 * 513 // 2
    assert causal_pairs(512, 4096, bottom_right=True) == pairs == 1_966_336
    assert op.flops == 4 * 32 * pairs * 128
    # Q and O are the chunk's 512 rows; K and V are read from the cache, all 4096 positions
    elements = {operand.name: (operand.role, operand.elements) for operand in op.operands}
    assert elements["Q"] == (Role.INPUT, 32 * 512 * 128)
    assert elements["K"] == elements["V"] == (Role.KV_CACHE, 32 * 4096 * 128)
    # the GEMMs see only the chunk's tokens: the same as a 512-token prefill from the start
    plain = load_model_graph("llama-2-7b", phase="prefill", seq=512)
    gemm_flops = [sum(op.flops * op.count for op in g.ops if op.kind is OpKind.GEMM) for g in (chunk, plain)]
    assert gemm_flops[0] == gemm_flops[1]
    # a context equal to the chunk is a prefill from the start: torch's square causal mask
    square = attention_ops(load_model_graph("llama-2-7b", phase="prefill", seq=512, context=512))[0]
    assert dict(square.attrs) == {"causal": 1} and square.flops == attention_ops(plain)[0].flops


def test_a_chunk_after_a_longer_cache_is_never_faster():
    h100 = load_hardware("h100_sxm")
    times = [
        float(summarize(simulate(load_model_graph("llama-2-7b", phase="prefill", seq=512, context=c), h100),
                        h100)["latency_s"])
        for c in (512, 1024, 2048, 4096)
    ]
    assert times == sorted(times) and times[-1] > times[0]


class _Chunk(nn.Module):
    """Attention of 4 queries over 16 keys under one of torch's causal biases."""

    def __init__(self, bias):
        super().__init__()
        self.bias = bias

    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=self.bias(4, 16))


@pytest.mark.parametrize(
    ("bias", "align", "pairs"),
    [
        # lower right: query i sees keys j <= i + 12: 13 + 14 + 15 + 16 = 58 pairs a head
        (causal_lower_right, BOTTOM_RIGHT, 58),
        # upper left (torch's is_causal): j <= i, 1 + 2 + 3 + 4 = 10 pairs
        (causal_upper_left, None, 10),
    ],
)
def test_the_tracer_reads_torchs_causal_biases_as_masks_not_tensors(bias, align, pairs):
    q, kv = torch.empty(2, 8, 4, 64), torch.empty(2, 8, 16, 64)
    (op,) = attention_ops(trace(_Chunk(bias), (q, kv, kv)))
    attrs = dict(op.attrs)
    assert attrs["causal"] == 1 and attrs.get("causal_align") == align
    assert op.flops == 4 * 2 * 8 * pairs * 64
    # a bias is no data the kernel reads: no mask operand
    assert [operand.name for operand in op.operands] == ["Q", "K", "V", "O"]


def test_the_cli_says_a_chunk_is_one(capsys):
    argv = ["simulate", "--hw", "h100_sxm", "--model", "llama-2-7b", "--seq", "512", "--context", "4096"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "per prefill chunk of 512 tokens after 3584 cached" in out


def test_a_decode_step_of_several_tokens_splits_the_cache_as_one_token_does():
    # a speculative decoder's step: 4 new tokens of LLaMA-3-8B (32 query / 8 K/V heads) after 4092
    # cached, attending over 4096 under a bottom-right mask; its few query rows (a GQA group's 4 x 4
    # = 16) decode on FlashAttention's split-KV kernel, as one token's 4 rows do, and the step costs
    # little more than one token's (the weights, read once, dominate both)
    from mappers.gpu_attention import Partition, attention_problem, candidate_plans

    h100 = load_hardware("h100_sxm")
    step = load_model_graph("llama-3-8b", phase="decode", seq=4, context=4096)
    assert (step.seq_len, step.context_len) == (4, 4096)
    op = attention_ops(step)[0]
    assert dict(op.dims)["Sq"] == 4 and dict(op.dims)["Skv"] == 4096 and causal_offset(op) == 4092
    problem = attention_problem(op)
    assert any(plan.partition is Partition.SPLIT_KV for plan in candidate_plans(problem, h100))
    one = load_model_graph("llama-3-8b", phase="decode", context=4096)
    times = [float(summarize(simulate(g, h100), h100)["latency_s"]) for g in (one, step)]
    assert times[0] < times[1] < 1.1 * times[0]
    # a causal prefill of as few tokens from the start (top-left) is no decode: no split of the keys
    square = attention_problem(attention_ops(load_model_graph("llama-3-8b", phase="prefill", seq=4))[0])
    assert {plan.partition for plan in candidate_plans(square, h100)} == {Partition.FA2}


def test_the_cli_says_a_decode_step_of_several_tokens_is_one(capsys):
    argv = ["simulate", "--hw", "h100_sxm", "--model", "llama-3-8b", "--phase", "decode", "--seq", "4",
            "--context", "4096"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "per decode step of 4 new tokens" in out and "every new token counted" in out


def test_a_bias_made_before_the_trace_is_read_as_its_mask():
    # a factory may hand the tracer a bias built outside it, as an example input
    class Given(nn.Module):
        def forward(self, q, k, v, mask):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    q, kv = torch.empty(1, 2, 4, 32), torch.empty(1, 2, 16, 32)
    (op,) = attention_ops(trace(Given(), (q, kv, kv, causal_lower_right(4, 16))))
    assert dict(op.attrs) == {"causal": 1, "causal_align": BOTTOM_RIGHT} and op.flops == 4 * 2 * 58 * 32


def test_steps_that_cannot_be_are_refused_with_the_reason():
    from workloads.errors import WorkloadError

    # more queries than keys under a bottom-right mask (the first rows would see no key): the op is
    # kept unmodeled, flagged with the reason, as every op a formula does not cover
    q, kv = torch.empty(1, 2, 16, 32), torch.empty(1, 2, 4, 32)
    with pytest.warns(UserWarning):
        graph = trace(_Chunk16(), (q, kv, kv))
    (op,) = [op for op in graph.ops if op.unmodeled]
    assert "bottom-right causal mask of 16 queries > 4 keys" in dict(op.attrs)["reason"]
    # a decode step of several tokens follows a cache; from the start it is a prefill
    with pytest.raises(WorkloadError, match="a decode step's tokens follow a cache"):
        load_model_graph("llama-2-7b", phase="decode", seq=8, context=8)


class _Chunk16(nn.Module):
    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=causal_lower_right(16, 4))


def test_a_decode_step_counts_every_new_token_and_one_token_kernels_run_their_prefill():
    # tokens per run: batch x new tokens (the sweep's tokens/s and J/token read it)
    from mappers.gpu_attention import Partition, attention_problem, candidate_plans
    from sim.cost import tokens_per_run

    step = load_model_graph("llama-3-8b", phase="decode", seq=4, context=4096, batch=2)
    assert tokens_per_run(step) == 8
    # TensorRT-LLM's masked MHA and FlashInfer's CUDA-core decode take one token a sequence: four
    # run their prefill's kernel (no split of the keys); FlashAttention-3 decodes them
    h100 = load_hardware("h100_sxm")
    op = attention_ops(step)[0]

    def partitions(kernel: str) -> set:
        named = dataclasses.replace(op, attrs=(*op.attrs, ("kernel", kernel)))
        return {plan.partition for plan in candidate_plans(attention_problem(named), h100)}

    assert partitions("trtllm_mmha") == partitions("flashinfer_batch_decode") == {Partition.FA2}
    assert Partition.SPLIT_KV in partitions("flash_attention_3")


def test_a_system_prefill_takes_its_chunk_context(capsys):
    argv = ["simulate", "--system", "system_8xh100_nvlink", "--set", "gpus.count=2", "--model", "llama-2-7b",
            "--phase", "prefill", "--seq", "512"]
    assert main(argv) == 0
    whole = capsys.readouterr().out
    assert main([*argv, "--context", "4096"]) == 0
    chunk = capsys.readouterr().out
    assert "context 4096" in chunk and chunk != whole
