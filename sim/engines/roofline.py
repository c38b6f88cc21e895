"""The roofline engine: a whole workload on many hardware configs at once, for fast sweeps.

Each op takes ``max(compute, memory)`` seconds, plus a launch overhead per kernel on a GPU (a call
overhead on a CPU):

* compute = matrix FLOPs / the device's matrix rate for the op's math dtype + vector FLOPs / the
  vector rate. GEMM-shaped ops (GEMMs, convolutions) and attention's two matmuls are matrix FLOPs;
  attention's softmax (`SOFTMAX_FLOPS_PER_ELEMENT` per kept score) and every other op are vector
  FLOPs;
* memory = the op's operand bytes (each operand moved once: the fewest bytes any schedule moves)
  / the memory bandwidth.

The rates per device kind (`device_rates`; each kind's `DeviceModel.matrix_rates` and
`vector_flops`, `sim.engines.registry`; bandwidth, launch overhead and clock from the spec):

=========  ===============================================  ====================  ==================
device     matrix FLOP/s                                    vector FLOP/s         bytes/s
=========  ===============================================  ====================  ==================
systolic   rows · cols · MACs/PE/cycle[dtype] · 2 · freq     vector_flops · freq   dram_bytes_per_s
gpu        tensor peak[dtype] · achievable_tensor_fraction  CUDA-core peak        achievable HBM
           (attention_tensor_fraction for attention;
           2:4 weights at the sparse rate)
cpu        peak_flops[dtype] · gemm_efficiency              peak_flops (fp32)     dram_bytes_per_s
fpga       MPE peak[dtype] (GEMMs: × the sparse chain's     SFU lanes · cores ·   every channel ·
           speedup on the weights as stored)                clock                 same-channel eff.
=========  ===============================================  ====================  ==================

A kind whose compiler re-formats weights (`DeviceModel.stored_weights`: the FPGA overlay's
`weight_bits` and N:M on its sparse DSP chain) replaces, per config, a GEMM's weight and metadata
bytes by the bytes it stores and its matrix rate by the dense rate times the chain's speedup, so a
roofline sweep over those fields moves as the cycle engine does.

A roofline ignores everything that makes real time longer (array fill and folds, tiling, SRAM
spills, wave quantization), so on a systolic array it is a lower bound of the cycle engine.

Speed: `prepare_workload` reduces a graph to per-op arrays once; `evaluate` then computes a
(configs × ops) matrix with numpy, so thousands of configs of a 900-op graph take milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hwmodels.errors import HardwareSpecError
from mappers.attention import SOFTMAX_FLOPS_PER_ELEMENT
from mappers.gpu_gemm import gemm_problem
from sim.engines.registry import model_for
from workloads.dtypes import DType
from workloads.op import Op, OpGraph, OpKind, Role

#: Metric columns of a roofline result (per config and workload): seconds, cycles at the spec's
#: clock, the compute-only and memory-only sums over ops, the launch overheads, work and traffic,
#: the matrix unit's busy fraction at its datasheet peak, and the ops left out as unmodeled.
ROOFLINE_METRICS = (
    "latency_s",
    "total_cycles",
    "compute_s",
    "memory_s",
    "overhead_s",
    "flops",
    "macs",
    "dram_bytes",
    "utilization",
    "unmodeled_ops",
)
#: Op classes, the blocks of the rate table: dense matrix ops, 2:4-sparse ones, attention.
DENSE, SPARSE, ATTENTION = range(3)


@dataclass(frozen=True, kw_only=True)
class RooflineWorkload:
    """A graph reduced to arrays over its modeled ops (repeats included): matrix and vector FLOPs,
    bytes moved, kernels launched, each op's column in the rate table (class · dtypes + dtype;
    ops with no matrix work point at the last column, infinite), and the distinct math dtypes.
    GEMM-shaped ops also by their weight: `weight_rows` (their indices in the arrays),
    `weight_ops` (the ops) and `weight_bytes` (the bytes of their weight and metadata operands,
    repeats included), for a device that stores weights its own way (`stored_weights`)."""

    matrix_flops: np.ndarray
    vector_flops: np.ndarray
    bytes: np.ndarray
    kernels: int
    rate_column: np.ndarray
    dtypes: tuple[DType, ...]
    macs: int
    unmodeled_ops: int
    weight_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    weight_ops: tuple[Op, ...] = ()
    weight_bytes: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True, kw_only=True)
class Rates:
    """Per config: the matrix rate table (configs × (3 · dtypes + 1) FLOP/s), the datasheet dense
    peak per dtype (configs × dtypes), vector FLOP/s, bytes/s, seconds per kernel launch, clock;
    with a workload, per config and GEMM of its `weight_rows` the stored weight's bytes per run and
    the matrix rate's multiplier (`stored_bytes`, `stored_speedup`; NaN: the workload's own)."""

    matrix: np.ndarray
    peak: np.ndarray
    vector: np.ndarray
    bandwidth: np.ndarray
    launch_s: np.ndarray
    clock_hz: np.ndarray
    stored_bytes: np.ndarray | None = None
    stored_speedup: np.ndarray | None = None


def op_work(op: Op, math_dtype: Any) -> tuple[float, float, float, int, DType | None]:
    """What the roofline charges a modeled op, over its `count`: (matrix FLOPs, vector FLOPs,
    bytes moved, its op class (`DENSE`, `SPARSE` 2:4, `ATTENTION`), the dtype its matrix FLOPs run
    in or None). Attention's softmax runs on the vector unit, one score per kept (query, key) pair;
    every operand's bytes are moved once."""
    n = op.count
    moved = sum(operand.bytes for operand in op.operands) * n
    if op.kind is OpKind.ATTENTION:
        scores = op.flops / (2 * (op.dim("D") + op.dim("Dv")))  # kept (query, key) pairs
        return op.flops * n, SOFTMAX_FLOPS_PER_ELEMENT * scores * n, moved, ATTENTION, math_dtype(op)
    if op.is_gemm_shaped:
        sparse = SPARSE if gemm_problem(op).sparse else DENSE
        return op.flops * n, 0.0, moved, sparse, math_dtype(op)
    return 0.0, op.flops * n, moved, DENSE, None


def prepare_workload(graph: OpGraph, spec_type: type) -> RooflineWorkload:
    """Per-op arrays of `graph` for hardware of `spec_type` (see `RooflineWorkload`)."""
    math_dtype = model_for(spec_type).math_dtype
    rows: list[tuple[float, float, float, int, DType | None]] = []
    weights: list[tuple[int, Op, float]] = []
    unmodeled = macs = kernels = 0
    for op in graph.ops:
        if op.unmodeled:
            unmodeled += 1
            continue
        kernels += op.count
        if op.is_gemm_shaped and op.kind is not OpKind.ATTENTION:
            weights.append((len(rows), op, stored_weight_bytes(op) * op.count))
        rows.append(op_work(op, math_dtype))
        if rows[-1][4] is not None:
            macs += op.macs * op.count
    dtypes = tuple(dict.fromkeys(row[4] for row in rows if row[4] is not None))
    index = {dtype: i for i, dtype in enumerate(dtypes)}
    no_matrix = 3 * len(dtypes)
    return RooflineWorkload(
        matrix_flops=np.array([row[0] for row in rows], dtype=np.float64),
        vector_flops=np.array([row[1] for row in rows], dtype=np.float64),
        bytes=np.array([row[2] for row in rows], dtype=np.float64),
        kernels=kernels,
        rate_column=np.array(
            [no_matrix if row[4] is None else row[3] * len(dtypes) + index[row[4]] for row in rows],
            dtype=np.int64,
        ),
        dtypes=dtypes,
        macs=macs,
        unmodeled_ops=unmodeled,
        weight_rows=np.array([row for row, _, _ in weights], dtype=np.int64),
        weight_ops=tuple(op for _, op, _ in weights),
        weight_bytes=np.array([stored for _, _, stored in weights], dtype=np.float64),
    )


def device_rates(
    specs: Sequence[Any], dtypes: tuple[DType, ...], workload: RooflineWorkload | None = None
) -> tuple[Rates, list[str | None]]:
    """The `Rates` of each spec for a workload using `dtypes`, and per spec an error message
    (a dtype the device cannot multiply, weights it cannot store) or None; a failing spec's rates
    are NaN. With `workload`, also how each spec stores its GEMMs' weights (`stored_weights`)."""
    count, width = len(specs), len(dtypes)
    matrix = np.full((count, 3 * width + 1), np.inf)
    peak = np.full((count, width), np.nan)
    device = np.full((count, 4), np.nan)
    ops = workload.weight_ops if workload is not None else ()
    # a model's GEMMs repeat layer after layer: each distinct one (its name and module aside, as
    # sim.simulate keys them) is stored once per spec, the first of its kind standing for the rest
    position: dict[Op, int] = {}
    distinct: list[Op] = []
    for op in ops:
        if position.setdefault(replace(op, name="", module=""), len(distinct)) == len(distinct):
            distinct.append(op)
    column = np.array([position[replace(op, name="", module="")] for op in ops], dtype=np.int64)
    stored = np.full((count, len(ops), 2), np.nan)
    stores = workload is not None and any(model_for(spec).stored_weights for spec in specs)
    errors: list[str | None] = []
    for i, spec in enumerate(specs):
        try:
            store = model_for(spec).stored_weights
            if store and distinct:
                kinds = np.array([store(op, spec) or (np.nan, np.nan) for op in distinct], dtype=np.float64)
                stored[i] = kinds[column]
            for j, dtype in enumerate(dtypes):
                dense, sparse, attention, datasheet = model_for(spec).matrix_rates(spec, dtype)
                matrix[i, [DENSE * width + j, SPARSE * width + j, ATTENTION * width + j]] = (
                    dense,
                    sparse,
                    attention,
                )
                peak[i, j] = datasheet
            device[i] = (
                model_for(spec).vector_flops(spec),
                spec.achievable_dram_bytes_per_s,
                spec.launch_overhead_s,
                spec.clock_hz,
            )
            errors.append(None)
        except HardwareSpecError as error:
            matrix[i], peak[i], device[i], stored[i] = np.nan, np.nan, np.nan, np.nan
            errors.append(str(error))
    rates = Rates(
        matrix=matrix,
        peak=peak,
        vector=device[:, 0],
        bandwidth=device[:, 1],
        launch_s=device[:, 2],
        clock_hz=device[:, 3],
        stored_bytes=stored[:, :, 0] if stores else None,
        stored_speedup=stored[:, :, 1] if stores else None,
    )
    return rates, errors


def stored_weight_bytes(op: Op) -> float:
    """The bytes of one instance of a GEMM-shaped op's weight as the workload gives it (values,
    and the metadata of a sparse one): what a device that stores weights its own way
    (`DeviceModel.stored_weights`) moves instead."""
    return sum(o.bytes for o in op.operands if o.role in (Role.WEIGHT, Role.METADATA))


def evaluate(workload: RooflineWorkload, rates: Rates) -> dict[str, np.ndarray]:
    """The `ROOFLINE_METRICS` of `workload` on every config of `rates`, one array element each."""
    rate = rates.matrix[:, workload.rate_column]
    moved = np.broadcast_to(workload.bytes[None, :], rate.shape)
    width = len(workload.dtypes)
    if rates.stored_bytes is not None and workload.weight_rows.size:
        # weights as the device stores them: their bytes replace the workload's weight and
        # metadata bytes, and the dense rate of the op's dtype times the chain's speedup its rate
        rows = workload.weight_rows
        counts = np.array([op.count for op in workload.weight_ops], dtype=np.float64)
        own = np.isnan(rates.stored_bytes)
        moved = moved.copy()
        change = rates.stored_bytes * counts[None, :] - workload.weight_bytes[None, :]
        moved[:, rows] += np.where(own, 0.0, change)
        dense = rates.matrix[:, workload.rate_column[rows] % max(width, 1)]
        rate = rate.copy()
        rate[:, rows] = np.where(own, rate[:, rows], dense * rates.stored_speedup)
    matrix_s = workload.matrix_flops[None, :] / rate
    compute = matrix_s + workload.vector_flops[None, :] / rates.vector[:, None]
    memory = moved / rates.bandwidth[:, None]
    overhead = rates.launch_s * workload.kernels
    latency = np.maximum(compute, memory).sum(axis=1) + overhead
    matrix_ops = workload.rate_column < 3 * width
    peak_column = workload.rate_column[matrix_ops] % max(width, 1)
    busy = (workload.matrix_flops[matrix_ops][None, :] / rates.peak[:, peak_column]).sum(axis=1)
    ones = np.ones(len(latency))
    return {
        "latency_s": latency,
        "total_cycles": latency * rates.clock_hz,
        "compute_s": compute.sum(axis=1),
        "memory_s": memory.sum(axis=1),
        "overhead_s": overhead,
        "flops": ones * (workload.matrix_flops.sum() + workload.vector_flops.sum()),
        "macs": ones * workload.macs,
        "dram_bytes": moved.sum(axis=1),
        "utilization": busy / latency,
        "unmodeled_ops": ones * workload.unmodeled_ops,
    }
