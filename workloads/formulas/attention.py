"""Scaled-dot-product attention — the composite op and its math, flash, efficient and cuDNN kernels.

One ATTENTION op per call, loop dims ``B, H, Hkv, Sq, Skv, D, Dv``::

    S[b][h][i][j]  = sum_d Q[b][h][i][d] · K[b][h // (H/Hkv)][j][d]     (scores)
    O[b][h][i][e] += softmax_j(S)[b][h][i][j] · V[b][h // (H/Hkv)][j][e]

FLOPs are those of the two matmuls, as ``torch.utils.flop_counter.sdpa_flop_count`` counts them
(softmax's exponentials are not counted, there as here), with one difference: a causal mask is
counted right. torch's counter always counts the full ``Sq × Skv`` square; here a causal op counts
only the (query, key) pairs the mask keeps, with torch's top-left alignment (``is_causal`` keeps key
j for query i iff j ≤ i, the ``tril`` of the ``Sq × Skv`` ones matrix). For a square causal prefill
that is ``S·(S+1)/2`` of the ``S²`` pairs. Ops counted so carry the attr ``causal = 1``. A mask
given as torch's own causal bias (``torch.nn.attention.bias.causal_upper_left`` /
``causal_lower_right``) is that mask, no tensor: the lower-right one is the bottom-right alignment of
a chunk of queries after its cache (key j for query i iff ``j ≤ i + Skv − Sq``), recorded with the
attr ``causal_align`` (`workloads.kernel_ops.causal_pairs`, `causal_offset`). Any other explicit
``attn_mask`` tensor has unknown values on meta tensors, so the full square is counted.

K and V read from the KV cache (the tracer knows the cache's storage) get the role KV_CACHE.
"""

from __future__ import annotations

import math

import torch
from torch.nn.attention.bias import CausalBias, CausalVariant

from workloads.errors import WorkloadError
from workloads.kernel_ops import bottom_right_refusal, causal_attrs, causal_pairs
from workloads.op import Op, OpKind, Role
from workloads.registry import TensorMeta, first_output, operand, register, role_of

aten = torch.ops.aten


def _batch_heads(shape: tuple[int, ...]) -> tuple[int, int]:
    """(batch, heads) of a ``[..., H, S, D]`` tensor; a 3-D ``[B, S, D]`` tensor has one head."""
    lead = shape[:-2]
    if len(lead) == 1:
        return lead[0], 1
    return math.prod(lead[:-1]), lead[-1]


def attention_op(
    q: TensorMeta,
    k: TensorMeta,
    v: TensorMeta,
    out: TensorMeta,
    *,
    is_causal: bool = False,
    mask: TensorMeta | CausalBias | None = None,
) -> Op | None:
    """The ATTENTION op of ``softmax(Q·Kᵀ·scale [+ mask]) · V``; None for shapes it cannot name. A
    `mask` that is torch's causal bias is the causal mask it names (module docstring); a
    bottom-right one over more queries than keys (whose first rows see no key) is refused, which
    leaves the op unmodeled, flagged with the reason."""
    if q.ndim < 3 or k.ndim != q.ndim or v.ndim != q.ndim:
        return None
    bottom_right = False
    if isinstance(mask, CausalBias):
        is_causal, bottom_right = True, mask.variant == CausalVariant.LOWER_RIGHT
        mask = None
    b, h = _batch_heads(q.shape)  # q: [B, H, Sq, D]
    _, hkv = _batch_heads(k.shape)  # k: [B, Hkv, Skv, D]
    sq, d = q.shape[-2:]
    skv, dv = v.shape[-2:]  # v: [B, Hkv, Skv, Dv]
    if bottom_right and (refusal := bottom_right_refusal(sq, skv)):
        raise WorkloadError(f"torch's causal_lower_right: {refusal}")
    pairs = causal_pairs(sq, skv, bottom_right=bottom_right) if is_causal else sq * skv
    flops = 2 * b * h * pairs * d + 2 * b * h * pairs * dv  # Q·Kᵀ, then P·V
    operands = [
        operand("Q", Role.INPUT, q, ("B", "H", "Sq", "D")),
        operand("K", role_of(k, Role.INPUT), k, ("B", "Hkv", "Skv", "D")),
        operand("V", role_of(v, Role.INPUT), v, ("B", "Hkv", "Skv", "Dv")),
    ]
    if mask is not None:
        operands.append(operand("mask", Role.INPUT, mask, ("B", "H", "Sq", "Skv")[-mask.ndim :]))
    operands.append(operand("O", Role.OUTPUT, out, ("B", "H", "Sq", "Dv")))
    return Op(
        name="attention",
        kind=OpKind.ATTENTION,
        dims=(("B", b), ("H", h), ("Hkv", hkv), ("Sq", sq), ("Skv", skv), ("D", d), ("Dv", dv)),
        operands=tuple(operands),
        flops=flops,
        attrs=causal_attrs(is_causal, bottom_right=bottom_right),
    )


@register(aten.scaled_dot_product_attention)
def sdpa(
    q: TensorMeta,
    k: TensorMeta,
    v: TensorMeta,
    attn_mask: TensorMeta | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    *args,
    out: TensorMeta,
    **kwargs,
) -> Op | None:
    """``F.scaled_dot_product_attention`` as called (caught before it decomposes to the math path)."""
    mask = kwargs.get("attn_mask", attn_mask)
    causal = bool(kwargs.get("is_causal", is_causal))
    return attention_op(q, k, v, out, is_causal=causal, mask=mask)


@register(aten._scaled_dot_product_flash_attention)
def sdpa_flash(
    q: TensorMeta,
    k: TensorMeta,
    v: TensorMeta,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    *args,
    out: tuple,
    **kwargs,
) -> Op | None:
    return attention_op(q, k, v, first_output(out), is_causal=is_causal)


@register(aten._scaled_dot_product_flash_attention_for_cpu)
def sdpa_flash_cpu(
    q: TensorMeta,
    k: TensorMeta,
    v: TensorMeta,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    *,
    out: tuple,
    attn_mask: TensorMeta | None = None,
    **kwargs,
) -> Op | None:
    return attention_op(q, k, v, first_output(out), is_causal=is_causal, mask=attn_mask)


@register(aten._scaled_dot_product_efficient_attention, aten._scaled_dot_product_cudnn_attention)
def sdpa_efficient(
    q: TensorMeta,
    k: TensorMeta,
    v: TensorMeta,
    attn_bias: TensorMeta | None,
    compute_log_sumexp: bool,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    *args,
    out: tuple,
    **kwargs,
) -> Op | None:
    return attention_op(q, k, v, first_output(out), is_causal=is_causal, mask=attn_bias)
