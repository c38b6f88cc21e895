"""Instruction storage of length-adaptive compilation, and graphs at other sequence lengths.

FlightLLM compiles one instruction program per token length (the lengths change the attention's
and, in prefill, every op's shapes). Storing a program for every length up to the context limit
costs Σ_L bytes(L) for each phase; length-adaptive compilation shares one program over each group
of `length_step` consecutive lengths (the group's longest, padded: the artifact compiles decode at
every 16th length and rounds a step up to it), costing Σ_groups bytes(group's longest).

`program_bytes` is the instruction bytes of one step of a graph: every op's program
(`sim.engines.fpga.program`) at the artifact ISA's widths (`timeline.INSTRUCTION_WORDS`), its
repeats counted. `resize_sequence` gives a traced graph at another length without tracing again:
every loop dim whose size is the traced length takes the new one, and every operand indexed by
such dims scales with them (trace at a length no model dim has, e.g. 97, so nothing else matches).
Within a group of 16 lengths a program's instruction count does not change (tiles are 64, 128 or
512 tokens), so Σ_L bytes(L) is taken as 16 · Σ_groups bytes(group's longest); the test checks
the count is constant inside a group.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

from hwmodels.fpga import FPGASpec
from sim.engines.fpga.engine import plan_op
from workloads.op import Op, OpGraph

#: Loop dims that carry the token count: GEMM rows, attention query/key lengths, norm rows,
#: embedding lookups and the element-wise ops' dims (named d0, d1, ...).
SEQUENCE_DIMS = ("M", "Sq", "Skv", "R", "T", "N")


def resize_sequence(graph: OpGraph, traced: int, length: int) -> OpGraph:
    """`graph`, traced at sequence or context length `traced`, at `length` instead (module
    docstring); the graph's `seq_len`/`context_len` follow."""
    ops = tuple(_resize_op(op, traced, length) for op in graph.ops)
    seq = length if graph.seq_len == traced else graph.seq_len
    context = length if graph.context_len == traced else graph.context_len
    return replace(graph, ops=ops, seq_len=seq, context_len=context)


def _resize_op(op: Op, traced: int, length: int) -> Op:
    resized = {name for name, size in op.dims if size == traced and (name in SEQUENCE_DIMS or name[0] == "d")}
    if not resized:
        return op
    factor = length / traced
    dims = tuple((name, length if name in resized else size) for name, size in op.dims)
    operands = tuple(
        replace(o, elements=max(1, round(o.elements * factor ** len(resized.intersection(o.dims)))))
        for o in op.operands
    )
    return replace(op, dims=dims, operands=operands, flops=round(op.flops * factor ** len(resized)))


@functools.cache
def _op_bytes(op: Op, spec: FPGASpec) -> int:
    plan, _ = plan_op(op, spec)
    return plan.program.instruction_bytes


def program_bytes(graph: OpGraph, spec: FPGASpec) -> int:
    """Instruction bytes of one step of `graph` on `spec` (every op's program, repeats counted)."""
    return sum(
        _op_bytes(replace(op, name="", module=""), spec) * op.count for op in graph.ops if not op.unmodeled
    )


@dataclass(frozen=True)
class InstructionStorage:
    """Bytes of every program up to `max_length`, per phase: one per group of `step` lengths
    (`shared_bytes`) and one per length (`per_length_bytes`, `step` times as much: a program's
    size is constant inside its group, module docstring)."""

    max_length: int
    step: int
    shared_bytes: dict[str, float]

    @property
    def per_length_bytes(self) -> dict[str, float]:
        return {phase: self.step * nbytes for phase, nbytes in self.shared_bytes.items()}

    @property
    def reduction(self) -> float:
        return sum(self.per_length_bytes.values()) / sum(self.shared_bytes.values())


def instruction_storage(graphs: dict[str, tuple[OpGraph, int]], spec: FPGASpec) -> InstructionStorage:
    """Instruction storage for every length up to the overlay's `max_length`, with and without
    sharing over `length_step` lengths. `graphs` maps a phase name to (a graph of it, the length
    it was traced at)."""
    step, top = spec.overlay.length_step, spec.overlay.max_length
    shared = {}
    for phase, (graph, traced) in graphs.items():
        ends = range(step, top + 1, step)
        shared[phase] = float(sum(program_bytes(resize_sequence(graph, traced, end), spec) for end in ends))
    return InstructionStorage(max_length=top, step=step, shared_bytes=shared)


def group_lengths(length: int, step: int) -> int:
    """The length a step of `length` tokens runs at when programs are shared over `step` lengths."""
    return math.ceil(length / step) * step
