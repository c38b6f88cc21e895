"""Graph-level views: identical ops grouped with a count, and the totals of a graph.

Totals are sums over ops of ``count ×`` the op's own FLOPs and bytes, never a separate path.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

from workloads.op import Op, OpGraph, OpKind, Role

#: A module path's numeric parts (layer and expert indices) are what differs between repeats.
_INDEX = re.compile(r"(?<=\.)\d+(?=\.|$)|^\d+(?=\.|$)")

#: Kinds whose FLOPs ``torch.utils.flop_counter`` counts (matmuls, convolutions, attention).
MATMUL_KINDS = (OpKind.GEMM, OpKind.CONV, OpKind.ATTENTION)
#: Roles of a parameter's operands: weights, biases and their quantization metadata.
PARAM_ROLES = (Role.WEIGHT, Role.BIAS, Role.METADATA)


def module_pattern(module: str) -> str:
    """``layers.3.mlp.experts.1`` → ``layers.*.mlp.experts.*``."""
    return _INDEX.sub("*", module)


def group_ops(graph: OpGraph) -> OpGraph:
    """Merge ops that differ only in their name and layer/expert indices into one op with a count.

    The merged op keeps the first one's name and position, its module path with indices as ``*``.
    """
    groups: dict[tuple, Op] = {}
    for op in graph.ops:
        module = module_pattern(op.module)
        key = (op.kind, op.aten, op.dims, op.operands, op.flops, op.unmodeled, op.attrs, module)
        if key in groups:
            groups[key] = replace(groups[key], count=groups[key].count + op.count)
        else:
            groups[key] = replace(op, module=module)
    return replace(graph, ops=tuple(groups.values()))


def graph_totals(graph: OpGraph) -> dict[str, object]:
    """Totals of a graph: params, FLOPs (all, and the matmul kinds'), bytes by role, intensity.

    ``arithmetic_intensity`` is FLOPs per byte moved, every operand read or written once
    (no reuse across ops). ``unmodeled`` lists the aten ops kept without a formula.
    """
    flops = sum(op.flops * op.count for op in graph.ops)
    by_role = {role: 0.0 for role in Role}
    for op in graph.ops:
        for operand in op.operands:
            by_role[operand.role] += operand.bytes * op.count
    total_bytes = sum(by_role.values())
    unmodeled = Counter(op.aten for op in graph.unmodeled for _ in range(op.count))
    return {
        "graph": graph.name,
        "phase": graph.phase.value if graph.phase else "",
        "batch": graph.batch,
        "seq_len": graph.seq_len,
        "context_len": graph.context_len,
        "params": graph.params,
        "ops": sum(op.count for op in graph.ops),
        "flops": flops,
        "matmul_flops": sum(op.flops * op.count for op in graph.ops if op.kind in MATMUL_KINDS),
        **{f"{role.value}_bytes": value for role, value in by_role.items()},
        "bytes": total_bytes,
        "arithmetic_intensity": flops / total_bytes if total_bytes else 0.0,
        "unmodeled": ", ".join(f"{name} x{n}" for name, n in unmodeled.most_common()),
    }


def resident_bytes(graph: OpGraph) -> dict[str, float]:
    """Memory a step needs resident on the device: every parameter (not only the MoE experts a
    step reads) at the bytes per parameter the graph stores its weights in (annotations included:
    int4 with its scales is ~0.56 B), and the KV cache the step reads and writes.

    The parameter operands the graph reads (weights, biases and their metadata of ops whose weight
    is a parameter) count as stored; parameters it does not read in this step (experts no token
    routes to, embedding rows no token looks up) count at the mean bytes per element of those it
    reads. A graph with no parameter operand counts 0 for weights.
    """
    stored = elements = 0.0
    kv = 0.0
    for op in graph.ops:
        stored += param_bytes(op) * op.count
        if dict(op.attrs).get("weight_is_param", 1):
            elements += sum(o.elements for o in op.operands if o.role in (Role.WEIGHT, Role.BIAS)) * op.count
        kv += sum(o.bytes for o in op.operands if o.role in (Role.KV_CACHE, Role.KV_CACHE_WRITE)) * op.count
    unread = max(0.0, graph.params - elements)
    weights = stored + unread * stored / elements if elements else 0.0
    return {"weights": weights, "kv_cache": kv, "total": weights + kv}


def param_bytes(op: Op) -> float:
    """Bytes of `op`'s parameter operands (`PARAM_ROLES`) once; 0 when its weight is not a
    parameter (``weight_is_param`` 0: a product of two activations)."""
    if not dict(op.attrs).get("weight_is_param", 1):
        return 0.0
    return sum(o.bytes for o in op.operands if o.role in PARAM_ROLES)
