"""GEMM on a GPU: every candidate tiling of `mappers.gpu_gemm` costed with the wave model of
`sim.engines.gpu.timing`, and the fastest kept, as a GEMM library's heuristic or autotuner would choose.

Per candidate (block ``bm × bn × bk``, ``stages``, split-K ``s``, occupancy ``c`` CTAs per SM):

* CTAs = batch · ceil(M/bm) · ceil(N/bn) · s; waves = CTAs / (SMs · c), the last one partial;
* each CTA's main loop runs ``ceil(ceil(K/s) / bk)`` k-steps of ``bm·bn·bk`` tensor-core MACs (a
  partial tile still costs a whole one) at the SM's achievable rate (2:4 sparse: times the sparse
  speedup), plus the dequantization instructions of its ``bk × bn`` weight tile for W4A16/W8A16
  and, for a block-scaled FP8 GEMM, the promotion of its ``bm × bn`` accumulators once per scale
  block (`GemmKernel.promotion_instructions`), hidden under the tensor cores as far as the kernel
  does (`mappers.gpu_gemm.GemmKernel`): a 128-deep FP8 block is ``bm·bn·128 / 4096 = bm·bn / 32``
  tensor cycles on an H100 SM and ``3·bm·bn / 128`` CUDA-core cycles, 75% more in series;
* it loads ``bk·(bm·a + bn·b)`` bytes per k-step through L2 (on Hopper the larger operand's tile
  once per thread-block cluster, `tma_multicast_ctas`); DRAM sees only what a wave reads for
  the first time: when all operands fit in the usable L2 (`L2_RESIDENT_FRACTION`), every byte once;
  otherwise each wave reads the A rows and B columns of the tile block it covers, ``GROUP_M`` tile
  rows high (the thread-block swizzle of CUTLASS and of Triton's tutorial GEMM);
* the epilogue writes C (split-K: fp32 partial sums, then a reduction kernel reads them and writes
  C, with its own launch).

A named kernel runs only the tilings its code can (`mappers.gpu_gemm.GemmKernel`): a Triton
block-FP8 GEMM steps K one scale block at a time, never splits it, and waits each step on its scale
loads (one memory latency, `CtaWork.serial_latency_s`); a kernel whose loop was counted in its SASS
issues that count per weight (`GemmKernel.dequant_instructions`), and a CUDA-core GEMV does its
multiply-adds among them, no tensor-core work (`GemmKernel.tensor_cores`).

A stream-K candidate (where `GPUSpec.gemm_stream_k`) runs one wave whose CTAs split all tiles'
k-steps evenly (`_cost_stream_k`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

from hwmodels.gpu import FP8_PROMOTION_INSTRUCTIONS, FP8_PROMOTION_K, GPUSpec
from mappers.gpu_gemm import (
    HOPPER_COMPUTE_CAPABILITY,
    PARTIAL_SUM_BYTES,
    FP8Promotion,
    GemmProblem,
    GemmTile,
    candidate_tiles,
    dense_after_dequantize,
    gemm_kernel,
    launched_warps,
    upcast_fp8_instructions,
    upcasts_fp8,
)
from sim.engines.gpu.timing import (
    FLOPS_PER_CUDA_CORE_INSTRUCTION,
    CtaWork,
    KernelCost,
    dirty_write_back_bytes,
    drained_by,
    follow_on_kernel,
    kernel_time,
    mac_rate_per_sm,
    memory_bound_s,
)
from workloads.dtypes import DType

#: Share of L2 that keeps operands between waves (the rest holds output tiles and in-flight lines):
#: an assumption; NVIDIA's CUDA C Best Practices Guide lets at most 75% of L2 be set aside as
#: persisting, and eviction is not perfect LRU.
L2_RESIDENT_FRACTION = 0.5
#: Tile rows a wave covers before moving to the next columns (Triton tutorial 03's GROUP_SIZE_M = 8;
#: CUTLASS's threadblock swizzle groups tiles likewise).
GROUP_M = 8


@dataclass(frozen=True, kw_only=True)
class GemmCost(KernelCost):
    """A costed GEMM tiling; the reduction kernel is split-K's; `dequantize_s` is a kernel before
    it that expands a weight-only GEMM's weight to the activation's dtype (0: none);
    `fp8_promotion` how its FP8 partial sums are promoted where it counts them (`_fp8_promotion_ops`;
    None where it counts none); `upcast`, whether its FP8 tile runs as fp16 ``mma.sync`` on converted
    operands (`mappers.gpu_gemm.upcasts_fp8`)."""

    tile: GemmTile
    dequantize_s: float = 0.0
    fp8_promotion: FP8Promotion | None = None
    upcast: bool = False

    @property
    def total_s(self) -> float:
        return self.dequantize_s + self.main.total_s + self.reduce_s

    @property
    def launches(self) -> int:
        """Kernels launched: the dequantization, the GEMM, and split-K's reduction."""
        return (self.dequantize_s > 0) + (2 if self.tile.split_k > 1 and not self.tile.stream_k else 1)

    def describe(self) -> str:
        first = "dequantize + " if self.dequantize_s else ""
        promoted = f", FP8 sums promoted {self.fp8_promotion.value}" if self.fp8_promotion else ""
        upcast = ", FP8 upcast to fp16 mma.sync" if self.upcast else ""
        return f"{first}{self.tile.describe()} waves {self.main.waves:.2f}{promoted}{upcast}"


def cost_gemm(problem: GemmProblem, tile: GemmTile, spec: GPUSpec) -> GemmCost:
    """Time and traffic of `problem` under `tile` (see the module docstring)."""
    if tile.stream_k:
        return _cost_stream_k(problem, tile, spec)
    bm, bn, bk, split = tile.block_m, tile.block_n, tile.block_k, tile.split_k
    tiles_m, tiles_n = math.ceil(problem.m / bm), math.ceil(problem.n / bn)
    k_split = math.ceil(problem.k / split)
    steps = math.ceil(k_split / bk)
    ctas = problem.batch * tiles_m * tiles_n * split
    kernel = gemm_kernel(problem.kernel)
    arithmetic, upcast = _arithmetic(problem, tile, spec, steps)
    # a tile multiplying with wgmma (Hopper, not upcast to mma.sync) whose warps wait for it each step
    wgmma = kernel.waits_for_wgmma and spec.compute_capability == HOPPER_COMPUTE_CAPABILITY and not upcast
    work = CtaWork(
        **arithmetic,
        l2_bytes=steps * bk * _tile_load_bytes(problem, tile, spec) + problem.side_bytes / (tiles_n * split),
        steps=steps,
        stages=tile.stages,
        store_bytes=bm * bn * (problem.c_bytes if split == 1 else PARTIAL_SUM_BYTES),
        # the loads its pipeline skips are the per-block scales (block-scaled FP8) or the weight's group
        # scales (a weight-only GEMM): none where the GEMM has neither
        serial_latency_s=spec.memory_latency_s
        if kernel.unpipelined_loads and (problem.scale_block_k or problem.dequant_per_weight)
        else 0.0,
        serial_latency_overlap=kernel.scale_load_overlap(
            spec.compute_capability, bm, launched_warps(kernel, tile)
        ) if kernel.scale_load_overlap else 0.0,
        step_wait_s=spec.wgmma_wait_s if wgmma else 0.0,
    )
    out_bytes = problem.c_bytes if split == 1 else split * PARTIAL_SUM_BYTES
    write_bytes = problem.batch * problem.m * problem.n * out_bytes
    fits_l2 = problem.read_bytes <= L2_RESIDENT_FRACTION * spec.l2_bytes

    def dram_of_wave(wave_ctas: int) -> float:
        share = wave_ctas / ctas
        if fits_l2:
            return (problem.read_bytes + write_bytes) * share
        return _wave_reads(problem, tile, tiles_m, tiles_n, k_split, wave_ctas) + write_bytes * share

    main = kernel_time(spec, work, ctas=ctas, ctas_per_sm=tile.ctas_per_sm, dram_bytes_of_wave=dram_of_wave)
    reduce_s = reduce_write_back = reduce_writes = 0.0
    if split > 1:
        partial = problem.batch * problem.m * problem.n
        moved = write_bytes + partial * problem.c_bytes
        reduce_s, reduce_write_back = follow_on_kernel(spec, main, moved, cuda_flops=partial * split)
        reduce_writes = partial * problem.c_bytes
    return GemmCost(
        tile=tile,
        main=main,
        reduce_s=reduce_s,
        dram_read_bytes=main.dram_bytes - write_bytes + (write_bytes if split > 1 else 0.0),
        dram_write_bytes=write_bytes + reduce_writes + main.write_back_bytes + reduce_write_back,
        fp8_promotion=_promotes(problem, bm, bn, steps * bk),
        upcast=upcast,
    )


def _cost_stream_k(problem: GemmProblem, tile: GemmTile, spec: GPUSpec) -> GemmCost:
    """Stream-K: one wave of ``min(slots, units)`` CTAs over the ``tiles × k_steps`` units (one
    k-step of one tile), each taking ``ceil(units / ctas)`` consecutive units. A CTA boundary inside
    a tile splits it: the CTA that ran the tile's later k-steps (at the start of its range, so early)
    stores an fp32 partial tile that the other adds before the epilogue, one write and one read of
    ``bm·bn·4`` bytes. DRAM reads are those of the data-parallel traversal of the same tiles, wave by
    wave of ``slots`` tiles (CTAs walk the tiles in that order)."""
    bm, bn, bk = tile.block_m, tile.block_n, tile.block_k
    tiles_m, tiles_n = math.ceil(problem.m / bm), math.ceil(problem.n / bn)
    tiles = problem.batch * tiles_m * tiles_n
    k_steps = math.ceil(problem.k / bk)
    units = tiles * k_steps
    slots = tile.grid or spec.sm_count * tile.ctas_per_sm
    ctas = min(slots, units)
    steps = math.ceil(units / ctas)
    split_tiles = sum(1 for cta in range(1, ctas) if (cta * steps) % k_steps and cta * steps < units)
    partial_bytes = split_tiles * bm * bn * PARTIAL_SUM_BYTES
    write_bytes = problem.write_bytes
    arithmetic, upcast = _arithmetic(problem, tile, spec, steps)
    work = CtaWork(
        **arithmetic,
        l2_bytes=steps * bk * _tile_load_bytes(problem, tile, spec)
        + problem.side_bytes * steps / (tiles_n * k_steps),
        steps=steps,
        stages=tile.stages,
        store_bytes=(write_bytes + partial_bytes) / ctas,
    )
    if problem.read_bytes <= L2_RESIDENT_FRACTION * spec.l2_bytes:
        reads = problem.read_bytes
    else:
        full, rest = divmod(tiles, slots)
        reads = sum(
            repeats * _wave_reads(problem, tile, tiles_m, tiles_n, problem.k, wave)
            for wave, repeats in ((slots, full), (rest, 1))
            if wave and repeats
        )
    main = kernel_time(
        spec, work, ctas=ctas, ctas_per_sm=tile.ctas_per_sm,
        dram_bytes_of_wave=lambda _: reads + write_bytes + 2 * partial_bytes,
    )
    return GemmCost(
        tile=tile, main=main, reduce_s=0.0,
        dram_read_bytes=reads + partial_bytes,
        dram_write_bytes=write_bytes + partial_bytes + main.write_back_bytes,
        fp8_promotion=_promotes(problem, bm, bn, steps * bk),
        upcast=upcast,
    )


def _arithmetic(problem: GemmProblem, tile: GemmTile, spec: GPUSpec, steps: int) -> tuple[dict, bool]:
    """The arithmetic of a CTA's `steps` k-steps under `tile` as `CtaWork` fields (its tensor MACs
    and their rate, its CUDA-core instructions beside and after the matmuls, how far they overlap),
    and whether its FP8 tile is upcast (`_tensor_rate`)."""
    bm, bn, bk = tile.block_m, tile.block_n, tile.block_k
    kernel = gemm_kernel(problem.kernel)
    rate, upcast = _tensor_rate(problem, tile, spec)
    return {
        # a CUDA-core kernel's multiply-adds are in its counted instructions (`cuda_ops`)
        "tensor_macs": bm * bn * steps * bk if kernel.tensor_cores else 0.0,
        "tensor_macs_per_s": rate,
        "cuda_ops": problem.dequant_per_weight * bk * bn * steps + _promotion_ops(problem, bm, bn, steps * bk)
        + _fp8_promotion_ops(problem, bm, bn, steps * bk, FP8Promotion.OVERLAPPED) + upcast * steps,
        "overlap": kernel.overlap_for(bm),
        "serial_cuda_ops": _fp8_promotion_ops(problem, bm, bn, steps * bk, FP8Promotion.SERIAL),
        # a dequantized weight the kernel's warps store to shared memory and read back
        "shared_bytes": kernel.shared_bytes_per_weight * bk * bn * steps * bool(problem.dequant_per_weight),
    }, upcast > 0


def _tensor_rate(problem: GemmProblem, tile: GemmTile, spec: GPUSpec) -> tuple[float, float]:
    """(one SM's MACs per second for `problem` under `tile`, the CUDA-core instructions a CTA spends
    per k-step converting operands for them): the math dtype's tensor rate at its fraction, or,
    where the kernel upcasts an FP8 tile too short for ``wgmma`` (`mappers.gpu_gemm.upcasts_fp8`),
    fp16 ``mma.sync``'s rate and the conversions (`mappers.gpu_gemm.upcast_fp8_instructions`); an
    Ampere-style kernel's at ``mma.sync``'s rate (`mappers.gpu_gemm.GemmKernel.mma_sync`)."""
    kernel = gemm_kernel(problem.kernel)
    if upcasts_fp8(kernel, problem, tile.block_m, spec):
        rate = mac_rate_per_sm(
            spec, DType.FP16, sparse=problem.sparse, fraction=spec.tensor_fraction(DType.FP16), mma_sync=True
        )
        warps = launched_warps(kernel, tile)
        return rate, upcast_fp8_instructions(tile.block_m, tile.block_n, tile.block_k, warps)
    rate = mac_rate_per_sm(
        spec, problem.math_dtype, sparse=problem.sparse, fraction=spec.tensor_fraction(problem.math_dtype),
        mma_sync=kernel.mma_sync,
    )
    return rate, 0.0


def _promotion_ops(problem: GemmProblem, bm: int, bn: int, k: int) -> float:
    """CUDA-core instructions a CTA's ``bm × bn`` accumulators take to promote `k` values of K
    in scale blocks (the kernel's `GemmKernel.promotion_instructions` per element per block); none
    without block scales."""
    if not problem.scale_block_k:
        return 0.0
    per_output = gemm_kernel(problem.kernel).promotion_instructions
    return per_output * bm * bn * math.ceil(k / problem.scale_block_k)


def _fp8_promotion_ops(problem: GemmProblem, bm: int, bn: int, k: int, how: FP8Promotion) -> float:
    """CUDA-core instructions a CTA's ``bm × bn`` accumulators take to promote `k` values of K of an
    FP8 GEMM whose kernel promotes them `how` (`GemmKernel.fp8_promotion`: in series or beside the
    matmul): `FP8_PROMOTION_INSTRUCTIONS` every `FP8_PROMOTION_K` (`hwmodels.gpu`); none for
    other dtypes, for a kernel promoting otherwise, or for a block-scaled GEMM, whose scale promotion
    (`_promotion_ops`) adds the partial sums."""
    kernel = gemm_kernel(problem.kernel)
    if problem.math_dtype is not DType.FP8 or problem.scale_block_k or kernel.fp8_promotion is not how:
        return 0.0
    return FP8_PROMOTION_INSTRUCTIONS * bm * bn * math.ceil(k / FP8_PROMOTION_K)


def _promotes(problem: GemmProblem, bm: int, bn: int, k: int) -> FP8Promotion | None:
    """How the tile's FP8 partial sums are promoted where `_fp8_promotion_ops` counts them; None."""
    promoting = (FP8Promotion.SERIAL, FP8Promotion.OVERLAPPED)
    return next((how for how in promoting if _fp8_promotion_ops(problem, bm, bn, k, how)), None)


def _tile_load_bytes(problem: GemmProblem, tile: GemmTile, spec: GPUSpec) -> float:
    """Bytes one CTA loads through L2 per unit of K: its A rows and B columns, the larger of the two
    shared by the CTAs of a cluster (TMA multicast, `tma_multicast_ctas`) where the kernel runs in
    clusters (`GemmKernel.tma_multicast`)."""
    a, b = tile.block_m * problem.a_bytes, tile.block_n * problem.b_bytes
    sharing = spec.tma_multicast_ctas if gemm_kernel(problem.kernel).tma_multicast else 1
    return min(a, b) + max(a, b) / sharing


def _wave_reads(
    problem: GemmProblem, tile: GemmTile, tiles_m: int, tiles_n: int, k_split: int, wave_ctas: int
) -> float:
    """DRAM bytes a wave of `wave_ctas` CTAs reads when the operands do not stay in L2: the A rows
    and B columns of the block of tiles it covers (whole GEMMs when a wave spans several)."""
    grid = tiles_m * tiles_n
    a_row, b_col = k_split * problem.a_bytes, k_split * problem.b_bytes  # one row of A, column of B
    side = problem.side_bytes / (tiles_n * tile.split_k)
    if wave_ctas >= grid:
        return wave_ctas / grid * (problem.m * a_row + problem.n * b_col + problem.side_bytes / tile.split_k)
    rows = min(tiles_m, GROUP_M, wave_ctas)
    cols = min(tiles_n, math.ceil(wave_ctas / rows))
    rows = min(tiles_m, math.ceil(wave_ctas / cols))
    return (
        min(rows * tile.block_m, problem.m) * a_row
        + min(cols * tile.block_n, problem.n) * b_col
        + cols * side
    )


@functools.lru_cache(maxsize=4096)
def best_gemm(problem: GemmProblem, spec: GPUSpec) -> GemmCost:
    """The fastest candidate (the first one listed on a tie); deterministic. An error when the GPU
    has no tensor-core path for the problem's dtype (or no 2:4 sparse one). A weight-only GEMM
    whose kernel dequantizes the weight first (`mappers.gpu_gemm.dense_after_dequantize`) is that
    streaming kernel (the stored weight and its scales read, the expanded weight written, its
    dequantization instructions on the CUDA cores) and then the dense GEMM's fastest tiling."""
    mac_rate_per_sm(spec, problem.math_dtype, sparse=problem.sparse, fraction=1.0)
    if dense := dense_after_dequantize(problem):
        weights = problem.batch * problem.n * problem.k
        read = weights * problem.b_bytes + problem.batch * (problem.side_bytes - problem.bias_bytes)
        written = weights * problem.a_bytes
        flops = weights * problem.dequant_per_weight * FLOPS_PER_CUDA_CORE_INSTRUCTION
        before = memory_bound_s(spec, read + written, cuda_flops=flops)
        write_back = dirty_write_back_bytes(spec, read + written)
        # the GEMM finds the dirty lines the dequantization's traffic did not evict
        after = best_gemm(dense, drained_by(spec, read + written))
        return dataclasses.replace(
            after,
            dequantize_s=before,
            dram_read_bytes=after.dram_read_bytes + read,
            dram_write_bytes=after.dram_write_bytes + written + write_back,
        )
    costs = [cost_gemm(problem, tile, spec) for tile in candidate_tiles(problem, spec)]
    return min(costs, key=lambda cost: cost.total_s)
