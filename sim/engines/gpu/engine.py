"""The GPU engine: one result row per op on a `GPUSpec`, with the chosen mapping.

* GEMM-shaped ops (dims M, N, K, an optional batch B; convolutions as implicit GEMMs) run as one
  GEMM kernel, the fastest tiling of `sim.engines.gpu.gemm`, its DRAM traffic at the achievable
  HBM rate times `gemm_bandwidth_fraction`;
* ATTENTION ops run as one fused kernel, the fastest partition of `sim.engines.gpu.attention`, at
  `attention_bandwidth_fraction` of that rate;
* every other modeled op (elementwise, norm, softmax, reduction, embedding, gather, copy) is a
  memory-bound kernel: its bytes at the achievable HBM rate (or its FLOPs on the CUDA cores, if
  longer), one memory latency and a launch overhead (`sim.engines.gpu.timing.memory_bound_s`).

Every kernel lasts at least the host's dispatch of it (`GPUSpec.host_dispatch_s`: an eager
framework's per-call time; none from a CUDA graph or a native runtime).

Fusion policy: the graph's. Every op is its own kernel reading its inputs from and writing its
outputs to HBM; a graph rewritten by `workloads.serving` (``--fusion serving``) has a serving
engine's merged GEMMs and fused memory-bound chains as its ops, a traced graph eager PyTorch's.
Attention is one SDPA op, one fused kernel. Rows carry the op's repeats (`count`); cycles are at
`clock_hz`.
"""

from __future__ import annotations

import math

from hwmodels.errors import HardwareSpecError
from hwmodels.gpu import GPUSpec
from mappers.gpu_attention import attention_kernel_refusal, attention_problem, modeled_attention_kernels
from mappers.gpu_gemm import gemm_problem, modeled_gemm_kernels
from sim.columns import CORE_SUM_COLUMNS, op_columns, timed_columns, unmodeled_row
from sim.engines.gpu.attention import AttentionCost, best_attention
from sim.engines.gpu.gemm import GemmCost, best_gemm
from sim.engines.gpu.timing import dirty_write_back_bytes, mac_rate_per_sm, memory_bound_s
from workloads.dtypes import DType
from workloads.kernel_ops import ATTENTION_FAMILIES, GEMM_FAMILIES
from workloads.op import Op, OpKind


def simulate_on_gpu(op: Op, spec: GPUSpec) -> list[dict[str, object]]:
    """The rows of one op on `spec` (one row: every op is one kernel, or two with a split-K or
    split-KV reduction, reported together)."""
    if op.unmodeled:
        return [_unmodeled_row(op, spec)]
    attrs = dict(op.attrs)
    named = str(attrs["kernel"]) if isinstance(attrs.get("kernel"), str) else ""
    if named:  # a measured row's kernel: its own fractions
        spec = spec.for_kernel(named, str(attrs.get("family", "")))
    if op.kind is OpKind.ATTENTION:
        kernel = named or _spec_kernel(spec, "attention_kernel", modeled_attention_kernels())
        problem = attention_problem(op, kernel)
        spec = spec.streaming_at(spec.attention_bandwidth_fraction)
        cost = best_attention(problem, spec)
        return [_kernel_row(op, spec, "gpu_attention", cost, problem.math_dtype, kernel=kernel)]
    if op.is_gemm_shaped:
        kernel = named or _spec_kernel(spec, "gemm_kernel", modeled_gemm_kernels())
        problem = gemm_problem(op, kernel)
        spec = spec.streaming_at(spec.gemm_bandwidth_fraction)
        cost = best_gemm(problem, spec)
        sparse = problem.sparse
        return [_kernel_row(op, spec, "gpu_gemm", cost, problem.math_dtype, sparse=sparse, kernel=kernel)]
    reads = sum(o.bytes for o in op.operands if not o.role.is_written)
    writes = sum(o.bytes for o in op.operands if o.role.is_written)
    latency = memory_bound_s(spec, reads + writes, cuda_flops=op.flops)
    return [
        _row(
            op,
            spec,
            "gpu_memory",
            latency_s=latency,
            compute_s=op.flops / spec.peak_cuda_core_flops,
            macs=0,
            reads=reads,
            writes=writes + dirty_write_back_bytes(spec, reads + writes),
            sram=0.0,
            mapping="memory-bound, unfused",
        )
    ]


def _kernel_row(
    op: Op,
    spec: GPUSpec,
    engine: str,
    cost: GemmCost | AttentionCost,
    dtype: DType,
    *,
    sparse: bool = False,
    kernel: str = "",
) -> dict[str, object]:
    """The row of a costed GEMM or attention kernel; its mapping names the `kernel` it runs as, where
    one is named (``flash_attention_3 as fa2 128x64 waves 0.48``: that kernel's calibrated fractions
    on the modeled partition and tile)."""
    return _row(
        op,
        spec,
        engine,
        latency_s=cost.total_s,
        compute_s=cost.main.compute_s,
        macs=op.macs,
        reads=cost.dram_read_bytes,
        writes=cost.dram_write_bytes,
        sram=cost.main.l2_bytes,
        mapping=f"{kernel} as {cost.describe()}" if kernel else cost.describe(),
        peak_dtype=dtype,
        sparse=sparse,
        launches=cost.launches,
    )


def _row(
    op: Op,
    spec: GPUSpec,
    engine: str,
    *,
    latency_s: float,
    compute_s: float,
    macs: int,
    reads: float,
    writes: float,
    sram: float,
    mapping: str,
    peak_dtype: DType | None = None,
    sparse: bool = False,
    launches: int = 1,
) -> dict[str, object]:
    n = op.count
    # an eager framework call's host dispatch bounds a short kernel (`GPUSpec.host_dispatch_s`)
    latency_s = max(latency_s, launches * spec.host_dispatch_s)
    total_cycles = latency_s * spec.clock_hz
    dtype = peak_dtype or spec.default_dtype
    peak_per_cycle = _peak_macs_per_cycle(spec, dtype, sparse=sparse)
    timed = timed_columns(
        op,
        latency_s=latency_s,
        compute_s=compute_s,
        clock_hz=spec.clock_hz,
        macs=macs,
        reads=reads,
        writes=writes,
    )
    return (
        op_columns(op, spec.name, engine)
        | timed
        | {
            "sram_bytes": sram * n,
            "utilization": macs / (peak_per_cycle * total_cycles),
            "peak_macs": peak_per_cycle * total_cycles * n,
            "launches": launches * n,
            "mapping": mapping,
        }
    )


def _peak_macs_per_cycle(spec: GPUSpec, dtype: DType, *, sparse: bool) -> float:
    """MACs the whole GPU could do per cycle of `clock_hz` on `dtype` (a row's `peak_macs` per cycle)."""
    return spec.sm_count * mac_rate_per_sm(spec, dtype, sparse=sparse, fraction=1.0) / spec.clock_hz


def host_wait_row(spec: GPUSpec, seconds: float, why: str) -> dict[str, object]:
    """The row of a step's wait for its serving engine's host work (`workloads.stacks.Stack.step_host_s`,
    `sim.stack_step`): no kernel runs and the GPU idles, so every cycle is a stall and the MACs it
    could have done count against the step's utilization; `why` says where the time comes from."""
    total_cycles = seconds * spec.clock_hz
    peak_per_cycle = _peak_macs_per_cycle(spec, spec.default_dtype, sparse=False)
    return {
        "layer": "engine_host",
        "kind": "host",
        "engine": "host",
        "device": spec.name,
        "module": "",
        "aten": "",
        "unmodeled": False,
        "count": 1,
        "compute_cycles": 0.0,
        "stall_cycles": total_cycles,
        "total_cycles": total_cycles,
        "latency_s": seconds,
        "macs": 0,
        "flops": 0,
        "dram_read_bytes": 0.0,
        "dram_write_bytes": 0.0,
        "dram_bytes": 0.0,
        "sram_bytes": 0.0,
        "utilization": 0.0,
        "peak_macs": peak_per_cycle * total_cycles,
        "launches": 0,
        "mapping": why,
    }


def _spec_kernel(spec: GPUSpec, field: str, modeled: frozenset[str]) -> str:
    """The kernel `spec` runs every op of a kind as (its `field`, `GPUSpec.with_kernels`); an error
    for a name with neither an entry of the spec's nor traits the model holds (a typo in a preset
    would otherwise run the default kernel silently)."""
    kernel = getattr(spec, field)
    if not kernel:
        return kernel
    entries = {*spec.kernel_fractions, *spec.kernel_bandwidth_fractions}
    if kernel not in modeled and kernel not in entries:
        raise HardwareSpecError(
            f"hardware {spec.name!r}: field {field!r} = {kernel!r}: no kernel_fractions or "
            f"kernel_bandwidth_fractions entry and no traits the model holds (kernels with traits: "
            f"{', '.join(sorted(modeled)) or 'none'})"
        )
    refusal = attention_kernel_refusal(kernel, spec) if field == "attention_kernel" else ""
    if refusal:
        raise HardwareSpecError(f"hardware {spec.name!r}: field {field!r} = {kernel!r}: {refusal}")
    return kernel


def modeled_kernels() -> dict[str, frozenset[str]]:
    """The kernels whose traits the mappers hold, by the option that names them
    (`GPUSpec.with_kernels`' `known`)."""
    return {"--gemm-kernel": modeled_gemm_kernels(), "--attention-kernel": modeled_attention_kernels()}


def kernel_fractions(spec: GPUSpec, family: str, kernel: str) -> tuple[float, float]:
    """The tensor-core and bandwidth fractions `spec` runs a measured kernel's rows at: its
    `kernel_fractions` / `kernel_bandwidth_fractions` entries, else the spec-wide ones of its
    family, the tensor fraction as this GPU's rate carries it (`GPUSpec.transferred_fraction`, for
    the native path); NaN for a family that is neither GEMM nor attention (copies)."""
    if family not in (*GEMM_FAMILIES, *ATTENTION_FAMILIES):
        return math.nan, math.nan
    tuned = spec.for_kernel(str(kernel), family)
    if family in ATTENTION_FAMILIES:
        return tuned.transferred_fraction(tuned.attention_tensor_fraction), tuned.attention_bandwidth_fraction
    return tuned.transferred_fraction(tuned.achievable_tensor_fraction), tuned.gemm_bandwidth_fraction


#: The columns an unmodeled op's row leaves NaN on a GPU.
NAN_COLUMNS = (*CORE_SUM_COLUMNS[1:-1], "sram_bytes", "utilization", "peak_macs")


def _unmodeled_row(op: Op, spec: GPUSpec) -> dict[str, object]:
    return unmodeled_row(op, spec.name, NAN_COLUMNS) | {"launches": 0, "mapping": ""}
