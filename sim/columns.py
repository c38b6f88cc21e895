"""The result schema: the core columns every engine fills, the columns only one engine's rows
carry, and which of them a total sums.

Core (every engine, every row): `layer`, `kind`, `engine`, `device`, `module`, `aten`,
`unmodeled`, `count`, `latency_s`, `total_cycles` (at the spec's `clock_hz`), `compute_cycles`,
`stall_cycles`, `flops`, `macs`, `dram_read_bytes`, `dram_write_bytes`, `dram_bytes`,
`utilization`, `peak_macs`, and `energy_j` (the cost model's). An engine adds its own columns (the
systolic engine its folds, prefetch and per-buffer SRAM counts; the GPU engine its launches, its
L2 traffic as `sram_bytes` and its mapping) and no other engine's rows carry them: a GPU row has
no `sram_reads`, a CPU row no `sram_bytes`, rather than a 0 that reads as counted.
"""

from __future__ import annotations

import math

from sim.cost import ENERGY_COLUMNS
from workloads.op import Op

#: Result columns only the systolic engine's rows carry (with the energy parts of its cost model).
SYSTOLIC_ONLY_COLUMNS = (
    "total_cycles_incl_prefetch",
    "folds",
    "prefetch_cycles",
    "drain_cycles",
    "ifmap_sram_reads",
    "filter_sram_reads",
    "sram_reads",
    "ofmap_sram_writes",
    "sram_writes",
    "dram_ifmap_read_bytes",
    "dram_filter_read_bytes",
    "dram_psum_read_bytes",
    "dram_side_read_bytes",
    "ifmap_sram_read_bytes",
    "filter_sram_read_bytes",
    "ofmap_sram_write_bytes",
)
#: Columns that hold one value for a whole run (the resources an FPGA overlay uses): a total
#: carries that value rather than a sum.
RUN_CONSTANT_COLUMNS = ("dsps_used", "onchip_bytes_used", "channels_used")
#: The summed columns every engine's rows carry.
CORE_SUM_COLUMNS = (
    "count",
    "compute_cycles",
    "stall_cycles",
    "total_cycles",
    "latency_s",
    "macs",
    "flops",
    "dram_read_bytes",
    "dram_write_bytes",
    "dram_bytes",
    "energy_j",
)

#: Columns whose total is the sum of the rows; the ratio columns are recomputed from the sums.
SUM_COLUMNS = (
    "count",
    "folds",
    "compute_cycles",
    "stall_cycles",
    "total_cycles",
    "prefetch_cycles",
    "drain_cycles",
    "total_cycles_incl_prefetch",
    "latency_s",
    "macs",
    "flops",
    "ifmap_sram_reads",
    "filter_sram_reads",
    "sram_reads",
    "ofmap_sram_writes",
    "sram_writes",
    "dram_ifmap_read_bytes",
    "dram_filter_read_bytes",
    "dram_psum_read_bytes",
    "dram_side_read_bytes",
    "dram_read_bytes",
    "dram_write_bytes",
    "dram_bytes",
    "sram_bytes",
    "ifmap_sram_read_bytes",
    "filter_sram_read_bytes",
    "ofmap_sram_write_bytes",
    *ENERGY_COLUMNS,
)


def op_columns(op: Op, device: str, engine: str, *, unmodeled: bool = False) -> dict[str, object]:
    """The columns that say which op a row is and what simulated it."""
    return {
        "layer": op.name,
        "kind": op.kind.value,
        "engine": engine,
        "device": device,
        "module": op.module,
        "aten": op.aten,
        "unmodeled": op.unmodeled or unmodeled,
    }


def unmodeled_row(op: Op, device: str, nan_columns: tuple[str, ...]) -> dict[str, object]:
    """The row of an op an engine does not model: NaN time and traffic in `nan_columns` (never a
    zero that a total would count), its FLOPs and repeats as traced."""
    return (
        op_columns(op, device, "none", unmodeled=True)
        | dict.fromkeys(nan_columns, math.nan)
        | {"count": op.count, "flops": op.flops * op.count}
    )


def timed_columns(
    op: Op, *, latency_s: float, compute_s: float, clock_hz: float, macs: int, reads: float, writes: float
) -> dict[str, object]:
    """The timing and traffic columns of a GPU or CPU row, the op's repeats (`count`) included:
    cycles at `clock_hz`, the compute share capped at the total, the rest stalls."""
    n = op.count
    total_cycles = latency_s * clock_hz
    compute_cycles = min(compute_s * clock_hz, total_cycles)
    return {
        "count": n,
        "compute_cycles": compute_cycles * n,
        "stall_cycles": (total_cycles - compute_cycles) * n,
        "total_cycles": total_cycles * n,
        "latency_s": latency_s * n,
        "macs": macs * n,
        "flops": op.flops * n,
        "dram_read_bytes": reads * n,
        "dram_write_bytes": writes * n,
        "dram_bytes": (reads + writes) * n,
    }
