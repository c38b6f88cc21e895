"""Time of a GPU kernel as waves of identical thread blocks (CTAs): the model the GEMM, attention
and memory-bound engines share.

A kernel launches ``ctas`` CTAs; an SM holds ``ctas_per_sm`` of them, so ``sm_count · ctas_per_sm``
run at once (a wave) and the last wave may be partial (wave quantization: 133 CTAs on 132 SMs
take two waves). Each CTA runs a pipelined main loop of ``steps`` steps. The kernel lasts as long
as the slowest of

* **compute**, wave by wave: the CTAs sharing one SM issue their tensor-core MACs at the SM's
  achievable rate; their CUDA-core instructions (one per fp32 lane per cycle: dequantization,
  softmax) and special-function ops (exp) run on other pipes, in series with each other. How far
  they overlap the tensor cores is the kernel's (`CtaWork.overlap`): a GEMM's dequantization and
  FlashAttention-3's softmax run in other warps (warp specialization, ping-pong scheduling), so
  the SM takes the longer of the two (overlap 1); FlashAttention-2's warps compute their softmax
  between their own matmuls (FA3 paper, Shah et al. 2024, §3.1-3.2), overlapped only as far as
  another resident warp's matmul happens to fill the gap: ``max(T, O) + (1 − overlap)·min(T, O)``.
  The SM-side rates run at the clock the power limit sustains (`GPUSpec.clock_scale`);
* **L2**: every CTA's tile loads go through L2, at `l2_bytes_per_s` for the whole GPU;
* **memory**: the distinct bytes each wave reads (what L2 does not already hold) and the bytes it
  writes, at the achievable HBM rate, *plus* the latency each CTA's chain of loads exposes. A
  CTA keeps ``stages - 1`` steps of loads in flight, so it issues a step's loads every
  ``memory_latency / (stages - 1)`` at best (Little's law). Bandwidth and latency add rather than
  overlap because the memory system is a closed queue: a kernel with ``I`` bytes in flight
  reaches ``P · x / (1 + x)`` of the copy rate ``P``, with ``x = I / (P · latency)`` (each request
  waits its latency and its share of the channel). A copy's many warps keep ``x`` large and reach
  ``P``; a GEMV with few CTAs, or a decode attention streaming one head per CTA, does not: a
  1×8192×8192 fp16 GEMV on an H100 as 128 CTAs of 16×64×128 tiles, 4 stages, keeps
  ``128 · 3 · 16 KiB = 6.3 MB`` in flight against ``3.0 TB/s · 370 ns = 1.1 MB`` (the DRAM latency
  a pointer chase measures, `GPUSpec.memory_latency_s`): ``x = 5.7``, 85% of the copy rate; one
  64-key block of K and V at a time for 32 heads (1 MB in flight, ``x ≈ 0.9``) gives under half.
  A kernel that issues its loads in batches rather than through a pipeline waits one latency per
  batch (`CtaWork.latency_waits`). Where the
  kernel starts with dirty lines in L2 (`GPUSpec.dirty_l2_bytes`: a benchmark flushed it by
  writing), its traffic also writes back one dirty line for each line it brings in
  (`dirty_write_back_bytes`), at the same rate.

A kernel whose main loop also waits on loads it does not prefetch (`CtaWork.serial_latency_s`:
a Triton kernel's per-block scale loads, which its pipeliner leaves in the loop) cannot run a CTA
faster than one memory latency plus the step's own arithmetic per step; other CTAs on the SM fill
those waits, so a wave takes the longer of that chain and the SM's arithmetic.

A wave's epilogue stores are not hidden behind its own main loops: the CTAs of a wave finish
together, and the burst of output tiles they store drains through HBM ahead of the next wave's
first loads, so each wave adds its store bytes at the achievable HBM rate. Evidence: DeepGEMM's
published FP8 GEMMs on an H800 (reference_kernels/data/published_figures.csv) run 4096×32768×512
in 177–233 µs, close to compute (83 µs at the calibrated rate) plus the 268 MB output at 3 TB/s
(89 µs), far above either alone (benchmarks/bench_gpu_published.py).

Bandwidth is shared over the whole kernel (CTAs do not run in lock-step, so a memory-bound full
wave and a short last wave even out); compute and the latency chain are counted per wave. Each
wave adds the pipeline fill before its first step and the epilogue's store after its last, one
memory latency each, and the kernel pays `launch_overhead_s` once.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from hwmodels.gpu import FLOPS_PER_CUDA_CORE_INSTRUCTION, SHARED_MEMORY_BYTES_PER_CYCLE_PER_SM, GPUSpec
from workloads.dtypes import DType

#: Memory latencies a CTA waits outside its main loop: the first load (pipeline fill) and the
#: epilogue's store of the output tile.
FILL_AND_DRAIN_LATENCIES = 2


@dataclass(frozen=True, kw_only=True)
class CtaWork:
    """What one CTA does: MACs on tensor cores at `tensor_macs_per_s` (per SM, achievable),
    CUDA-core instructions, special-function ops, bytes loaded through L2, and its pipeline."""

    tensor_macs: float
    tensor_macs_per_s: float
    cuda_ops: float = 0.0
    sfu_ops: float = 0.0
    overlap: float = 1.0  # how far CUDA-core and SFU work hides under the tensor cores' (0: in series)
    # CUDA-core instructions its warps run only after waiting for their matmuls, in series whatever
    # `overlap` (FP8 partial sums promoted without fast accumulation: `hwmodels.gpu.FP8_PROMOTION_K`)
    serial_cuda_ops: float = 0.0
    l2_bytes: float
    steps: float  # pipeline steps; a mean over CTAs when their lengths differ (causal)
    stages: int
    store_bytes: float = 0.0  # what the CTA's epilogue writes to DRAM after its main loop
    serial_latency_s: float = 0.0  # memory latency each step waits in series (loads not prefetched)
    # the share of a step's tensor-core work that runs while those loads are in flight
    # (`mappers.gpu_gemm.GemmKernel.scale_load_overlap`; 0: the step waits for them, then multiplies)
    serial_latency_overlap: float = 0.0
    # what each step waits for its matmuls to complete beyond issuing them, in series
    # (`hwmodels.gpu.GPUSpec.wgmma_wait_s`)
    step_wait_s: float = 0.0
    # memory latencies one CTA waits in series where its loads come in batches issued together
    # rather than a pipeline (`AttentionKernel.decode_load_batches`); 0: the pipeline's,
    # steps · waits_per_step / (stages - 1)
    latency_waits: float = 0.0
    # times a step waits on its pipeline's loads, one tile in flight each (FlashAttention-2's K, then
    # its V: `mappers.gpu_attention.AttentionKernel.loads_waited_per_block`)
    waits_per_step: float = 1.0
    # bytes its warps move through shared memory beside their CUDA-core work, in series with it
    # (`mappers.gpu_gemm.GemmKernel.shared_bytes_per_weight`: a dequantized weight stored and read
    # back), at `SHARED_MEMORY_BYTES_PER_CYCLE_PER_SM`
    shared_bytes: float = 0.0


@dataclass(frozen=True, kw_only=True)
class KernelTime:
    """A kernel's time, seconds: `compute_s` is what its arithmetic alone would take, `total_s`
    includes waiting on memory, the fill/drain latencies and the launch overhead."""

    compute_s: float
    total_s: float
    waves: float  # CTAs / wave slots: 1.008 for 133 CTAs on 132 slots (two waves run)
    wave_count: int
    l2_bytes: float
    dram_bytes: float  # what `dram_bytes_of_wave` gave, summed over the waves
    write_back_bytes: float = 0.0  # dirty L2 lines its traffic evicted (`dirty_write_back_bytes`)


@dataclass(frozen=True, kw_only=True)
class KernelCost:
    """A costed candidate: its main kernel, a reduction kernel after it (split-K or split-KV; 0 s
    without one) and its DRAM traffic, bytes."""

    main: KernelTime
    reduce_s: float
    dram_read_bytes: float
    dram_write_bytes: float

    @property
    def total_s(self) -> float:
        return self.main.total_s + self.reduce_s


def mac_rate_per_sm(
    spec: GPUSpec, dtype: DType, *, sparse: bool, fraction: float, mma_sync: bool = False
) -> float:
    """Achievable MACs per second of one SM on `dtype`: its tensor cores at `fraction` of their
    rate, or for fp32 on a GPU whose tensor cores have no fp32 path, its CUDA cores' FMAs (PyTorch
    runs fp32 matmuls without TF32 by default), at the clock the power limit sustains. A kernel
    issuing Ampere-style ``mma.sync`` (`mma_sync`) gets at most the spec's
    `mma_sync_macs_per_cycle_per_sm`, scaled for dtypes other than 16-bit by their tensor rate:
    on the H100 ``min(2048, 1365) = 1365`` MACs/cycle, 2/3 of ``wgmma``'s; on the H20, whose
    tensor rate is capped at 480, its preset's 320, 2/3 of that. An error for any other
    dtype with no tensor path. A fraction measured on another GPU's SM carries over as cycles
    (`GPUSpec.transferred_fraction`)."""
    if dtype is DType.FP32 and dtype not in spec.tensor_macs_per_cycle_per_sm and not sparse:
        macs = spec.cuda_core_flops_per_cycle_per_sm / FLOPS_PER_CUDA_CORE_INSTRUCTION
    else:
        macs = spec.tensor_macs_per_cycle(dtype, sparse=sparse)
        sixteen = spec.sixteen_bit_macs_per_cycle()
        if mma_sync and sixteen:
            macs *= spec.sixteen_bit_macs_per_cycle(mma_sync=True) / sixteen
        fraction = spec.transferred_fraction(fraction, mma_sync=mma_sync)
    return macs * spec.sustained_clock_hz * fraction


def sm_compute_s(spec: GPUSpec, work: CtaWork, per_sm: int) -> float:
    """Seconds `per_sm` CTAs sharing one SM take for their arithmetic: the tensor cores' time ``T``
    and the CUDA-core and special-function time ``O``, ``max(T, O) + (1 − overlap)·min(T, O)``
    (`CtaWork.overlap`: 1, the longer of the two; 0, their sum), ``O`` holding the shared-memory
    traffic of the same warps (`CtaWork.shared_bytes`), then the CUDA-core work that waits for the
    matmuls (`CtaWork.serial_cuda_ops`) after them."""
    clock = spec.sustained_clock_hz
    cuda_rate = spec.cuda_core_flops_per_cycle_per_sm / FLOPS_PER_CUDA_CORE_INSTRUCTION * clock
    sfu_rate = spec.sfu_ops_per_cycle_per_sm * clock
    tensor = work.tensor_macs / work.tensor_macs_per_s
    shared = work.shared_bytes / (SHARED_MEMORY_BYTES_PER_CYCLE_PER_SM * clock)
    other = work.cuda_ops / cuda_rate + work.sfu_ops / sfu_rate + shared
    serial = work.serial_cuda_ops / cuda_rate
    return per_sm * (max(tensor, other) + (1 - work.overlap) * min(tensor, other) + serial)


def serial_chain_s(work: CtaWork) -> float:
    """What the loads a CTA's pipeline does not prefetch add to its steps in series
    (`CtaWork.serial_latency_s`): what the latency outlasts the share of the step's matmuls that
    runs beside it (`CtaWork.serial_latency_overlap`), and the wait for them to complete where the
    loads were issued before it (`CtaWork.step_wait_s`), ``steps · max(0, latency − share · (tensor
    time a step + wait))``; a whole latency a step where none does. A 64 × 128 × 128 FP8 step of Triton's
    on an RTX 4090 SM multiplies for ``64·128·128 / 512 = 2048`` cycles at its 512 FP8 MACs a cycle,
    0.81 µs at 2.52 GHz, 36/64 of it (0.46 µs) beside its scale loads: a 0.26 µs latency adds
    nothing."""
    if not work.serial_latency_overlap:
        return work.steps * work.serial_latency_s
    tensor_step = work.tensor_macs / work.tensor_macs_per_s / max(work.steps, 1.0)
    beside = work.serial_latency_overlap * (tensor_step + work.step_wait_s)
    return work.steps * max(0.0, work.serial_latency_s - beside)


def kernel_time(
    spec: GPUSpec,
    work: CtaWork,
    *,
    ctas: int,
    ctas_per_sm: int,
    dram_bytes_of_wave: Callable[[int], float],
) -> KernelTime:
    """Full waves plus the partial last one, and one launch overhead (see the module docstring).

    `dram_bytes_of_wave(w)` gives the DRAM bytes a wave of `w` CTAs reads (what L2 does not
    already hold) and writes.
    """
    slots = spec.sm_count * ctas_per_sm
    full, rest = divmod(ctas, slots)
    waits = work.latency_waits or work.steps * work.waits_per_step / max(1, work.stages - 1)
    chain = waits * spec.memory_latency_s  # one CTA's loads, in series
    compute = busy = dram = exposed = 0.0
    for wave_ctas, repeats in ((slots, full), (rest, 1 if rest else 0)):
        if not repeats:
            continue
        wave_compute = sm_compute_s(spec, work, math.ceil(wave_ctas / spec.sm_count))
        compute += repeats * wave_compute
        if work.serial_latency_s or work.step_wait_s:  # one CTA's steps: arithmetic and waits
            cta_steps = serial_chain_s(work) + work.steps * work.step_wait_s + sm_compute_s(spec, work, 1)
            wave_compute = max(wave_compute, cta_steps)
        # the wave's epilogue stores drain before the next wave's first loads (module docstring)
        stores = wave_ctas * work.store_bytes / spec.achievable_dram_bytes_per_s
        busy += repeats * (wave_compute + stores)
        exposed += repeats * chain
        dram += repeats * dram_bytes_of_wave(wave_ctas)
    write_back = dirty_write_back_bytes(spec, dram)
    waves = full + (1 if rest else 0)
    l2_bytes = ctas * work.l2_bytes
    memory = (dram + write_back) / spec.achievable_dram_bytes_per_s + exposed  # a closed queue (docstring)
    main_loops = max(busy, l2_bytes / (spec.l2_bytes_per_s * spec.clock_scale), memory)
    fill_and_drain = waves * FILL_AND_DRAIN_LATENCIES * spec.memory_latency_s
    return KernelTime(
        compute_s=compute,
        total_s=main_loops + fill_and_drain + spec.launch_overhead_s,
        waves=ctas / slots,
        wave_count=waves,
        l2_bytes=l2_bytes,
        dram_bytes=dram,
        write_back_bytes=write_back,
    )


def dirty_write_back_bytes(spec: GPUSpec, dram_bytes: float) -> float:
    """DRAM bytes written back for the dirty L2 lines a kernel finds (`GPUSpec.dirty_l2_bytes`):
    each line its `dram_bytes` of traffic brings into L2 (reads, and writes, which allocate) evicts
    one, dirty ones first written to DRAM, so ``min(dirty, traffic)``. After a write flush of an
    H100's 50 MB L2, a 1×8192×8192 int4 GEMV's 33.5 MB of weights come with 33.5 MB of write-back:
    twice the traffic; an 8192³ GEMM's 400 MB with 50 MB, an eighth more."""
    return min(spec.dirty_l2_bytes, dram_bytes)


def drained(spec: GPUSpec, kernel: KernelTime) -> GPUSpec:
    """`spec` as the kernel launched after `kernel` finds the L2: the dirty lines `kernel`'s
    traffic did not evict still dirty (its own few written lines assumed drained as it ran)."""
    return drained_by(spec, kernel.dram_bytes)


def drained_by(spec: GPUSpec, traffic_bytes: float) -> GPUSpec:
    """`spec` as a kernel finds the L2 after `traffic_bytes` of another's DRAM traffic
    (`drained`)."""
    if not spec.dirty_l2_bytes:
        return spec
    return dataclasses.replace(spec, dirty_l2_bytes=max(0.0, spec.dirty_l2_bytes - traffic_bytes))


def memory_bound_s(spec: GPUSpec, moved_bytes: float, cuda_flops: float = 0.0) -> float:
    """A streaming kernel (copy, elementwise, norm, softmax, a split-K reduction): its bytes (and
    the dirty L2 lines they evict, `dirty_write_back_bytes`) at the achievable HBM rate or its fp32
    arithmetic on the CUDA cores, whichever is longer, plus one memory latency and the launch
    overhead."""
    cuda_rate = spec.peak_cuda_core_flops * spec.clock_scale
    moved_bytes += dirty_write_back_bytes(spec, moved_bytes)
    stream = max(moved_bytes / spec.achievable_dram_bytes_per_s, cuda_flops / cuda_rate)
    return stream + spec.memory_latency_s + spec.launch_overhead_s


def follow_on_kernel(
    spec: GPUSpec, after: KernelTime, moved_bytes: float, cuda_flops: float
) -> tuple[float, float]:
    """A streaming kernel that follows `after` in the same op (split-K's reduction, split-KV's
    combine): its seconds (`memory_bound_s`) and the DRAM bytes it writes back, both on the L2
    that `after` left (`drained`)."""
    left = drained(spec, after)
    return memory_bound_s(left, moved_bytes, cuda_flops), dirty_write_back_bytes(left, moved_bytes)
