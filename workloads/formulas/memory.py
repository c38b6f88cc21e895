"""Data movement: embedding lookups, gathers, concatenation, copies and fills. No FLOPs, only bytes.

A gather reads only the elements it selects (an embedding step reads ``T`` rows of the table, not
the table), so its source operand stores ``min(selected, source)`` elements. A copy into the KV
cache writes with the role KV_CACHE_WRITE, a read from it has the role KV_CACHE.
"""

from __future__ import annotations

import torch

from workloads.op import Op, OpKind, Role
from workloads.registry import (
    TensorMeta,
    first_output,
    operand,
    register,
    role_of,
    shape_dims,
    tensors,
    written_role,
)

aten = torch.ops.aten


def _move(
    kind: OpKind,
    name: str,
    dims: tuple[tuple[str, int], ...],
    reads: list,
    writes: list,
    attrs: tuple[tuple[str, int | str], ...] = (),
) -> Op:
    return Op(name=name, kind=kind, dims=dims, operands=(*reads, *writes), flops=0, attrs=attrs)


@register(aten.embedding)
def embedding(table: TensorMeta, indices: TensorMeta, *args, out: TensorMeta, **kwargs) -> Op:
    vocab, d = table.shape  # table: [V, D]
    t = indices.numel  # indices: [...] → out: [..., D]
    return _move(
        OpKind.EMBEDDING,
        "embedding",
        (("T", t), ("D", d)),
        [
            operand("indices", Role.INPUT, indices, ("T",)),
            operand("table", role_of(table, Role.INPUT), table, ("T", "D"), min(t, vocab) * d),
        ],
        [operand("out", Role.OUTPUT, out, ("T", "D"))],
        attrs=(("vocab", vocab),),
    )


def _gather(source: TensorMeta, index: list[TensorMeta], out: TensorMeta) -> Op:
    n = out.numel  # each output element is one source element read
    reads = [operand("source", role_of(source, Role.INPUT), source, ("N",), min(n, source.numel))]
    reads += [operand(f"index{i}", Role.INPUT, meta, ()) for i, meta in enumerate(index)]
    return _move(OpKind.GATHER, "gather", (("N", n),), reads, [operand("out", Role.OUTPUT, out, ("N",))])


@register(aten.index_select, aten.gather)
def index_select(source: TensorMeta, dim: int, index: TensorMeta, *args, out: TensorMeta, **kwargs):
    return _gather(source, [index], out)  # out: source's shape with index's length at dim


@register(aten.index)
def index(source: TensorMeta, indices: list, *, out: TensorMeta) -> Op:
    return _gather(source, tensors(indices), out)  # source[idx0, idx1, …] (advanced indexing)


@register(aten.cat)
def cat(inputs: list, dim: int = 0, *, out: TensorMeta) -> Op:
    reads = [
        operand(f"in{i}", role_of(meta, Role.INPUT), meta, ("N",)) for i, meta in enumerate(tensors(inputs))
    ]
    n = out.numel  # out: the inputs joined along dim
    return _move(OpKind.COPY, "cat", (("N", n),), reads, [operand("out", Role.OUTPUT, out, ("N",))])


def _copy(source: TensorMeta, destination: TensorMeta, n: int, index: list[TensorMeta] = ()) -> Op:
    """Copy `source` into `n` elements of `destination`, converting the dtype if the two differ."""
    reads = [operand("source", role_of(source, Role.INPUT), source, ("N",))]
    reads += [operand(f"index{i}", Role.INPUT, meta, ()) for i, meta in enumerate(index)]
    written = operand("out", written_role(destination), destination, ("N",), n)
    return _move(OpKind.COPY, "copy", (("N", n),), reads, [written])


@register(aten.copy_)
def copy_(destination: TensorMeta, source: TensorMeta, *args, out: TensorMeta, **kwargs) -> Op:
    return _copy(source, destination, destination.numel)  # destination[...] = source (broadcast)


@register(aten.clone, aten._to_copy, aten.repeat, aten.constant_pad_nd, aten.flip)
@register(torch.ops.prims.convert_element_type, torch.ops.prims.rev)  # from torch._decomp
def clone(source: TensorMeta, *args, out: TensorMeta, **kwargs) -> Op:
    return _copy(source, out, out.numel)  # out: new (dtype/layout converted, repeated or padded)


@register(aten.index_put_, aten.index_put)
def index_put(destination: TensorMeta, indices: list, values: TensorMeta, *args, out, **kwargs):
    return _copy(values, destination, values.numel, tensors(indices))  # dest[indices] = values


@register(aten.index_copy_, aten.index_copy)
def index_copy(destination, dim: int, index: TensorMeta, source: TensorMeta, *, out) -> Op:
    return _copy(source, destination, source.numel, [index])  # dest.index_copy_(dim, index, src)


@register(aten.fill_, aten.zero_, aten.zeros, aten.ones, aten.full, aten.arange, aten.scalar_tensor)
@register(aten.full_like, aten.zeros_like, aten.ones_like)
def fill(*args, out, **kwargs) -> Op:
    """A tensor written with a constant or a range: only its output bytes."""
    written = first_output(out)
    dims = shape_dims(written.shape)
    names = tuple(name for name, _ in dims)
    return _move(OpKind.COPY, "fill", dims, [], [operand("out", written_role(written), written, names)])
