"""The CPU engine: one row per op on a `CPUSpec`, a roofline with calibrated efficiencies.

* GEMM-shaped ops: ``max(FLOPs / (peak · efficiency), bytes / bandwidth)`` plus the op's call
  overhead. The efficiency is the spec's `gemm_efficiency` scaled by ``m / (m + m½)`` for the
  smaller output dimension ``m`` (``m½ = gemm_half_efficiency_rows``); a matrix-vector product
  (``m = 1``) streams its matrix at the memory bandwidth.
* ATTENTION ops: its two matmuls and its softmax, blocked as ATen's CPU flash-attention kernel
  blocks them (`CPU_Q_SPLITS`, `CPU_KV_SPLIT`): a causal mask skips the K/V blocks wholly above a
  query block's last row; the matmuls of a block of ``r`` query rows run at the GEMM efficiency for
  ``m = r``; the softmax costs `SOFTMAX_VECTOR_OPS_PER_SCORE` vector-lane operations per score.
  K and V are read once per query head (ATen's CPU kernel loops over query heads and indexes the
  shared K/V head; with GQA, ``Hkv < H``, it takes as long as with ``Hkv = H``: a 2048-key decode
  of 8 query heads ran in 312 µs over 2 K/V heads and 311 µs over 8 on the CI machine, 2026-11-22).
* A GEMM of 16-bit floats on a CPU that has no vectorized path for that dtype
  (`CPUSpec.native_16bit_matmul` empty of it) is left unmodeled, with the reason in its mapping:
  ATen's fallback loop ran 0.15–2.5 GFLOP/s on the CI machine depending on the operands' strides
  (2026-11-22), which no roofline of this spec describes.
* Every other modeled op: its bytes at the memory bandwidth (or its FLOPs at peak, if longer).

Fusion policy: none (eager PyTorch, each op its own call), as on the GPU.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

from hwmodels.cpu import CPUSpec
from sim.columns import op_columns, timed_columns
from sim.cost import tdp_energy
from sim.engines.registry import DeviceModel
from workloads.dtypes import DType
from workloads.kernel_ops import GEMM_FAMILIES, KernelFamily, causal_offset
from workloads.op import Op, OpKind, Role

if TYPE_CHECKING:
    import pandas as pd

    from sim.measured.knobs import Knob

#: Operand roles that are a GEMM's matrices (not its scales, zeros, bias or indices).
MATRIX_ROLES = (Role.INPUT, Role.WEIGHT, Role.OUTPUT)
#: Operand dtypes that make ATen multiply in fp32/fp64 (a mixed product is promoted to them).
WIDE_FLOATS = {DType.FP32, DType.FP64}

#: Query block sizes of ATen's CPU flash attention (aten/src/ATen/native/cpu/FlashAttentionKernel.cpp,
#: ``cpu_flash_attention``): 256 rows from 768 query rows up, 64 from 192, else 32; keys in blocks
#: of 512.
CPU_Q_SPLITS = ((768, 256), (192, 64), (0, 32))
CPU_KV_SPLIT = 512
#: Vector-lane operations per attention score for its softmax: a vectorized exp (range reduction
#: and a polynomial, about 15 operations, as ATen's ``Vectorized<float>::exp``) plus max, subtract,
#: sum and scale.
SOFTMAX_VECTOR_OPS_PER_SCORE = 20


def simulate_on_cpu(op: Op, spec: CPUSpec) -> list[dict[str, object]]:
    """The row of one op on `spec` (see the module docstring)."""
    if op.unmodeled:
        return [_row(op, spec, "none", math.nan, math.nan, "")]
    if op.kind is OpKind.ATTENTION:
        seconds, compute = _attention_s(op, spec)
        return [_row(op, spec, "cpu_attention", seconds, compute, "flash (ATen CPU blocking)")]
    if op.is_gemm_shaped:
        emulated = _emulated_16bit(op, spec)
        if emulated is not None:
            name = emulated.value
            reason = f"{name} GEMM without a vectorized {name} matmul on this CPU: not modeled"
            return [_row(op, spec, "none", math.nan, math.nan, reason, unmodeled=True)]
        m = min(op.dim("M"), op.dim("N"))
        compute = op.flops / (spec.peak_flops() * _efficiency(spec, m)) if m > 1 else 0.0
        memory = _bytes(op) / spec.dram_bytes_per_s
        mapping = "gemv, memory-bound" if m == 1 else f"gemm, efficiency {_efficiency(spec, m):.2f}"
        return [_row(op, spec, "cpu_gemm", max(compute, memory) + spec.launch_overhead_s, compute, mapping)]
    compute = op.flops / spec.peak_flops()
    seconds = max(compute, _bytes(op) / spec.dram_bytes_per_s) + spec.launch_overhead_s
    return [_row(op, spec, "cpu_memory", seconds, compute, "memory-bound, unfused")]


def _emulated_16bit(op: Op, spec: CPUSpec) -> DType | None:
    """The 16-bit float an op's matrices are in when this CPU has no vector path for it, else None."""
    dtypes = {operand.dtype for operand in op.operands if operand.role in MATRIX_ROLES}
    for dtype in (DType.BF16, DType.FP16):
        if dtype in dtypes and dtype not in spec.native_16bit_matmul and not dtypes & WIDE_FLOATS:
            return dtype
    return None


def _efficiency(spec: CPUSpec, rows: int) -> float:
    return spec.gemm_efficiency * rows / (rows + spec.gemm_half_efficiency_rows)


def _bytes(op: Op) -> float:
    return sum(operand.bytes for operand in op.operands)


def _attention_s(op: Op, spec: CPUSpec) -> tuple[float, float]:
    """(seconds, compute seconds) of one attention op: blocked matmuls, softmax, K/V streaming."""
    b, h, sq, skv = op.dim("B"), op.dim("H"), op.dim("Sq"), op.dim("Skv")
    d, dv = op.dim("D"), op.dim("Dv")
    q_split = min(sq, next(size for threshold, size in CPU_Q_SPLITS if sq >= threshold))
    q_blocks, kv_blocks = math.ceil(sq / q_split), math.ceil(skv / CPU_KV_SPLIT)
    causal = dict(op.attrs).get("causal") == 1
    offset = causal_offset(op)  # a bottom-right mask's keys before the first query row
    visited = sum(
        min(math.ceil((offset + min((i + 1) * q_split, sq)) / CPU_KV_SPLIT), kv_blocks)
        if causal else kv_blocks
        for i in range(q_blocks)
    )
    scores = b * h * visited * q_split * min(skv, CPU_KV_SPLIT)  # computed, masked or not
    flops = 2 * scores * (d + dv)
    efficiency = _efficiency(spec, q_split) if q_split > 1 else spec.gemm_efficiency
    lanes = spec.peak_flops() / 2  # vector-lane operations per second (one FMA = one operation)
    compute = flops / (spec.peak_flops() * efficiency) + scores * SOFTMAX_VECTOR_OPS_PER_SCORE / lanes
    # Q and O once; K and V (or the cache's) once per query head, as the kernel reads them.
    per_query_head = op.dim("H") / op.dim("Hkv") if "Hkv" in op.dim_names else 1.0
    moved = sum(o.bytes * (per_query_head if o.name in ("K", "V") else 1.0) for o in op.operands)
    memory = moved / spec.dram_bytes_per_s
    return max(compute, memory) + spec.launch_overhead_s, compute


def _row(
    op: Op, spec: CPUSpec, engine: str, seconds: float, compute_s: float, mapping: str, *, unmodeled=False
) -> dict:
    n = op.count
    reads = sum(o.bytes for o in op.operands if not o.role.is_written)
    writes = sum(o.bytes for o in op.operands if o.role.is_written)
    total_cycles = seconds * spec.clock_hz
    peak_macs = spec.peak_flops() / 2 / spec.clock_hz * total_cycles
    macs = op.macs if op.kind in (OpKind.GEMM, OpKind.CONV, OpKind.ATTENTION) else 0
    timed = timed_columns(op, latency_s=seconds, compute_s=compute_s, clock_hz=spec.clock_hz, macs=macs,
                          reads=reads, writes=writes)
    return {
        **op_columns(op, spec.name, engine, unmodeled=unmodeled),
        **timed,
        "utilization": op.macs / peak_macs if peak_macs and engine != "cpu_memory" else 0.0,
        "peak_macs": peak_macs * n,
        "mapping": mapping,
    }


def math_dtype(op: Op) -> DType:
    """fp64 lanes if an operand is fp64; otherwise fp32 lanes (`CPUSpec.peak_flops`)."""
    return DType.FP64 if any(operand.dtype is DType.FP64 for operand in op.operands) else DType.FP32


def matrix_rates(spec: CPUSpec, dtype: DType) -> tuple[float, float, float, float]:
    """Every matrix op at the GEMM efficiency (no sparse path), and the FMA peak."""
    dense = spec.achievable_flops(dtype)
    return dense, dense, dense, spec.peak_flops(dtype)


def calibration_knobs(rows: pd.DataFrame, spec: CPUSpec) -> Iterator[Knob]:
    """The knobs `codesign calibrate` fits on a CPU, in fitting order: the per-call overhead
    (small rows), the memory bandwidth (copies), the GEMM efficiency and its half-efficiency rows."""
    from sim.measured.knobs import (
        CPU_SEARCH_FACTOR,
        MAX_FRACTION,
        MIN_FRACTION,
        SMALL_CPU_KERNEL_S,
        Knob,
        positions,
    )

    family = rows["family"].astype(str)
    latency = rows["latency_s"].to_numpy(dtype=float)

    copies = positions(family == KernelFamily.COPY)
    gemms = family.isin(GEMM_FAMILIES).to_numpy()
    memory = Knob(
        "dram_bytes_per_s",
        copies,
        spec.dram_bytes_per_s / CPU_SEARCH_FACTOR,
        spec.dram_bytes_per_s * CPU_SEARCH_FACTOR,
        log=True,
    )
    if small := positions(latency < SMALL_CPU_KERNEL_S):
        yield Knob("launch_overhead_s", small, 0.0, SMALL_CPU_KERNEL_S, log=False, unless_moved_by=memory)
    if copies:
        yield memory
    if gemm_rows := positions(gemms):
        yield Knob("gemm_efficiency", gemm_rows, MIN_FRACTION, MAX_FRACTION, log=True)
        rows_half = spec.gemm_half_efficiency_rows
        yield Knob(
            "gemm_half_efficiency_rows",
            gemm_rows,
            rows_half / CPU_SEARCH_FACTOR,
            rows_half * CPU_SEARCH_FACTOR,
            log=True,
        )


MODEL = DeviceModel(
    simulate_op=simulate_on_cpu,
    math_dtype=math_dtype,
    matrix_rates=matrix_rates,
    vector_flops=lambda spec: spec.peak_flops(DType.FP32),
    energy=tdp_energy,
    energy_is_upper_bound=True,
    calibration_knobs=calibration_knobs,
)
