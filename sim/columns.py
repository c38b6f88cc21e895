"""The result columns engines share: which ones a total sums, and which only the systolic engine
fills (the GPU and CPU engines set them to zero so totals over mixed frames stay sums)."""

from __future__ import annotations

from sim.cost import ENERGY_COLUMNS

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
