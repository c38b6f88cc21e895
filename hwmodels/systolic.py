"""The systolic-array spec: a frozen, validated description of one array and its memories.

Units are in the field names (SI base units): bytes, bytes per second, hertz. The three SRAMs are
SCALE-Sim's: an ifmap (input) buffer, a filter (weight) buffer and an ofmap (output) buffer, each
double-buffered by the engine (half is worked on while the other half is filled).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

from hwmodels.checks import check_non_negative_number, check_positive_int
from hwmodels.cost.memory import DramKind
from hwmodels.device import MemoryLevel
from hwmodels.errors import HardwareSpecError
from workloads.dtypes import DType


class Dataflow(enum.Enum):
    """Which operand stays in the PEs: outputs (os), weights (ws) or inputs (is)."""

    OS = "os"
    WS = "ws"
    IS = "is"

    @classmethod
    def parse(cls, text: object, *, where: str = "") -> Dataflow:
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            valid = ", ".join(d.value for d in cls)
            raise HardwareSpecError(f"{where}unknown dataflow {text!r}; valid: {valid}") from None


#: Vector-unit width when a spec gives none: one lane (one FLOP per cycle) per array column, the
#: arrangement of TPU v1's activation pipeline, which takes the 256-wide matrix unit's output row
#: per cycle (Jouppi et al. ISCA 2017, Fig. 1), and of Gemmini's activation unit on the
#: accumulator's output row (Genc et al. DAC 2021).
VECTOR_LANES_PER_COLUMN = 1

#: One MAC per PE per cycle for every dtype: SCALE-Sim's PE (it has no notion of dtype).
SCALESIM_MACS_PER_PE_PER_CYCLE = MappingProxyType({dtype: 1 for dtype in DType})


@dataclass(frozen=True, kw_only=True)
class SystolicArraySpec:
    """A rows × cols array of PEs with three SRAM buffers in front of DRAM.

    `macs_per_pe_per_cycle` maps a dtype to how many MACs one PE does per cycle on it (an INT4 PE
    may do 4 where an FP16 one does 1); dtypes missing from it are not supported by the array.
    `dram_bytes_per_s` may be infinite: SCALE-Sim's CALC mode, which sizes bandwidth so nothing
    stalls. `vector_flops_per_cycle` is the vector unit beside the array that runs the non-GEMM ops
    (norms, softmax, activations); 0 means one lane per array column
    (`VECTOR_LANES_PER_COLUMN`).

    `calc_prefetch_bytes_per_s` is SCALE-Sim's CALC mode: with `dram_bytes_per_s` unlimited, each
    input SRAM's first working set is still fetched before the array starts, at this rate per SRAM
    (SCALE-Sim's CALC read buffer, `memory/read_buffer_estimate_bw.py`, prefetches its first epoch at
    an "arbitrary" 10 words per cycle), and the outputs left in the ofmap SRAM drain at one word per
    array column per cycle (`sim.engines.systolic.scalesim_calc`). 0, the default: no such time.
    A CALC-mode SCALE-Sim `.cfg` sets it (`hwmodels.scalesim_cfg`).

    Cost fields (`hwmodels.cost`, `sim.cost`): `technology_nm` is the process node the MAC and SRAM
    energies and areas are scaled to (45 nm, the default, is Horowitz's table as published);
    `dram_kind` sets the energy per DRAM byte; `static_power_w` is the device's measured idle power
    where one is published (0: static energy not modeled).
    """

    name: str
    rows: int
    cols: int
    dataflow: Dataflow
    ifmap_sram_bytes: int
    filter_sram_bytes: int
    ofmap_sram_bytes: int
    dram_bytes_per_s: float
    clock_hz: float
    macs_per_pe_per_cycle: Mapping[DType, int] = field(
        default_factory=lambda: SCALESIM_MACS_PER_PE_PER_CYCLE
    )
    default_dtype: DType = DType.INT8
    vector_flops_per_cycle: float = 0.0
    technology_nm: float = 45.0
    dram_kind: DramKind = DramKind.DDR4
    static_power_w: float = 0.0
    calc_prefetch_bytes_per_s: float = 0.0
    source: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        where = f"hardware {self.name!r}: "
        for name in ("rows", "cols", "ifmap_sram_bytes", "filter_sram_bytes", "ofmap_sram_bytes"):
            check_positive_int(self, name, where)
        if isinstance(self.vector_flops_per_cycle, bool) or not (
            isinstance(self.vector_flops_per_cycle, int | float) and self.vector_flops_per_cycle >= 0
        ):
            raise HardwareSpecError(
                f"{where}field 'vector_flops_per_cycle' = {self.vector_flops_per_cycle!r}: "
                "must be a number >= 0 (0: one lane per column)"
            )
        for name in ("dram_bytes_per_s", "clock_hz"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise HardwareSpecError(f"{where}field {name!r} = {value!r}: must be a number > 0")
        if isinstance(self.technology_nm, bool) or not (
            isinstance(self.technology_nm, int | float) and 1 <= self.technology_nm <= 1000
        ):
            raise HardwareSpecError(
                f"{where}field 'technology_nm' = {self.technology_nm!r}: must be a number in 1-1000 (nm)"
            )
        check_non_negative_number(self, "static_power_w", where)
        check_non_negative_number(self, "calc_prefetch_bytes_per_s", where)
        if not isinstance(self.dram_kind, DramKind):
            raise HardwareSpecError(f"{where}field 'dram_kind' = {self.dram_kind!r}: not a DramKind")
        if math.isinf(self.clock_hz):
            raise HardwareSpecError(f"{where}field 'clock_hz' = inf: must be finite")
        if not isinstance(self.dataflow, Dataflow):
            raise HardwareSpecError(f"{where}field 'dataflow' = {self.dataflow!r}: not a Dataflow")
        for dtype, macs in self.macs_per_pe_per_cycle.items():
            if not isinstance(dtype, DType) or not isinstance(macs, int) or macs < 1:
                raise HardwareSpecError(
                    f"{where}field 'macs_per_pe_per_cycle' entry {dtype!r}: {macs!r} "
                    "must map a dtype to a positive integer"
                )
        if self.default_dtype not in self.macs_per_pe_per_cycle:
            raise HardwareSpecError(
                f"{where}field 'default_dtype' = {self.default_dtype.value!r}: not in "
                f"macs_per_pe_per_cycle ({', '.join(d.value for d in self.macs_per_pe_per_cycle)})"
            )
        object.__setattr__(
            self, "macs_per_pe_per_cycle", MappingProxyType(dict(self.macs_per_pe_per_cycle))
        )

    @property
    def vector_flops(self) -> float:
        """FLOPs per cycle of the vector unit (one lane per column unless the spec says)."""
        return self.vector_flops_per_cycle or self.cols * VECTOR_LANES_PER_COLUMN

    @property
    def num_pes(self) -> int:
        return self.rows * self.cols

    def dram_bytes_per_cycle(self) -> float:
        return self.dram_bytes_per_s / self.clock_hz

    def macs_per_cycle(self, dtype: DType) -> int:
        """MACs one PE does per cycle on `dtype`; an error if the array does not support it."""
        try:
            return self.macs_per_pe_per_cycle[dtype]
        except KeyError:
            supported = ", ".join(d.value for d in self.macs_per_pe_per_cycle)
            raise HardwareSpecError(
                f"hardware {self.name!r}: dtype {dtype.value!r} is not supported "
                f"(macs_per_pe_per_cycle has {supported})"
            ) from None

    def peak_macs_per_s(self, dtype: DType) -> float:
        return self.num_pes * self.macs_per_cycle(dtype) * self.clock_hz

    # The `hwmodels.device.Device` interface beyond the fields.
    def peak_flops(self, dtype: DType) -> float:
        """2 · PEs · MACs/PE/cycle · clock."""
        return 2 * self.peak_macs_per_s(dtype)

    def achievable_flops(self, dtype: DType) -> float:
        """The peak: an array's losses (fill, folds, stalls) are what its engine models per layer."""
        return self.peak_flops(dtype)

    @property
    def achievable_dram_bytes_per_s(self) -> float:
        return self.dram_bytes_per_s

    #: SCALE-Sim arrays have no DRAM capacity, launch cost, TDP or price in the model.
    dram_capacity_bytes = 0.0
    launch_overhead_s = 0.0
    tdp_w = 0.0
    board_power_w = 0.0
    price_usd_per_hour = 0.0

    def memory_levels(self) -> tuple[MemoryLevel, ...]:
        """The three SRAMs (read by the array every cycle, never the bottleneck) and DRAM."""
        inf = float("inf")
        return (
            MemoryLevel("ifmap_sram", self.ifmap_sram_bytes, inf),
            MemoryLevel("filter_sram", self.filter_sram_bytes, inf),
            MemoryLevel("ofmap_sram", self.ofmap_sram_bytes, inf),
            MemoryLevel("dram", self.dram_capacity_bytes, self.dram_bytes_per_s),
        )


SYSTOLIC_FIELDS = tuple(f.name for f in fields(SystolicArraySpec))
