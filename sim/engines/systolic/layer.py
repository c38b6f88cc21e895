"""The cycle-approximate systolic-array engine: one function, parameterized by the dataflow.

For one GEMM-shaped op mapped by `mappers.systolic`, it computes

* **compute cycles**, exactly as SCALE-Sim counts them: each fold streams ``T`` values through the
  array plus ``R + C - 2`` cycles of skew (fill and drain), plus ``R`` cycles of preload for ws/is;
  SCALE-Sim reports the index of the last cycle, ``folds * cycles_per_fold - 1``;
* **SRAM accesses** per operand: an operand indexed by both spatial dims is read once; one indexed
  only by the rows dim is read again for every column fold, one indexed only by the columns dim for
  every row fold (for ws/is outputs, once per K fold: partial sums);
* **DRAM traffic** per operand, with half of each SRAM as the working buffer (double buffering):
  an operand reused across the outer (column-fold) loop is fetched once if all of it fits, else
  once per column fold; one reused across the inner (row-fold) loop is fetched once if one column
  tile fits, else once per row fold; ws/is output tiles that do not fit spill partial sums;
* **prefetch, stall and drain cycles** over one shared DRAM channel: the working half of each input
  SRAM is filled before the array starts (prefetch); then fold f+1's data is fetched while fold f
  computes, and a fold starts when the previous one ended and its data has arrived (stalls);
  outputs drain to DRAM behind the reads through the ofmap SRAM, stalling the array only when that
  backlog outgrows its working half; what is left after the last fold is the drain.

Counts are in elements (words) as SCALE-Sim counts them; bytes use the operands' dtypes.
docs/systolic_model.md gives the model and where and why it differs from SCALE-Sim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwmodels.errors import HardwareSpecError
from hwmodels.systolic import SystolicArraySpec
from mappers.systolic import SystolicMapping
from sim.engines.systolic.folds import Fetch, OperandWalk, walk_folds
from sim.engines.systolic.scalesim_calc import prefetch_and_drain
from workloads.errors import WorkloadError
from workloads.op import Op, Operand, Role

#: Fraction of each SRAM that holds the data being worked on; the rest receives the next fold's data
#: (double buffering). SCALE-Sim uses the same split (``active_buf_frac = 0.5`` in single_layer_sim).
ACTIVE_BUFFER_FRACTION = 0.5

#: Operands read beside the three main ones: they cost DRAM bytes, not array cycles.
SIDE_ROLES = (Role.BIAS, Role.METADATA)

_SRAM_FIELD = {
    Role.INPUT: "ifmap_sram_bytes",
    Role.WEIGHT: "filter_sram_bytes",
    Role.OUTPUT: "ofmap_sram_bytes",
}


@dataclass(frozen=True, kw_only=True)
class OperandTraffic:
    """One operand's accesses: SRAM (elements) and DRAM (bytes)."""

    sram_accesses: int
    dram_bytes: float
    dram_psum_read_bytes: float


@dataclass(frozen=True, kw_only=True)
class LayerTiming:
    """What the engine computes for one GEMM instance (callers multiply by the repeats)."""

    folds: int
    compute_cycles: int
    stall_cycles: float
    prefetch_cycles: float
    drain_cycles: float
    mapping_efficiency: float
    side_read_bytes: float  # bias, quantization scales/zero points, sparsity metadata
    ifmap: OperandTraffic
    filter: OperandTraffic
    ofmap: OperandTraffic

    @property
    def total_cycles(self) -> float:
        return self.compute_cycles + self.stall_cycles


def simulate_layer(op: Op, spec: SystolicArraySpec, mapping: SystolicMapping) -> LayerTiming:
    """Cycles, accesses and traffic of `op` on `spec` under `mapping` (see the module docstring)."""
    _check_counts_exact(op, mapping)
    real = {name: op.dim(name) for name in ("M", "N", "K")}
    operands = []
    sram = []
    for role in (Role.INPUT, Role.WEIGHT, Role.OUTPUT):
        operand = op.operand(role)
        _check_fold_fits(operand, spec, mapping)
        has_r = mapping.row_dim in operand.dims
        has_c = mapping.col_dim in operand.dims
        full = math.prod(real[dim] for dim in operand.dims if dim in real)  # im2col elements
        other = math.prod(
            real[dim] for dim in operand.dims if dim in real and dim not in (mapping.row_dim, mapping.col_dim)
        )
        # The packed K dim: one spatial row or column may hold several K values (MACs per PE).
        per_row = real[mapping.row_dim] / mapping.spatial_rows
        per_col = real[mapping.col_dim] / mapping.spatial_cols
        # DRAM holds each distinct element once (a convolution's windows overlap): when the whole
        # operand fits in the working half, each distinct element is fetched once; when it does not,
        # the buffer cannot keep the pixels that neighbouring windows share, and every im2col
        # element a fold touches is fetched (SCALE-Sim's CALC-mode buffer behaves alike).
        instance_bytes = operand.bytes / op.gemm_instances
        half = getattr(spec, _SRAM_FIELD[role]) * ACTIVE_BUFFER_FRACTION
        # strictly smaller: an operand exactly the size of the working half leaves no room (SCALE-Sim
        # refetches it too)
        fits = instance_bytes < half
        per_element = instance_bytes / full if fits else operand.dtype.bytes * operand.sparsity.kept_fraction
        spills = False
        if has_r and has_c:
            sram.append(full)
            fetch = Fetch.EVERY_FOLD
        elif has_r:  # reused across column folds (outer loop): once if all of it fits
            sram.append(full * mapping.col_folds)
            fetch = Fetch.FIRST_COLUMN_FOLD if fits else Fetch.EVERY_FOLD
        else:  # reused across row folds (inner loop): once per column fold if its tile fits
            sram.append(full * mapping.row_folds)
            column_tile = min(mapping.spatial_cols, mapping.array_cols) * per_col * other
            tile_fits = column_tile * per_element < half
            if role is Role.OUTPUT:
                fetch = Fetch.LAST_ROW_FOLD if tile_fits else Fetch.EVERY_FOLD
                # an output tile that does not fit is written after every K fold and read back
                spills = not tile_fits and mapping.row_folds > 1
            else:
                fetch = Fetch.FIRST_ROW_FOLD if tile_fits else Fetch.EVERY_FOLD
        operands.append(
            OperandWalk(
                has_rows=has_r,
                has_cols=has_c,
                per_row=per_row,
                per_col=per_col,
                other=float(other),  # rounded as a float64 above 2^53, as the walk multiplies it
                per_element=per_element,
                fetch=fetch,
                spills=spills,
                half=float(half),
            )
        )

    # Side operands (a bias, a quantized weight's scales and zero points, N:M indices) are read
    # once per GEMM instance, with the first fold's data.
    side_bytes = sum(o.bytes for o in op.operands if o.role in SIDE_ROLES) / op.gemm_instances
    bandwidth = spec.dram_bytes_per_cycle()
    walk = walk_folds(
        mapping.spatial_rows,
        mapping.spatial_cols,
        mapping.array_rows,
        mapping.array_cols,
        mapping.cycles_per_fold,
        operands,
        side_bytes,
        0.0 if math.isinf(bandwidth) else bandwidth,
    )
    dram, psum_reads = walk.dram_bytes, walk.psum_read_bytes
    prefetch, stall, drain = walk.prefetch_cycles, walk.stall_cycles, walk.drain_cycles
    if math.isinf(bandwidth) and spec.calc_prefetch_bytes_per_s > 0:  # SCALE-Sim's CALC mode
        prefetch, drain = prefetch_and_drain(
            op, spec, mapping, written_bytes=dram[2], side_bytes=side_bytes
        )
    traffic = [
        OperandTraffic(
            sram_accesses=int(sram[index]),
            dram_bytes=float(dram[index]),
            dram_psum_read_bytes=float(psum_reads) if index == 2 else 0.0,
        )
        for index in range(3)
    ]
    used = mapping.spatial_rows * mapping.spatial_cols  # sum over folds of rows used x cols used
    return LayerTiming(
        folds=mapping.folds,
        compute_cycles=mapping.folds * mapping.cycles_per_fold - 1,
        stall_cycles=stall,
        prefetch_cycles=prefetch,
        drain_cycles=drain,
        mapping_efficiency=used / (mapping.folds * mapping.array_rows * mapping.array_cols),
        side_read_bytes=side_bytes,
        ifmap=traffic[0],
        filter=traffic[1],
        ofmap=traffic[2],
    )


#: The engine's counts (cycles, MACs, SRAM accesses) are exact integers in float64 up to 2^53; a
#: layer beyond that would get silently rounded columns, so it is refused before it is simulated.
#: 2^53 is about 9.0e15: a 10^12 x 64 x 64 GEMM (4.1e15 MACs) runs, a 10^13-row one does not.
MAX_EXACT_COUNT = 2**53


def _check_counts_exact(op: Op, mapping: SystolicMapping) -> None:
    """A `WorkloadError` naming the op's largest dim, its value and about how large it may be, when
    the op's MACs or cycles (all its repeats) would pass `MAX_EXACT_COUNT`. (`simulate` passes ops
    without their names, so the message names the shape.)"""
    repeats = op.count * op.gemm_instances
    macs = op.macs * op.count
    cycles = mapping.folds * mapping.cycles_per_fold * repeats
    worst = max(macs, cycles)
    if worst <= MAX_EXACT_COUNT:
        return
    name, size = max(op.dims, key=lambda dim: dim[1])
    shape = " x ".join(f"{dim}={value}" for dim, value in op.dims)
    others = " and ".join(dim for dim, _ in op.dims if dim != name)
    raise WorkloadError(
        f"{name} = {size} is too large for the systolic engine: {shape} is {macs:.3g} MACs and "
        f"{cycles:.3g} cycles, and its counts are exact only up to 2^53 ({MAX_EXACT_COUNT:.3g}); with "
        f"{others} as they are, {name} may be at most about {size * MAX_EXACT_COUNT // worst:.3g}"
    )


def _check_fold_fits(operand: Operand, spec: SystolicArraySpec, mapping: SystolicMapping) -> None:
    """Each SRAM's working half must hold one step of a fold: the operand's spatial tile."""
    elements = 1
    if mapping.row_dim in operand.dims:
        elements *= mapping.array_rows
    if mapping.col_dim in operand.dims:
        elements *= mapping.array_cols
    needed = elements * operand.dtype.bytes / ACTIVE_BUFFER_FRACTION
    field = _SRAM_FIELD[operand.role]
    have = getattr(spec, field)
    if have < needed:
        raise HardwareSpecError(
            f"hardware {spec.name!r}: field {field!r} = {have} B is too small to hold one fold's "
            f"{operand.role.value} tile on a {spec.rows}x{spec.cols} {spec.dataflow.value} array "
            f"({elements} elements x {operand.dtype.bytes:g} B, double-buffered: {needed:g} B needed)"
        )
