"""The tracer's formulas, op by op, with the arithmetic written out; then the tracer's behaviour."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from workloads import OpKind, Role, UnmodeledOpWarning, trace
from workloads.dtypes import DType
from workloads.errors import WorkloadError
from workloads.registry import register

META = torch.device("meta")


class Call(nn.Module):
    """A module whose forward is one function call, so each test traces exactly what it states."""

    def __init__(self, fn, **parameters):
        super().__init__()
        self.fn = fn
        for name, shape in parameters.items():
            self.register_parameter(name, nn.Parameter(torch.empty(shape, device=META)))

    def forward(self, *args):
        return self.fn(self, *args)


def meta(*shape, dtype=torch.float16):
    return torch.empty(shape, device=META, dtype=dtype)


def only_op(module, *inputs):
    ops = trace(module, inputs).ops
    assert len(ops) == 1, [op.aten for op in ops]
    return ops[0]


def test_linear_folds_leading_dims_into_m():
    # x [2, 3, 64] @ W[32, 64]ᵀ: M = 2·3 = 6, N = 32, K = 64; FLOPs = 2·6·32·64 = 24,576
    op = only_op(Call(lambda m, x: F.linear(x, m.w), w=(32, 64)), meta(2, 3, 64, dtype=torch.float32))
    assert op.kind is OpKind.GEMM and op.aten == "aten.linear.default"
    assert op.dims == (("M", 6), ("N", 32), ("K", 64))
    assert op.flops == 24_576
    assert op.operand(Role.WEIGHT).elements == 32 * 64
    assert dict(op.attrs)["weight_is_param"] == 1


def test_addmm_bias_is_an_operand_but_not_flops():
    # bias + a[8, 16] @ b[16, 4]: 2·8·4·16 = 1,024 FLOPs, as torch's flop counter (no bias adds)
    op = only_op(Call(lambda m, a: torch.addmm(m.bias, a, m.b), bias=(4,), b=(16, 4)), meta(8, 16))
    assert op.flops == 1_024
    assert op.operand(Role.BIAS).elements == 4 and op.operand(Role.BIAS).dims == ("N",)


def test_bmm_of_two_activations_has_a_batch_dim_and_is_not_a_parameter():
    # [12, 5, 64] @ [12, 64, 7]: B = 12 GEMMs of M=5, N=7, K=64 → 2·12·5·7·64 = 53,760 FLOPs
    op = only_op(Call(lambda m, a, b: torch.bmm(a, b)), meta(12, 5, 64), meta(12, 64, 7))
    assert op.dims == (("B", 12), ("M", 5), ("N", 7), ("K", 64))
    assert op.flops == 53_760
    assert op.operand(Role.WEIGHT).dims == ("B", "K", "N")
    assert op.operand(Role.WEIGHT).elements == 12 * 64 * 7
    assert dict(op.attrs)["weight_is_param"] == 0


def test_convolution_lowers_to_gemm_with_torch_output_size():
    # ResNet's stem: 3→64 channels, 7×7, stride 2, pad 3 on 224×224. Output floor((224+6-7)/2)+1
    # = 112 per axis: M = 112·112 = 12,544, N = 64, K = 7·7·3 = 147; FLOPs = 2·M·N·K = 236,027,904
    conv = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False, device=META)
    op = only_op(conv, meta(1, 3, 224, 224))
    assert op.kind is OpKind.CONV
    assert op.dims == (("M", 12_544), ("N", 64), ("K", 147))
    assert op.flops == 236_027_904
    assert op.operand(Role.INPUT).elements == 3 * 224 * 224  # the ifmap once, not per window


def test_causal_attention_counts_the_lower_triangle():
    # q, k, v [B=2, H=4, S=10, D=16]; causal keeps S·(S+1)/2 = 55 of the 100 (query, key) pairs:
    # FLOPs = 2·B·H·pairs·(D + Dv) = 2·2·4·55·32 = 28,160 (the full square would be 51,200)
    q = meta(2, 4, 10, 16)
    op = only_op(Call(lambda m, q: F.scaled_dot_product_attention(q, q, q, is_causal=True)), q)
    assert op.kind is OpKind.ATTENTION
    assert op.flops == 28_160
    assert dict(op.attrs)["causal"] == 1
    full = only_op(Call(lambda m, q: F.scaled_dot_product_attention(q, q, q)), q)
    assert full.flops == 51_200 and dict(full.attrs)["causal"] == 0


def test_grouped_query_attention_reads_only_the_kv_heads():
    # 8 query heads share 2 K/V heads: K holds B·Hkv·Skv·D = 1·2·32·64 = 4,096 elements;
    # FLOPs use the query heads: 2·1·8·(3·32)·(64 + 64) = 196,608
    def attend(m, q, k):
        return F.scaled_dot_product_attention(q, k, k, enable_gqa=True)

    op = only_op(Call(attend), meta(1, 8, 3, 64), meta(1, 2, 32, 64))
    assert dict(op.dims) == {"B": 1, "H": 8, "Hkv": 2, "Sq": 3, "Skv": 32, "D": 64, "Dv": 64}
    assert op.operand(Role.INPUT).name == "Q"
    assert [o.elements for o in op.operands if o.name in ("K", "V")] == [4_096, 4_096]
    assert op.flops == 196_608


@pytest.mark.parametrize(
    "kernel",
    [
        torch.ops.aten._scaled_dot_product_flash_attention,
        torch.ops.aten._scaled_dot_product_efficient_attention,
    ],
)
def test_fused_attention_kernels_are_attention_ops(kernel):
    # [1, 2, 6, 8] causal: pairs 6·7/2 = 21; FLOPs = 2·1·2·21·(8 + 8) = 1,344
    q = meta(1, 2, 6, 8)
    args = (q, q, q, None, False, 0.0, True) if "efficient" in str(kernel) else (q, q, q, 0.0, True)
    op = only_op(Call(lambda m, q: kernel(*args)[0]), q)
    assert op.kind is OpKind.ATTENTION and op.flops == 1_344


def test_kv_cache_reads_and_writes_have_their_roles():
    # A decode step: write one position of a [1, 2, 9, 4] cache, attend over all 9 positions.
    cache = meta(1, 2, 9, 4)

    def step(m, q, k):
        cache[:, :, 8:9].copy_(k)
        return F.scaled_dot_product_attention(q, cache, cache)

    ops = trace(Call(step), (meta(1, 2, 1, 4), meta(1, 2, 1, 4)), kv_cache=[cache]).ops
    write, attention = ops
    assert write.operand(Role.KV_CACHE_WRITE).elements == 1 * 2 * 1 * 4
    assert [o.role for o in attention.operands if o.name in ("K", "V")] == [Role.KV_CACHE] * 2
    assert attention.dim("Skv") == 9


def test_embedding_reads_only_the_rows_looked_up():
    # 5 token ids into a [1000, 16] table: 5 rows · 16 = 80 elements read, not 16,000
    table = nn.Embedding(1000, 16, device=META)
    op = only_op(table, torch.zeros(5, dtype=torch.long, device=META))
    assert op.kind is OpKind.EMBEDDING
    assert op.operand(Role.WEIGHT).elements == 80
    assert op.operand(Role.INPUT).dtype is DType.INT64


def test_rows_ops_count_their_defining_arithmetic():
    # softmax over [4, 10]: 5 FLOPs per element (max, sub, exp, sum, div) → 200
    assert only_op(Call(lambda m, x: x.softmax(-1)), meta(4, 10)).flops == 200
    # layer norm over [4, 10]: 7 per element → 280; its weight and bias are 10 elements each
    op = only_op(nn.LayerNorm(10, device=META, dtype=torch.float16), meta(4, 10))
    assert op.kind is OpKind.NORM and op.flops == 280
    assert op.operand(Role.BIAS).elements == 10
    # RMS norm, caught whole (it would otherwise decompose): 4 per element → 160
    op = only_op(nn.RMSNorm(10, device=META, dtype=torch.float16), meta(4, 10))
    assert op.aten == "aten.rms_norm.default" and op.flops == 160


def test_elementwise_broadcast_operand_stores_its_own_elements():
    # [3, 4] + [4]: 12 adds; the broadcast operand holds 4 elements indexed by the last dim only
    op = only_op(Call(lambda m, x: x + m.b, b=(4,)), meta(3, 4))
    assert op.flops == 12
    assert op.operands[1].elements == 4 and op.operands[1].dims == ("d1",)


def test_metadata_ops_are_skipped_and_copies_kept():
    ops = trace(Call(lambda m, x: x.transpose(0, 1).reshape(-1).view(4, 6)), (meta(6, 4),)).ops
    assert [op.aten for op in ops] == ["aten.clone.default"]  # the reshape of a transpose copies
    assert ops[0].kind is OpKind.COPY and ops[0].flops == 0


def test_module_paths_attribute_each_op():
    model = nn.Sequential(nn.Linear(8, 8), nn.Sequential(nn.ReLU(), nn.Linear(8, 2))).to(META)
    ops = trace(model, (meta(1, 8, dtype=torch.float32),)).ops
    assert [(op.module, op.kind) for op in ops] == [
        ("0", OpKind.GEMM),
        ("1.0", OpKind.ELEMENTWISE),
        ("1.1", OpKind.GEMM),
    ]


def test_unknown_ops_are_decomposed_where_torch_can():
    # cumsum has a decomposition in torch._decomp; the tracer records what it is made of instead
    ops = trace(Call(lambda m, x: torch.cumsum(x, 0)), (meta(4, 4),)).ops
    assert ops and not any(op.unmodeled for op in ops)


def test_ops_without_formula_are_flagged_not_zeroed_silently():
    # sort has neither a formula nor a decomposition: kept, flagged, named in a warning
    with pytest.warns(UnmodeledOpWarning, match=r"aten\.sort\.default"):
        graph = trace(Call(lambda m, x: torch.sort(x)[0] * 2), (meta(4, 4),))
    sort, mul = graph.ops
    assert sort.unmodeled and sort.kind is OpKind.OTHER
    assert sort.operand(Role.INPUT).elements == 16  # its tensors are still operands
    assert graph.unmodeled == (sort,) and not mul.unmodeled


def test_a_model_that_cannot_run_on_meta_tensors_names_the_op():
    with pytest.raises(WorkloadError, match=r"aten op aten\._local_scalar_dense.*meta tensors"):
        trace(Call(lambda m, x: x * x.sum().item()), (meta(3),))


def test_registry_refuses_a_second_formula_for_an_op():
    with pytest.raises(RuntimeError, match="duplicate registrations"):
        register(torch.ops.aten.mm)(lambda *args, **kwargs: None)


def test_the_users_module_is_not_moved_to_meta():
    model = nn.Linear(4, 2)  # real CPU weights
    graph = trace(model, (torch.zeros(3, 4),))
    assert model.weight.device.type == "cpu"
    assert graph.params == 4 * 2 + 2 and graph.ops[0].dims == (("M", 3), ("N", 2), ("K", 4))
