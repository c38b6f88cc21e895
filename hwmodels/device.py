"""The one interface every hardware spec implements: `Device`.

A spec of any kind (systolic array, GPU, CPU, and the FPGA and systems that build on them) answers
the same questions under the same names, in SI units, so code that compares devices, draws their
ceilings or costs a run never asks which kind it holds:

=========================  ===================================================================
attribute                  meaning
=========================  ===================================================================
``name``, ``source``       the spec's name and where its figures come from
``clock_hz``               the clock the engine counts cycles at (a GPU's boost clock)
``dram_bytes_per_s``       off-chip memory bandwidth, datasheet
``dram_capacity_bytes``    off-chip memory capacity (0: not modeled, e.g. a SCALE-Sim array)
``launch_overhead_s``      fixed time per kernel launch / op call / instruction batch (0: none)
``tdp_w``                  board or package power (0: unknown)
``board_power_w``          the most the board draws: a power limit set below the TDP, else ``tdp_w``
``static_power_w``         idle power charged while the device runs (0: not modeled)
``price_usd_per_hour``     on-demand rental price (0: unknown)
``default_dtype``          the dtype a workload runs in when none is given
``peak_flops(dtype)``      datasheet FLOP/s of the matrix unit on `dtype` (an error if unsupported)
``achievable_flops(d)``    the FLOP/s a large dense GEMM sustains (peak times the spec's efficiency)
``achievable_dram_...``    ``achievable_dram_bytes_per_s``: what a large copy streams
``memory_levels()``        the on-chip and off-chip memories, innermost first (`MemoryLevel`)
=========================  ===================================================================

Renamed fields: the names above replaced per-kind ones (`RENAMED_FIELDS`); a YAML file or a
``--set`` that uses an old name still loads, with a one-line `RenamedFieldWarning`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from workloads.dtypes import DType

#: Old field name -> the name every spec now uses for that quantity.
RENAMED_FIELDS = {
    "freq_hz": "clock_hz",  # systolic
    "boost_clock_hz": "clock_hz",  # GPU
    "hbm_bytes_per_s": "dram_bytes_per_s",  # GPU
    "achievable_hbm_bytes_per_s": "achievable_dram_bytes_per_s",  # GPU
    "hbm_bytes": "dram_capacity_bytes",  # GPU
    "memory_bytes_per_s": "dram_bytes_per_s",  # CPU
    "call_overhead_s": "launch_overhead_s",  # CPU
}


class RenamedFieldWarning(UserWarning):
    """A spec file or override used a field's old name; it was read under the new one."""


@dataclass(frozen=True)
class MemoryLevel:
    """One memory of a device: its name, capacity in bytes (0: not a capacity the model checks)
    and bandwidth in bytes/s (inf: never the bottleneck in the model)."""

    name: str
    capacity_bytes: float
    bytes_per_s: float


@runtime_checkable
class Device(Protocol):
    """What every hardware spec provides (module docstring); a field or a property on each spec."""

    name: str
    source: str
    clock_hz: float
    dram_bytes_per_s: float
    achievable_dram_bytes_per_s: float
    dram_capacity_bytes: float
    launch_overhead_s: float
    tdp_w: float
    static_power_w: float
    board_power_w: float
    price_usd_per_hour: float
    default_dtype: DType

    def peak_flops(self, dtype: DType) -> float: ...

    def achievable_flops(self, dtype: DType) -> float: ...

    def memory_levels(self) -> tuple[MemoryLevel, ...]: ...
