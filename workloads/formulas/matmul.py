"""GEMM-shaped ops: mm, addmm, bmm, baddbmm, linear and 2-D convolution, as ``C[M][N] += A[M][K]·B[K][N]``.

FLOPs are ``2·M·N·K`` (a MAC is 2), as ``torch.utils.flop_counter`` counts them; a bias adds M·N
additions that neither counts (the bias is still an operand, with its bytes). Every op carries the
attr ``weight_is_param``: 1 when its B operand is a parameter (a layer's weight, which annotations
may quantize or sparsify), 0 when both operands are activations (e.g. ``q @ k.T``).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from workloads.op import Op, Operand, Role, conv2d_op, gemm_op
from workloads.registry import Origin, TensorMeta, operand, register

aten = torch.ops.aten


def _gemm(a: TensorMeta, b: TensorMeta, out: TensorMeta, m: int, n: int, k: int, batch: int = 0) -> Op:
    is_param = int(b.origin is Origin.PARAMETER)
    return gemm_op(
        m,
        n,
        k,
        name="gemm",
        input_dtype=a.dtype,
        weight_dtype=b.dtype,
        output_dtype=out.dtype,
        batch=batch,
        attrs=(("weight_is_param", is_param),),
    )


def _with_bias(op: Op, bias: TensorMeta | None) -> Op:
    """Append the bias (broadcast over M; read once per element it stores) as a BIAS operand."""
    if bias is None:
        return op
    out_dims = tuple(name for name in op.dim_names if name != "K")  # [B,] M, N
    dims = out_dims[len(out_dims) - bias.ndim :] if bias.ndim else ()
    return replace(op, operands=(*op.operands, operand("bias", Role.BIAS, bias, dims)))


@register(aten.mm)
def mm(a: TensorMeta, b: TensorMeta, *, out: TensorMeta) -> Op:
    m, k = a.shape  # a: [M, K]
    _, n = b.shape  # b: [K, N]
    return _gemm(a, b, out, m, n, k)  # out: [M, N]


@register(aten.addmm)
def addmm(bias: TensorMeta, a: TensorMeta, b: TensorMeta, *args, out: TensorMeta, **kwargs) -> Op:
    return _with_bias(mm(a, b, out=out), bias)  # out = bias + a @ b


@register(aten.bmm)
def bmm(a: TensorMeta, b: TensorMeta, *, out: TensorMeta) -> Op:
    batch, m, k = a.shape  # a: [B, M, K]
    _, _, n = b.shape  # b: [B, K, N]
    return _gemm(a, b, out, m, n, k, batch=batch)  # out: [B, M, N]


@register(aten.baddbmm)
def baddbmm(bias: TensorMeta, a: TensorMeta, b: TensorMeta, *args, out: TensorMeta, **kwargs) -> Op:
    return _with_bias(bmm(a, b, out=out), bias)  # out = beta·bias + alpha·(a @ b)


@register(aten.linear)
def linear(x: TensorMeta, weight: TensorMeta, bias: TensorMeta | None = None, *, out: TensorMeta) -> Op:
    n, k = weight.shape  # weight: [N, K] (PyTorch stores a Linear's weight transposed)
    m = x.numel // k  # x: [..., K], every leading dim folded into M
    return _with_bias(_gemm(x, weight, out, m, n, k), bias)  # out: [..., N]


@register(aten.convolution)
def convolution(
    x: TensorMeta,
    weight: TensorMeta,
    bias: TensorMeta | None,
    stride: list[int],
    padding: list[int],
    dilation: list[int],
    transposed: bool,
    output_padding: list[int],
    groups: int,
    *,
    out: TensorMeta,
) -> Op | None:
    """A 2-D convolution lowered to GEMM (`conv2d_op`); 1-D/3-D, transposed or dilated ones are
    left unmodeled rather than approximated."""
    if x.ndim != 4 or transposed or any(d != 1 for d in dilation):
        return None
    batch, channels, ifmap_h, ifmap_w = x.shape  # x: [B, C, H, W]
    num_filters, _, filter_h, filter_w = weight.shape  # weight: [F, C/groups, R, S]
    op = conv2d_op(
        ifmap_h=ifmap_h,
        ifmap_w=ifmap_w,
        filter_h=filter_h,
        filter_w=filter_w,
        channels=channels,
        num_filters=num_filters,
        stride_h=stride[0],
        stride_w=stride[1],
        batch=batch,
        pad_h=padding[0],
        pad_w=padding[1],
        groups=groups,
        attrs=(("weight_is_param", int(weight.origin is Origin.PARAMETER)),),
        out_h=out.shape[2],  # out: [B, F, H', W'], torch's (floor) output size
        out_w=out.shape[3],
    )
    dtypes = {Role.INPUT: x.dtype, Role.WEIGHT: weight.dtype, Role.OUTPUT: out.dtype}
    operands: tuple[Operand, ...] = tuple(replace(o, dtype=dtypes[o.role]) for o in op.operands)
    return _with_bias(replace(op, operands=operands), bias)
