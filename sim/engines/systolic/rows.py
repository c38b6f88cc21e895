"""The systolic engine's result rows: each op on a `SystolicArraySpec`.

Attention is first placed as two batched GEMMs and a softmax (`mappers.attention`), one row each.
GEMM-shaped ops (`Op.is_gemm_shaped`; further dims, such as a bmm's batch, repeat the GEMM) run
on the array, timed fold by fold (`sim.engines.systolic.layer`) under the best of the candidate
mappings (`mappers.systolic`); other modeled ops run on the vector unit's roofline
(`sim.engines.vector`); ops the tracer flagged `unmodeled` get a row with NaN cycles.

Each array row's latency includes its own prefetch of the first fold and the write-back of the
last (`total_cycles_incl_prefetch`): layers run one after the other without overlap.
"""

from __future__ import annotations

from hwmodels.systolic import SystolicArraySpec
from mappers.attention import lower_attention
from mappers.systolic import SystolicMapping, candidate_mappings, compute_dtype
from sim.columns import CORE_SUM_COLUMNS, SYSTOLIC_ONLY_COLUMNS, op_columns, unmodeled_row
from sim.engines.systolic.layer import LayerTiming, simulate_layer
from sim.engines.vector import simulate_vector_op
from workloads.op import Op, OpKind, Role


def simulate_on_array(op: Op, hardware: SystolicArraySpec) -> list[dict[str, object]]:
    return [_simulate_op(placed, hardware) for placed in _placed(op)]


def _placed(op: Op) -> tuple[Op, ...]:
    """The ops that actually run: attention becomes two batched GEMMs and a softmax."""
    if op.kind is OpKind.ATTENTION and not op.unmodeled:
        return lower_attention(op)
    return (op,)


def _simulate_op(op: Op, hardware: SystolicArraySpec) -> dict[str, object]:
    if op.unmodeled:
        return unmodeled_row(op, hardware.name, NAN_COLUMNS)
    if op.is_gemm_shaped:
        return _systolic_row(op, hardware)
    return _vector_row(op, hardware)


def _best_mapping(op: Op, hardware: SystolicArraySpec) -> tuple[SystolicMapping, LayerTiming]:
    """Cost every candidate mapping; the fewest total cycles wins (the first one on a tie)."""
    costed = [(m, simulate_layer(op, hardware, m)) for m in candidate_mappings(op, hardware)]
    return min(costed, key=lambda pair: pair[1].total_cycles)


def _systolic_row(op: Op, hardware: SystolicArraySpec) -> dict[str, object]:
    mapping, timing = _best_mapping(op, hardware)
    n = op.count * op.gemm_instances
    macs_per_instance = op.macs * op.count // n
    total_incl = timing.prefetch_cycles + timing.total_cycles + timing.drain_cycles
    sram_reads = timing.ifmap.sram_accesses + timing.filter.sram_accesses
    dram_reads = (
        timing.ifmap.dram_bytes
        + timing.filter.dram_bytes
        + timing.ofmap.dram_psum_read_bytes
        + timing.side_read_bytes
    )
    sram_bytes = (
        timing.ifmap.sram_accesses * op.operand(Role.INPUT).dtype.bytes
        + timing.filter.sram_accesses * op.operand(Role.WEIGHT).dtype.bytes
        + timing.ofmap.sram_accesses * op.operand(Role.OUTPUT).dtype.bytes
    )
    peak = hardware.num_pes * mapping.macs_per_pe_per_cycle * timing.total_cycles
    return op_columns(op, hardware.name, "systolic") | {
        "dataflow": mapping.dataflow.value,
        "dtype": compute_dtype(op).value,
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
        "utilization": macs_per_instance / peak,
        "mapping_efficiency": timing.mapping_efficiency,
        "macs": macs_per_instance * n,
        "flops": 2 * macs_per_instance * n,
        "ifmap_sram_reads": timing.ifmap.sram_accesses * n,
        "filter_sram_reads": timing.filter.sram_accesses * n,
        "sram_reads": sram_reads * n,
        "ofmap_sram_writes": timing.ofmap.sram_accesses * n,
        "sram_writes": timing.ofmap.sram_accesses * n,
        "dram_ifmap_read_bytes": timing.ifmap.dram_bytes * n,
        "dram_filter_read_bytes": timing.filter.dram_bytes * n,
        "dram_psum_read_bytes": timing.ofmap.dram_psum_read_bytes * n,
        "dram_side_read_bytes": timing.side_read_bytes * n,
        "dram_read_bytes": dram_reads * n,
        "dram_write_bytes": timing.ofmap.dram_bytes * n,
        "dram_bytes": (dram_reads + timing.ofmap.dram_bytes) * n,
        "sram_bytes": sram_bytes * n,
        "ifmap_sram_read_bytes": timing.ifmap.sram_accesses * op.operand(Role.INPUT).dtype.bytes * n,
        "filter_sram_read_bytes": timing.filter.sram_accesses * op.operand(Role.WEIGHT).dtype.bytes * n,
        "ofmap_sram_write_bytes": timing.ofmap.sram_accesses * op.operand(Role.OUTPUT).dtype.bytes * n,
        "latency_s": total_incl * n / hardware.clock_hz,
        "peak_macs": peak * n,
    }


def _vector_row(op: Op, hardware: SystolicArraySpec) -> dict[str, object]:
    timing = simulate_vector_op(op, hardware)
    n = op.count
    return op_columns(op, hardware.name, "vector") | {
        "dtype": max((o.dtype for o in op.operands), key=lambda d: d.bits).value,
        "count": n,
        "folds": 0,
        "compute_cycles": timing.compute_cycles * n,
        "stall_cycles": timing.stall_cycles * n,
        "total_cycles": timing.total_cycles * n,
        "prefetch_cycles": 0.0,
        "drain_cycles": 0.0,
        "total_cycles_incl_prefetch": timing.total_cycles * n,
        "utilization": 0.0,
        "mapping_efficiency": 0.0,
        "macs": 0,
        "flops": op.flops * n,
        "ifmap_sram_reads": 0,
        "filter_sram_reads": 0,
        "sram_reads": timing.read_elements * n,
        "ofmap_sram_writes": 0,
        "sram_writes": timing.write_elements * n,
        "dram_ifmap_read_bytes": 0.0,
        "dram_filter_read_bytes": 0.0,
        "dram_psum_read_bytes": 0.0,
        "dram_side_read_bytes": 0.0,
        "dram_read_bytes": timing.read_bytes * n,
        "dram_write_bytes": timing.write_bytes * n,
        "dram_bytes": (timing.read_bytes + timing.write_bytes) * n,
        "sram_bytes": (timing.read_bytes + timing.write_bytes) * n,
        "ifmap_sram_read_bytes": 0.0,
        "filter_sram_read_bytes": 0.0,
        "ofmap_sram_write_bytes": 0.0,
        "latency_s": timing.total_cycles * n / hardware.clock_hz,
        "peak_macs": hardware.num_pes * timing.total_cycles * n,  # the array idles meanwhile
    }


#: The columns an unmodeled op's row leaves NaN on an array.
NAN_COLUMNS = (
    *CORE_SUM_COLUMNS[1:-1],  # all but count and energy (the cost model's)
    *SYSTOLIC_ONLY_COLUMNS,
    "sram_bytes",
    "utilization",
    "mapping_efficiency",
    "peak_macs",
)
