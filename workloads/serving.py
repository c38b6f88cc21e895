"""`--fusion serving`: a traced graph's kernels as an LLM serving engine runs them.

The tracer records a model as eager PyTorch runs it: every aten op one kernel, each reading its
inputs from and writing its outputs to memory. Serving engines run fewer, fused kernels. vLLM's
decoder layers (``vllm/model_executor/models/llama.py``) are the reference: one GEMM for Q, K and
V (``QKVParallelLinear``) and one for the gate and up projections (``MergedColumnParallelLinear``);
the residual add fused into the next RMSNorm (``fused_add_rms_norm``), SiLU and the gate product
in one kernel (``SiluAndMul``), rotary embedding of Q and K in one kernel. TensorRT-LLM's plugins
and ``torch.compile``'s Inductor fuse the same chains. Two rewrites state that, from the tracer's
dataflow (`Op.dataflow`), so they apply to any traced model, not only to module names we know:

1. **Shared-input GEMMs merge.** GEMMs in one module (``self_attn``, ``mlp``) that read the same
   activation tensor with parameter weights of one dtype, the same M and K, run as one GEMM of
   the summed N, at the first one's place (its input is ready there; its weights are
   parameters). Operands indexed by N (weight, bias, output) add up; the input is read once.
   Grouped GEMMs over an MoE layer's experts (``--moe grouped``) merge the same way where they read
   the same per-expert inputs: the experts' gate and up projections, one grouped GEMM of twice the
   N (TensorRT-LLM's MoE plugin's fc1, vLLM's fused ``w13``).
2. **Memory-bound chains fuse.** Consecutive elementwise, norm, softmax, reduction and copy ops
   run as one kernel when each one after the first reads a tensor the chain wrote, an activation
   the chain read, or an activation written by the op that wrote one the chain read (a residual
   add feeds the norm after it; the rotary ops of K join those of Q, both from the QKV GEMM, and
   so does the KV-cache write of V). The kernel reads what the chain reads from outside it once
   (the largest view of each tensor) and writes what anything after it reads, KV-cache writes,
   and tensors nothing reads (the model's outputs); intermediates stay on chip. FLOPs add up.

What is not fused: GEMM epilogues and prologues (a bias is already part of the GEMM), attention
(already one kernel in the trace), embeddings and gathers, unmodeled ops, and ops the tracer did
not record dataflow for (ops from a topology file or measured rows). Totals of FLOPs and weight
bytes do not change; activation bytes drop by the intermediates the chains keep on chip.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import defaultdict

from workloads.fusion import as_traced, parse_mode
from workloads.op import Op, Operand, OpGraph, OpKind, Role, TensorUse

#: Op kinds a serving engine fuses into one memory-bound kernel (module docstring, rewrite 2).
CHAIN_KINDS = frozenset({OpKind.ELEMENTWISE, OpKind.NORM, OpKind.SOFTMAX, OpKind.REDUCTION, OpKind.COPY})

#: The kind a fused chain reports: the first of these present among its ops.
CHAIN_KIND_ORDER = (OpKind.NORM, OpKind.SOFTMAX, OpKind.REDUCTION, OpKind.ELEMENTWISE, OpKind.COPY)


class FusionMode(enum.Enum):
    """Which kernels a traced graph runs as: eager (one per traced op) or a serving engine's."""

    EAGER = "eager"
    SERVING = "serving"

    @classmethod
    def parse(cls, text: str | FusionMode) -> FusionMode:
        return parse_mode(cls, text, "--fusion")


def fuse_for_serving(graph: OpGraph) -> OpGraph:
    """`graph` with shared-input GEMMs merged and memory-bound chains fused (module docstring)."""
    ops = _merge_shared_input_gemms(list(graph.ops))
    ops = _fuse_chains(ops)
    if len(ops) == len(graph.ops):
        return graph
    return dataclasses.replace(graph, ops=tuple(ops))


#: What each mode does to a traced graph.
FUSION_REWRITES = {FusionMode.EAGER: as_traced, FusionMode.SERVING: fuse_for_serving}


# --- rewrite 1: GEMMs that share their input ------------------------------------------------


def _merge_shared_input_gemms(ops: list[Op]) -> list[Op]:
    first_of: dict[tuple[object, ...], int] = {}  # merge key -> position of the first such GEMM
    merged: dict[int, list[Op]] = defaultdict(list)
    for position, op in enumerate(ops):
        key = _shared_input_key(op)
        if key is None:
            continue
        first = first_of.setdefault(key, position)
        merged[first].append(op)
    out = []
    dropped = {id(op) for group in merged.values() for op in group[1:]}
    for position, op in enumerate(ops):
        if id(op) in dropped:
            continue
        group = merged.get(position, [])
        out.append(_merge_gemms(group) if len(group) > 1 else op)
    return out


#: The dims of a GEMM that may merge with another: a layer's, or a grouped GEMM over an MoE layer's
#: experts (`workloads.fusion.group_experts`: ``B`` groups, each expert's rows reading its own input).
MERGEABLE_GEMM_DIMS = (("M", "N", "K"), ("B", "M", "N", "K"))


def _shared_input_key(op: Op) -> tuple[object, ...] | None:
    """What GEMMs that may merge have in common; None for an op that is not such a GEMM. A grouped
    GEMM reads one input per expert: two merge where they read the same ones, as the experts' gate
    and up projections do (one grouped GEMM of twice the N: TensorRT-LLM's MoE plugin's fc1, vLLM's
    fused ``w13``)."""
    if (
        op.kind is not OpKind.GEMM
        or op.unmodeled
        or op.dim_names not in MERGEABLE_GEMM_DIMS
        or dict(op.attrs).get("weight_is_param") != 1
        or not op.dataflow
    ):
        return None
    inputs = tuple(use.tensor for use in op.dataflow if use.role is Role.INPUT)
    grouped = op.dim_names[0] == "B"
    if not inputs or (len(inputs) != 1 and not grouped):
        return None
    parent = op.module.rpartition(".")[0]
    operands = tuple((o.name, o.role, o.dims, o.dtype, o.sparsity) for o in op.operands)
    groups = op.dim("B") if grouped else 1
    return (inputs, parent, groups, op.dim("M"), op.dim("K"), operands, op.count)


def _merge_gemms(gemms: list[Op]) -> Op:
    """One GEMM of the summed N: operands indexed by N add up, the shared input is read once."""
    first = gemms[0]
    operands = tuple(
        dataclasses.replace(operand, elements=sum(g.operands[i].elements for g in gemms))
        if "N" in operand.dims
        else operand
        for i, operand in enumerate(first.operands)
    )
    dims = tuple((name, sum(g.dim("N") for g in gemms) if name == "N" else size) for name, size in first.dims)
    parent, _, _ = first.module.rpartition(".")
    leaves = "+".join(g.module.rpartition(".")[2] for g in gemms)
    dataflow = first.dataflow + tuple(u for g in gemms[1:] for u in g.dataflow if u.role is not Role.INPUT)
    return dataclasses.replace(
        first,
        name=f"{first.name}_x{len(gemms)}",
        dims=dims,
        operands=operands,
        flops=sum(g.flops for g in gemms),
        module=f"{parent}.{leaves}" if parent else leaves,
        attrs=(*first.attrs, ("merged_gemms", len(gemms))),
        dataflow=dataflow,
    )


# --- rewrite 2: chains of memory-bound ops --------------------------------------------------


def _fuse_chains(ops: list[Op]) -> list[Op]:
    readers: dict[int, list[int]] = defaultdict(list)  # tensor -> positions of the ops reading it
    producer: dict[int, int] = {}  # tensor -> position of the op writing it
    for position, op in enumerate(ops):
        for use in op.dataflow:
            if use.role.is_written:
                producer[use.tensor] = position
            else:
                readers[use.tensor].append(position)
    chains: list[list[int]] = []
    for position, op in enumerate(ops):
        last = chains[-1] if chains else []
        if (
            _chainable(op)
            and last
            and _chainable(ops[last[0]])
            and _joins(op, [ops[i] for i in last], producer)
        ):
            last.append(position)
        else:
            chains.append([position])
    return [ops[c[0]] if len(c) == 1 else _fused(ops, c, readers) for c in chains]


def _chainable(op: Op) -> bool:
    return op.kind in CHAIN_KINDS and not op.unmodeled and bool(op.dataflow) and op.count == 1


def _joins(op: Op, chain: list[Op], producer: dict[int, int]) -> bool:
    """Whether `op` reads a tensor the chain wrote, an activation the chain read, or an
    activation the same op wrote as one the chain read (K beside Q from one QKV GEMM)."""
    written = {u.tensor for c in chain for u in c.dataflow if u.role.is_written}
    shared = {u.tensor for c in chain for u in c.dataflow if u.role is Role.INPUT}
    sources = {producer[t] for t in shared if t in producer}
    return any(
        u.tensor in written
        or (u.role is Role.INPUT and (u.tensor in shared or producer.get(u.tensor) in sources))
        for u in op.dataflow
        if not u.role.is_written
    )


def _fused(ops: list[Op], chain: list[int], readers: dict[int, list[int]]) -> Op:
    """One kernel for the chain at `chain` positions of `ops` (module docstring, rewrite 2)."""
    members = [ops[i] for i in chain]
    inside = set(chain)
    written: set[int] = set()
    reads: dict[int, TensorUse] = {}
    writes: dict[int, TensorUse] = {}
    for op in members:
        for use in op.dataflow:
            if use.role.is_written:
                written.add(use.tensor)
                escapes = (
                    use.role is Role.KV_CACHE_WRITE
                    or not readers[use.tensor]
                    or any(p not in inside for p in readers[use.tensor])
                )
                if escapes:
                    writes[use.tensor] = _larger(writes.get(use.tensor), use)
            elif use.tensor not in written:
                reads[use.tensor] = _larger(reads.get(use.tensor), use)
    operands = tuple(
        [_operand(f"in{i}", use) for i, use in enumerate(reads.values())]
        + [_operand(f"out{i}", use) for i, use in enumerate(writes.values())]
    )
    widest = max(members, key=lambda op: sum(o.elements for o in op.operands if o.role.is_written))
    kind = next(k for k in CHAIN_KIND_ORDER if any(op.kind is k for op in members))
    return Op(
        name=f"fused_{members[0].name}",
        kind=kind,
        dims=widest.dims,
        operands=operands,
        flops=sum(op.flops for op in members),
        module=_common_module([op.module for op in members]),
        aten="fused:" + "+".join(_short_aten(op.aten) for op in members),
        attrs=(("fused_ops", len(members)),),
        dataflow=(*reads.values(), *writes.values()),
    )


def _larger(kept: TensorUse | None, use: TensorUse) -> TensorUse:
    """Of two views of one tensor, the one touching more elements (a lower bound on their union)."""
    return use if kept is None or use.elements > kept.elements else kept


def _operand(name: str, use: TensorUse) -> Operand:
    return Operand(name=name, role=use.role, dims=("E",), elements=use.elements, dtype=use.dtype)


def _common_module(modules: list[str]) -> str:
    """The deepest module path all members run in (``layers.0.self_attn`` for a rotary chain;
    ``layers`` for layer 0's residual add with layer 1's input norm); else the first one's."""
    parts = [m.split(".") for m in modules]
    common = []
    for level in zip(*parts, strict=False):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return ".".join(common) or modules[0]


def _short_aten(aten: str) -> str:
    """``aten.rms_norm.default`` -> ``rms_norm``."""
    name = aten.removeprefix("aten.")
    return name.split(".")[0] if name else "op"
