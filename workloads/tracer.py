"""Trace an `nn.Module` on meta tensors into an `OpGraph`: no weights, no GPU, no arithmetic.

In the manner of ``torch.utils.flop_counter.FlopCounterMode``: a `TorchDispatchMode` sees every aten
op the model runs. Metadata-only ops (views, reshapes, transposes, expands, size queries) cost
nothing and are skipped. An op with a formula in `workloads.registry` becomes an `Op` attributed to
the innermost module running it; an op without one is decomposed where torch can (its composite
kernel or a decomposition in ``torch._decomp``) and otherwise kept, flagged ``unmodeled`` and named
in an `UnmodeledOpWarning`.

On meta tensors a few composite ops would decompose before any dispatch mode sees them (``linear``
into ``t``+``addmm``, ``scaled_dot_product_attention`` into the math path's bmm/softmax,
``rms_norm`` into pow/mean/rsqrt/mul), so a `TorchFunctionMode` catches those whole and records
them under their own aten names; the ops they run inside are not recorded again.

Parameters and buffers are swapped for meta copies (``torch.func.functional_call``), so the user's
module is not modified. A tensor's origin (parameter, KV cache, activation) is read from its
storage, which views share: a weight's transpose is still a parameter.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from functools import partial

import torch
from torch._decomp import decomposition_table
from torch.nn.attention.bias import CausalBias
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes
from torch.utils._pytree import tree_flatten, tree_map

from workloads.errors import WorkloadError, warn_unmodeled
from workloads.op import Op, Operand, OpGraph, OpKind, Role, TensorUse
from workloads.registry import (
    Origin,
    TensorMeta,
    dtype_of,
    lookup,
    operand,
    role_of,
    shape_dims,
    tensors,
    written_role,
)

aten = torch.ops.aten
F = torch.nn.functional


#: Composite ops caught whole by the function mode, with the aten overload they are recorded as.
COMPOSITES = {
    F.linear: aten.linear.default,
    F.scaled_dot_product_attention: aten.scaled_dot_product_attention.default,
    F.rms_norm: aten.rms_norm.default,
    torch.rms_norm: aten.rms_norm.default,
}

#: In-place ops whose first argument is only written (its old contents are not read): the dataflow
#: records no read of it.
WRITE_ONLY = frozenset({"copy_", "fill_", "zero_", "index_put_", "index_copy_", "scatter_", "masked_fill_"})

#: Ops that move no data and do no arithmetic, beyond the views (`OpOverload.is_view`).
FREE_OPS = frozenset(
    {
        aten._unsafe_view.default,
        aten.lift_fresh.default,
        aten.empty.memory_format,
        aten.empty_strided.default,
        aten.empty_like.default,
        aten.sym_size.int,
        aten.sym_stride.int,
        aten.sym_numel.default,
        aten.sym_storage_offset.default,
        aten.is_contiguous.default,
        aten.is_contiguous.memory_format,
        aten.is_strides_like_format.default,
        aten.is_non_overlapping_and_dense.default,
        torch.ops.prim.device.default,
        torch.ops.prim.layout.default,
    }
)


def _storage_key(tensor: torch.Tensor) -> int | None:
    """An id of the tensor's storage (shared by its views); None for storage-less tensors."""
    try:
        return tensor.untyped_storage()._cdata
    except (RuntimeError, NotImplementedError):
        return None


class _Recorder:
    """The state of one trace: ops so far, the module stack, and which storages are what."""

    def __init__(self, parameters: Iterable[torch.Tensor], kv_cache: Iterable[torch.Tensor]):
        self.ops: list[Op] = []
        self.modules: list[str] = [""]
        self.suppressed = 0
        self.origins: dict[int, Origin] = {}
        self.versions: dict[object, int] = {}  # storage -> the id of the tensor it holds now
        self.tensor_ids = itertools.count()
        for origin, group in ((Origin.PARAMETER, parameters), (Origin.KV_CACHE, kv_cache)):
            for tensor in group:
                key = _storage_key(tensor)
                if key is not None:
                    self.origins[key] = origin

    @contextlib.contextmanager
    def suppress(self) -> Iterator[None]:
        """Run a caught composite op without recording the aten ops it runs inside."""
        self.suppressed += 1
        try:
            yield
        finally:
            self.suppressed -= 1

    def meta(self, value: object) -> object:
        if not _is_data(value):  # a causal bias passes as itself: the attention formula reads it
            return value
        origin = self.origins.get(_storage_key(value), Origin.ACTIVATION)
        return TensorMeta(tuple(int(size) for size in value.shape), dtype_of(value.dtype), origin)

    def run(self, func, args: tuple, kwargs: dict) -> object:
        """Run `func` on meta tensors; a failure names the op and the module it ran in."""
        try:
            return func(*args, **kwargs)
        except WorkloadError:
            raise
        except Exception as error:  # any op error on meta tensors is the model's, reported as such
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise WorkloadError(
                f"aten op {func} cannot run on meta tensors (module {self.modules[-1] or '<root>'!r}):"
                f" {type(error).__name__}: {first_line}"
            ) from error

    def record(self, overload, args: tuple, kwargs: dict, out: object) -> None:
        margs, mkwargs, mout = tree_map(self.meta, (args, kwargs, out))
        mkwargs.pop("out", None)  # an ``.out`` overload's destination is its output
        formula = lookup(overload.overloadpacket)
        op, reason = None, "no formula in the registry"
        if formula is not None:
            try:
                op = formula(*margs, out=mout, **mkwargs)
                reason = "the formula does not cover these arguments"
            except (TypeError, ValueError, IndexError, KeyError) as error:
                reason = f"the formula failed: {error}"
        if op is None:
            op = _unmodeled(margs, mkwargs, mout, reason)
        name = f"{overload.overloadpacket.__name__}_{len(self.ops)}"
        dataflow = self.dataflow(overload, args, kwargs, out)
        module = self.modules[-1]
        self.ops.append(replace(op, name=name, module=module, aten=str(overload), dataflow=dataflow))

    def dataflow(self, overload, args: tuple, kwargs: dict, out: object) -> tuple[TensorUse, ...]:
        """The tensors the op reads (its tensor arguments, but not the destination of a write-only
        op or an ``out=``) and writes (what it returns; each a new tensor id, so an in-place write
        makes a new version of its storage)."""
        skip = {id(t) for t in _tensors_in(kwargs.get("out"))}
        if overload.overloadpacket.__name__ in WRITE_ONLY and args:
            skip.add(id(args[0]))
        read = [t for t in _tensors_in((args, kwargs)) if id(t) not in skip]
        written = _tensors_in(out)
        return (*(self.use(t, written=False) for t in read), *(self.use(t, written=True) for t in written))

    def use(self, tensor: torch.Tensor, *, written: bool) -> TensorUse:
        key = _storage_key(tensor)
        key = ("tensor", id(tensor)) if key is None else key
        if written or key not in self.versions:
            self.versions[key] = next(self.tensor_ids)
        meta = self.meta(tensor)
        role = written_role(meta) if written else role_of(meta, Role.INPUT)
        return TensorUse(tensor=self.versions[key], elements=meta.numel, dtype=meta.dtype, role=role)


def _is_data(value: object) -> bool:
    """Whether `value` is a tensor holding data: not torch's causal bias, a mask with no storage."""
    return isinstance(value, torch.Tensor) and not isinstance(value, CausalBias)


def _tensors_in(tree: object) -> list[torch.Tensor]:
    """The data tensors in `tree` (`_is_data`)."""
    return [leaf for leaf in tree_flatten(tree)[0] if _is_data(leaf)]


def _unmodeled(args: tuple, kwargs: dict, out: object, reason: str) -> Op:
    """An op with no formula: its tensors as operands, no FLOPs, flagged — never silently zero."""
    reads = tensors(list(args) + list(kwargs.values()))
    writes = tensors(out)
    operands = [
        _whole(f"in{i}", Role.WEIGHT if m.origin is Origin.PARAMETER else Role.INPUT, m)
        for i, m in enumerate(reads)
    ]
    operands += [_whole(f"out{i}", Role.OUTPUT, m) for i, m in enumerate(writes)]
    return Op(
        name="unmodeled",
        kind=OpKind.OTHER,
        dims=shape_dims(writes[0].shape) if writes else (),
        operands=tuple(operands),
        flops=0,
        unmodeled=True,
        attrs=(("reason", reason),),
    )


def _whole(name: str, role: Role, meta: TensorMeta) -> Operand:
    return operand(name, role, meta, tuple(dim for dim, _ in shape_dims(meta.shape)))


class _DispatchMode(TorchDispatchMode):
    """Sees every aten op below autograd; records those that do work."""

    def __init__(self, recorder: _Recorder):
        super().__init__()
        self.recorder = recorder

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.recorder.suppressed or func.is_view or func in FREE_OPS:
            return self.recorder.run(func, args, kwargs)
        if lookup(func.overloadpacket) is None:
            decomposed = self._decompose(func, args, kwargs)
            if decomposed is not NotImplemented:
                return decomposed
        out = self.recorder.run(func, args, kwargs)
        self.recorder.record(func, args, kwargs, out)
        return out

    def _decompose(self, func, args: tuple, kwargs: dict) -> object:
        """Run `func` as the ops it is made of (its composite kernel, else torch's decomposition
        table) under this mode; NotImplemented when torch has neither or it fails on meta."""
        decomposition = decomposition_table.get(func)
        recorded = len(self.recorder.ops)
        with self:
            result = func.decompose(*args, **kwargs)
            if result is not NotImplemented or decomposition is None:
                return result
            try:
                return decomposition(*args, **kwargs)
            except (RuntimeError, NotImplementedError, TypeError):
                del self.recorder.ops[recorded:]  # keep the op whole, flagged, instead
                return NotImplemented


class _CompositeMode(TorchFunctionMode):
    """Catches `COMPOSITES` before they decompose and records each as one op."""

    def __init__(self, recorder: _Recorder):
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        overload = COMPOSITES.get(func)
        if overload is None or self.recorder.suppressed:
            return func(*args, **kwargs)
        with self.recorder.suppress():
            out = self.recorder.run(func, args, kwargs)
        self.recorder.record(overload, args, kwargs, out)
        return out


def _causal_bias_new(cls, *args, **kwargs):
    """`CausalBias`'s empty tensor, made with the Python dispatch modes set aside."""
    with _disable_current_modes():
        return torch.Tensor.__new__(cls)


#: Traces under way that need `_causal_bias_new` installed (`_causal_biases_made_outside_the_mode`).
_bias_traces = 0
_bias_lock = threading.Lock()
_bias_own_new = None  # CausalBias's own __new__ while ours is installed (None: it has none)


@contextlib.contextmanager
def _causal_biases_made_outside_the_mode() -> Iterator[None]:
    """Let the traced model build torch's causal biases (``causal_lower_right``, ...): torch cannot
    create a tensor subclass while a Python dispatch mode (the tracer's) is active, and a bias is a
    mask with no data, so its empty tensor is made with the modes set aside. Installed while any
    trace runs (counted, so nested or concurrent traces leave it in place until the last ends)."""
    global _bias_traces, _bias_own_new
    with _bias_lock:
        if not _bias_traces:
            _bias_own_new = CausalBias.__dict__.get("__new__")
            CausalBias.__new__ = _causal_bias_new
        _bias_traces += 1
    try:
        yield
    finally:
        with _bias_lock:
            _bias_traces -= 1
            if not _bias_traces:
                if _bias_own_new is None:
                    del CausalBias.__new__
                else:
                    CausalBias.__new__ = _bias_own_new


def _module_hooks(module: torch.nn.Module, recorder: _Recorder) -> list:
    """Forward hooks that keep `recorder.modules` the path of the innermost running module."""

    def leave(*_) -> None:
        recorder.modules.pop()

    handles = []
    for path, submodule in module.named_modules():
        if path:
            enter = partial(lambda p, *_: recorder.modules.append(p), path)
            handles.append(submodule.register_forward_pre_hook(enter))
            handles.append(submodule.register_forward_hook(leave, always_call=True))
    return handles


def trace(
    module: torch.nn.Module,
    example_inputs: tuple | list | torch.Tensor,
    *,
    name: str = "",
    kv_cache: Iterable[torch.Tensor] = (),
) -> OpGraph:
    """Trace one forward call ``module(*example_inputs)`` into an `OpGraph`, on meta tensors.

    `example_inputs` may be real, fake or meta tensors (only shapes and dtypes are used).
    `kv_cache` names the tensors (buffers of `module`, or inputs) that hold the KV cache, so that
    attention reads of them are KV_CACHE operands and writes to them KV_CACHE_WRITE ones.
    Warns with `UnmodeledOpWarning` when ops are left unmodeled; raises `WorkloadError` naming the
    aten op when the model cannot run on meta tensors.
    """
    to_meta: dict[int, torch.Tensor] = {}

    def meta(tensor: object) -> object:
        if not _is_data(tensor):
            return tensor
        return to_meta.setdefault(id(tensor), tensor.to("meta"))

    named = (*module.named_parameters(), *module.named_buffers())
    state = {key: meta(value) for key, value in named}
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    inputs = tree_map(meta, tuple(example_inputs))
    cache = [meta(tensor) for tensor in kv_cache]
    parameters = [tensor for tensor in state.values() if not any(tensor is c for c in cache)]
    recorder = _Recorder(parameters, cache)
    handles = _module_hooks(module, recorder)
    try:
        with (
            torch.no_grad(),
            _causal_biases_made_outside_the_mode(),
            _CompositeMode(recorder),
            _DispatchMode(recorder),
        ):
            torch.func.functional_call(module, state, inputs)
    except WorkloadError:
        raise
    except Exception as error:  # the model's own Python failed on meta tensors
        where = recorder.modules[-1] or "<root>"
        raise WorkloadError(
            f"{name or type(module).__name__}: the forward pass failed on meta tensors in module "
            f"{where!r}: {type(error).__name__}: {error}"
        ) from error
    finally:
        for handle in handles:
            handle.remove()
    graph = OpGraph(
        name=name or type(module).__name__,
        ops=tuple(recorder.ops),
        params=sum(p.numel() for p in module.parameters()),
    )
    warn_unmodeled(graph)
    return graph

