"""Elementwise ops, activations and softmax.

FLOPs of these ops count one per arithmetic operation in the op's defining formula, per element; a
transcendental (exp, erf, tanh, rsqrt) counts as one, as a GPU's special-function unit issues it as
one instruction. ``torch.utils.flop_counter`` counts none of these ops (it counts matmuls only), so
comparisons with it use the GEMM, convolution and attention ops alone.
"""

from __future__ import annotations

import torch

from workloads.op import Op, OpKind, Role
from workloads.registry import (
    TensorMeta,
    broadcast_dims,
    first_output,
    operand,
    register,
    role_of,
    shape_dims,
    tensors,
)

aten = torch.ops.aten
prims = torch.ops.prims  # torch._decomp's decompositions call a few prims

#: FLOPs per output element of each elementwise op, from its defining formula.
POINTWISE_FLOPS: dict[torch._ops.OpOverloadPacket, int] = {
    **dict.fromkeys((aten.add, aten.add_, aten.sub, aten.sub_, aten.rsub), 1),  # a ± b
    **dict.fromkeys((aten.mul, aten.mul_, aten.div, aten.div_), 1),  # a · b, a / b
    **dict.fromkeys((aten.neg, aten.abs, aten.maximum, aten.minimum), 1),  # -a, |a|, max(a, b)
    **dict.fromkeys((aten.clamp, aten.clamp_min, aten.relu, aten.relu_), 1),  # max(a, 0)
    **dict.fromkeys((aten.exp, aten.log, aten.sqrt, aten.rsqrt, aten.reciprocal), 1),
    **dict.fromkeys((aten.tanh, aten.erf, aten.sin, aten.cos, aten.pow), 1),  # one SFU op
    **dict.fromkeys((aten.where, aten.masked_fill, aten.masked_fill_), 1),  # a select
    **dict.fromkeys((aten.tril, aten.triu, aten.eq, aten.ne, aten.lt, aten.gt, aten.le), 1),
    **dict.fromkeys((aten.ge, prims.lt, prims.le, prims.gt, prims.ge, prims.eq), 1),  # compare
    **dict.fromkeys((aten.fmod, aten.remainder, prims.fmod), 1),  # one divide-and-truncate
    **dict.fromkeys((aten.expm1, aten.log1p, prims.expm1, prims.log1p), 1),  # one SFU op
    aten.sigmoid: 4,  # 1 / (1 + exp(-x)): neg, exp, add, div
    aten.silu: 5,  # x · sigmoid(x)
    aten.hardtanh: 2,  # min(max(x, lo), hi)
}

#: GELU's FLOPs per element: erf form ``0.5·x·(1 + erf(x/√2))`` (div, erf, add, mul, mul) and tanh
#: form ``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`` (x³: 2 mul; mul, add, mul, tanh, add, mul, mul).
GELU_FLOPS = {"none": 5, "tanh": 9}

#: softmax per element: max (compare), x − max, exp, sum (add), divide.
SOFTMAX_FLOPS = 5
#: log-softmax per element: max, x − max, exp, sum, x − max − log(sum) (the log is per row).
LOG_SOFTMAX_FLOPS = 5


def _elementwise(flops_per_element: int, args: tuple, out: TensorMeta) -> Op:
    out_shape = out.shape
    inputs = [
        operand(f"in{index}", role_of(meta, Role.INPUT), meta, broadcast_dims(meta, out_shape))
        for index, meta in enumerate(tensors(args))
    ]
    return Op(
        name="elementwise",
        kind=OpKind.ELEMENTWISE,
        dims=shape_dims(out_shape),
        operands=(*inputs, operand("out", Role.OUTPUT, out, broadcast_dims(out, out_shape))),
        flops=flops_per_element * out.numel,
    )


def _pointwise_formula(flops_per_element: int):
    def pointwise(*args, out: TensorMeta, **kwargs) -> Op:
        return _elementwise(flops_per_element, args + tuple(kwargs.values()), first_output(out))

    return pointwise


for _packet, _flops in POINTWISE_FLOPS.items():
    register(_packet)(_pointwise_formula(_flops))


@register(aten.gelu, aten.gelu_)
def gelu(x: TensorMeta, *, out: TensorMeta, approximate: str = "none") -> Op:
    return _elementwise(GELU_FLOPS[approximate], (x,), out)  # out: x's shape


def _rows(x: TensorMeta, axis: int, kind: OpKind, flops_per_element: int, out: TensorMeta) -> Op:
    """An op over rows of length ``C = x.shape[axis]``: dims ``R`` rows × ``C``."""
    c = x.shape[axis]
    r = x.numel // c
    return Op(
        name=kind.value,
        kind=kind,
        dims=(("R", r), ("C", c)),
        operands=(
            operand("x", Role.INPUT, x, ("R", "C")),
            operand("out", Role.OUTPUT, out, ("R", "C")),
        ),
        flops=flops_per_element * x.numel,
    )


@register(aten._softmax, aten._safe_softmax)
def softmax(x: TensorMeta, dim: int, *args, out: TensorMeta, **kwargs) -> Op:
    return _rows(x, dim, OpKind.SOFTMAX, SOFTMAX_FLOPS, out)  # x, out: [..., C at dim, ...]


@register(aten._log_softmax)
def log_softmax(x: TensorMeta, dim: int, *args, out: TensorMeta, **kwargs) -> Op:
    return _rows(x, dim, OpKind.SOFTMAX, LOG_SOFTMAX_FLOPS, out)
