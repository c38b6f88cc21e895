"""The instruction-level timeline of one core: in-order units with dependencies.

FlightLLM's compiler emits, per core, a stream of instructions for five units and a barrier:
LD (HBM → on-chip buffers), ST (buffers → HBM), MM (the matrix engine in GEMM mode), MV (GEMV
mode), SFU (softmax, norms, element-wise; the artifact's MISC) and SYS (the cross-core barrier).
Each unit executes its own instructions in program order; an instruction starts when its unit is
free and every instruction it waits on has finished. Double buffering is a dependency: the load
of tile i + D waits for the compute of tile i when D tiles fit the buffer.

`schedule` walks a program once in order (every dependency points backwards, so program order is
a valid order): start = max(unit free, dependencies' ends), end = start + cycles. `closed_form`
is the busiest unit's total (what the closed-form timing reports); the timeline's makespan is
never below it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Unit(enum.IntEnum):
    """An in-order unit of a core (an int, so a schedule indexes lists by it; `label` names it)."""

    LD = 0
    ST = 1
    MM = 2
    MV = 3
    SFU = 4
    SYS = 5

    @property
    def label(self) -> str:
        return self.name.lower()


#: 32-bit words per instruction (artifact profile/inst_gen/isa.py, INST_LENGTH_DICT: LD 7, ST 3,
#: MM 4, MV 4, MISC 3, SYS 1).
INSTRUCTION_WORDS = {Unit.LD: 7, Unit.ST: 3, Unit.MM: 4, Unit.MV: 4, Unit.SFU: 3, Unit.SYS: 1}
WORD_BYTES = 4


def instruction_bytes(issued: Mapping[Unit, int]) -> int:
    """Bytes of `issued` ISA instructions per unit at the artifact ISA's widths: Σ n · words · 4."""
    return sum(n * INSTRUCTION_WORDS[unit] * WORD_BYTES for unit, n in issued.items())


@dataclass
class Program:
    """A core's instruction stream: parallel lists (unit, cycles, dependencies, ISA instructions
    it stands for). `add` appends one and returns its index."""

    units: list[Unit] = field(default_factory=list)
    cycles: list[float] = field(default_factory=list)
    deps: list[tuple[int, ...]] = field(default_factory=list)
    issued: list[int] = field(default_factory=list)

    def add(self, unit: Unit, cycles: float, deps: tuple[int | None, ...] = (), *, issued: int = 1) -> int:
        """Append an instruction of `cycles` on `unit` after `deps` (None entries ignored); `issued`
        ISA instructions it stands for (an LD striped over 8 channels is 8 of the artifact's LDs)."""
        self.units.append(unit)
        self.cycles.append(cycles)
        self.deps.append(deps)
        self.issued.append(issued)
        return len(self.units) - 1

    def __len__(self) -> int:
        return len(self.units)

    @property
    def instruction_count(self) -> int:
        return sum(self.issued)

    @property
    def instruction_bytes(self) -> int:
        issued = dict.fromkeys(Unit, 0)
        for unit, n in zip(self.units, self.issued, strict=True):
            issued[unit] += n
        return instruction_bytes(issued)


@dataclass(frozen=True)
class Schedule:
    """A program's makespan in cycles and each unit's busy cycles."""

    makespan: float
    busy: dict[Unit, float]

    @property
    def closed_form(self) -> float:
        """The busiest unit's cycles: what the program takes if every unit overlapped perfectly."""
        return max(self.busy.values(), default=0.0)

    @property
    def bottleneck(self) -> Unit | None:
        return max(self.busy, key=self.busy.__getitem__) if self.busy else None


def schedule(program: Program) -> Schedule:
    """The in-order, dependency-respecting timeline of `program` (module docstring)."""
    free = [0.0] * len(Unit)
    busy = [0.0] * len(Unit)
    end = [0.0] * len(program)
    for i, (unit, cycles, deps) in enumerate(zip(program.units, program.cycles, program.deps, strict=True)):
        start = free[unit]
        for d in deps:
            if d is not None and end[d] > start:
                start = end[d]
        end[i] = start + cycles
        free[unit] = end[i]
        busy[unit] += cycles
    makespan = max(end, default=0.0)
    return Schedule(makespan=makespan, busy={unit: busy[unit] for unit in Unit if busy[unit] > 0})
