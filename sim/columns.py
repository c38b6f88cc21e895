"""The result columns engines share: which ones a total sums, and which only the systolic engine
fills (the GPU and CPU engines set them to zero so totals over mixed frames stay sums)."""

from __future__ import annotations

from sim.cost import ENERGY_COLUMNS
from workloads.op import Op

#: Result columns the systolic engine fills and a GPU has no counterpart for; zero in GPU rows so
#: totals over mixed frames stay sums.
SYSTOLIC_ONLY_COLUMNS = (
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
        "total_cycles_incl_prefetch": total_cycles * n,
        "latency_s": latency_s * n,
        "macs": macs * n,
        "flops": op.flops * n,
        "dram_read_bytes": reads * n,
        "dram_write_bytes": writes * n,
        "dram_bytes": (reads + writes) * n,
    }
