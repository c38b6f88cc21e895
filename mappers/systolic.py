"""Map a GEMM-shaped op onto a systolic array: which loop dim runs down the rows, which across the
columns, which through time, and how the op is cut into folds.

A dataflow is just an assignment of the GEMM dims ``C[M][N] += A[M][K] * B[K][N]`` (SCALE-Sim's
``systolic_compute_{os,ws,is}.py``):

========  ===========  ===========  ==========  ==========================
dataflow  array rows   array cols   time        stationary in the PEs
========  ===========  ===========  ==========  ==========================
os        M            N            K           outputs C
ws        K            N            M           weights B
is        K            M            N           inputs A
========  ===========  ===========  ==========  ==========================

A PE that does `p` MACs per cycle on the op's dtype works on `p` consecutive K values at once, so
the K dim shrinks to ``ceil(K / p)`` wherever it is mapped.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from hwmodels.systolic import Dataflow, SystolicArraySpec
from workloads.dtypes import DType
from workloads.errors import WorkloadError
from workloads.op import Op, Role

#: (rows dim, cols dim, temporal dim) per dataflow.
DATAFLOW_DIMS: dict[Dataflow, tuple[str, str, str]] = {
    Dataflow.OS: ("M", "N", "K"),
    Dataflow.WS: ("K", "N", "M"),
    Dataflow.IS: ("K", "M", "N"),
}

#: Cycles spent loading the stationary operand into the PEs before a fold streams: weights (ws) and
#: inputs (is) are shifted in one array row per cycle; os keeps outputs, which start at zero.
#: SCALE-Sim's ws/is demand matrices prefix each fold with ``arr_row`` such cycles.
PRELOAD_ROWS: dict[Dataflow, bool] = {Dataflow.OS: False, Dataflow.WS: True, Dataflow.IS: True}


@dataclass(frozen=True, kw_only=True)
class SystolicMapping:
    """One op's placement on the array: spatial sizes, temporal size and fold counts."""

    dataflow: Dataflow
    row_dim: str
    col_dim: str
    temporal_dim: str
    spatial_rows: int  # Sr: size of the dim laid down the array rows
    spatial_cols: int  # Sc: size of the dim laid across the array columns
    temporal: int  # T: size of the dim streamed through time
    array_rows: int
    array_cols: int
    macs_per_pe_per_cycle: int

    @property
    def row_folds(self) -> int:
        return math.ceil(self.spatial_rows / self.array_rows)

    @property
    def col_folds(self) -> int:
        return math.ceil(self.spatial_cols / self.array_cols)

    @property
    def folds(self) -> int:
        return self.row_folds * self.col_folds

    @property
    def cycles_per_fold(self) -> int:
        """Stall-free cycles of one fold: stream T values, fill and drain the array's skew
        (rows + cols - 2), plus one array-height of preload for ws and is."""
        preload = self.array_rows if PRELOAD_ROWS[self.dataflow] else 0
        return self.temporal + self.array_rows + self.array_cols - 2 + preload


def gemm_dims(op: Op, spec: SystolicArraySpec) -> tuple[dict[str, int], int]:
    """The op's M, N, K with K packed by the PE's MACs per cycle on the op's dtype."""
    try:
        sizes = {name: op.dim(name) for name in ("M", "N", "K")}
    except KeyError:
        raise WorkloadError(
            f"op {op.name!r} ({op.kind.value}) has dims {op.dim_names}, not a GEMM's M, N, K; "
            "the systolic engine runs GEMM-shaped ops"
        ) from None
    pack = spec.macs_per_cycle(compute_dtype(op))
    sizes["K"] = math.ceil(sizes["K"] / pack)
    return sizes, pack


def compute_dtype(op: Op) -> DType:
    """The dtype the PEs multiply in: the wider of input and weight. A W4A16 GEMM dequantizes its
    int4 weights to fp16 before the MAC, so it runs at the fp16 rate."""
    return max(op.operand(Role.INPUT).dtype, op.operand(Role.WEIGHT).dtype, key=lambda d: d.bits)


def candidate_mappings(op: Op, spec: SystolicArraySpec) -> Iterator[SystolicMapping]:
    """The mappings of `op` on `spec`. The array's dataflow is fixed in hardware, so there is one."""
    sizes, pack = gemm_dims(op, spec)
    row_dim, col_dim, temporal_dim = DATAFLOW_DIMS[spec.dataflow]
    yield SystolicMapping(
        dataflow=spec.dataflow,
        row_dim=row_dim,
        col_dim=col_dim,
        temporal_dim=temporal_dim,
        spatial_rows=sizes[row_dim],
        spatial_cols=sizes[col_dim],
        temporal=sizes[temporal_dim],
        array_rows=spec.rows,
        array_cols=spec.cols,
        macs_per_pe_per_cycle=pack,
    )
