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
* **stall cycles** from a fold-by-fold recurrence over one shared DRAM channel: fold f+1's data is
  fetched while fold f computes (double buffering) and fold f's outputs are written back after it;
  a fold starts when the previous one ended and its data has arrived.

Counts are in elements (words) as SCALE-Sim counts them; bytes use the operands' dtypes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from hwmodels.errors import HardwareSpecError
from hwmodels.systolic import SystolicArraySpec
from mappers.systolic import SystolicMapping
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
    """One operand's accesses: SRAM (elements) and DRAM (bytes), with its per-fold DRAM bytes."""

    sram_accesses: int
    dram_bytes: float
    dram_psum_read_bytes: float
    fold_bytes: np.ndarray  # DRAM bytes moved for this operand at each fold, in fold order


@dataclass(frozen=True, kw_only=True)
class LayerTiming:
    """What the engine computes for one op (one instance; callers multiply by `op.count`)."""

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
    rows_used = _tile_sizes(mapping.spatial_rows, mapping.array_rows)
    cols_used = _tile_sizes(mapping.spatial_cols, mapping.array_cols)
    # Fold order is SCALE-Sim's: column folds outside, row folds inside.
    fold_rows = np.tile(rows_used, mapping.col_folds)
    fold_cols = np.repeat(cols_used, mapping.row_folds)
    first_row_fold = np.tile(np.arange(mapping.row_folds) == 0, mapping.col_folds)
    last_row_fold = np.tile(np.arange(mapping.row_folds) == mapping.row_folds - 1, mapping.col_folds)
    first_col_fold = np.repeat(np.arange(mapping.col_folds) == 0, mapping.row_folds)

    real = {name: op.dim(name) for name in ("M", "N", "K")}
    traffic = {}
    for role in (Role.INPUT, Role.WEIGHT, Role.OUTPUT):
        operand = op.operand(role)
        _check_fold_fits(operand, spec, mapping)
        has_r = mapping.row_dim in operand.dims
        has_c = mapping.col_dim in operand.dims
        # Elements of this operand one fold touches (im2col view, real K, not packed).
        tile = np.ones(mapping.folds)
        full = 1  # elements of one GEMM instance's operand (im2col view)
        instances = 1  # an operand's extra dims (a bmm's batch) are separate GEMM instances
        for dim in operand.dims:
            if dim not in real:
                instances *= op.dim(dim)
                continue
            full *= real[dim]
            if dim == mapping.row_dim:
                tile = tile * fold_rows * (real[dim] / mapping.spatial_rows)
            elif dim == mapping.col_dim:
                tile = tile * fold_cols * (real[dim] / mapping.spatial_cols)
            else:
                tile = tile * real[dim]
        # DRAM holds each distinct element once (a convolution's windows overlap): when the whole
        # operand fits in the working half, each distinct element is fetched once; when it does not,
        # the buffer cannot keep the pixels that neighbouring windows share, and every im2col
        # element a fold touches is fetched (SCALE-Sim's CALC-mode buffer behaves alike).
        instance_bytes = operand.bytes / instances
        half = getattr(spec, _SRAM_FIELD[role]) * ACTIVE_BUFFER_FRACTION
        if instance_bytes <= half:
            dram_per_element = instance_bytes / full
        else:
            dram_per_element = operand.dtype.bytes * operand.sparsity.kept_fraction
        if has_r and has_c:
            sram = full
            fetch = np.ones(mapping.folds, dtype=bool)
        elif has_r:  # reused across column folds (outer loop)
            sram = full * mapping.col_folds
            fetch = first_col_fold if instance_bytes <= half else np.ones(mapping.folds, dtype=bool)
        else:  # reused across row folds (inner loop)
            sram = full * mapping.row_folds
            column_tile_bytes = float(tile.max()) * dram_per_element
            if role is Role.OUTPUT:
                fetch = last_row_fold if column_tile_bytes <= half else np.ones(mapping.folds, bool)
            else:
                fetch = first_row_fold if column_tile_bytes <= half else np.ones(mapping.folds, bool)
        fold_bytes = np.where(fetch, tile * dram_per_element, 0.0)
        psum_fold_bytes = np.zeros(mapping.folds)
        if role is Role.OUTPUT and not has_r and not np.array_equal(fetch, last_row_fold):
            # Output tiles that do not fit spill partial sums: written after every K fold (above)
            # and read back before the next one.
            psum_fold_bytes = np.where(~first_row_fold, tile * dram_per_element, 0.0)
        traffic[role] = (sram, fold_bytes, psum_fold_bytes)

    in_bytes = traffic[Role.INPUT][1] + traffic[Role.WEIGHT][1] + traffic[Role.OUTPUT][2]
    # Side operands (a bias, a quantized weight's scales and zero points, N:M indices) are read
    # once per GEMM instance, with the first fold's data.
    side_bytes = sum(o.bytes for o in op.operands if o.role in SIDE_ROLES) / _instances(op)
    in_bytes[0] += side_bytes
    out_bytes = traffic[Role.OUTPUT][1]
    bandwidth = spec.dram_bytes_per_cycle()
    if math.isinf(bandwidth):
        prefetch = stall = drain = 0.0
    else:
        prefetch, stall, drain = _fold_pipeline(in_bytes, out_bytes, mapping.cycles_per_fold, bandwidth)

    def pack(role: Role) -> OperandTraffic:
        sram, fold_bytes, psum_fold_bytes = traffic[role]
        return OperandTraffic(
            sram_accesses=int(sram),
            dram_bytes=float(fold_bytes.sum()),
            dram_psum_read_bytes=float(psum_fold_bytes.sum()),
            fold_bytes=fold_bytes,
        )

    used_pes = float((fold_rows * fold_cols).sum())
    return LayerTiming(
        folds=mapping.folds,
        compute_cycles=mapping.folds * mapping.cycles_per_fold - 1,
        stall_cycles=stall,
        prefetch_cycles=prefetch,
        drain_cycles=drain,
        mapping_efficiency=used_pes / (mapping.folds * mapping.array_rows * mapping.array_cols),
        ifmap=pack(Role.INPUT),
        filter=pack(Role.WEIGHT),
        ofmap=pack(Role.OUTPUT),
        side_read_bytes=side_bytes,
    )


def _instances(op: Op) -> int:
    """GEMM instances in one op: the product of its dims other than M, N, K (a bmm's batch)."""
    return math.prod(size for name, size in op.dims if name not in ("M", "N", "K"))


def _tile_sizes(size: int, tile: int) -> np.ndarray:
    """Sizes of the folds cutting `size` into tiles of `tile` (the last one may be partial)."""
    sizes = np.full(math.ceil(size / tile), tile, dtype=np.int64)
    sizes[-1] = size - tile * (len(sizes) - 1)
    return sizes


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


@numba.njit(cache=True)
def _fold_pipeline(
    in_bytes: np.ndarray, out_bytes: np.ndarray, cycles_per_fold: int, bytes_per_cycle: float
) -> tuple[float, float, float]:
    """(prefetch, stall, drain) cycles of the double-buffered fold pipeline on one DRAM channel.

    Fold f+1's inputs are fetched while fold f computes, into the buffer half that fold f-1 freed;
    fold f's outputs are written back after it ends. DRAM serves requests in the order issued.
    """
    folds = in_bytes.shape[0]
    dram_free = in_bytes[0] / bytes_per_cycle
    prefetch = dram_free
    start = prefetch
    stall = 0.0
    end = start
    for f in range(folds):
        end = start + cycles_per_fold
        ready = end
        if f + 1 < folds:
            fetch_start = max(start, dram_free)
            dram_free = fetch_start + in_bytes[f + 1] / bytes_per_cycle
            ready = max(end, dram_free)
        dram_free = max(end, dram_free) + out_bytes[f] / bytes_per_cycle
        stall += ready - end
        start = ready
    return prefetch, stall, dram_free - end
