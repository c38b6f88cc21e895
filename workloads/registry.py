"""The op registry: aten op (overload packet) → a pure function from shapes and dtypes to an `Op`.

Modeled on ``torch/utils/flop_counter.py``: a decorator fills a dict keyed by aten overload packet
and refuses duplicates; each formula is a small pure function. Here a formula receives the op's
arguments with every tensor replaced by a `TensorMeta` (its shape, dtype and where it lives) and
the output(s) as ``out=``, and returns the op's loop nest, FLOPs and bytes per operand as an `Op`
(the tracer fills in the name, module path and aten overload). A formula that returns None, like
an aten op with no formula, leaves the op unmodeled: it is kept and flagged, never counted as zero.

The formulas live in `workloads.formulas` (matmul, attention, pointwise, memory) and are loaded
when this module is imported.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from workloads.dtypes import DType
from workloads.errors import WorkloadError
from workloads.op import Op, Operand, Role


class Origin(enum.Enum):
    """Where a tensor's storage lives: computed by the model, a parameter (or buffer), the KV cache."""

    ACTIVATION = "activation"
    PARAMETER = "parameter"
    KV_CACHE = "kv_cache"


@dataclass(frozen=True, slots=True)
class TensorMeta:
    """What a formula may know of a tensor: its shape, its dtype and where its storage lives."""

    shape: tuple[int, ...]
    dtype: DType
    origin: Origin = Origin.ACTIVATION

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)


Formula = Callable[..., "Op | None"]

#: aten overload packet → formula; filled by `register`, read by the tracer through `lookup`.
REGISTRY: dict[torch._ops.OpOverloadPacket, Formula] = {}

#: torch dtypes as the project's `DType` (all fp8 variants are 8-bit floats; uint8 is byte-sized).
TORCH_DTYPES = {
    torch.float16: DType.FP16,
    torch.bfloat16: DType.BF16,
    torch.float32: DType.FP32,
    torch.float64: DType.FP64,
    torch.float8_e4m3fn: DType.FP8,
    torch.float8_e5m2: DType.FP8,
    torch.float8_e4m3fnuz: DType.FP8,
    torch.float8_e5m2fnuz: DType.FP8,
    torch.int8: DType.INT8,
    torch.uint8: DType.INT8,
    torch.int32: DType.INT32,
    torch.uint32: DType.INT32,
    torch.int64: DType.INT64,
    torch.uint64: DType.INT64,  # e.g. the RNG seed and offset a flash-attention kernel returns
    torch.bool: DType.BOOL,
}


def dtype_of(dtype: torch.dtype) -> DType:
    """The `DType` of a torch dtype, or an error naming it."""
    try:
        return TORCH_DTYPES[dtype]
    except KeyError:
        raise WorkloadError(f"tensor dtype {dtype} has no codesign dtype") from None


def register(*targets: torch._ops.OpOverloadPacket) -> Callable[[Formula], Formula]:
    """Register `formula` for each aten overload packet in `targets`; a second registration fails."""

    def register_formula(formula: Formula) -> Formula:
        for target in targets:
            if not isinstance(target, torch._ops.OpOverloadPacket):
                raise TypeError(f"register: expected an aten overload packet, got {target!r}")
            if target in REGISTRY:
                raise RuntimeError(f"duplicate registrations for {target}")
            REGISTRY[target] = formula
        return formula

    return register_formula


def lookup(packet: torch._ops.OpOverloadPacket) -> Formula | None:
    return REGISTRY.get(packet)


def role_of(meta: TensorMeta, default: Role) -> Role:
    """The role a read tensor plays by where it lives: parameters are weights, the cache is the cache."""
    if meta.origin is Origin.PARAMETER:
        return Role.WEIGHT
    if meta.origin is Origin.KV_CACHE:
        return Role.KV_CACHE
    return default


def written_role(meta: TensorMeta) -> Role:
    """The role of a tensor an op writes: a write into the KV cache, or an output."""
    return Role.KV_CACHE_WRITE if meta.origin is Origin.KV_CACHE else Role.OUTPUT


def shape_dims(shape: tuple[int, ...]) -> tuple[tuple[str, int], ...]:
    """Loop dims ``d0, d1, …`` over a tensor's shape, for ops whose nest is the output's shape."""
    return tuple((f"d{axis}", size) for axis, size in enumerate(shape))


def broadcast_dims(meta: TensorMeta, out_shape: tuple[int, ...]) -> tuple[str, ...]:
    """The dims of `out_shape` that index `meta` when broadcast to it (right-aligned; an axis of
    size 1 stretched over a longer output axis indexes nothing)."""
    offset = len(out_shape) - meta.ndim
    return tuple(
        f"d{offset + axis}" for axis, size in enumerate(meta.shape) if size == out_shape[offset + axis]
    )


def operand(
    name: str, role: Role, meta: TensorMeta, dims: tuple[str, ...], elements: int | None = None
) -> Operand:
    """An operand for tensor `meta`; `elements` defaults to all of it (fewer for a partial read)."""
    return Operand(
        name=name,
        role=role,
        dims=dims,
        elements=meta.numel if elements is None else elements,
        dtype=meta.dtype,
    )


def tensors(values: object) -> list[TensorMeta]:
    """The `TensorMeta`s among an argument list (one level of lists, as aten's Tensor[] args)."""
    found: list[TensorMeta] = []
    for value in values if isinstance(values, list | tuple) else (values,):
        if isinstance(value, TensorMeta):
            found.append(value)
        elif isinstance(value, list | tuple):
            found.extend(item for item in value if isinstance(item, TensorMeta))
    return found


def first_output(out: object) -> TensorMeta:
    """The op's (first) output tensor: ops such as ``native_layer_norm`` return a tuple."""
    return out if isinstance(out, TensorMeta) else tensors(out)[0]


import workloads.formulas  # noqa: E402, F401  (fills REGISTRY; the formulas import `register`)
