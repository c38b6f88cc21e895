"""`simulate()`: a workload on a hardware spec, one result row per op, as a pandas DataFrame.

A simulation is a pure function of its inputs. Rows already include each op's `count` (repeated
identical layers), so the totals are plain sums of the rows (`summarize`). Layers run one after the
other without overlap: each row's latency includes its own prefetch of the first fold and the
write-back of the last (`total_cycles_incl_prefetch`).
"""

from __future__ import annotations

import pandas as pd

from hwmodels.systolic import SystolicArraySpec
from mappers.systolic import SystolicMapping, candidate_mappings
from sim.systolic_engine import LayerTiming, simulate_layer
from workloads.op import Op, OpGraph, Role

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
    "dram_read_bytes",
    "dram_write_bytes",
    "dram_bytes",
    "sram_bytes",
)


def simulate(workload: Op | OpGraph, hardware: SystolicArraySpec) -> pd.DataFrame:
    """Simulate every op of `workload` on `hardware`; one row per op (see `SUM_COLUMNS` and
    `layer`, `kind`, `device`, `dataflow`, `M`, `N`, `K`, `utilization`, `mapping_efficiency`)."""
    ops = workload.ops if isinstance(workload, OpGraph) else (workload,)
    return pd.DataFrame([_simulate_op(op, hardware) for op in ops])


def summarize(results: pd.DataFrame, hardware: SystolicArraySpec) -> dict[str, float | str]:
    """The total row: sums of `SUM_COLUMNS`, with utilization recomputed from the summed cycles."""
    total: dict[str, float | str] = {"layer": "total", "kind": "", "device": hardware.name}
    for column in SUM_COLUMNS:
        total[column] = results[column].sum()
    peak_macs = hardware.num_pes * (results["pe_macs_per_cycle"] * results["total_cycles"]).sum()
    total["utilization"] = float(total["macs"] / peak_macs)
    folds = results["folds"] * 1.0
    total["mapping_efficiency"] = float((results["mapping_efficiency"] * folds).sum() / folds.sum())
    return total


def _best_mapping(op: Op, hardware: SystolicArraySpec) -> tuple[SystolicMapping, LayerTiming]:
    """Cost every candidate mapping; the fewest total cycles wins (first one on a tie)."""
    costed = [(m, simulate_layer(op, hardware, m)) for m in candidate_mappings(op, hardware)]
    return min(costed, key=lambda pair: pair[1].total_cycles)


def _simulate_op(op: Op, hardware: SystolicArraySpec) -> dict[str, object]:
    mapping, timing = _best_mapping(op, hardware)
    n = op.count
    total_incl = timing.prefetch_cycles + timing.total_cycles + timing.drain_cycles
    sram_reads = timing.ifmap.sram_accesses + timing.filter.sram_accesses
    dram_reads = timing.ifmap.dram_bytes + timing.filter.dram_bytes + timing.ofmap.dram_psum_read_bytes
    sram_bytes = (
        timing.ifmap.sram_accesses * op.operand(Role.INPUT).dtype.bytes
        + timing.filter.sram_accesses * op.operand(Role.WEIGHT).dtype.bytes
        + timing.ofmap.sram_accesses * op.operand(Role.OUTPUT).dtype.bytes
    )
    return {
        "layer": op.name,
        "kind": op.kind.value,
        "device": hardware.name,
        "dataflow": mapping.dataflow.value,
        "M": op.dim("M"),
        "N": op.dim("N"),
        "K": op.dim("K"),
        "count": n,
        "folds": timing.folds * n,
        "compute_cycles": timing.compute_cycles * n,
        "stall_cycles": timing.stall_cycles * n,
        "total_cycles": timing.total_cycles * n,
        "prefetch_cycles": timing.prefetch_cycles * n,
        "drain_cycles": timing.drain_cycles * n,
        "total_cycles_incl_prefetch": total_incl * n,
        "utilization": op.macs / (hardware.num_pes * mapping.macs_per_pe_per_cycle * timing.total_cycles),
        "mapping_efficiency": timing.mapping_efficiency,
        "macs": op.macs * n,
        "flops": op.flops * n,
        "ifmap_sram_reads": timing.ifmap.sram_accesses * n,
        "filter_sram_reads": timing.filter.sram_accesses * n,
        "sram_reads": sram_reads * n,
        "ofmap_sram_writes": timing.ofmap.sram_accesses * n,
        "sram_writes": timing.ofmap.sram_accesses * n,
        "dram_ifmap_read_bytes": timing.ifmap.dram_bytes * n,
        "dram_filter_read_bytes": timing.filter.dram_bytes * n,
        "dram_psum_read_bytes": timing.ofmap.dram_psum_read_bytes * n,
        "dram_read_bytes": dram_reads * n,
        "dram_write_bytes": timing.ofmap.dram_bytes * n,
        "dram_bytes": (dram_reads + timing.ofmap.dram_bytes) * n,
        "sram_bytes": sram_bytes * n,
        "latency_s": total_incl * n / hardware.freq_hz,
        "pe_macs_per_cycle": mapping.macs_per_pe_per_cycle,
    }
