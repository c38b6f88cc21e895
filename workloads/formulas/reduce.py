"""Norms, reductions, pooling and top-k: ops that combine many input elements into each output.

FLOPs count one per arithmetic operation of the op's definition, per element, as in
`workloads.formulas.pointwise`; torch's flop counter counts none of these.
"""

from __future__ import annotations

import math

import torch

from workloads.op import Op, OpKind, Role
from workloads.registry import TensorMeta, first_output, operand, register, shape_dims

aten = torch.ops.aten

#: layer norm per element: mean (add), x − mean, square, sum (add), ·rstd, ·weight, +bias.
LAYER_NORM_FLOPS = 7
#: RMS norm per element: square, sum (add), ·rstd, ·weight.
RMS_NORM_FLOPS = 4
#: batch norm (inference, running statistics) per element: x − mean, ·rstd, ·weight, +bias.
BATCH_NORM_FLOPS = 4
#: a reduction (sum, mean, max, …) per input element: one add or compare.
REDUCE_FLOPS = 1


def _norm(
    x: TensorMeta,
    out: TensorMeta,
    dims: tuple[tuple[str, int], ...],
    params: dict[str, TensorMeta | None],
    flops_per_element: int,
) -> Op:
    """A NORM op over `dims`; its per-channel parameters (weight, bias, statistics) index ``C``."""
    x_dims = tuple(name for name, _ in dims)
    per_channel = [
        operand(name, Role.BIAS if name == "bias" else Role.WEIGHT, meta, ("C",))
        for name, meta in params.items()
        if meta is not None
    ]
    return Op(
        name="norm",
        kind=OpKind.NORM,
        dims=dims,
        operands=(
            operand("x", Role.INPUT, x, x_dims),
            *per_channel,
            operand("out", Role.OUTPUT, out, x_dims),
        ),
        flops=flops_per_element * x.numel,
    )


@register(aten.native_layer_norm)
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5, *, out) -> Op:
    """Returns (out, mean, rstd); the per-row statistics are not counted (inference drops them)."""
    c = math.prod(normalized_shape)  # x: [..., *normalized_shape] → R rows of C
    dims = (("R", x.numel // c), ("C", c))
    return _norm(x, first_output(out), dims, {"weight": weight, "bias": bias}, LAYER_NORM_FLOPS)


@register(aten.rms_norm)
def rms_norm(x, normalized_shape, weight=None, eps=None, *, out) -> Op:
    c = math.prod(normalized_shape)  # x: [..., *normalized_shape] → R rows of C
    return _norm(x, out, (("R", x.numel // c), ("C", c)), {"weight": weight}, RMS_NORM_FLOPS)


@register(aten._native_batch_norm_legit_no_training)
def batch_norm(x, weight, bias, running_mean, running_var, momentum, eps, *, out) -> Op:
    n, c = x.shape[:2]  # x: [N, C, *spatial]
    dims = (("N", n), ("C", c), ("HW", x.numel // (n * c)))
    params = {"weight": weight, "bias": bias, "running_mean": running_mean, "running_var": running_var}
    return _norm(x, first_output(out), dims, params, BATCH_NORM_FLOPS)


def _reduction(x: TensorMeta, out: TensorMeta, flops: int, name: str = "reduce") -> Op:
    dims = shape_dims(x.shape)  # the nest runs over the input; the output drops the reduced dims
    return Op(
        name=name,
        kind=OpKind.REDUCTION,
        dims=dims,
        operands=(
            operand("x", Role.INPUT, x, tuple(n for n, _ in dims)),
            operand("out", Role.OUTPUT, out, ()),
        ),
        flops=flops,
    )


@register(aten.sum, aten.mean, aten.amax, aten.amin, aten.max, aten.min, aten.argmax, aten.prod)
@register(torch.ops.prims.sum)  # as torch._decomp's decompositions call it
def reduce(x: TensorMeta, *args, out, **kwargs) -> Op:
    return _reduction(x, first_output(out), REDUCE_FLOPS * x.numel)  # one add/compare per element


@register(aten.topk)
def topk(x: TensorMeta, k: int, *args, out, **kwargs) -> Op:
    """Selection by k passes of compares over the row: ``k`` compares per element."""
    return _reduction(x, first_output(out), k * x.numel, name="topk")  # out: (values, indices)


@register(aten.max_pool2d_with_indices)
def max_pool2d(x: TensorMeta, kernel_size: list[int], *args, out, **kwargs) -> Op:
    window = math.prod(kernel_size)  # one compare per window element per output
    return _reduction(x, first_output(out), window * first_output(out).numel, name="max_pool")


@register(aten.avg_pool2d)
def avg_pool2d(x: TensorMeta, kernel_size: list[int], *args, out, **kwargs) -> Op:
    window = math.prod(kernel_size)  # one add per window element per output (the divide folded)
    return _reduction(x, out, window * out.numel, name="avg_pool")


@register(aten._adaptive_avg_pool2d)
def adaptive_avg_pool2d(x: TensorMeta, output_size: list[int], *, out) -> Op:
    return _reduction(x, out, REDUCE_FLOPS * x.numel, name="avg_pool")  # each input added once
