"""`simulate()`: a workload on a hardware spec, one result row per op, as a pandas DataFrame.

A simulation is a pure function of its inputs. Attention is first placed as two batched GEMMs and a
softmax (`mappers.attention`), one row each. GEMM-shaped ops (dims M, N, K; any further dims, such
as a bmm's batch, repeat the GEMM) run on the systolic engine; other modeled ops run on the vector
unit's roofline (`sim.engines.vector`); ops the tracer flagged `unmodeled` get a row with NaN cycles
and are counted in `summarize`'s ``unmodeled_ops``, never as zero time.

Rows already include each op's repeats (`count` and extra dims), so totals are plain sums of the
rows. Layers run one after the other without overlap: each systolic row's latency includes its own
prefetch of the first fold and the write-back of the last (`total_cycles_incl_prefetch`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pandas as pd

from hwmodels.cpu import CPUSpec
from hwmodels.gpu import GPUSpec
from hwmodels.systolic import SystolicArraySpec
from mappers.attention import lower_attention
from mappers.systolic import SystolicMapping, candidate_mappings, compute_dtype
from sim.columns import SUM_COLUMNS
from sim.cost import ENERGY_COLUMNS, with_energy
from sim.engines.cpu import simulate_on_cpu
from sim.engines.gpu.engine import simulate_on_gpu
from sim.engines.systolic.layer import LayerTiming, simulate_layer
from sim.engines.vector import simulate_vector_op
from workloads.errors import CodesignError
from workloads.op import Op, OpGraph, OpKind, Role

GEMM_DIMS = ("M", "N", "K")



#: The simulator of each kind of hardware spec: a function from (op, spec) to result rows.
ENGINES: dict[type, Callable[[Op, Any], list[dict[str, object]]]] = {}


def simulate(workload: Op | OpGraph, hardware: Any) -> pd.DataFrame:
    """Simulate every op of `workload` on `hardware`; one row per op with `SUM_COLUMNS` and
    `layer`, `kind`, `engine`, `device`, `utilization`, `unmodeled`, `module`, `aten`, plus the
    engine's own columns (systolic: `dataflow`, `dtype`, `M`, `N`, `K`, `mapping_efficiency`) and the
    energy columns of `sim.cost.cost_of_run` (`energy_j`; on an array also its parts)."""
    engine = _engine_for(hardware)
    ops = workload.ops if isinstance(workload, OpGraph) else (workload,)
    # A model repeats the same ops layer after layer: each distinct op (its name and module aside)
    # is simulated once, and its rows are relabelled for every place it occurs.
    simulated: dict[Op, list[dict[str, object]]] = {}
    rows = []
    for op in ops:
        anonymous = replace(op, name="", module="")
        if anonymous not in simulated:
            simulated[anonymous] = engine(anonymous, hardware)
        rows += [
            row | {"layer": op.name + str(row["layer"]), "module": op.module} for row in simulated[anonymous]
        ]
    return with_energy(pd.DataFrame(rows), hardware)  # energy columns from the cost model (sim.cost)


def simulate_op_latency(op: Op, hardware: Any) -> float:
    """Seconds one op takes on `hardware`, its repeats included: the sum of its rows' `latency_s`
    (what `compare` sets beside a measured kernel). An op the engine leaves unmodeled raises
    `CodesignError` with the engine's reason (its row's `mapping`), never a NaN to average over."""
    rows = _engine_for(hardware)(op, hardware)
    for row in rows:
        if row["unmodeled"]:
            reason = row.get("mapping") or f"{op.aten or op.kind.value} is not modeled"
            raise CodesignError(f"{op.name}: {reason}")
    return float(sum(row["latency_s"] for row in rows))


def _engine_for(hardware: Any) -> Callable[[Op, Any], list[dict[str, object]]]:
    try:
        return ENGINES[type(hardware)]
    except KeyError:
        raise CodesignError(f"no simulator for hardware of type {type(hardware).__name__}") from None


def _simulate_on_array(op: Op, hardware: SystolicArraySpec) -> list[dict[str, object]]:
    return [_simulate_op(placed, hardware) for placed in _placed(op)]


def _placed(op: Op) -> tuple[Op, ...]:
    """The ops that actually run: attention becomes two batched GEMMs and a softmax."""
    if op.kind is OpKind.ATTENTION and not op.unmodeled:
        return lower_attention(op)
    return (op,)


def summarize(results: pd.DataFrame, hardware: Any) -> dict[str, float | str]:
    """The total row: sums of the `SUM_COLUMNS` present over modeled ops, utilization recomputed
    from the sums (MACs done over MACs the device could have done, `peak_macs`), and the number of
    unmodeled ops left out."""
    modeled = results[~results["unmodeled"].astype(bool)]
    total: dict[str, float | str] = {"layer": "total", "kind": "", "device": hardware.name}
    for column in (*SUM_COLUMNS, "peak_macs"):
        if column in results.columns:
            # an energy column that is NaN throughout (a GPU without a TDP) totals NaN, not 0
            total[column] = modeled[column].sum(min_count=1 if column in ENERGY_COLUMNS else 0)
    total["utilization"] = float(total["macs"] / total["peak_macs"]) if total["peak_macs"] else 0.0
    if "mapping_efficiency" in results.columns and "folds" in results.columns:
        on_array = modeled[modeled["folds"] > 0]
        folds = on_array["folds"].astype(float)
        total["mapping_efficiency"] = (
            float((on_array["mapping_efficiency"] * folds).sum() / folds.sum()) if len(on_array) else 0.0
        )
    if "mapping" in results.columns:  # GPU and CPU rows name their kernel's mapping; a total has none
        total["mapping"] = ""
    total["unmodeled_ops"] = int(results["unmodeled"].astype(bool).sum())
    return total


def _simulate_op(op: Op, hardware: SystolicArraySpec) -> dict[str, object]:
    if op.unmodeled:
        return _unmodeled_row(op, hardware)
    if all(name in op.dim_names for name in GEMM_DIMS):
        return _systolic_row(op, hardware)
    return _vector_row(op, hardware)


def _common(op: Op, hardware: SystolicArraySpec, engine: str) -> dict[str, object]:
    return {
        "layer": op.name,
        "kind": op.kind.value,
        "engine": engine,
        "device": hardware.name,
        "module": op.module,
        "aten": op.aten,
        "unmodeled": op.unmodeled,
    }


def _best_mapping(op: Op, hardware: SystolicArraySpec) -> tuple[SystolicMapping, LayerTiming]:
    """Cost every candidate mapping; the fewest total cycles wins (the first one on a tie)."""
    costed = [(m, simulate_layer(op, hardware, m)) for m in candidate_mappings(op, hardware)]
    return min(costed, key=lambda pair: pair[1].total_cycles)


def _systolic_row(op: Op, hardware: SystolicArraySpec) -> dict[str, object]:
    mapping, timing = _best_mapping(op, hardware)
    n = op.count * math.prod(size for name, size in op.dims if name not in GEMM_DIMS)
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
    return _common(op, hardware, "systolic") | {
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
        "latency_s": total_incl * n / hardware.freq_hz,
        "peak_macs": peak * n,
    }


def _vector_row(op: Op, hardware: SystolicArraySpec) -> dict[str, object]:
    timing = simulate_vector_op(op, hardware)
    n = op.count
    return _common(op, hardware, "vector") | {
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
        "latency_s": timing.total_cycles * n / hardware.freq_hz,
        "peak_macs": hardware.num_pes * timing.total_cycles * n,  # the array idles meanwhile
    }


def _unmodeled_row(op: Op, hardware: SystolicArraySpec) -> dict[str, object]:
    return (
        _common(op, hardware, "none")
        | {
            column: math.nan
            for column in (*SUM_COLUMNS, "utilization", "mapping_efficiency")
            if column not in ENERGY_COLUMNS  # added by the cost model
        }
        | {"count": op.count, "flops": op.flops * op.count, "peak_macs": math.nan}
    )


ENGINES[SystolicArraySpec] = _simulate_on_array
ENGINES[GPUSpec] = simulate_on_gpu
ENGINES[CPUSpec] = simulate_on_cpu
