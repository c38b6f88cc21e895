"""The GPU spec: a frozen, validated description of one GPU's SMs, tensor cores and memories.

Units are in the field names (SI base units): hertz, bytes, bytes per second, seconds. Rates per SM
and per cycle are multiplied by `sm_count` and `clock_hz` to give the datasheet peaks:
``peak FLOP/s = 2 · tensor_macs_per_cycle_per_sm[dtype] · sm_count · clock_hz``.

Datasheet peaks are never reached: the two ceilings a model needs, the HBM bandwidth a large copy
achieves and the fraction of the tensor-core peak a large GEMM's main loop achieves, are separate
fields (`achievable_dram_bytes_per_s`, `achievable_tensor_fraction`), calibrated from measurements
where the repository has them (reference_kernels/data/known_measurements.md) and otherwise stated
as assumptions in the preset.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType

from hwmodels.checks import (
    check_fraction,
    check_non_negative_number,
    check_positive_int,
    check_positive_number,
    is_number,
)
from hwmodels.device import MemoryLevel
from hwmodels.errors import HardwareSpecError
from workloads.dtypes import DType

#: Bytes per 32-bit register.
REGISTER_BYTES = 4
#: Upper bound of a bandwidth fraction (of a copy's achievable rate) a spec accepts: twice a copy
#: catches a mistyped value, and no GPU's copy reaches under half its datasheet rate (every preset's
#: ~90%); the rate a kernel runs at is capped at the datasheet's anyway (`GPUSpec.streaming_at`).
MAX_BANDWIDTH_FRACTION = 2.0
#: A GPU spec's per-kernel entries: tensor-core fractions and bandwidth fractions.
KERNEL_MAPPINGS = ("kernel_fractions", "kernel_bandwidth_fractions")
#: Measured kernel families whose GEMMs run in one dtype (workloads.kernel_ops.KernelFamily values):
#: `GPUSpec.for_kernel` gives a kernel of such a family without an entry that dtype's fraction.
FAMILY_DTYPES = {"gemm_fp8": DType.FP8}
#: The reference SM's tensor rates a GPU's fractions were measured at (`GPUSpec.transferred_fraction`).
REFERENCE_RATES = ("reference_tensor_macs_per_cycle_per_sm", "reference_mma_sync_macs_per_cycle_per_sm")
#: The 16-bit dtypes whose tensor rate `GPUSpec.mma_sync_macs_per_cycle_per_sm` and the reference
#: rates are stated against.
SIXTEEN_BIT = (DType.BF16, DType.FP16)
#: Exponent of the power ratio in the clock a power limit sustains (`GPUSpec.sustained_clock_hz`):
#: dynamic power is ``C·V²·f`` and across the DVFS range the voltage scales with the clock, so
#: power goes as ``f³`` and the clock as ``P^(1/3)`` (the standard CMOS relation, e.g. Hennessy &
#: Patterson, Computer Architecture, 6th ed., §1.5). Static power is neglected, so the clock is an
#: upper bound. An ASSUMED law: no published clock-versus-power-limit curve of an H100 is at hand.
POWER_CLOCK_EXPONENT = 1 / 3


def locked_clock_mhz(value: object) -> float | None:
    """A locked SM clock as a measurement states it (a source's or a row's ``sm_clock_mhz``), in
    MHz: a finite positive number, else None (the caller names the field)."""
    try:
        mhz = float(value)
    except (TypeError, ValueError):
        return None
    return mhz if 0 < mhz < math.inf else None


#: A CUDA core retires one fp32 instruction per cycle; an FMA counts 2 FLOPs in the spec's rate.
FLOPS_PER_CUDA_CORE_INSTRUCTION = 2
#: Bytes one SM's shared memory moves a cycle: 32 banks of 32 bits each a clock (CUDA C++
#: Programming Guide, "Shared Memory", compute capabilities 5.x to 9.0: "Shared memory has 32
#: banks ... Each bank has a bandwidth of 32 bits per clock cycle"), conflict-free accesses.
SHARED_MEMORY_BYTES_PER_CYCLE_PER_SM = 128
#: FP8 accumulation. Hopper's tensor cores add FP8 products into an accumulator narrower than fp32
#: (about 14 bits of mantissa on the H800: DeepSeek-V3 technical report, §3.3.2), so a GEMM that does
#: not accept that (cuBLASLt's default, ``CUBLASLT_MATMUL_DESC_FAST_ACCUM`` = 0, which
#: ``torch._scaled_mm`` keeps unless ``use_fast_accum=True``) adds the tensor cores' partial sums
#: into fp32 registers every `FP8_PROMOTION_K` of K, `FP8_PROMOTION_INSTRUCTIONS` CUDA-core
#: instruction per accumulator element. Read in CUTLASS's non-fast-accumulation FP8 mainloop
#: (include/cutlass/gemm/collective/fp8_accumulation.hpp and sm90_mma_tma_gmma_ss_warpspecialized_fp8.hpp,
#: v3.4-v3.5): ``mma_promotion_interval`` = 4 wgmma instructions of K = 32, then ``warpgroup_wait<0>``
#: and ``accum_(i) += accum_temp_(i)`` (one FADD). The promotion waits for the matmuls in flight: a
#: cooperative kernel's two consumer warp groups step the same k-tiles in lock step and a pingpong
#: kernel's ordered mainloops leave no other warp group's matmul beside it, so it runs in series
#: with the tensor cores (`promoted_macs_per_s`). The ``...FP8FastAccum`` schedules never promote.
#: ASSUMED for cuBLAS, which is closed (its Hopper kernels are CUTLASS's kind), and for Ada's FP8
#: tensor cores, which cuBLASLt's fast-accumulation flag also covers. Checked only on the MAMF
#: table's FP8 bests (a calibration source): 1.1% below the H100's, 4.2% below the H200's.
FP8_PROMOTION_K = 128
FP8_PROMOTION_INSTRUCTIONS = 1


@dataclass(frozen=True, kw_only=True)
class GPUSpec:
    """One GPU: SMs with tensor cores and CUDA cores, shared memory, an L2 and HBM (or GDDR).

    `tensor_macs_per_cycle_per_sm` maps a dtype to the dense tensor-core MACs one SM does per cycle
    on it (with fp32 accumulation for fp16/bf16, as PyTorch's GEMMs accumulate); dtypes missing from
    it have no tensor-core path. `sparse_tensor_speedup` maps a dtype to the 2:4 structured-sparse
    rate over the dense one (2.0 on Ampere and later); dtypes missing from it have no sparse path.
    `cuda_core_flops_per_cycle_per_sm` is the fp32 rate of the CUDA cores (an FMA is 2 FLOPs).
    `tma_multicast_ctas` is how many CTAs of a thread-block cluster share one L2 load of the
    larger operand tile (Hopper's TMA multicast; 1 where the GPU has no clusters).
    `registers_per_sm` counts 32-bit registers. `achievable_tensor_fraction` is the fraction of the
    dense tensor rate a GEMM's main loop sustains per SM; `attention_tensor_fraction` the same for an
    attention kernel's matmuls (FlashAttention-2 issues Ampere-style mma.sync on Hopper).
    `gemm_bandwidth_fraction` and `attention_bandwidth_fraction` scale `achievable_dram_bytes_per_s`
    (a large copy's rate) for the DRAM traffic of GEMM and attention kernels: a GEMV that reaches
    only 85% of a copy's bandwidth has 0.85; above 1 a kernel streams faster than a copy (it only
    reads), up to the datasheet's rate (`max_bandwidth_fraction`). `kernel_fractions` maps a named
    kernel implementation (a measured row's ``kernel``, e.g. ``flash_attention_3``, or
    ``kernel:family`` for one of its families) to the tensor fraction it sustains instead of those
    two, `kernel_bandwidth_fractions` to its bandwidth fraction, for the ops that name it
    (`for_kernel`); `codesign calibrate` fits them from measurements, and each preset entry says
    where its figure comes from. `gemm_kernel` and `attention_kernel` name the kernel every GEMM or
    attention runs as (`with_kernels`): its traits (the mappers' kernel tables) and the spec-wide
    fractions of that kind set to its entries where it has them (the result rows' `mapping` names
    it); empty: the preset's own fractions and the default traits. The GPU engine refuses a name
    that neither the mappers nor the entries know.
    `compute_capability` is the CUDA compute capability (9.0 Hopper, 8.0 A100, 8.6 GA10x, 8.9 Ada;
    0: not stated), which kernels dispatch on (FlashAttention-2's tiles differ on 8.6/8.9).
    `gemm_stream_k` adds stream-K GEMM candidates (CUTLASS's stream-K schedulers; cuBLAS picks such
    kernels by heuristic for some shapes). Off in every preset: of the two published fp8 GEMMs a
    partial last wave decides, the H100's was matched by the data-parallel wave model (-0.9%) and
    missed by stream-K (-10.1%), the H200's the other way round (+11.7% against -3.8%), both at
    the bf16 fraction with no promotion of FP8 partial sums (benchmarks/RESULTS.md; with cuBLAS's
    promotion modeled, `FP8_PROMOTION_K`, both run +13% data-parallel); `--set gemm_stream_k=true`
    asks what it would give.
    `dtype_tensor_fractions` maps a dtype to its own `achievable_tensor_fraction` where a
    calibration source measured it apart (no preset has one: FP8's lower rate under cuBLAS is its
    promotion, `FP8_PROMOTION_K`, modeled in the GEMM engine); a named kernel's
    `kernel_fractions` entry replaces it (`tensor_fraction`, `for_kernel`).
    `launch_overhead_s` is what each kernel launched eagerly adds to its own time on the GPU (the
    launch and the GPU's setup between two kernels, the host keeping ahead);
    `graph_launch_overhead_s` the same for a kernel replayed from a CUDA graph (`with_cuda_graphs`).
    `host_dispatch_s` is the host time an eager framework call takes to dispatch one op and launch
    its kernel (PyTorch's dispatcher and ``cudaLaunchKernel``): a stream of eager calls whose
    kernels are shorter than that is bound by the host, each kernel then taking
    ``max(its own time, host_dispatch_s)``; a CUDA graph or a native runtime (a serving engine's
    C++ loop) does not pay it (`with_cuda_graphs`, `with_native_runtime`).
    `mma_sync_macs_per_cycle_per_sm` is the rate of the Ampere-style ``mma.sync`` instruction per
    SM where the tensor cores have a faster native path (Hopper's ``wgmma``), which a kernel
    written for Ampere (FlashAttention-2) reaches at most; 0: ``mma.sync`` is the native path.
    `reference_tensor_macs_per_cycle_per_sm` and `reference_mma_sync_macs_per_cycle_per_sm` are
    the 16-bit ``wgmma`` (native) and ``mma.sync`` rates of the SM on which the tensor fractions
    were measured, where that SM is this GPU's with its tensor cores at another rate (the H20 is
    an H100 SM capped at 480 MACs/cycle); 0: the fractions were measured on this GPU. What a
    fraction loses on the reference SM is time of the SM's other units (the softmax's critical
    path, barriers, pipeline bubbles, the epilogue), which does not scale with the tensor rate: it
    carries as cycles per MAC (`transferred_fraction`); a fraction `codesign calibrate` fits on such
    a GPU is fitted through the same law, so it stays the reference SM's.
    `tdp_w` is the datasheet board power (0: unknown); `power_limit_w` the limit the board runs
    under (0: the TDP; a data centre may cap an H100 at 500 W), from which `sustained_clock_hz`
    follows (`POWER_CLOCK_EXPONENT`): the SMs' compute rates and L2 bandwidth scale with it, the
    HBM's does not. `loaded_clock_hz` is the clock the SMs hold under sustained tensor-core load at
    the TDP where the part cannot hold `clock_hz` there (0: it holds it): a 350 W H100 PCIe runs its
    large GEMMs well below the 1.62 GHz its datasheet's tensor peaks are stated at; a power limit
    below the TDP scales it further. `locked_clock_hz` is an SM clock locked by the operator
    (``nvidia-smi --lock-gpu-clocks``, as benchmark harnesses do; 0: not locked): the SMs run at it
    where the power limit allows, never above the clock the limit sustains. `price_usd_per_hour` is
    an on-demand cloud price per GPU (0: unknown); the preset cites each.
    `wgmma_wait_s` is how long a warp group that waits for its k-step's ``wgmma`` group with none
    left pending (``warpgroup_wait<0>``: DeepGEMM's and CUTLASS's block-FP8 promotion, Triton's
    block-FP8 scaling) waits beyond issuing it: the group's completion latency, in series with each
    step of its CTA (`mappers.gpu_gemm.GemmKernel.waits_for_wgmma`; 0: not measured, not modeled).
    `dirty_l2_bytes` is how much of the L2 holds dirty lines (written, not yet in DRAM) when a
    kernel starts: 0 by default (inside a model the previous kernels' outputs are dirty, a few MB
    at most for a decode step's activations: not modeled), the whole L2 after a benchmark harness
    flushed it by writing a buffer larger than it (`after_l2_flush_by_writes`), or the
    `write_flush_dirty_fraction` of it such a flush leaves dirty: 1 by default, an ASSUMED upper
    bound (no line written back between the flush and the kernel), which the rows timed after
    such flushes say overshoots (benchmarks/RESULTS.md, sessions 8 and 19) and
    `reference_kernels.probes.dirty_l2` measures. The L2 writes back
    (NVIDIA's L2 is a write-back cache: stores reach DRAM on eviction), so every line the kernel
    brings into L2 first evicts a dirty one to DRAM, until none is left
    (`sim.engines.gpu.timing.dirty_write_back_bytes`).
    """

    name: str
    sm_count: int
    clock_hz: float
    tensor_macs_per_cycle_per_sm: Mapping[DType, int]
    sparse_tensor_speedup: Mapping[DType, float] = field(default_factory=dict)
    cuda_core_flops_per_cycle_per_sm: float
    sfu_ops_per_cycle_per_sm: float
    registers_per_sm: int
    shared_memory_bytes_per_sm: int
    l2_bytes: int
    l2_bytes_per_s: float
    dram_capacity_bytes: int
    dram_bytes_per_s: float
    achievable_dram_bytes_per_s: float
    achievable_tensor_fraction: float
    attention_tensor_fraction: float
    gemm_bandwidth_fraction: float = 1.0
    attention_bandwidth_fraction: float = 1.0
    memory_latency_s: float
    launch_overhead_s: float
    graph_launch_overhead_s: float
    tma_multicast_ctas: int = 1
    compute_capability: float = 0.0
    kernel_fractions: Mapping[str, float] = field(default_factory=dict)
    dtype_tensor_fractions: Mapping[DType, float] = field(default_factory=dict)
    kernel_bandwidth_fractions: Mapping[str, float] = field(default_factory=dict)
    gemm_kernel: str = ""
    attention_kernel: str = ""
    gemm_stream_k: bool = False
    default_dtype: DType = DType.BF16
    host_dispatch_s: float = 0.0
    mma_sync_macs_per_cycle_per_sm: float = 0.0
    reference_tensor_macs_per_cycle_per_sm: float = 0.0
    reference_mma_sync_macs_per_cycle_per_sm: float = 0.0
    tdp_w: float = 0.0
    power_limit_w: float = 0.0
    loaded_clock_hz: float = 0.0
    locked_clock_hz: float = 0.0
    dirty_l2_bytes: float = 0.0
    write_flush_dirty_fraction: float = 1.0
    wgmma_wait_s: float = 0.0
    price_usd_per_hour: float = 0.0
    source: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        where = f"hardware {self.name!r}: "
        integers = ("sm_count", "tma_multicast_ctas", "registers_per_sm", "shared_memory_bytes_per_sm")
        for name in (*integers, "l2_bytes", "dram_capacity_bytes"):
            check_positive_int(self, name, where)
        for name in (
            "clock_hz",
            "cuda_core_flops_per_cycle_per_sm",
            "sfu_ops_per_cycle_per_sm",
            "l2_bytes_per_s",
            "dram_bytes_per_s",
            "achievable_dram_bytes_per_s",
            "memory_latency_s",
        ):
            check_positive_number(self, name, where)
        overheads = ("launch_overhead_s", "graph_launch_overhead_s", "host_dispatch_s", "wgmma_wait_s")
        power = ("tdp_w", "power_limit_w", "loaded_clock_hz", "locked_clock_hz",
                 "mma_sync_macs_per_cycle_per_sm", *REFERENCE_RATES)
        for name in (*overheads, *power, "price_usd_per_hour", "compute_capability"):
            check_non_negative_number(self, name, where)
        for name in ("achievable_tensor_fraction", "attention_tensor_fraction"):
            check_fraction(self, name, where)
        self._check_reference_rates(where)
        check_non_negative_number(self, "dirty_l2_bytes", where)
        check_non_negative_number(self, "write_flush_dirty_fraction", where)
        if self.write_flush_dirty_fraction > 1:
            raise HardwareSpecError(
                f"{where}field 'write_flush_dirty_fraction' = {self.write_flush_dirty_fraction!r}: the "
                "share of the L2 a flush by writes leaves dirty, from 0 to 1"
            )
        if self.dirty_l2_bytes > self.l2_bytes:
            raise HardwareSpecError(
                f"{where}field 'dirty_l2_bytes' = {self.dirty_l2_bytes!r}: must be at most "
                f"l2_bytes = {self.l2_bytes!r} (the L2 cannot hold more dirty lines than lines)"
            )
        if self.loaded_clock_hz > self.clock_hz:
            raise HardwareSpecError(
                f"{where}field 'loaded_clock_hz' = {self.loaded_clock_hz!r}: must be at most "
                f"clock_hz = {self.clock_hz!r} (the clock under load is the rated clock or below it; "
                "0 where the part holds its rated clock)"
            )
        if self.power_limit_w and not self.tdp_w:
            raise HardwareSpecError(
                f"{where}field 'power_limit_w' = {self.power_limit_w!r}: needs tdp_w, the power the "
                "clock_hz figures hold at"
            )
        if self.achievable_dram_bytes_per_s > self.dram_bytes_per_s:
            raise HardwareSpecError(
                f"{where}field 'achievable_dram_bytes_per_s' = {self.achievable_dram_bytes_per_s!r}: "
                f"must not exceed dram_bytes_per_s = {self.dram_bytes_per_s!r}"
            )
        bandwidth_range = f"in (0, {MAX_BANDWIDTH_FRACTION:g}] (a multiple of a copy's achievable rate)"
        for name in ("gemm_bandwidth_fraction", "attention_bandwidth_fraction"):
            value = getattr(self, name)
            if not is_number(value) or not 0 < value <= MAX_BANDWIDTH_FRACTION:
                raise HardwareSpecError(
                    f"{where}field {name!r} = {value!r}: must be a number {bandwidth_range}"
                )
        for mapping, bound, valid in (
            ("kernel_fractions", 1.0, "in (0, 1]"),
            ("kernel_bandwidth_fractions", MAX_BANDWIDTH_FRACTION, bandwidth_range),
        ):
            for kernel, value in getattr(self, mapping).items():
                named = isinstance(kernel, str) and kernel
                if not named or not is_number(value) or not 0 < value <= bound:
                    raise HardwareSpecError(
                        f"{where}field {mapping!r} entry {kernel!r}: {value!r}: must map a kernel "
                        f"name to a fraction {valid}"
                    )
        for name in ("gemm_kernel", "attention_kernel"):
            if not isinstance(getattr(self, name), str):
                raise HardwareSpecError(
                    f"{where}field {name!r} = {getattr(self, name)!r}: must be a kernel's name "
                    "(a string; empty: none)"
                )
        if not self.tensor_macs_per_cycle_per_sm:
            raise HardwareSpecError(
                f"{where}field 'tensor_macs_per_cycle_per_sm' is empty: give at least one dtype"
            )
        for dtype, macs in self.tensor_macs_per_cycle_per_sm.items():
            if not isinstance(dtype, DType) or not is_number(macs) or not isinstance(macs, int) or macs < 1:
                raise HardwareSpecError(
                    f"{where}field 'tensor_macs_per_cycle_per_sm' entry {dtype!r}: {macs!r}: "
                    "must map a dtype to a positive integer"
                )
        for dtype, fraction in self.dtype_tensor_fractions.items():
            valid = is_number(fraction) and 0 < fraction <= 1
            if dtype not in self.tensor_macs_per_cycle_per_sm or not valid:
                raise HardwareSpecError(
                    f"{where}field 'dtype_tensor_fractions' entry {dtype!r}: {fraction!r}: must map a "
                    "dtype of tensor_macs_per_cycle_per_sm to a fraction in (0, 1]"
                )
        for dtype, speedup in self.sparse_tensor_speedup.items():
            if dtype not in self.tensor_macs_per_cycle_per_sm or not is_number(speedup) or speedup < 1:
                raise HardwareSpecError(
                    f"{where}field 'sparse_tensor_speedup' entry {dtype!r}: {speedup!r}: must map a "
                    "dtype of tensor_macs_per_cycle_per_sm to a number >= 1"
                )
        if self.default_dtype not in self.tensor_macs_per_cycle_per_sm:
            raise HardwareSpecError(
                f"{where}field 'default_dtype' = {self.default_dtype.value!r}: not in "
                f"tensor_macs_per_cycle_per_sm ({self.tensor_dtypes})"
            )
        for name in ("tensor_macs_per_cycle_per_sm", "sparse_tensor_speedup", "dtype_tensor_fractions",
                     *KERNEL_MAPPINGS):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def _check_reference_rates(self, where: str) -> None:
        """The reference SM's rates are a pair a fraction can carry over with: a ``wgmma`` rate, on
        a GPU with a 16-bit tensor path to compare it with, and an ``mma.sync`` rate only beside
        it and at most it."""
        tensor, mma_sync = (getattr(self, name) for name in REFERENCE_RATES)
        if tensor and not self.sixteen_bit_macs_per_cycle():
            raise HardwareSpecError(
                f"{where}field 'reference_tensor_macs_per_cycle_per_sm' = {tensor!r}: needs a bf16 or "
                "fp16 entry in tensor_macs_per_cycle_per_sm, the rate the reference's is compared with"
            )
        if mma_sync and not tensor:
            raise HardwareSpecError(
                f"{where}field 'reference_mma_sync_macs_per_cycle_per_sm' = {mma_sync!r}: needs "
                "reference_tensor_macs_per_cycle_per_sm, the reference SM's native rate"
            )
        if mma_sync > tensor:
            raise HardwareSpecError(
                f"{where}field 'reference_mma_sync_macs_per_cycle_per_sm' = {mma_sync!r}: must be at "
                f"most reference_tensor_macs_per_cycle_per_sm = {tensor!r} (mma.sync never beats the "
                "native path)"
            )

    def __hash__(self) -> int:
        """Hash of every field, the mappings as sorted items (so a spec can key a cache)."""
        return hash(
            tuple(
                tuple(sorted((getattr(k, "value", k), v) for k, v in value.items()))
                if isinstance(value, Mapping)
                else value
                for value in (getattr(self, f.name) for f in fields(self))
            )
        )

    def with_cuda_graphs(self) -> GPUSpec:
        """This GPU replaying a step's kernels from a CUDA graph: each kernel pays
        `graph_launch_overhead_s` instead of the eager `launch_overhead_s` (one graph launch per
        step instead of one host launch per kernel), or the eager figure where that is smaller (a
        what-if that sets ``launch_overhead_s=0``), and no host dispatch."""
        launch = min(self.graph_launch_overhead_s, self.launch_overhead_s)
        return replace(self, launch_overhead_s=launch, host_dispatch_s=0.0)

    def with_native_runtime(self) -> GPUSpec:
        """This GPU driven by a native runtime (a serving engine's C++ loop, a benchmark that
        times kernels launched ahead of the GPU): each kernel pays its launch on the GPU, no
        framework dispatch on the host."""
        return replace(self, host_dispatch_s=0.0)

    def on_device_only(self) -> GPUSpec:
        """This GPU as a profiler's device timer (CUPTI, Nsight) sees a kernel: from its first
        instruction to its last, no launch and no host dispatch."""
        return replace(self, launch_overhead_s=0.0, host_dispatch_s=0.0)

    def after_l2_flush_by_writes(self) -> GPUSpec:
        """This GPU as a kernel timed right after a harness flushed the L2 by writing a buffer
        larger than it (Triton's ``do_bench``: ``cache.zero_()`` of 256 MB before every call;
        ``codesign measure``'s harness reads instead, leaving no dirty line): its
        `write_flush_dirty_fraction` of the L2 dirty at the kernel's start (`dirty_l2_bytes`); by
        default the whole L2, an ASSUMED upper bound: no line written back before the kernel starts."""
        return replace(self, dirty_l2_bytes=float(self.l2_bytes) * self.write_flush_dirty_fraction)

    @property
    def board_power_w(self) -> float:
        """The most the board draws: `power_limit_w` where one is set below the TDP, else `tdp_w`."""
        if self.power_limit_w and self.power_limit_w < self.tdp_w:
            return self.power_limit_w
        return self.tdp_w

    @property
    def sustained_clock_hz(self) -> float:
        """The SMs' clock under sustained load at `power_limit_w`: at the TDP `loaded_clock_hz`
        where set, else `clock_hz`; below the TDP that scaled by ``(power_limit_w / tdp_w) **
        POWER_CLOCK_EXPONENT``: a 500 W limit on a 700 W H100 holds ``1830 MHz · (500/700)^(1/3) =
        1636 MHz``. A `locked_clock_hz` below that is the clock: an H200 locked at 1500 MHz runs
        at 1500 MHz, ``1500 / 1830 = 0.82`` of its rated SM rates."""
        at_tdp = self.loaded_clock_hz or self.clock_hz
        if self.board_power_w >= self.tdp_w:
            held = at_tdp
        else:
            held = at_tdp * (self.board_power_w / self.tdp_w) ** POWER_CLOCK_EXPONENT
        return min(held, self.locked_clock_hz) if self.locked_clock_hz else held

    def locked_at(self, clock_hz: float) -> GPUSpec:
        """This GPU with its SM clock locked at `clock_hz` (`locked_clock_hz`), as a benchmark that
        locks clocks ran it."""
        return replace(self, locked_clock_hz=float(clock_hz))

    @property
    def clock_scale(self) -> float:
        """`sustained_clock_hz` over `clock_hz`: what the SM-side rates (tensor, CUDA-core,
        special-function units, L2) are multiplied by."""
        return self.sustained_clock_hz / self.clock_hz

    @property
    def max_bandwidth_fraction(self) -> float:
        """The bandwidth fraction of a kernel streaming at the datasheet's HBM rate (more is capped)."""
        return self.dram_bytes_per_s / self.achievable_dram_bytes_per_s

    def streaming_at(self, fraction: float) -> GPUSpec:
        """This GPU with `achievable_dram_bytes_per_s` scaled by a kernel's bandwidth fraction and
        capped at the datasheet's `dram_bytes_per_s` (what a GEMM's or an attention kernel's DRAM
        traffic runs at), the fractions then 1; the spec itself at 1."""
        if fraction == 1.0:
            return self
        scaled = min(self.dram_bytes_per_s, self.achievable_dram_bytes_per_s * fraction)
        unit = {"gemm_bandwidth_fraction": 1.0, "attention_bandwidth_fraction": 1.0}
        return replace(self, achievable_dram_bytes_per_s=scaled, **unit)

    def for_kernel(self, kernel: str, family: str = "") -> GPUSpec:
        """This GPU as the named kernel implementation sees it: both tensor fractions set to its
        `kernel_fractions` entry and both bandwidth fractions to its `kernel_bandwidth_fractions`
        entry, ``KERNEL:FAMILY`` (one kernel's rate on one measured family, as a Triton GEMM in
        bf16 and in fp8) before ``KERNEL``. A tensor entry replaces `dtype_tensor_fractions` too:
        a ``KERNEL`` entry is the kernel's fraction on every dtype it runs (fit it per family,
        ``KERNEL:FAMILY``, where its dtypes differ); without one, a family of one dtype
        (`FAMILY_DTYPES`: ``gemm_fp8``) runs at that dtype's fraction. The spec itself when none
        applies."""
        changes = {}
        for mapping, fields_set in (
            (self.kernel_fractions, ("achievable_tensor_fraction", "attention_tensor_fraction")),
            (self.kernel_bandwidth_fractions, ("gemm_bandwidth_fraction", "attention_bandwidth_fraction")),
        ):
            value = mapping.get(f"{kernel}:{family}", mapping.get(kernel))
            if value is not None:
                changes.update(dict.fromkeys(fields_set, value))
        if "achievable_tensor_fraction" in changes:  # the kernel's own, on the dtype it was fitted on
            changes["dtype_tensor_fractions"] = {}
        elif FAMILY_DTYPES.get(family) in self.dtype_tensor_fractions:  # no entry: its dtype's own
            changes["achievable_tensor_fraction"] = self.dtype_tensor_fractions[FAMILY_DTYPES[family]]
        return replace(self, **changes) if changes else self

    def with_kernels(
        self,
        *,
        gemm: str | None = None,
        attention: str | None = None,
        known: Mapping[str, Collection[str]] | None = None,
    ) -> GPUSpec:
        """This GPU running every GEMM as kernel `gemm` and every attention as kernel `attention`:
        the spec-wide tensor and bandwidth fractions of that kind set to those kernels'
        `kernel_fractions` and `kernel_bandwidth_fractions` entries, and the kernel named (its
        traits apply). A name with no entry is accepted where `known` lists it for its option
        (``--gemm-kernel``, ``--attention-kernel``: the kernels whose traits the mappers model),
        at the spec-wide fractions; an error naming both lists for a name in neither."""
        changes = {}
        entries = sorted({*self.kernel_fractions, *self.kernel_bandwidth_fractions})
        known = known or {}
        for option, kernel, name_field, tensor_field, bandwidth_field in (
            ("--gemm-kernel", gemm, "gemm_kernel", "achievable_tensor_fraction", "gemm_bandwidth_fraction"),
            (
                "--attention-kernel",
                attention,
                "attention_kernel",
                "attention_tensor_fraction",
                "attention_bandwidth_fraction",
            ),
        ):
            if kernel is None:
                continue
            traits = sorted(known.get(option, ()))
            if kernel not in entries and kernel not in traits:
                raise HardwareSpecError(
                    f"{option} {kernel!r}: hardware {self.name!r} has no kernel_fractions or "
                    f"kernel_bandwidth_fractions entry for it (known: {', '.join(entries) or 'none'}; "
                    "codesign calibrate fits them from measurements)"
                    + (f", and the model has no traits for it (kernels with traits: {', '.join(traits)})"
                       if traits else "")
                )
            tuned = self.for_kernel(kernel)
            changes[tensor_field] = getattr(tuned, tensor_field)
            if option == "--gemm-kernel":
                changes["dtype_tensor_fractions"] = tuned.dtype_tensor_fractions
            changes[bandwidth_field] = getattr(tuned, bandwidth_field)
            changes[name_field] = kernel
        return replace(self, **changes) if changes else self

    def sixteen_bit_macs_per_cycle(self, *, mma_sync: bool = False) -> float:
        """Dense 16-bit MACs per cycle per SM of the tensor cores (0 where they have no 16-bit
        path), or of Ampere-style ``mma.sync`` (`mma_sync`) where `mma_sync_macs_per_cycle_per_sm`
        caps it: ``min(2048, 1365) = 1365`` on the H100."""
        rates = self.tensor_macs_per_cycle_per_sm
        macs = float(next((rates[d] for d in SIXTEEN_BIT if d in rates), 0))
        if mma_sync and self.mma_sync_macs_per_cycle_per_sm:
            return min(macs, self.mma_sync_macs_per_cycle_per_sm)
        return macs

    def transferred_fraction(self, fraction: float, *, mma_sync: bool = False) -> float:
        """A tensor `fraction` measured on the reference SM (`reference_tensor_macs_per_cycle_per_sm`)
        as this GPU's tensor cores sustain it. On the reference, whose rate is ``R_ref`` MACs per
        cycle, the kernel spends ``1/f`` cycles where its tensor work alone takes one: ``(1/f − 1)
        / R_ref`` cycles per MAC go to the SM's other units, and those are the same SM's here; at
        this GPU's rate ``R`` the fraction is ``1 / (1 + (R / R_ref)·(1/f − 1))``. FA3 on the H20
        at the H100's 0.63 of 2048 MACs/cycle: ``480 / 2048 = 0.234``, ``1 / (1 + 0.234 · 0.587)
        = 0.879`` (the same loss at 0.63 would make the H20 lose 37% of a rate four times slower).
        `fraction` itself where no reference is set or the rates are equal."""
        reference = self.reference_tensor_macs_per_cycle_per_sm
        if not reference or not 0 < fraction < 1:
            return fraction
        if mma_sync and self.reference_mma_sync_macs_per_cycle_per_sm:  # at most the native rate
            reference = self.reference_mma_sync_macs_per_cycle_per_sm
        ratio = self.sixteen_bit_macs_per_cycle(mma_sync=mma_sync) / reference
        return fraction if ratio == 1 else 1 / (1 + ratio * (1 / fraction - 1))

    @property
    def tensor_dtypes(self) -> str:
        """The dtypes with a tensor-core path, comma-separated (for messages)."""
        return ", ".join(d.value for d in self.tensor_macs_per_cycle_per_sm)

    def tensor_macs_per_cycle(self, dtype: DType, *, sparse: bool = False) -> float:
        """Dense (or 2:4 sparse) tensor-core MACs per cycle per SM on `dtype`; an error naming the
        supported dtypes when the GPU has no tensor-core path (or no sparse one) for it."""
        try:
            macs = self.tensor_macs_per_cycle_per_sm[dtype]
        except KeyError:
            raise HardwareSpecError(
                f"hardware {self.name!r}: dtype {dtype.value!r} has no tensor-core path "
                f"(tensor_macs_per_cycle_per_sm has {self.tensor_dtypes})"
            ) from None
        if not sparse:
            return float(macs)
        try:
            return macs * self.sparse_tensor_speedup[dtype]
        except KeyError:
            supported = ", ".join(d.value for d in self.sparse_tensor_speedup) or "none"
            raise HardwareSpecError(
                f"hardware {self.name!r}: no 2:4 sparse tensor-core path for {dtype.value!r} "
                f"(sparse_tensor_speedup has {supported})"
            ) from None

    def peak_tensor_flops(self, dtype: DType, *, sparse: bool = False) -> float:
        """Datasheet tensor-core FLOP/s: 2 · MACs/cycle/SM · SMs · clock."""
        return 2 * self.tensor_macs_per_cycle(dtype, sparse=sparse) * self.sm_count * self.clock_hz

    @property
    def peak_cuda_core_flops(self) -> float:
        """fp32 FLOP/s of the CUDA cores: FLOPs/cycle/SM · SMs · clock."""
        return self.cuda_core_flops_per_cycle_per_sm * self.sm_count * self.clock_hz

    @property
    def registers_bytes_per_sm(self) -> int:
        return self.registers_per_sm * REGISTER_BYTES

    # The `hwmodels.device.Device` interface beyond the fields.
    def peak_flops(self, dtype: DType) -> float:
        """Dense tensor-core FLOP/s on `dtype` (`peak_tensor_flops`)."""
        return self.peak_tensor_flops(dtype)

    def tensor_fraction(self, dtype: DType) -> float:
        """The fraction of the tensor peak a GEMM's main loop sustains on `dtype`: its
        `dtype_tensor_fractions` entry where it has one, else `achievable_tensor_fraction`."""
        return self.dtype_tensor_fractions.get(dtype, self.achievable_tensor_fraction)

    def achievable_flops(self, dtype: DType) -> float:
        """What a large GEMM's main loop sustains as a library runs it by default: the peak times
        `tensor_fraction` (as this GPU's tensor rate carries it from the reference SM's,
        `transferred_fraction`), an FP8 one with its partial sums promoted (`promoted_macs_per_s`)."""
        flops = self.peak_tensor_flops(dtype) * self.transferred_fraction(self.tensor_fraction(dtype))
        per_sm = flops / 2 / self.sm_count * self.clock_scale  # MACs a second at the clock the SMs hold
        return flops * self.promoted_macs_per_s(dtype, per_sm) / per_sm if per_sm else flops

    def promoted_macs_per_s(self, dtype: DType, macs_per_s: float) -> float:
        """One SM's MACs per second on `dtype` for a GEMM main loop running its tensor cores at
        `macs_per_s`, once FP8 partial sums are promoted as cuBLAS does by default: per output
        element, `FP8_PROMOTION_K` MACs on the tensor cores, then `FP8_PROMOTION_INSTRUCTIONS` on the
        CUDA cores in series. On an H100 SM at the 0.8669 fraction: 128 / (4096 · 0.8669) + 1 / 128
        cycles per 128 MACs, 0.713 of the peak. Other dtypes accumulate in fp32: `macs_per_s`."""
        if dtype is not DType.FP8 or not macs_per_s:
            return macs_per_s
        instructions_per_s = self.cuda_core_flops_per_cycle_per_sm / FLOPS_PER_CUDA_CORE_INSTRUCTION
        instructions_per_s *= self.sustained_clock_hz
        seconds = FP8_PROMOTION_K / macs_per_s + FP8_PROMOTION_INSTRUCTIONS / instructions_per_s
        return FP8_PROMOTION_K / seconds

    #: No idle power is charged beside the TDP bound (`sim.cost`).
    static_power_w = 0.0

    def memory_levels(self) -> tuple[MemoryLevel, ...]:
        """Registers and shared memory (all SMs), L2 at its rate, DRAM at its datasheet rate."""
        inf = float("inf")
        return (
            MemoryLevel("registers", self.registers_bytes_per_sm * self.sm_count, inf),
            MemoryLevel("shared_memory", self.shared_memory_bytes_per_sm * self.sm_count, inf),
            MemoryLevel("l2", self.l2_bytes, self.l2_bytes_per_s),
            MemoryLevel("dram", self.dram_capacity_bytes, self.dram_bytes_per_s),
        )
