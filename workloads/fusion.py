"""Graph rewrites that state how a serving engine runs ops the eager trace keeps apart.

`group_experts` — the experts of a mixture-of-experts layer as one grouped kernel per op. The
tracer records an MoE layer as eager Hugging Face code runs it: a loop over the experts touched,
each expert's gate, up and down projections and its SiLU and gate product as separate kernels
(5·E launches per layer). Serving engines run each projection of all experts as one grouped GEMM
(vLLM's ``fused_moe`` Triton kernel, SGLang's and DeepGEMM's grouped GEMMs) and the activation
over all experts' rows as one kernel. The rewrite merges, within each layer, the ops of the same
kind, aten and position across experts (modules ``<layer>.experts.<i>[.<proj>]``):

* GEMMs of one projection become one GEMM with a leading dim ``B`` = the experts merged and
  ``M`` = the most rows any expert got (a grouped kernel pads each group to whole tiles), each
  expert its own weight: the shape `workloads.kernel_ops` gives a grouped-GEMM measured row;
* other ops (elementwise) become one op over the experts' rows: their first dim summed;
* operands keep their names, roles and dtypes; elements, bytes and FLOPs are the sums of the
  merged ops', so totals do not change, only the number of kernels and their shapes.

Ops merge only when their structure agrees (kinds, operand roles and dtypes, GEMM ``N`` and ``K``,
trailing dims); a layer whose experts differ is left as traced.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections import defaultdict
from typing import TypeVar

from workloads.errors import WorkloadError
from workloads.op import GEMM_DIMS, Op, OpGraph, OpKind

Mode = TypeVar("Mode", bound=enum.Enum)

#: An expert's module path: the MoE layer, the expert's index, and the projection (absent for the
#: expert's own elementwise ops).
EXPERT_MODULE = re.compile(r"^(?P<layer>.+)\.experts\.(?P<index>\d+)(?:\.(?P<proj>[\w.]+))?$")
#: Any op of an expert, its index captured: one expert's (``mlp.experts.5``), a grouped op's (``*``,
#: `group_experts`), its projections merged or not (``gate_proj+up_proj``, `workloads.serving`).
EXPERT_PATH = re.compile(r"\.experts\.(\d+|\*)(?:\.|$)")


def is_expert_module(module: str) -> bool:
    """Whether `module` is a mixture-of-experts expert's (`EXPERT_PATH`)."""
    return bool(EXPERT_PATH.search(module))


class MoeMode(enum.Enum):
    """How a traced model's MoE layers run: as traced (one kernel per expert and op) or grouped."""

    EAGER = "eager"
    GROUPED = "grouped"

    @classmethod
    def parse(cls, text: str | MoeMode) -> MoeMode:
        return parse_mode(cls, text, "--moe")


def parse_mode(cls: type[Mode], text: str | Mode, option: str) -> Mode:
    """`text` as a member of the rewrite-mode enum `cls` (any case), or an error naming `option`
    and the valid values."""
    if isinstance(text, cls):
        return text
    try:
        return cls(str(text).strip().lower())
    except ValueError:
        valid = ", ".join(mode.value for mode in cls)
        raise WorkloadError(f"{option} {text!r}: valid: {valid}") from None


def group_experts(graph: OpGraph) -> OpGraph:
    """`graph` with each MoE layer's per-expert ops merged into grouped ops (module docstring)."""
    groups: dict[tuple[object, ...], list[int]] = defaultdict(list)
    seen: dict[tuple[object, ...], int] = defaultdict(int)  # ops of one expert with the same key so far
    for position, op in enumerate(graph.ops):
        match = EXPERT_MODULE.match(op.module)
        if not match or op.unmodeled or (op.dims and op.dims[0][0] == "B"):
            continue  # outside any expert, or already grouped
        within = (match["layer"], match["proj"] or "", op.kind, op.aten)
        occurrence = seen[(*within, match["index"])]
        seen[(*within, match["index"])] += 1
        groups[(*within, occurrence)].append(position)
    merged: dict[int, Op] = {}
    dropped: set[int] = set()
    for positions in groups.values():
        ops = [graph.ops[i] for i in positions]
        if len(ops) < 2 or not _mergeable(ops):
            continue
        merged[positions[0]] = _merge(ops)
        dropped.update(positions[1:])
    if not merged:
        return graph
    ops = tuple(merged.get(i, op) for i, op in enumerate(graph.ops) if i not in dropped)
    return dataclasses.replace(graph, ops=ops)


def _mergeable(ops: list[Op]) -> bool:
    first = ops[0]
    signature = _signature(first)
    if any(_signature(op) != signature for op in ops[1:]):
        return False
    if _is_gemm(first):
        return len({(op.dim("N"), op.dim("K")) for op in ops}) == 1
    return len({op.dims[1:] for op in ops}) == 1 and all(op.dims for op in ops)


def _signature(op: Op) -> tuple[object, ...]:
    return (
        op.kind,
        op.aten,
        op.dim_names,
        op.count,
        tuple((o.name, o.role, o.dims, o.dtype, o.sparsity) for o in op.operands),
    )


def _is_gemm(op: Op) -> bool:
    return op.kind is OpKind.GEMM and op.dim_names == GEMM_DIMS


def _merge(ops: list[Op]) -> Op:
    first = ops[0]
    match = EXPERT_MODULE.match(first.module)
    assert match is not None  # group_experts grouped it by this match
    experts = len(ops)
    module = f"{match['layer']}.experts.*" + (f".{match['proj']}" if match["proj"] else "")
    operands = tuple(
        dataclasses.replace(operand, elements=sum(op.operands[i].elements for op in ops))
        for i, operand in enumerate(first.operands)
    )
    if _is_gemm(first):
        rows = max(op.dim("M") for op in ops)
        dims: tuple[tuple[str, int], ...] = (
            ("B", experts),
            ("M", rows),
            ("N", first.dim("N")),
            ("K", first.dim("K")),
        )
        operands = tuple(dataclasses.replace(o, dims=("B", *o.dims)) for o in operands)
    else:
        (lead, _), *rest = first.dims
        dims = ((lead, sum(op.dims[0][1] for op in ops)), *rest)
    return dataclasses.replace(
        first,
        name=f"{first.name}_x{experts}",
        dims=dims,
        operands=operands,
        flops=sum(op.flops for op in ops),
        module=module,
        attrs=(*first.attrs, ("grouped_experts", experts)),
        dataflow=tuple(use for op in ops for use in op.dataflow),
    )


def as_traced(graph: OpGraph) -> OpGraph:
    """The rewrite that leaves a traced graph as it is (the eager modes)."""
    return graph


#: What each mode does to a traced graph.
MOE_REWRITES = {MoeMode.EAGER: as_traced, MoeMode.GROUPED: group_experts}
