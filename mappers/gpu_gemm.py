"""GEMM on a GPU: the problem as the kernel sees it, and the candidate thread-block tilings.

A GEMM-shaped op (dims ``[B,] M, N, K``) becomes a `GemmProblem`: its sizes, the bytes per element of
each operand as stored (a 2:4 sparse weight stores half its elements; an int4 weight half a byte),
the side bytes read with the weight (quantization scales and zero points, sparsity indices, bias),
the dtype the tensor cores multiply in, and the dequantization work per weight element when the
weight is stored narrower than that dtype (W4A16, W8A16).

Candidates are the tilings GEMM libraries use: a thread block (CTA) computes a ``block_m × block_n``
tile of C, stepping through K ``block_k`` at a time through a ``stages``-deep shared-memory
pipeline; split-K divides K among ``split_k`` CTAs per tile when the tiles alone cannot fill the
SMs; stream-K (where `GPUSpec.gemm_stream_k`) spreads all tiles' k-steps evenly over one wave of
CTAs. A candidate is kept only if its pipeline fits the shared memory and its accumulators the
registers of one SM; `ctas_per_sm` is its occupancy. The engine (`sim.engines.gpu.gemm`) costs each.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import functools
import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hwmodels.gpu import GPUSpec
from workloads.dtypes import DType
from workloads.errors import WorkloadError
from workloads.op import Op, Role, SparsityKind

#: Tile sizes and pipeline depths of the CUTLASS default GEMM configurations and of Triton's matmul
#: autotune list (triton tutorials/03-matrix-multiplication.py, ``get_cuda_autotune_config``:
#: BLOCK_SIZE_M and _N from 64 to 256, BLOCK_SIZE_K from 32 to 128, num_stages from 2 to 5). Skinny
#: GEMMs (decode) also run 16- and 32-row tiles, the tensor cores' m16 MMA once or twice (Marlin's
#: thread_m_blocks of 16 rows, Frantar et al. 2024; vLLM's Triton MoE configs' BLOCK_SIZE_M 16):
#: padding a one-token GEMM to 64 rows would quadruple its tensor work. They are listed last, so
#: a tie keeps the larger tile.
BLOCK_MS = (64, 128, 256, 16, 32)
BLOCK_NS = (64, 128, 256)
BLOCK_KS = (32, 64, 128)
STAGES = (2, 3, 4, 5)
#: Split-K factors tried when the output tiles cannot fill every SM (CUTLASS's split-K "parallel"
#: mode; cuBLAS chooses among similar factors).
SPLIT_KS = (1, 2, 4, 8, 16)
#: Stream-K (Osama et al., "Stream-K: Work-centric Parallel Decomposition for Dense Matrix-Matrix
#: Multiplication on the GPU", PPoPP 2023; CUTLASS's SM80/SM90 stream-K tile schedulers): one wave
#: of CTAs, one per slot, each takes an equal share of all tiles' k-steps, so a grid whose tiles do
#: not fill the last wave is not rounded up to it; a tile split between two CTAs passes an fp32
#: partial tile through global memory. Tried beside each split-K-free tiling whose tiles leave a
#: partial last wave, on a GPU whose spec says its GEMM library runs it (`GPUSpec.gemm_stream_k`).
#: A split must keep at least this many k-steps, or the pipeline never fills.
MIN_K_STEPS_PER_SPLIT = 4
#: Warps per CTA: 4 up to a 128×128 tile, 8 above (Triton's configs use num_warps 4 or 8 likewise;
#: CUTLASS's 128×256 Hopper kernels run two consumer warp groups, 8 warps).
WARPS_SMALL_TILE, WARPS_LARGE_TILE = 4, 8
THREADS_PER_WARP = 32
#: 32-bit registers a GEMM thread holds besides its fp32 accumulators (addresses, loop indices,
#: fragments of A and B): an assumption, about what CUTLASS kernels' register reports show.
REGISTERS_PER_THREAD_BESIDES_ACCUMULATORS = 40
#: Most registers one thread may use (CUDA C Programming Guide, technical specifications, cc 7.0–9.0).
MAX_REGISTERS_PER_THREAD = 255
#: Most CTAs resident on one SM (CUDA C Programming Guide, technical specifications, cc 8.0–9.0).
MAX_CTAS_PER_SM = 32
#: Bytes of a split-K partial sum: fp32 accumulators are written out for the reduction kernel.
PARTIAL_SUM_BYTES = 4

#: CUDA-core instructions per weight element to turn a stored integer weight into the activation's
#: 16-bit type and scale it, as the fast in-register converters do (Kim et al., "Who Says Elephants
#: Can't Run", 2022, §3, the magic-number int→fp16 trick used by FasterTransformer and Marlin).
#: int4: per 8 values in one 32-bit register, 1 shift + 2 × (2 lop3 + 1 hsub2 + 1 hfma2) + 4 hmul2
#: (scales) = 13 instructions, 13/8 per weight (Marlin's ``dequant`` + scale, Frantar et al. 2024).
#: int8: per 4 values, 2 prmt + 2 hsub2 + 2 hmul2 = 6 instructions, 6/4 per weight.
DEQUANT_INSTRUCTIONS_PER_WEIGHT = {DType.INT4: 13 / 8, DType.INT8: 6 / 4}

#: CUDA-core issue slots of one warp shuffle (``SHFL``), in the instructions the model counts (128
#: lanes per cycle per SM: four schedulers issuing one warp instruction each): its pipe returns 32
#: results per clock per SM (CUDA C Programming Guide, "Throughput of Native Arithmetic
#: Instructions", warp shuffle: 32 on every compute capability since 3.0), a quarter of the issue
#: rate. Other ALU instructions (PRMT, LOP3, SHF, HMUL2) count one slot each, a lower bound.
SHUFFLE_SLOTS = 4
#: CUDA-core instructions per output element per scale block of a block-scaled FP8 GEMM: the
#: block's partial product is multiplied by A's row scale and B's block scale and added to the
#: accumulator (2 FMUL + 1 FADD; written ``acc += dot(a, b) * a_scale * b_scale`` in a Triton
#: kernel, one FFMA per element in DeepGEMM's promotion), in fp32 on the CUDA cores because the
#: tensor cores accumulate FP8 products without the scales (DeepGEMM README, "promotion").
PROMOTION_INSTRUCTIONS_PER_OUTPUT = 3


class FP8Promotion(enum.Enum):
    """How a GEMM kernel adds its tensor cores' FP8 partial sums into fp32 (`GemmKernel.fp8_promotion`):
    after waiting for its matmuls (cuBLAS's default), beside another warp group's matmuls, or not at
    all (fast accumulation)."""

    SERIAL = "in series"
    OVERLAPPED = "beside the matmul"
    NONE = "none"


@dataclass(frozen=True)
class GemmKernel:
    """A GEMM implementation's traits the GPU's balance meets.

    `overlap`: how far its CUDA-core work (dequantization, scale promotion) hides under the tensor
    cores (`sim.engines.gpu.timing.CtaWork.overlap`): 1 where other warps do it (warp
    specialization: Marlin, DeepGEMM, CUTLASS's Hopper kernels), 0 where the warps that issue the
    matmul wait for it and then scale its result (a Triton kernel without warp specialization).
    `split_k`: whether its grid may split K among CTAs (split-K or stream-K); False for a kernel
    whose grid is one CTA per output tile. `scale_block_k`: its k-step is the scale block (a
    block-scaled kernel that promotes once per step). `unpipelined_loads`: whether each k-step also
    waits on loads its pipeline does not prefetch (a block-scaled GEMM's scales, a weight-only
    GEMM's group scales: none where the GEMM has neither), one memory latency in series with the step
    (`sim.engines.gpu.timing.CtaWork.serial_latency_s`). `dequantize_first_rows`: from this many
    rows of A up (0: never), a weight-only GEMM first expands the whole weight to the activation's
    dtype with a kernel of its own and then runs a dense GEMM on it (`dense_after_dequantize`).
    `fixed_tile`: the one tile (block_m, block_n, block_k, stages) the kernel launches for a
    problem, where its code fixes it (None: the tile search over `BLOCK_MS` ... `STAGES`).
    `fixed_split_k`: the split of K its caller always asks for (0: searched where `split_k`).
    `tiles`: the tiles (block_m, block_n, block_k, stages) its autotuner chooses among, where its
    code lists them (empty: the search over `BLOCK_MS` ... `STAGES`); the fastest is taken.
    `promotion_instructions`: CUDA-core instructions per output element per scale block of a
    block-scaled GEMM (`PROMOTION_INSTRUCTIONS_PER_OUTPUT` unless its code does fewer).
    `fp8_promotion`: how an FP8 GEMM without block scales adds its tensor cores' partial sums into
    fp32 every `hwmodels.gpu.FP8_PROMOTION_K` of K (`FP8Promotion`): ``serial``, after waiting for
    its matmuls, as cuBLAS does by default; ``overlapped``, as CUDA-core work beside the other warp
    group's matmuls (`overlap`); ``none``, fast accumulation (a block-scaled GEMM's promotion is its
    scale's: `scale_block_k`, `promotion_instructions`).
    `warps`: warps per CTA where its code fixes them (0: by tile size, `WARPS_SMALL_TILE` /
    `WARPS_LARGE_TILE`). `accumulators`: fp32 accumulator tiles a CTA holds in registers: 2 for a
    kernel that scales each scale block's product before adding it (``acc += dot(a, b) * scale``:
    the block's own product tile beside the running one). `tma_multicast`: whether its CTAs run in
    thread-block clusters whose TMA loads a shared tile once for all of them
    (`GPUSpec.tma_multicast_ctas`); False for a Triton kernel, launched one CTA per cluster
    (``triton.Config(num_ctas=1)``, the default) with no multicast. `upcast_below_block_m`: on
    Hopper (compute capability 9.0), a tile of fewer rows than this runs its FP8 ``tl.dot`` as
    16-bit ``mma.sync`` on operands it first converts (`upcast_fp8_instructions`), since ``wgmma``
    takes 64 rows and Hopper has no FP8 ``mma.sync`` (0: never). `one_warpgroup_block_m`: a tile of
    at most this many rows has a single math warp group, which waits for its own matmuls and then
    promotes: its CUDA-core work runs in series with them whatever `overlap` says (0: never).
    `scale_load_overlap`: for (compute capability, block_m, warps), the share of a k-step's
    matmuls that run while its `unpipelined_loads` are in flight, their latency beside them
    (`sim.engines.gpu.timing.serial_chain_s`); None: each step waits for them before it multiplies.
    `waits_for_wgmma`: its math warp groups wait for each k-step's ``wgmma`` group with none left
    pending before they scale or promote it, so a CTA's steps each pay the group's completion
    latency (`hwmodels.gpu.GPUSpec.wgmma_wait_s`) where its tile runs ``wgmma``. `mma_sync`: its
    matmuls are Ampere-style ``mma.sync`` (a kernel written for compute capability 8.0 and run as
    such on later GPUs: Marlin, AutoAWQ's, MLX's sm80 kernels), at that instruction's rate where the
    GPU caps it (`hwmodels.gpu.GPUSpec.mma_sync_macs_per_cycle_per_sm`: two thirds of ``wgmma``'s
    on Hopper). `shared_bytes_per_weight`: bytes per weight its dequantizing warps move through
    shared memory beside their CUDA-core work (`sim.engines.gpu.timing.CtaWork.shared_bytes`):
    AutoAWQ's kernel stores each dequantized fp16 weight and reads it back (`AUTOAWQ_SHARED_BYTES`);
    0 where the dequantized weight goes from registers to the matmul.
    """

    overlap: float
    split_k: bool = True
    scale_block_k: bool = False
    unpipelined_loads: bool = False
    dequantize_first_rows: int = 0
    fixed_tile: Callable[[GemmProblem], tuple[int, int, int, int]] | None = None
    fixed_split_k: int = 0
    tiles: tuple[tuple[int, int, int, int], ...] = ()
    promotion_instructions: float = PROMOTION_INSTRUCTIONS_PER_OUTPUT
    fp8_promotion: FP8Promotion = FP8Promotion.SERIAL
    warps: int = 0
    accumulators: int = 1
    tma_multicast: bool = True
    dequant_instructions: float = 0.0
    tensor_cores: bool = True
    launch: Callable[[GemmProblem, GPUSpec], GemmTile] | None = None
    upcast_below_block_m: int = 0
    one_warpgroup_block_m: int = 0
    scale_load_overlap: Callable[[float, int, int], float] | None = None
    waits_for_wgmma: bool = False
    mma_sync: bool = False
    shared_bytes_per_weight: float = 0.0

    def overlap_for(self, block_m: int) -> float:
        """How far a tile of `block_m` rows overlaps its CUDA-core work with its matmuls: `overlap`,
        or 0 where the tile has a single math warp group (`one_warpgroup_block_m`)."""
        return 0.0 if block_m <= self.one_warpgroup_block_m else self.overlap


#: Rows of a Hopper ``wgmma`` (m64): the fewest a warp group multiplies at once.
WGMMA_M = 64
#: Hopper's compute capability, the GPUs with ``wgmma`` and no FP8 ``mma.sync`` (Ada, 8.9, has one).
HOPPER_COMPUTE_CAPABILITY = 9.0
#: FP8 values one ``F2FP.F16.E4M3.UNPACK_B`` converts (two, to an fp16 pair).
FP8_PER_UPCAST_INSTRUCTION = 2


def upcast_fp8_instructions(block_m: int, block_n: int, block_k: int, warps: int) -> float:
    """CUDA-core instructions a CTA spends per k-step converting its FP8 tiles to fp16 for
    ``mma.sync`` (`GemmKernel.upcast_below_block_m`): B's ``block_k × block_n`` once and A's
    ``block_m × block_k`` in every warp, two values an instruction. Triton's 16 x 128 x 128 tile at
    4 warps: (128·128 + 4·16·128) / 2 = 12,288, the 96 ``F2FP`` a thread of its compiled loop
    (benchmarks/triton_block_fp8_sass/per_iteration.csv: 96 x 128 threads)."""
    return (block_k * block_n + warps * block_m * block_k) / FP8_PER_UPCAST_INSTRUCTION


def nearest_capability(keys: list[tuple], capability: float) -> tuple:
    """The key (compute capability first) compiled for the capability nearest `capability`, the
    newer one on a tie."""
    return min(keys, key=lambda key: (abs(key[0] - capability), -key[0]))


#: In Triton's compiled block-FP8 loop, the share of a k-step's matmuls that run while its last
#: scale load is in flight, by (compute capability, BLOCK_M, num_warps), at BLOCK_N 128
#: (benchmarks/triton_block_fp8_sass/per_iteration.csv, Triton 3.6.0, the version sglang's runs
#: used). ``mma.sync`` (sm_89's ``QMMA``, the 16-row tile's ``HMMA`` on sm_90) runs as issued: the
#: fewest of the iteration's MMAs issued between any scale ``LDG`` and its first wait, over all of
#: them (sm_89 64 x 128: 36 of 64). ``wgmma`` runs asynchronously until ``WARPGROUP.DEPBAR``: a load
#: issued before it runs beside all of the step's matmuls (64 rows: the loads sit among the 4
#: ``QGMMA``), one issued after it beside none (128 rows: B's scale loads follow the wait).
TRITON_SCALE_LOAD_OVERLAP = {
    (9.0, 16, 4): 4 / 32, (9.0, 64, 4): 1.0, (9.0, 128, 4): 0.0, (9.0, 128, 8): 0.0,
    (8.9, 16, 4): 2 / 16, (8.9, 64, 4): 36 / 64, (8.9, 128, 4): 16 / 128, (8.9, 128, 8): 22 / 64,
}


def triton_scale_load_overlap(capability: float, block_m: int, warps: int) -> float:
    """`TRITON_SCALE_LOAD_OVERLAP` at the compiled configuration nearest (`capability`,
    `block_m`, `warps`): the nearest capability, then the BLOCK_M nearest in ratio (the smaller on
    a tie: 32 rows read as 16), then the nearest warps."""
    arch = nearest_capability(list(TRITON_SCALE_LOAD_OVERLAP), capability)[0]
    configs = [key for key in TRITON_SCALE_LOAD_OVERLAP if key[0] == arch]
    key = min(configs, key=lambda key: (abs(math.log2(key[1] / block_m)), key[1], abs(key[2] - warps)))
    return TRITON_SCALE_LOAD_OVERLAP[key]


#: Triton's software pipeliner prefetches only the loads that feed a dot's A and B operands
#: (triton lib/Dialect/TritonGPU/Transforms/Pipeliner/AssignLatencies.cpp,
#: ``loadOpsToIndirectionLevel``: "only pipeline A and B operands of the dot op"; a scalar load is
#: never pipelined, ``isSmallLoad``). A block-scaled kernel's per-block scale loads feed the
#: multiply after the dot, so each k-step waits for them.
#: Its ``accumulator += tl.dot(a, b) * a_s[:, None] * b_s[None, :]`` holds the dot's product tile
#: beside the accumulator (two fp32 tiles in registers), and like every Triton kernel it launches
#: without thread-block clusters, so no TMA multicast.
#: Compiled with Triton 3.3.1-3.9.0 (benchmarks/triton_block_fp8_sass: our own kernel of this loop,
#: per_iteration.csv): the scale loads are waited for in their own iteration in every version, on
#: sm_90 and sm_89, and ``wgmma`` is waited for with no group pending before the scaling; a 16-row
#: tile on sm_90 converts its FP8 operands to fp16 and multiplies them with ``mma.sync``. Most scale
#: loads are issued before the step's matmuls and first waited for after them, so their latency
#: runs beside part of them (`triton_scale_load_overlap`).
TRITON_BLOCK_FP8 = GemmKernel(
    overlap=0.0, split_k=False, scale_block_k=True, unpipelined_loads=True, accumulators=2,
    tma_multicast=False, upcast_below_block_m=WGMMA_M, scale_load_overlap=triton_scale_load_overlap,
    waits_for_wgmma=True,
)
#: torchao's block-FP8 GEMM autotunes over ``fp8_gemm_configs`` (torchao/prototype/blockwise_fp8/
#: blockwise_quantization.py at 846b433): BLOCK_SIZE_M 16-128, BLOCK_SIZE_N 32-128, BLOCK_SIZE_K the
#: 128-deep scale block, 3-6 stages, ``num_warps=8``: no 256-row or 256-column tile.
TORCHAO_BLOCK_FP8 = dataclasses.replace(
    TRITON_BLOCK_FP8, tiles=tuple(itertools.product((16, 32, 64, 128), (32, 64, 128), (128,), (3, 4, 5, 6))),
    warps=8,
)
#: torchao's training-side FP8 GEMM with 1×128 scales on both operands (``triton_fp8_gemm_1x128_128x1``,
#: torchao/prototype/blockwise_fp8_training/kernels.py at 4c16ab850): the same main loop, ``accumulator
#: += tl.dot(a, b) * a_s[:, None] * b_s[None, :]`` per 128-deep block, autotuned over
#: ``fp8_gemm_configs_max_autotune``: square 64, 128 or 256 tiles, 2 stages, 4 or 8 warps. Run at 8
#: warps: at 4 a 128 × 128 tile's two accumulators need 2 · 16384 / 128 + 40 = 296 registers a thread,
#: past the 255 it may hold (and a 256 × 256 tile's past it at 8).
TORCHAO_TRAINING_BLOCK_FP8 = dataclasses.replace(
    TRITON_BLOCK_FP8, tiles=tuple((size, size, 128, 2) for size in (64, 128, 256)), warps=8,
)


#: vLLM's SM90 CUTLASS block-FP8 GEMM (``cutlass_scaled_mm`` with 1×128 / 128×128 scales,
#: csrc/quantization/cutlass_w8a8/c3x/scaled_mm_blockwise_sm90_fp8_dispatch.cuh): one configuration
#: for every shape, ``TileShape = Shape<_128, _128, _128>`` (TileSizeM 128, GroupSizeN and GroupSizeK
#: 128), ``ClusterShape = Shape<_1, _2, _1>``, ``KernelTmaWarpSpecializedCooperativeFP8BlockScaledAccum``
#: on a persistent tile scheduler, in vLLM's own copy of that schedule (early 2025, the version with
#: ``mma_promotion_interval = 4``, when benchmarks/kernels/deepgemm/README.md was timed) and in
#: upstream CUTLASS's from PR #23280 ("// TODO: better heuristics"); no split of K. The stages are
#: CUTLASS's ``StageCountAutoCarveout``: (227 KB of shared memory less the cooperative epilogue's
#: ~16 KB) / (16 KB of A + 16 KB of B + the stage's scales and barrier) = 6. The two consumer warp
#: groups wait on each k-block's ``wgmma`` (``warpgroup_wait<0>``) before scaling it into the fp32
#: accumulator, so the promotion runs after the matmul, not beside it (overlap 0): one FFMA per
#: element, ``accum_(i) += accum_temp_(i) * scale(i)`` with A's row scale times B's block scale
#: formed while the matmul runs (CUTLASS include/cutlass/gemm/collective/fp8_accumulation.hpp
#: ``scale_core`` and sm90_mma_tma_gmma_ss_warpspecialized_fp8_blockwise_scaling.hpp, read at
#: 7107b055). The scales ride in the producer's pipeline stages (TMA or cp.async). A 1-row GEMM
#: thus runs 128-row tiles, and N = 2112 makes 17 CTAs on 132 SMs, each stepping the whole of K.
CUTLASS_SM90_BLOCK_FP8_TILE = (128, 128, 128, 6)


def cutlass_sm90_block_fp8_tile(problem: GemmProblem) -> tuple[int, int, int, int]:
    """`CUTLASS_SM90_BLOCK_FP8_TILE`, whatever the problem."""
    return CUTLASS_SM90_BLOCK_FP8_TILE


#: Its two consumer warp groups (8 warps) each hold their half of the tile twice, ``accum_temp_``
#: for the k-block's ``wgmma`` and ``accum_`` for the promoted sum (fp8_accumulation.hpp).
CUTLASS_SM90_BLOCK_FP8 = GemmKernel(
    overlap=0.0, split_k=False, scale_block_k=True, fixed_tile=cutlass_sm90_block_fp8_tile,
    promotion_instructions=1, warps=8, accumulators=2, waits_for_wgmma=True,
)


#: AutoAWQ's int4 GEMM (``WQLinear_GEMM``, awq/modules/linear/gemm.py at a342547, v0.2.0): from
#: ``x.shape[0] * x.shape[1] >= 1024`` tokens it calls ``dequantize_weights_cuda`` (a full K × N
#: fp16 weight) and ``torch.matmul``; below, its own kernel (AutoAWQ_kernels gemm_cuda_gen.cu at
#: c7b0e88, ``gemm_forward_cuda``): ``gemm_forward_4bit_cuda_m16n128k32`` (``m16n64k32`` where N is
#: not a multiple of 128), a 16-row × 128-column tile stepping K by 32 with plain loads and a
#: ``__syncthreads`` per step (one step in flight: 2 stages), the same two warps dequantizing and
#: then issuing mma.sync (overlap 0), over a grid split 8 ways along K (the caller's
#: ``split_k_iters`` = 8), the 8 partial outputs summed by ``_out_feats.sum(0)``. Every 16 rows of
#: A dequantize the whole weight again.
AUTOAWQ_DEQUANTIZE_ROWS = 1024
AUTOAWQ_SPLIT_K = 8


def autoawq_tile(problem: GemmProblem) -> tuple[int, int, int, int]:
    """AutoAWQ's GEMM tile (above): 16 × 128 × 32 (16 × 64 where N is not a multiple of 128), 2 stages."""
    return 16, 128 if problem.n % 128 == 0 else 64, 32, 2


#: Shared-memory bytes per weight of AutoAWQ's kernel: its warps store each k-step's dequantized
#: 32 x 128 fp16 weight tile to ``B_shared`` (``*(uint4*)(B_shared_ptr + ...) = B_loaded_fp16``) and,
#: after a ``__syncthreads``, read it back with ``ldmatrix...trans`` for the ``mma.sync``
#: (gemm_cuda_gen.cu at c7b0e88, ``gemm_forward_4bit_cuda_m16n128k32``): 2 B written and 2 B read
#: per weight, the rows padded by 8 halves against bank conflicts. QUICK (arXiv:2402.10076) is
#: built to remove that write-back.
AUTOAWQ_SHARED_BYTES = 4.0
AUTOAWQ_GEMM = GemmKernel(
    overlap=0.0, dequantize_first_rows=AUTOAWQ_DEQUANTIZE_ROWS, fixed_tile=autoawq_tile,
    fixed_split_k=AUTOAWQ_SPLIT_K, mma_sync=True, shared_bytes_per_weight=AUTOAWQ_SHARED_BYTES,
)
#: The same kernel called straight from AutoAWQ's fused MLP (``fuse_layers=True``, as its
#: examples/benchmark.py loads a model): ``QuantFusedMLP.forward`` (awq/modules/fused/mlp.py at
#: 34085ed) runs gate_proj and up_proj through ``awq_ext.gemm_forward_cuda`` itself, at every
#: number of tokens, so only down_proj (a ``WQLinear_GEMM``) dequantizes first from 1024 tokens
AUTOAWQ_FUSED_MLP_GEMM = GemmKernel(
    overlap=0.0, fixed_tile=autoawq_tile, fixed_split_k=AUTOAWQ_SPLIT_K, mma_sync=True,
    shared_bytes_per_weight=AUTOAWQ_SHARED_BYTES,
)


#: MLX's default quantization group (``mx.quantize(..., group_size=64)``), the group of the MLX
#: validation rows (their `group_size` column); its CUDA qmm kernels step K by ``max(64, group)``.
MLX_GROUP_SIZE = 64


def mlx_qmm_tile(stages: int) -> Callable[[GemmProblem], tuple[int, int, int, int]]:
    """The tile of MLX's CUDA quantized matmuls on Ampere (mlx/backend/cuda/quantized/qmm/, ml-explore/
    mlx at 1e855446b, qmm.cu and qmm_impl_sm80.cuh; the fallback's qmm_impl_naive.cuh at 1c9ee2f65):
    ``TileM`` 16 up to 16 rows, 32 up to 32, else 64 (one tile of M for the decode shapes), ``bN =
    Int<128>``, ``bK = max(64, group_size)``, with `stages` of pipeline."""

    def tile(problem: GemmProblem) -> tuple[int, int, int, int]:
        block_m = 16 if problem.m <= 16 else 32 if problem.m <= 32 else 64
        return block_m, 128, max(64, MLX_GROUP_SIZE), stages

    return tile


#: MLX's qmm_sm80 (8-bit weights; #3255): grid ``(ceil_div(m, bM), ceil_div(n, bN))``, no split-K
#: (32 CTAs for N = 4096 on the A100's 108 SMs), ``bP = Int<3>{}; // pipeline`` for A and B, the
#: same warps dequantizing B in registers (``converter(w_vec) * scale + zero_point``) and then issuing
#: ``SM80_16x8x16`` MMAs, and each k-tile's scales and biases loaded from global memory straight into
#: registers, one element a copy, and used at once: a memory latency in series with every k-step.
#: Its fallback (qmm_naive; #3315) has one shared-memory buffer and prefetches the next tile into
#: registers only (``store_smem(); fetch_gmem(next); gemm(...)``): one step in flight, 2 stages.
MLX_QMM_SM80 = GemmKernel(
    overlap=0.0, split_k=False, unpipelined_loads=True, fixed_tile=mlx_qmm_tile(3), mma_sync=True
)
MLX_QMM_FALLBACK = GemmKernel(
    overlap=0.0, split_k=False, unpipelined_loads=True, fixed_tile=mlx_qmm_tile(2), mma_sync=True
)


#: MLX's CUDA quantized matmul for Hopper as PR #3160 timed it (ml-explore/mlx at 6304c285d,
#: qmm_sm90.cu; benchmarks/mlx_qmm_sass, ``sm90_3160``): CUTLASS's ``GemmUniversal`` with the
#: mixed-input mainloop ``MainloopSm90TmaGmmaRmemAWarpSpecializedMixedInput`` (the int4 weight the
#: ``wgmma`` A operand, from registers), one tile for every M: 128 columns of the weight x 16 rows
#: of the activation x 64 of K, 31 stages, cluster 1 x 1 x 1 (no multicast), 384 threads (a TMA
#: producer warp group and two consumer warp groups, cooperative), one CTA an SM (168 registers,
#: 213 KB of shared memory), a persistent grid of ``min(tiles, SMs)`` over ``ceil(N/128) ·
#: ceil(M/16)`` tiles, no split of K. Scales and biases come by TMA inside the pipeline. The
#: consumers dequantize their 32 weights of each k-tile and then issue ``wgmma`` on them: 181 SASS
#: instructions a consumer thread a k-tile (31 PRMT, 32 HFMA2, 17 LOP3, 20 LDS, 4 HGMMA.64x16x16,
#: ...), in series with the matmul.
MLX_QMM_SM90_TILE = (16, 128, 64, 31)
MLX_QMM_SM90_CONSUMER_INSTRUCTIONS = 181  # a consumer thread's, per k-tile (per_tile.csv)
MLX_QMM_SM90_CONSUMER_THREADS = 256
MLX_QMM_SM90 = GemmKernel(
    overlap=0.0, split_k=False, fixed_tile=lambda problem: MLX_QMM_SM90_TILE, warps=12, tma_multicast=False,
    dequant_instructions=MLX_QMM_SM90_CONSUMER_INSTRUCTIONS * MLX_QMM_SM90_CONSUMER_THREADS
    / (MLX_QMM_SM90_TILE[1] * MLX_QMM_SM90_TILE[2]),
)


#: TileOPs' W4A16 GEMM (``GemmW4A16Op``, tile-ai/TileOPs tileops/kernels/gemm_w4a16.py at 864b2f4e,
#: lines 36-159; the same code at PR #1874's base 50e3fe58), which decode at M = 1 ran through
#: before PR #1874 ("M=1 decode was still routed through the general M=64 GEMM schedule"): one
#: configuration for every M, ``block_M = block_N = block_K = 64``, ``num_stages = 2``, a grid of
#: ``ceildiv(N, 64)`` CTAs (128 for N = 8192 on the H200's 132 SMs), no split of K; rows 1..63 of
#: A zero-filled and the full 64 × 64 × 64 ``T.gemm`` issued each k-step. The consumer warpgroup
#: dequantizes the k-step's 64 × 64 int4 tile into shared memory and then issues the matmul on it
#: (dequantize, store, barrier, 4 wgmma m64n64k16, wait: in series, overlap 0), and each step's
#: zero points come in a plain load the producer issues before the weight's TMA: one memory latency
#: in series with every step (`unpipelined_loads`). Lowered with TileLang 0.1.12 and nvcc 13.0 for
#: sm_90a (not the runner's TileLang build, so strong evidence, not proof): 256 threads (a producer
#: and a consumer warpgroup), no thread-block clusters, and a consumer loop of 229 SASS
#: instructions per thread per k-step over its 32 weights (I2F.F16 36, LOP3 33, SHF 30, PRMT 16,
#: HADD2 16, HMUL2 16, STS.128 4, HGMMA 4, ...). The published times divided by the k-steps are
#: nearly constant across N (0.64-0.66 µs in #1887, 0.76-0.78 in #1874): a latency-bound loop.
TILEOPS_W4A16_TILE = (64, 64, 64, 2)
TILEOPS_W4A16_INCUMBENT = GemmKernel(
    overlap=0.0, split_k=False, unpipelined_loads=True, fixed_tile=lambda problem: TILEOPS_W4A16_TILE,
    warps=8, tma_multicast=False, dequant_instructions=229 / 32,
)

#: TileOPs' M = 1 decode kernels, read at the commits their PRs timed and lowered as above (TileLang
#: 0.1.12, nvcc 13.0, sm_90a): one row of A, CUDA-core FP32 FMAs (no tensor cores), no split of K
#: across CTAs, a grid of N / block_n CTAs. Issue slots per weight are the consumer loop's SASS over
#: the weights a thread covers per k-step, shuffles at `SHUFFLE_SLOTS`:
#: * PR #1887's TileFoundry kernel (``gemm_w4a16_decode.py`` at 864b2f4e, ``default_config``, lines
#:   65-176): 32 columns x 512 of K, 4 stages, weight, scales and zeros by TMA inside the pipeline
#:   (automatic warp specialization: 128 producer and 128 consumer threads); per element a shift,
#:   a mask, a conversion and ``(q - zero) * scale`` in fp32: 1050 SASS per k-step over 128 weights;
#: * PR #1874's split-K decode kernel (``gemm_w4a16.py`` at edd85e62, lines 187-463, the TMA path
#:   every timed shape takes): 64 columns x 1024 of K (3 stages past K = 8192, else 4), 640 threads
#:   (a producer warpgroup and 16 consumer warps splitting K two ways inside the CTA, summed through
#:   shared memory), lop3 decoding with the zero and scale applied once per 16 values, the zeros in a
#:   plain load each step: 558 SASS per k-step over 128 weights;
#: * the GEMV the complete op ran before PR #2159 (its ``warp_rows=False`` path: 32 columns x 1024
#:   of K, 2 stages, 128 threads, no warp specialization, ``cp.async`` loads, the zeros a plain load
#:   each step, a 16-entry lookup shared by ``shfl_sync`` and one FFMA per weight): 1300 SASS per
#:   k-step over 256 weights, 256 of them shuffles; PR #2159's warp-per-row GEMV (16 columns, a row
#:   per warp, its sums by warp shuffles): 714 over 128, 128 shuffles.


def _one_row(block_n: int, block_k: int, stages: int) -> Callable[[GemmProblem], tuple[int, int, int, int]]:
    return lambda problem: (1, block_n, block_k, stages)


TILEOPS_W4A16_TILEFOUNDRY = GemmKernel(
    overlap=1.0, split_k=False, fixed_tile=_one_row(32, 512, 4), warps=8, tma_multicast=False,
    dequant_instructions=1050 / 128, tensor_cores=False,
)
TILEOPS_W4A16_SPLITK_DECODE = GemmKernel(
    overlap=1.0, split_k=False, unpipelined_loads=True, warps=20, tma_multicast=False,
    fixed_tile=lambda problem: (1, 64, 1024, 4 if problem.k <= 8192 else 3),
    dequant_instructions=558 / 128, tensor_cores=False,
)
TILEOPS_W4A16_GEMV = GemmKernel(
    overlap=0.0, split_k=False, unpipelined_loads=True, fixed_tile=_one_row(32, 1024, 2), warps=4,
    tma_multicast=False, dequant_instructions=(1300 + (SHUFFLE_SLOTS - 1) * 256) / 256, tensor_cores=False,
)
TILEOPS_W4A16_GEMV_WARP_PER_ROW = dataclasses.replace(
    TILEOPS_W4A16_GEMV, fixed_tile=_one_row(16, 1024, 2),
    dequant_instructions=(714 + (SHUFFLE_SLOTS - 1) * 128) / 128,
)


#: vLLM's dense Marlin (``torch.ops._C.marlin_gemm``: csrc/quantization/marlin/marlin.cu and
#: marlin_template.h in the 0.18.0 and 0.19.1 source releases, csrc/libtorch_stable/quantization/
#: marlin/ in 0.27.1, the same launch logic in all three; the versions the H100 and H200 rows ran):
#: its host code picks the launch (`marlin_launch`). Thread configurations, (thread_k, thread_n,
#: threads), in priority order (marlin.cu:139-152), for one block of up to 16 rows of A and for more:
MARLIN_SMALL_BATCH_CONFIGS = ((128, 128, 256), (64, 128, 128), (128, 64, 128))
MARLIN_LARGE_BATCH_CONFIGS = ((64, 256, 256), (64, 128, 128), (128, 64, 128))
#: The configuration it switches to when the first leaves too few CTAs' worth of columns
#: (``prob_n / thread_n · ceil(M / (16 · thread_m_blocks)) · 4 <= sms``, marlin.cu:458-469).
MARLIN_FEW_COLUMNS_CONFIG = (128, 64, 128)
#: Its cp.async pipeline depth on Ampere and later (``int stages = 4``, marlin.cu:407; 2 on Turing).
MARLIN_STAGES = 4
#: Most 16-row blocks of A one launch takes (``max_thread_m_blocks = 4``: 64 rows; more in passes).
MARLIN_MAX_M_BLOCKS = 4
#: Rows a block of A holds where M is at most this many with 16-bit activations
#: (``m_block_size_8``: one m16n8k16 MMA with the weight in the 16-row slot, marlin_template.h:362).
MARLIN_SMALL_M_BLOCK = 8


def marlin_launch(problem: GemmProblem, spec: GPUSpec) -> GemmTile:
    """Marlin's launch for `problem` (``determine_exec_config``, marlin.cu:284-320 and 458-481): the
    first configuration whose tile divides N and K and whose pipeline fits the shared memory
    (`MARLIN_FEW_COLUMNS_CONFIG` where the columns are few), one CTA an SM (each asks for the SM's
    whole opt-in shared memory), ``SMs`` CTAs walking a contiguous run of k-steps down a column of
    tiles and on to the next: the k-steps of all tiles split evenly (stream-K), a column's partial
    sums passed through global memory."""
    m_blocks = min(MARLIN_MAX_M_BLOCKS, math.ceil(problem.m / 16))
    small = problem.m <= MARLIN_SMALL_M_BLOCK and problem.a_bytes == 2  # 16-bit activations
    block_m = MARLIN_SMALL_M_BLOCK if small else 16 * m_blocks

    def fits(config: tuple[int, int, int]) -> bool:
        block_k, block_n, threads = config
        if problem.n % block_n or problem.k % block_k:
            return False
        warps = threads // THREADS_PER_WARP
        return _ctas_per_sm(problem, spec, block_m, block_n, block_k, MARLIN_STAGES, warps) > 0

    configs = MARLIN_SMALL_BATCH_CONFIGS if m_blocks == 1 else MARLIN_LARGE_BATCH_CONFIGS
    chosen = next((config for config in configs if fits(config)), None)
    if chosen is None:
        configs_text = ", ".join(f"{n} x {k}" for k, n, _ in configs)
        raise WorkloadError(
            f"marlin: N = {problem.n}, K = {problem.k}: no configuration of vLLM's Marlin divides them "
            f"(N x K tiles {configs_text}; vLLM refuses such a shape)"
        )
    m_passes = math.ceil(problem.m / (16 * m_blocks))
    if problem.n // chosen[1] * m_passes * 4 <= spec.sm_count and fits(MARLIN_FEW_COLUMNS_CONFIG):
        chosen = MARLIN_FEW_COLUMNS_CONFIG
    block_k, block_n, _ = chosen
    return GemmTile(block_m=block_m, block_n=block_n, block_k=block_k, stages=MARLIN_STAGES, split_k=1,
                    ctas_per_sm=1, stream_k=True)


#: Its matmuls are ``mma.sync.aligned.m16n8k16`` (marlin_template.h's ``mma``; Marlin is an Ampere
#: kernel with no ``wgmma`` path), so on Hopper they run at that instruction's rate.
MARLIN = GemmKernel(overlap=1.0, split_k=False, tma_multicast=False, launch=marlin_launch, mma_sync=True)


#: humming's weight-only GEMM as its H100 benchmark ran it (inclusionAI/humming, read in the git
#: snapshot of the fork mgoin/humming: the H100 result files were committed on its branch
#: ``h100-benchmarks`` at 1569726, whose parent 7fccb30 holds the code). benchmarks/bench_humming.py
#: calls ``layer.prepare_default_kernel_configs()``, which runs the sm90 heuristic
#: (humming/tune/sm90.py ``Sm90Heuristics.get_config``) at every M from 8 to 8192 in steps of 8
#: (tune/base.py ``get_configs``) and launches, for a given M, the configuration of the range it falls
#: in (``min < M <= max``, launcher.cpp:23): `humming_launch` is that heuristic for a dense layer
#: with 16-bit activations. Its base configuration (``get_base_config``): a 256-column tile of
#: 64-column warps, ``512 / activation bits`` of K (32 for fp16), two CTAs an SM.
HUMMING_BLOCK_N, HUMMING_WARP_N, HUMMING_K_BITS, HUMMING_CTAS_PER_SM = 256, 64, 512, 2
#: Most rows a tile holds (the base ``block_shape_m``), in steps of 8.
HUMMING_MAX_BLOCK_M, HUMMING_BLOCK_M_STEP = 64, 8
#: Shared memory its configurations may take on sm90 (``max_smem_size = 227 * 1024``), and its
#: pipeline depths: 3, 4 where that fits, 5 for a non-warp-specialized tile of at most 32 rows.
HUMMING_SMEM_BYTES = 227 * 1024
#: With one CTA an SM its persistent grid takes at most this many CTAs per tile, and no more than
#: K / (3 · block_k) (``factor = min(4.5, shape_k / (3 * block_shape_k))``).
HUMMING_MAX_CTAS_PER_TILE = 4.5


def humming_smem_bytes(problem: GemmProblem, block_m: int, block_n: int, block_k: int, stages: int) -> float:
    """humming's shared memory for a launch (humming/utils/smem.py ``estimate_smem_size``, dense):
    each stage's A and B tiles, and one 16-bit scale a column (channelwise)."""
    return (problem.a_bytes * block_m + problem.b_bytes * block_n) * block_k * stages + 2 * block_n


def humming_launch(problem: GemmProblem, spec: GPUSpec) -> GemmTile:
    """humming's launch (``Sm90Heuristics.get_config`` at 7fccb30, dense, 16-bit activations): rows
    in steps of 8 up to 64, above that the step size that needs the fewest row blocks (the smallest
    on a tie: M = 257 takes 56); two CTAs an SM unless the tiles, counted twice, fall short of the
    CTA slots, then one; with four warps K doubles (64), and a tile of at most 16 rows doubles it
    again (128); 4 stages where they fit, 5 for a tile of at most 32 rows (no warp specialization
    below 48 rows); a persistent grid over stream-K units, at one CTA an SM no more than 4.5 CTAs
    a tile. 1 x 8192 x 8192 on an H100: 8 x 256 x 128, 5 stages, 132 CTAs; 16384 rows: 64 x 256 x
    32, 4 stages, two CTAs an SM. Read in its sm90 code; ASSUMED on other GPUs."""
    if problem.n % HUMMING_BLOCK_N:
        raise WorkloadError(
            f"humming: N = {problem.n}: its sm90 tile is {HUMMING_BLOCK_N} columns wide and must divide N"
        )
    m, step = problem.m, HUMMING_BLOCK_M_STEP
    if m <= HUMMING_MAX_BLOCK_M:
        block_m = math.ceil(m / step) * step
    else:
        blocks = [math.ceil(m / (step * (i + 1))) for i in range(HUMMING_MAX_BLOCK_M // step)]
        block_m = step * (blocks.index(min(blocks)) + 1)
    warp_k = HUMMING_K_BITS // round(8 * problem.a_bytes)
    block_k = warp_k
    tiles = problem.batch * math.ceil(m / block_m) * (problem.n // HUMMING_BLOCK_N)
    ctas_per_sm = HUMMING_CTAS_PER_SM
    while tiles * 2 < spec.sm_count * ctas_per_sm and ctas_per_sm > 1:
        ctas_per_sm -= 1
    warps = HUMMING_BLOCK_N // HUMMING_WARP_N * ctas_per_sm  # one warp row, one warp along K
    if warps == 4:
        block_k = 2 * warp_k
    if warps <= 8 and block_m <= 16:
        block_k = 2 * block_k

    def fits(stages: int) -> bool:
        smem = humming_smem_bytes(problem, block_m, HUMMING_BLOCK_N, block_k, stages)
        return smem * ctas_per_sm < HUMMING_SMEM_BYTES

    stages = 4 if fits(4) else 3
    warp_specialized = block_m >= 48 and warps <= 8
    if not warp_specialized and stages == 4 and block_m <= 32 and fits(5):
        stages = 5
    grid = spec.sm_count * ctas_per_sm
    if ctas_per_sm == 1:
        per_tile = min(HUMMING_MAX_CTAS_PER_TILE, problem.k / (3 * block_k))
        grid = min(spec.sm_count, math.ceil(tiles * per_tile))
    return GemmTile(block_m=block_m, block_n=HUMMING_BLOCK_N, block_k=block_k, stages=stages, split_k=1,
                    ctas_per_sm=ctas_per_sm, stream_k=True, grid=grid)


#: humming's sm90 main loop (7fccb30): the weight is ``wgmma``'s A operand in registers ("swap AB":
#: humming/config/mma.py:147-190, the activations B from shared memory through a descriptor), so
#: the math warp groups dequantize each k-step's weight tile themselves (mma/wgmma.cuh:79-91,
#: ``transform_b``) between their matmuls (humming_ws.cuh:153-162: load, ``mma.run``,
#: ``transform_b`` in series; the producer warp group only issues TMA loads): overlap 0, as
#: Triton's block-FP8 scaling by the warps that issue the dot. Each ``wgmma`` is followed by
#: ``wgmma_commit(); wgmma_wait<0>();`` (wgmma.cuh:107-111), a completion latency per instruction
#: the model does not count (`hwmodels.gpu.GPUSpec.wgmma_wait_s` is a k-step group's, measured on
#: the H20 only). No thread-block clusters at that commit (no TMA multicast). The H20's run
#: (70b7066) ran the same heuristic; the H200's rows (e31b991, whose tune/sm90.py does not parse)
#: ASSUMED this one.
HUMMING_SM90 = GemmKernel(overlap=0.0, split_k=False, tma_multicast=False, launch=humming_launch)


#: DeepGEMM's SM90 FP8 GEMM picks its launch on the host (deep_gemm/jit_kernels/gemm.py
#: ``get_best_configs``, read at a6524d4 of 2025-04-09, between the README table of a6d97a1 and the
#: 256-row tiles of #81 that the calibration rows ran): the 128-deep scale block as BLOCK_K; BLOCK_M
#: 64, 128 or 256 (a6d97a1 had 64 where M <= 64, else 128) with one side at most 128; BLOCK_N 16-128
#: in steps of 8, 144 or 160; a persistent grid, one CTA an SM; K never split. Its math warp groups
#: issue ``wgmma`` m64: no tile holds fewer than 64 rows, so a one-token GEMM runs 64 rows on the
#: tensor cores, which an H20's capped tensor rate makes the longer part of a small-M GEMM. Later
#: versions (the C++ heuristics of 2026) choose among these tiles by an L1/L2 cycle estimate and add
#: 16- and 32-row loads for M <= 32 (still m64 ``wgmma``); ASSUMED to pick as a6524d4 does.
DEEPGEMM_BLOCK_MS = (64, 128, 256)
DEEPGEMM_BLOCK_NS = (*range(16, 129, 8), 144, 160)
DEEPGEMM_BLOCK_K = 128
#: Its stage counts, longest first, and the shared memory it may take (``sm90_capacity``, 227 KiB).
DEEPGEMM_STAGES = (8, 7, 6, 5, 4, 3)
DEEPGEMM_SMEM_BYTES = 232448


def deepgemm_smem_bytes(problem: GemmProblem, stages: int, block_m: int, block_n: int) -> int:
    """DeepGEMM's shared memory for a launch (``get_smem_size`` at a6524d4): the bf16 output tile,
    each stage's A and B tiles and A's scales, all of B's scales along K (twice where a block of N
    straddles two scale blocks) and two barriers a stage. Its output-tile padding (a few columns
    against bank conflicts) is left out."""
    k_blocks = math.ceil(problem.k / DEEPGEMM_BLOCK_K)
    per_stage = (block_m + block_n) * DEEPGEMM_BLOCK_K * problem.a_bytes + block_m * 4
    b_scales = k_blocks * 4 * (1 if DEEPGEMM_BLOCK_K % block_n == 0 else 2)
    return block_m * block_n * 2 + stages * per_stage + math.ceil(b_scales / 8) * 8 + stages * 16


def deepgemm_launch(problem: GemmProblem, spec: GPUSpec) -> GemmTile:
    """DeepGEMM's launch for `problem` (``get_best_configs`` at a6524d4): the tile with the fewest
    waves over the SMs, then the fullest last wave, then (a tie) the larger BLOCK_N where both sides
    differ and the smaller side where one matches; the most stages that fit. 1 x 5120 x 17408 on an
    H20 (78 SMs): 64 x 72 tiles, 72 of them, one wave; the tensor cores run 64 rows."""

    def tiles(block_m: int, block_n: int) -> int:
        return problem.batch * math.ceil(problem.m / block_m) * math.ceil(problem.n / block_n)

    def waves(block_m: int, block_n: int) -> int:
        return math.ceil(tiles(block_m, block_n) / spec.sm_count)

    def last_wave(block_m: int, block_n: int) -> int:
        return tiles(block_m, block_n) % spec.sm_count or spec.sm_count

    best: tuple[int, int] | None = None
    for block_m in DEEPGEMM_BLOCK_MS:
        for block_n in DEEPGEMM_BLOCK_NS:
            if block_m > 128 and block_n > 128:  # "at least one dim less than 128"
                continue
            if best is None or waves(block_m, block_n) < waves(*best):
                best = (block_m, block_n)
                continue
            if waves(block_m, block_n) > waves(*best):
                continue
            util, best_util = last_wave(block_m, block_n), last_wave(*best)
            tie = util == best_util and (
                (block_m == best[0] and block_n < best[1])
                or (block_n == best[1] and block_m < best[0])
                or (block_m != best[0] and block_n > best[1])
            )
            if util > best_util or tie:
                best = (block_m, block_n)
    block_m, block_n = best
    stages = next((stages for stages in DEEPGEMM_STAGES
                   if deepgemm_smem_bytes(problem, stages, block_m, block_n) <= DEEPGEMM_SMEM_BYTES),
                  DEEPGEMM_STAGES[-1])
    return GemmTile(block_m=block_m, block_n=block_n, block_k=DEEPGEMM_BLOCK_K, stages=stages, split_k=1,
                    ctas_per_sm=1)


#: sglang's tuned configurations of its Triton block-FP8 GEMM (python/sglang/srt/layers/
#: quantization/configs/N={N},K={K},device_name={GPU},dtype=fp8_w8a8,block_shape=[128, 128].json):
#: per GPU and (N, K), a tile for each of a grid of M. Shipped here for the shapes sglang PR
#: #29638's H20 run timed (`sglang_block_fp8_configs.csv`, written by
#: benchmarks/sglang_fp8_gemm/make_rows.py from the verbatim copies in
#: benchmarks/sglang_fp8_gemm/h20/tuned_configs/); a preset and shape without one runs the default.
SGLANG_BLOCK_FP8_CONFIGS = Path(__file__).with_name("sglang_block_fp8_configs.csv")
#: The configuration sglang's ``w8a8_block_fp8_matmul_triton`` runs where no tuned file exists for
#: the GPU and shape (fp8_kernel.py, read in the code index; it logs "Using default W8A8 Block FP8
#: kernel config. Performance might be sub-optimal!"): ``BLOCK_SIZE_M 64, BLOCK_SIZE_N 128,
#: BLOCK_SIZE_K 128, GROUP_SIZE_M 32, num_warps 4, num_stages 3`` at every M. A one-row GEMM so
#: multiplies 64 rows a step, and N = 512 makes 4 CTAs.
SGLANG_BLOCK_FP8_DEFAULT = (64, 128, 128, 3, 4)


#: vLLM's tuned configurations of its Triton block-FP8 GEMM (vllm/model_executor/layers/quantization/
#: utils/configs/N={N},K={K},device_name={GPU},dtype=fp8_w8a8,block_shape=[128,128].json), in the
#: columns of sglang's: shipped here for the shapes of the validation rows that ran the kernel
#: (`vllm_block_fp8_configs.csv`, written by benchmarks/vllm_block_fp8/make_configs.py from the
#: verbatim copies in benchmarks/vllm_block_fp8/tuned_configs/); a preset and shape without one
#: runs the default.
VLLM_BLOCK_FP8_CONFIGS = Path(__file__).with_name("vllm_block_fp8_configs.csv")
#: The configuration vLLM's ``w8a8_block_fp8_matmul`` runs where no tuned file exists for the GPU and
#: shape (fp8_utils.py, read in the code index; it logs "Using default W8A8 Block FP8 kernel config.
#: Performance might be sub-optimal!"): ``BLOCK_SIZE_M 64, BLOCK_SIZE_N 128 (block_size[0]),
#: BLOCK_SIZE_K 128 (block_size[1]), GROUP_SIZE_M 32, num_warps 4, num_stages 2`` at every M.
VLLM_BLOCK_FP8_DEFAULT = (64, 128, 128, 2, 4)


#: A tuned launch configuration: (BLOCK_SIZE_M, BLOCK_SIZE_N, BLOCK_SIZE_K, num_stages, num_warps).
TunedConfig = tuple[int, int, int, int, int]


@functools.cache
def tuned_block_fp8_configs(path: Path) -> dict[tuple[str, int, int], dict[int, TunedConfig]]:
    """A tuned-configuration table (`SGLANG_BLOCK_FP8_CONFIGS`, `VLLM_BLOCK_FP8_CONFIGS`) by (preset,
    N, K): M -> (BLOCK_SIZE_M, BLOCK_SIZE_N, BLOCK_SIZE_K, num_stages, num_warps)."""
    table: dict[tuple[str, int, int], dict[int, TunedConfig]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            config = tuple(int(row[field]) for field in ("block_m", "block_n", "block_k", "stages", "warps"))
            table.setdefault((row["preset"], int(row["n"]), int(row["k"])), {})[int(row["m"])] = config
    return table


def tuned_config_rows(path: Path, preset: str) -> list[dict[str, object]]:
    """The rows a tuned-configuration table (`SGLANG_BLOCK_FP8_CONFIGS`, `VLLM_BLOCK_FP8_CONFIGS`)
    holds for one tuned JSON file of `preset` (a file named ``N={N},K={K},...json``, keyed by M):
    one per M key, the tile and pipeline the engine launches at that M."""
    fields = dict(part.split("=", 1) for part in path.stem.split(",")[:2])
    return [
        {
            "preset": preset, "n": int(fields["N"]), "k": int(fields["K"]), "m": int(m),
            "block_m": config["BLOCK_SIZE_M"], "block_n": config["BLOCK_SIZE_N"],
            "block_k": config["BLOCK_SIZE_K"], "group_m": config["GROUP_SIZE_M"],
            "warps": config["num_warps"], "stages": config["num_stages"], "file": path.name,
        }
        for m, config in json.loads(path.read_text()).items()
    ]


def tuned_block_fp8_launch(
    problem: GemmProblem, spec: GPUSpec, path: Path, default: TunedConfig
) -> GemmTile:
    """The tile a serving engine launches its Triton block-FP8 GEMM with: its tuned file's entry for
    the M nearest `problem`'s (``configs[min(configs.keys(), key=lambda x: abs(x - M))]``, the
    smaller on a tie) where the table at `path` has the GPU's (N, K), else `default`; never a split
    of K."""
    configs = tuned_block_fp8_configs(path).get((spec.name, problem.n, problem.k))
    block_m, block_n, block_k, stages, warps = (
        configs[min(configs, key=lambda m: (abs(m - problem.m), m))] if configs else default
    )
    ctas_per_sm = _ctas_per_sm(problem, spec, block_m, block_n, block_k, stages, warps)
    return GemmTile(block_m=block_m, block_n=block_n, block_k=block_k, stages=stages, split_k=1,
                    ctas_per_sm=max(ctas_per_sm, 1), warps=warps)


def sglang_block_fp8_launch(problem: GemmProblem, spec: GPUSpec) -> GemmTile:
    """sglang's launch (`tuned_block_fp8_launch`): `SGLANG_BLOCK_FP8_CONFIGS`, else
    `SGLANG_BLOCK_FP8_DEFAULT`."""
    return tuned_block_fp8_launch(problem, spec, SGLANG_BLOCK_FP8_CONFIGS, SGLANG_BLOCK_FP8_DEFAULT)


def vllm_block_fp8_launch(problem: GemmProblem, spec: GPUSpec) -> GemmTile:
    """vLLM's launch (`tuned_block_fp8_launch`, the same lookup in fp8_utils.py's
    ``w8a8_block_fp8_matmul``): `VLLM_BLOCK_FP8_CONFIGS`, else `VLLM_BLOCK_FP8_DEFAULT`."""
    return tuned_block_fp8_launch(problem, spec, VLLM_BLOCK_FP8_CONFIGS, VLLM_BLOCK_FP8_DEFAULT)


#: sglang's Triton block-FP8 GEMM (``w8a8_block_fp8_matmul_triton``): the loop of
#: `TRITON_BLOCK_FP8`, launched at sglang's configuration (`sglang_block_fp8_launch`).
SGLANG_BLOCK_FP8 = dataclasses.replace(TRITON_BLOCK_FP8, launch=sglang_block_fp8_launch)
#: vLLM's Triton block-FP8 GEMM as vLLM launches it (``w8a8_block_fp8_matmul``): the loop of
#: `TRITON_BLOCK_FP8` at vLLM's configuration (`vllm_block_fp8_launch`), where
#: ``w8a8_block_fp8_triton`` is that loop at the fastest tile the model finds.
VLLM_BLOCK_FP8 = dataclasses.replace(TRITON_BLOCK_FP8, launch=vllm_block_fp8_launch)


#: TensorRT-LLM 0.8-0.9's 16-bit mixture-of-experts GEMMs (``MoeGemmRunner``,
#: cpp/tensorrt_llm/kernels/cutlass_kernels/moe_gemm/moe_gemm_kernels_template.h at 4bb65f21 and
#: 71d8d4d3): one CUTLASS grouped GEMM over all experts (gate and up as one, down as another), the
#: Ampere kernel at every compute capability from 8.0 (``sm_ >= 90`` dispatches
#: ``cutlass::arch::Sm80`` under "TODO Update the arch to Sm90 once CUTLASS hopper specialisations
#: are available"), so ``mma.sync`` on Hopper and no TMA cluster; a CUTLASS 2.x multistage kernel,
#: no warp specialization (`overlap` 0: a 16-bit GEMM has no CUDA-core work to hide anyway); its
#: candidate tiles those of the default GEMM type (cutlass_heuristic.cpp ``get_candidate_tiles``:
#: 32 x 128 x 64, 64 x 128 x 64 and, from sm75, 128 x 128 x 64) at 2-4 stages
#: (``get_candidate_configs``), never a split of K ("MoE GEMM does not support split-k"); the
#: plugin's profiler or the occupancy heuristic picks one, here the fastest.
TRTLLM_MOE_SM80 = GemmKernel(
    overlap=0.0, split_k=False, tma_multicast=False, mma_sync=True,
    tiles=tuple((block_m, 128, 64, stages) for block_m in (32, 64, 128) for stages in (2, 3, 4)),
)


def gpuk_hgemm_tile(problem: GemmProblem) -> tuple[int, int, int, int]:
    """xytpai/gpuk's HGEMM tile (``hgemm``, src/impl/hgemm_wmma_impl.h at 71db7cd, the commit that
    added the README's H20 figure): 128 x 128 where min(M, N) > 2048, else 64 x 64; BLOCK_K 32 either
    way; two shared-memory buffers filled by ``cp.async`` (``ldg_copy_async``, double-buffered)."""
    block = 128 if min(problem.m, problem.n) > 2048 else 64
    return block, block, 32, 2


#: xytpai/gpuk's HGEMM, a calibration source's check of the H20's ``mma.sync`` rate:
#: ``mma.sync.aligned.m16n8k16`` (fp32 accumulation) from registers (`gpuk_hgemm_tile`); one CTA
#: per output tile, no split of K, no clusters.
GPUK_HGEMM = GemmKernel(
    overlap=1.0, split_k=False, tma_multicast=False, mma_sync=True, fixed_tile=gpuk_hgemm_tile
)


#: Named GEMM implementations whose traits differ from the default (overlapped).
GEMM_KERNELS = {
    # torchao's Triton block-FP8 GEMM (torchao/prototype/blockwise_fp8/blockwise_quantization.py,
    # pytorch/ao@846b433) and vLLM's (``_w8a8_triton_block_scaled_mm``,
    # vllm/model_executor/layers/quantization/utils/fp8_utils.py) share one main loop:
    # ``accumulator += tl.dot(a, b) * a_s[:, None] * b_s[None, :]`` per BLOCK_SIZE_K = 128-deep
    # block (the scale block), the scaling by the same warps after their dot, the scales loaded
    # with plain ``tl.load`` in the loop; both launch a grid of (M tiles, N tiles), no split-K
    "torchao_triton_blockwise_fp8": TORCHAO_BLOCK_FP8,
    "torchao_triton_fp8_gemm_1x128_128x1": TORCHAO_TRAINING_BLOCK_FP8,
    "cutlass_fp8_blockscaled": CUTLASS_SM90_BLOCK_FP8,
    "w8a8_block_fp8_triton": TRITON_BLOCK_FP8,
    "w8a8_block_fp8_triton_sglang": SGLANG_BLOCK_FP8,
    "w8a8_block_fp8_triton_vllm": VLLM_BLOCK_FP8,
    "autoawq_gemm": AUTOAWQ_GEMM,
    "autoawq_gemm_fused_mlp": AUTOAWQ_FUSED_MLP_GEMM,
    "mlx_qmm_sm80": MLX_QMM_SM80,
    "mlx_qmm_fallback": MLX_QMM_FALLBACK,
    "mlx_qmm_sm90": MLX_QMM_SM90,
    "tileops_w4a16_incumbent": TILEOPS_W4A16_INCUMBENT,
    "tileops_w4a16_decode_tilefoundry": TILEOPS_W4A16_TILEFOUNDRY,
    "tileops_w4a16_decode_lop3_splitk": TILEOPS_W4A16_SPLITK_DECODE,
    "tileops_w4a16": TILEOPS_W4A16_GEMV,
    "tileops_w4a16_gemv_warp_per_row": TILEOPS_W4A16_GEMV_WARP_PER_ROW,
    "marlin": MARLIN,
    "humming_w4a16": HUMMING_SM90,
    "humming_w8a16": HUMMING_SM90,
    "gpuk_hgemm_mma_sync": GPUK_HGEMM,
    "trtllm_moe_sm80": TRTLLM_MOE_SM80,
    # vLLM's CUTLASS FP8 GEMM with per-tensor or per-token scales (``cutlass_scaled_mm``,
    # csrc/quantization/cutlass_w8a8/c3x/scaled_mm_sm90_fp8_dispatch.cuh, read at vllm@44d638a8):
    # ``KernelTmaWarpSpecializedPingpongFP8FastAccum`` at every M (tiles 64 x 64, 64 x 128 and
    # 128 x 128 by M, K 128), its scales applied in the epilogue
    "cutlass_scaled_mm": GemmKernel(overlap=1.0, fp8_promotion=FP8Promotion.NONE),
    # torch._scaled_mm with use_fast_accum=True, as torchao's FP8 inference configs call it
    # (``Float8MMConfig(use_fast_accum=True)``, the default of Float8DynamicActivationFloat8WeightConfig
    # in torchao/quantization/quant_api.py): cuBLASLt with CUBLASLT_MATMUL_DESC_FAST_ACCUM, no promotion
    "scaled_mm_fast_accum": GemmKernel(overlap=1.0, fp8_promotion=FP8Promotion.NONE),
    # DeepGEMM's FP8 GEMM (deepseek-ai/DeepGEMM README, "promotion"): its math warp groups scale and
    # add each 128-deep block's partial sums on the CUDA cores (one FFMA an element), the FFMAs
    # interleaved with the other warp group's wgmma (the README's "FFMA SASS interleaving"); its
    # rows give no block scales to the model, so the promotion is this trait's
    # Its launch is its host code's (`deepgemm_launch`); a 64-row tile runs one math warp group
    # (``get_num_threads_per_sm``: ``(block_m == 64 ? 1 : 2) * 128`` math threads, fp8_gemm.cuh at
    # a6524d4), which waits for each k-block's wgmma (``warpgroup_wait<0>``) and then promotes, with
    # no other warp group's matmul beside it
    "deepgemm_fp8_blockscaled": GemmKernel(
        overlap=1.0, fp8_promotion=FP8Promotion.OVERLAPPED, split_k=False, launch=deepgemm_launch,
        one_warpgroup_block_m=WGMMA_M, waits_for_wgmma=True,
    ),
}
OVERLAPPED_GEMM = GemmKernel(overlap=1.0)


def modeled_gemm_kernels() -> frozenset[str]:
    """Names of the GEMM implementations whose traits differ from the default (`GEMM_KERNELS`)."""
    return frozenset(GEMM_KERNELS)


def gemm_kernel(name: str) -> GemmKernel:
    """The traits of the named GEMM implementation (`GEMM_KERNELS`, else overlapped)."""
    return GEMM_KERNELS.get(name, OVERLAPPED_GEMM)


#: Dtypes the tensor cores multiply in, from the narrowest; an integer weight under a wider float
#: activation is dequantized to the activation's dtype.
FLOAT_ACTIVATIONS = (DType.FP8, DType.FP16, DType.BF16, DType.TF32, DType.FP32)


@dataclass(frozen=True, kw_only=True)
class GemmProblem:
    """A GEMM as a GPU kernel sees it: ``batch`` independent ``C[M,N] = A[M,K]·B[K,N]``.

    `a_bytes`, `b_bytes`, `c_bytes` are bytes per element as stored (what a tile moves);
    `read_bytes` is every byte the op reads once: A as stored (a convolution's input stores fewer
    elements than its im2col view), B, and the side operands (scales, zeros, sparsity indices,
    bias); `side_bytes` is the side operands' share per GEMM instance, `bias_bytes` the bias's part
    of it. `math_dtype` is what the tensor cores multiply in; `sparse` selects the 2:4 sparse rate;
    `dequant_per_weight` counts CUDA-core instructions per stored weight element; `scale_block_k`
    is a block-scaled FP8 GEMM's scale block along K (0: none); `kernel` names the implementation
    (`GEMM_KERNELS`).
    """

    batch: int
    m: int
    n: int
    k: int
    a_bytes: float
    b_bytes: float
    c_bytes: float
    side_bytes: float
    read_bytes: float
    bias_bytes: float = 0.0
    math_dtype: DType
    sparse: bool = False
    dequant_per_weight: float = 0.0
    scale_block_k: int = 0
    kernel: str = ""

    @property
    def macs(self) -> int:
        return self.batch * self.m * self.n * self.k

    @property
    def write_bytes(self) -> float:
        return self.batch * self.m * self.n * self.c_bytes


@dataclass(frozen=True, kw_only=True)
class GemmTile:
    """One candidate: the CTA tile, its pipeline depth, split-K factor and occupancy."""

    block_m: int
    block_n: int
    block_k: int
    stages: int
    split_k: int
    ctas_per_sm: int
    stream_k: bool = False
    warps: int = 0  # warps a CTA where the launch sets them (0: the kernel's, `tile_warps`)
    grid: int = 0  # a stream-K launch's CTAs where its host code caps them (0: every slot, SMs · ctas_per_sm)

    def describe(self) -> str:
        split = "streamk" if self.stream_k else f"splitk{self.split_k}"
        return f"{self.block_m}x{self.block_n}x{self.block_k} s{self.stages} {split}"


def gemm_problem(op: Op, kernel: str | None = None) -> GemmProblem:
    """The `GemmProblem` of a GEMM-shaped op (GEMM or convolution lowered to GEMM) as `kernel`
    runs it (None: the kernel the op's attrs name, if any)."""
    a, b, c = op.operand(Role.INPUT), op.operand(Role.WEIGHT), op.operand(Role.OUTPUT)
    batch = op.dim("B") if "B" in op.dim_names else 1
    side = sum(o.bytes for o in op.operands if o.role in (Role.BIAS, Role.METADATA)) / batch
    bias = sum(o.bytes for o in op.operands if o.role is Role.BIAS) / batch
    # the sparse tensor cores take 2:4 only; another N:M pattern runs dense (its kept values read)
    sparse = b.sparsity.kind is SparsityKind.N_OF_M and (b.sparsity.n, b.sparsity.m) == (2, 4)
    math_dtype, dequant = _math_dtype(a.dtype, b.dtype)
    name = str(dict(op.attrs).get("kernel", "")) if kernel is None else kernel
    if dequant and gemm_kernel(name).dequant_instructions:  # its loop as counted in its SASS
        dequant = gemm_kernel(name).dequant_instructions
    m, n, k = op.dim("M"), op.dim("N"), op.dim("K")
    return GemmProblem(
        batch=batch,
        m=m,
        n=n,
        k=k,
        a_bytes=a.dtype.bytes,
        b_bytes=b.dtype.bytes * b.sparsity.kept_fraction,
        c_bytes=c.dtype.bytes,
        side_bytes=side,
        read_bytes=sum(o.bytes for o in op.operands if not o.role.is_written),
        bias_bytes=bias,
        math_dtype=math_dtype,
        sparse=sparse,
        dequant_per_weight=dequant,
        scale_block_k=int(dict(op.attrs).get("scale_block_k", 0)),
        kernel=name,
    )


def dense_after_dequantize(problem: GemmProblem) -> GemmProblem | None:
    """The dense GEMM a weight-only GEMM becomes where its kernel dequantizes the whole weight
    first (`GemmKernel.dequantize_first_rows`): B stored in the activation's dtype, of the side
    operands only the bias (the scales and zeros stay with the dequantization), no dequantization
    in the loop; None where the kernel keeps its own loop."""
    rows = gemm_kernel(problem.kernel).dequantize_first_rows
    if not (rows and problem.dequant_per_weight and problem.batch * problem.m >= rows):
        return None
    weight_bytes = problem.batch * problem.n * problem.k * problem.b_bytes
    dense_bytes = problem.batch * problem.n * problem.k * problem.a_bytes
    scales = problem.batch * (problem.side_bytes - problem.bias_bytes)
    return dataclasses.replace(
        problem,
        b_bytes=problem.a_bytes,
        side_bytes=problem.bias_bytes,
        read_bytes=problem.read_bytes - weight_bytes - scales + dense_bytes,
        dequant_per_weight=0.0,
        kernel="",
    )


def _math_dtype(activation: DType, weight: DType) -> tuple[DType, float]:
    """The dtype the tensor cores multiply in, and dequant instructions per weight element."""
    if weight in DEQUANT_INSTRUCTIONS_PER_WEIGHT and activation in FLOAT_ACTIVATIONS:
        return activation, DEQUANT_INSTRUCTIONS_PER_WEIGHT[weight]
    if activation.bits >= weight.bits:
        return activation, 0.0
    return weight, 0.0


def candidate_tiles(problem: GemmProblem, spec: GPUSpec) -> list[GemmTile]:
    """Every tiling that fits one SM's shared memory and registers, with its occupancy, among those
    the problem's kernel runs (`GemmKernel`: a fixed k-step, no split of K)."""
    kernel = gemm_kernel(problem.kernel)
    if kernel.launch:  # its host code decides the tiling
        return [kernel.launch(problem, spec)]
    block_ks = (problem.scale_block_k,) if kernel.scale_block_k and problem.scale_block_k else BLOCK_KS
    searched = itertools.product(BLOCK_MS, BLOCK_NS, block_ks, STAGES)
    shapes = [kernel.fixed_tile(problem)] if kernel.fixed_tile else kernel.tiles or searched
    candidates = []
    for block_m, block_n, block_k, stages in shapes:
        occupancy = _ctas_per_sm(problem, spec, block_m, block_n, block_k, stages)
        if occupancy == 0:
            continue
        tiles = problem.batch * math.ceil(problem.m / block_m) * math.ceil(problem.n / block_n)
        tile = GemmTile(block_m=block_m, block_n=block_n, block_k=block_k, stages=stages, split_k=1,
                        ctas_per_sm=occupancy)
        if kernel.fixed_split_k:
            candidates.append(dataclasses.replace(tile, split_k=kernel.fixed_split_k))
            continue
        if not kernel.split_k:
            candidates.append(tile)
            continue
        if spec.gemm_stream_k and tiles % (spec.sm_count * occupancy) and math.ceil(problem.k / block_k) > 1:
            candidates.append(dataclasses.replace(tile, stream_k=True))
        for split in SPLIT_KS:
            if split > 1 and (
                tiles * split // 2 >= spec.sm_count * occupancy  # already fills the SMs without it
                or problem.k / split < MIN_K_STEPS_PER_SPLIT * block_k
            ):
                continue
            candidates.append(dataclasses.replace(tile, split_k=split))
    return candidates


def tile_warps(kernel: GemmKernel, block_m: int, block_n: int) -> int:
    """Warps of a CTA of `kernel` with a ``block_m × block_n`` tile: its code's where it fixes them,
    else `WARPS_SMALL_TILE` up to 128 × 128 and `WARPS_LARGE_TILE` above."""
    return kernel.warps or (WARPS_SMALL_TILE if block_m * block_n <= 128 * 128 else WARPS_LARGE_TILE)


def launched_warps(kernel: GemmKernel, tile: GemmTile) -> int:
    """Warps of a CTA of `kernel` under `tile`: the launch's where it set them (`GemmTile.warps`),
    else `tile_warps`."""
    return tile.warps or tile_warps(kernel, tile.block_m, tile.block_n)


def upcasts_fp8(kernel: GemmKernel, problem: GemmProblem, block_m: int, spec: GPUSpec) -> bool:
    """Whether `kernel` runs `problem`'s FP8 matmul as 16-bit ``mma.sync`` on converted operands
    with a tile of `block_m` rows on `spec` (`GemmKernel.upcast_below_block_m`; Hopper only)."""
    return (
        problem.math_dtype is DType.FP8 and block_m < kernel.upcast_below_block_m
        and spec.compute_capability == HOPPER_COMPUTE_CAPABILITY
    )


def _ctas_per_sm(problem: GemmProblem, spec: GPUSpec, block_m: int, block_n: int, block_k: int,
                 stages: int, warps: int = 0) -> int:
    """CTAs of this tiling one SM holds: limited by shared memory, registers and the CTA limit
    (`warps` a CTA: the kernel's, else by tile size)."""
    stage_bytes = block_m * block_k * problem.a_bytes + block_k * block_n * problem.b_bytes
    shared = stages * stage_bytes
    kernel = gemm_kernel(problem.kernel)
    warps = warps or tile_warps(kernel, block_m, block_n)
    threads = warps * THREADS_PER_WARP
    per_thread = kernel.accumulators * block_m * block_n / threads + REGISTERS_PER_THREAD_BESIDES_ACCUMULATORS
    if per_thread > MAX_REGISTERS_PER_THREAD or shared > spec.shared_memory_bytes_per_sm:
        return 0
    by_registers = spec.registers_per_sm // math.ceil(per_thread * threads)
    by_shared = int(spec.shared_memory_bytes_per_sm // shared)
    return min(by_registers, by_shared, MAX_CTAS_PER_SM)
