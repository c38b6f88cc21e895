"""Attention on a GPU: the problem as a fused kernel sees it, and the candidate work partitions.

An ATTENTION op (dims ``B, H, Hkv, Sq, Skv, D, Dv``) runs as one fused kernel that never writes the
``Sq × Skv`` scores to memory. Three partitions are candidates:

* **FA2** (FlashAttention-2, Dao 2023): one CTA per (query block, head, batch); each streams its
  head's K and V blocks through shared memory; a causal mask skips the blocks above the diagonal.
* **split-KV** (flash-decoding, Dao et al. 2023): for few query rows, the K/V length is split into
  ``splits`` chunks, one CTA each, so a decode step fills the SMs; a second kernel reduces the
  partial outputs. The ``g = H/Hkv`` query heads sharing a K/V head are stacked as rows of one CTA
  (grouped-query attention reads each K/V head once per group), except in a kernel with one CTA
  per query head (vLLM's PagedAttention, TensorRT-LLM's pre-XQA masked MHA: `per_query_head`),
  whose g CTAs each read it through L2.
* **lean** (Lean Attention, Sanovar et al. 2024): stream-K over (head, K/V block) units: every CTA
  slot gets an equal share of the units across heads and context, partial heads fixed up in-kernel.

`candidate_plans` lists the partitions that fit one SM's shared memory and registers; the engine
(`sim.engines.gpu.attention`) costs each and keeps the fastest. A decode runs the split count the
library's own heuristic picks (FlashAttention's `flash_num_splits`, or the kernel's
`decode_splits`), not the fastest one: the kernel is timed as the library runs it. Lean attention
is a candidate only for a row that names it.

What an implementation does that the GPU's balance then decides is `AttentionKernel`: whether its
matmuls are Ampere-style ``mma.sync`` (FlashAttention-2, on every GPU) or Hopper's ``wgmma``, and
whether its softmax runs beside the matmuls (FlashAttention-3) or between them (FlashAttention-2);
`ATTENTION_KERNELS` names them, the problem's `kernel` picks one.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hwmodels.gpu import GPUSpec
from mappers.gpu_gemm import (
    MAX_CTAS_PER_SM,
    MAX_REGISTERS_PER_THREAD,
    REGISTERS_PER_THREAD_BESIDES_ACCUMULATORS,
    SHUFFLE_SLOTS,
    THREADS_PER_WARP,
    nearest_capability,
)
from workloads.dtypes import DType
from workloads.errors import WorkloadError
from workloads.kernel_ops import causal_offset
from workloads.op import Op, Operand, Role


class Partition(enum.Enum):
    FA2 = "fa2"
    SPLIT_KV = "split-kv"
    LEAN = "lean"


#: FlashAttention-2's forward tile by head dim, as its dispatch picks it for the A100 and the H100
#: (csrc/flash_attn/src/flash_fwd_launch_template.h, ``run_mha_fwd_hdim*``, the no-dropout branch):
#: (largest head dim, block_m, block_n, warps). On compute capability 8.6 and 8.9 (GA10x, Ada:
#: 100 KB of shared memory) head dims 65-128 run 64×64 when causal and, non-causal, 128×32 at head
#: dim 128 ("2 CTAs per SM") and 128×64 at 96 (`FA2_SM8X_TILES`). Head dim 256 runs 128×64 on 8
#: warps where one CTA's Q, K and V tiles at 128×64 fit (``2·d·(128 + 2·64)`` B) but two at 64×64
#: do not fit an SM (``4·d·(64 + 2·64)`` B): the A100; on the H100 it runs 64×64 on 4 warps, two
#: CTAs per SM.
FA2_TILES = ((64, 128, 128, 4), (128, 128, 64, 4), (192, 128, 64, 8), (256, 128, 64, 8))
FA2_HDIM256_SMALL_TILE = (64, 64, 4)
#: (largest head dim, non-causal tile, causal tile) of the sm86/sm89 branch.
FA2_SM8X_TILES = ((96, (128, 64, 4), (64, 64, 4)), (128, (128, 32, 4), (64, 64, 4)))
#: Split-KV decode tile (``run_mha_fwd_splitkv_dispatch``): 64 query rows (a group's stacked query
#: heads, padded); 256 keys per block up to head dim 64, 128 up to 128, 64 above; with a single
#: split, the tile aligned with the standard kernel: 128 keys up to head dim 64, else 64.
DECODE_BLOCK_M = 64
#: Lean Attention's key blocks (its own kernel; the fastest is kept).
LEAN_BLOCK_NS = (64, 128, 256)
#: Split counts flash-decoding chooses among (FA2's num_splits heuristic tries 1 to 128).
SPLITS = (1, 2, 4, 8, 16, 32, 64, 128)
#: Lean attention's grid: every CTA slot of the GPU, or a 1/2, 1/4, 1/8 of them (fewer CTAs split
#: fewer heads, so less fix-up traffic; the fastest is kept).
LEAN_GRID_DIVISORS = (1, 2, 4, 8)
#: Warps per CTA of FA2's split-KV kernels and of its forward kernels up to head dim 128 (kNWarps = 4).
ATTENTION_WARPS = 4
#: Loads in flight per CTA for the latency bound: FA2 issues the next K (V) block's cp.async while
#: it computes on the current one, so one step's loads overlap the previous step's math.
ATTENTION_STAGES = 2
#: CUDA-core instructions per K/V element to convert a cache stored narrower than the query to the
#: query's dtype: fp8 pairs convert in one ``cvt.rn.f16x2.e4m3x2`` (PTX ISA, cvt), 1/2 per element;
#: int8 as a W8A16 weight, 6/4 (`mappers.gpu_gemm.DEQUANT_INSTRUCTIONS_PER_WEIGHT`: prmt, hsub2,
#: hmul2 for the scale).
KV_CONVERT_INSTRUCTIONS = {DType.FP8: 1 / 2, DType.INT8: 6 / 4}
#: Instructions an SM issues per clock, in threads: 4 warp schedulers, one warp instruction each
#: (CUDA C Programming Guide, "Compute Capability 8.x" and "9.0": four partitions, each with its
#: warp scheduler), on every GPU the presets model. The FP32 pipe is narrower on the A100 (16 lanes
#: a partition: `GPUSpec.cuda_core_flops_per_cycle_per_sm` 128, 64 instructions a clock), where
#: integer and FP32 instructions issue to separate pipes; on Hopper and Ada it is as wide as issue.
ISSUE_SLOTS_PER_CYCLE_PER_SM = 4 * 32


@dataclass(frozen=True)
class SassCounts:
    """A decode kernel's loops as counted in its compiled SASS, per key of one CTA (one query head):
    the K (Q·K) loop's and the V (P·V) loop's thread-instructions, their SHFLs among them, the
    softmax passes over shared memory, their FP32 instructions (FADD, FMUL, FFMA, FMNMX), and the
    registers per thread ptxas gave the kernel."""

    k_loop: float
    v_loop: float
    shuffles: float
    softmax: float
    fp32: float
    registers: int

    def scaled(self, factor: float) -> SassCounts:
        """These counts with the loops (their shuffles and FP32 instructions) `factor` times as long,
        the softmax passes and registers as they are: a head dim or GQA group other than the one
        compiled."""
        return dataclasses.replace(
            self, k_loop=self.k_loop * factor, v_loop=self.v_loop * factor,
            shuffles=self.shuffles * factor, fp32=self.fp32 * factor,
        )


#: TensorRT-LLM v0.8's masked MHA decode (`trtllm_mmha`, `trtllm_mmha_paged`) by (compute
#: capability, K/V cache bits, paged cache): benchmarks/mmha_sass/per_key.csv, made by make_sass.sh
#: from decoderMaskedMultiheadAttentionTemplate.h at 4bb65f21 (fp16 queries, head dim 128, 256
#: threads, beam 1, no multi-block). A K iteration's 256 threads cover 64 keys, a V iteration's 128.
#: On sm_90 with an fp8 paged cache: 258 instructions per K iteration · 256 / 64 = 1032 per key (16
#: threads per key each convert 8 fp8 elements, F2FP then HADD2.F32, multiply and add them in fp32,
#: then 4 butterfly shuffles), 310 per V iteration · 256 / 128 = 620; a paged cache adds a
#: block-pointer load and its address arithmetic per key. Registers 55-59 (the fp8 builds under
#: ``__launch_bounds__(256, 4)``): 56 · 256 = 14,336, four CTAs on an SM's 65,536.
TRTLLM_MMHA_SASS = {
    (9.0, 8, True): SassCounts(1032, 620, 64, 13 + 9, 320 + 128, 56),
    (9.0, 8, False): SassCounts(932, 518, 64, 13 + 9, 320 + 128, 56),
    (8.9, 8, True): SassCounts(1028, 624, 64, 12 + 8, 320 + 128, 59),
    (8.0, 16, True): SassCounts(948, 536, 64, 12 + 8, 320 + 128, 58),
    (8.0, 16, False): SassCounts(832, 422, 64, 12 + 8, 320 + 128, 55),
}
#: Warps of its CTA (``THDS_PER_BLOCK`` 256 for these launches: decoderMaskedMultiheadAttentionLaunch.h).
TRTLLM_MMHA_WARPS = 256 // 32
#: Keys whose loads its K and V loops issue together: the same template's defaults ``K_LOOP_UNROLL =
#: 4`` and ``V_LOOP_UNROLL = 8`` ("Explicit batching of LDGs (by K_LOOP_UNROLL)": all of a batch's
#: loads, then its arithmetic, then the next batch's loads), over ``K_PER_ITER`` 64 keys (256 threads,
#: 4 per key) and ``V_PER_ITER`` 128 keys: 4 · 64 = 256 keys a K batch, 8 · 128 = 1024 a V batch.
#: (v0.5's template, 98e78cc7, had K 8 and V 4: 512 and 512.)
TRTLLM_MMHA_LOAD_BATCHES = (4 * 64, 8 * 128)
#: vLLM 0.6.4's PagedAttention V1 decode (`paged_attention`; csrc/attention/attention_kernels.cuh,
#: ``paged_attention_v1_kernel`` with head size 128, 16-token blocks, 128 threads, not block-sparse)
#: by (compute capability, K/V cache bits, paged): benchmarks/vllm_pa_sass/per_key.csv. Each warp
#: takes one 16-token block per iteration, 64 keys for the CTA; two threads per key each widen Q and
#: K to fp32 element by element (HADD2.F32) and multiply them, then one SHFL; the block number is
#: loaded before the K loads that need it, nothing fetched ahead. sm_90 fp16: 344 instructions per
#: QK iteration · 128 / 64 = 688 per key, PV 148 · 2 = 296; an fp8 cache converts each pair through
#: fp16 twice (1096 and 842). The softmax's main loops (exp 10, normalize 3.25 a key).
VLLM_PAGED_ATTENTION_SASS = {
    (9.0, 16, True): SassCounts(688, 296, 2, 10 + 3.25, 142 + 32, 71),
    (9.0, 8, True): SassCounts(1096, 842, 2, 10 + 3.25, 270 + 160, 90),
    (8.0, 16, True): SassCounts(630, 304, 2, 10 + 3.25, 142 + 32, 125),
}
#: The head dim the counted kernels were compiled at.
SASS_HEAD_DIM = 128
#: FlashInfer v0.2.4's CUDA-core batch decode (``BatchDecodeWithPagedKVCacheWrapper`` with
#: ``use_tensor_cores=False``: ``BatchDecodeWithPagedKVCacheKernel``, include/flashinfer/attention/
#: decode.cuh) by (compute capability, GQA group, head dim), fp16 Q and a 16-bit paged cache:
#: benchmarks/flashinfer_decode_sass/per_key.csv, made by make_sass.sh. One CTA serves a K/V head and
#: all ``bdy = group`` query heads of it (128 threads; 256 at head dim 256 and group 8); each key's
#: dot product is split over ``bdx = D / 8`` lanes and summed with a butterfly of SHFLs; every query
#: head's threads widen the shared K/V tile to fp32 themselves (HADD2.F32, one per element) and run
#: the online softmax on all their lanes, so a group of 8 costs 6.2x a group of 1 a key, not 1x:
#: 7124 thread-instructions a key at head dim 128 (FP32 3216, SHFL 512). The loop is one fused
#: Q·K / softmax / P·V body: the softmax is inside the two loops' counts (split at its barriers).
FLASHINFER_DECODE_SASS = {
    (9.0, 1, 128): SassCounts(706, 440.5, 64, 0, 420, 70),
    (9.0, 2, 128): SassCounts(1376, 987, 128, 0, 912, 50),
    (9.0, 4, 128): SassCounts(2448, 1515, 256, 0, 1680, 59),
    (9.0, 8, 128): SassCounts(4168, 2956, 512, 0, 3216, 64),
    (9.0, 1, 256): SassCounts(1476, 852.5, 160, 0, 872, 70),
    (9.0, 8, 256): SassCounts(9120, 5612, 1280, 0, 6688, 64),
}
#: FlashInfer's FA2-template kernel (include/flashinfer/attention/prefill.cuh, ``compute_qk`` and
#: ``compute_sfm_v``, FlashInfer at 175fc73 of 2025-09-22) reads an 8-bit K/V fragment with half an
#: ``ldmatrix`` (as many as a 16-bit fragment takes), swizzles it from the 16-bit MMA layout to the
#: 8-bit one in registers and converts it to the query's dtype, per lane 8 elements (2 registers):
#: ``frag_layout_swizzle_16b_to_8b`` (K) is 2 ``__shfl_xor_sync`` + 2 ``__byte_perm`` per register,
#: ``frag_layout_swizzle_16b_to_8b_trans`` (V) 3 + 3 (include/flashinfer/frag_layout_swizzle.cuh):
#: (shuffles, permutes) per 8 elements.
FLASHINFER_FP8_SWIZZLE = {"K": (4, 4), "V": (6, 6)}
#: Instructions per 8 elements of ``vec_cast<DTypeQ, e4m3>::cast<8>`` (include/flashinfer/
#: vec_dtypes.cuh): to fp16 on sm90 one ``cvt.rn.f16x2.e4m3x2`` per pair, 4; to bf16 (no hardware
#: path) ``fast_dequant_f8f16x4`` twice, each 1 PRMT, 3 + 4 LOP3/SHF for the two halves' sign,
#: exponent and mantissa, and 2 bf16 HMUL2 for the exponent bias: 2 · 10 = 20, as written (the
#: compiler may fuse a few).
FLASHINFER_E4M3_CAST = {DType.FP16: 4, DType.BF16: 20}
#: Query rows of a group (g·Sq) up to which the decode partitions are tried.
DECODE_MAX_QUERY_ROWS = 128
#: FlashAttention's split-KV heuristic (csrc/flash_attn/flash_api.cpp, ``num_splits_heuristic``
#: and ``set_params_splitkv``): no split once the (batch, head, query block) tiles fill 80% of the
#: CTA slots; otherwise the fewest splits (up to 128) whose waves are at least 85% as full as the
#: best split count's. FA2 counts two CTA slots per SM (128-thread CTAs).
FLASH_FILL_FRACTION = 0.8
FLASH_EFFICIENCY_FRACTION = 0.85
FLASH_MAX_SPLITS = 128
FLASH_SLOTS_PER_SM = 2


#: Orders in which a causal prefill's query blocks reach the SMs (`AttentionKernel.causal_order`).
ASCENDING, LONGEST_FIRST = "ascending", "longest_first"


@dataclass(frozen=True)
class AttentionKernel:
    """An attention implementation's traits that meet the GPU's balance: `mma_sync`, its matmuls
    are Ampere-style ``mma.sync`` (on Hopper at most `GPUSpec.mma_sync_macs_per_cycle_per_sm`, 2/3
    of ``wgmma``'s rate: FA3 paper, Shah et al. 2024, §2.2); `overlap`, how far its softmax (exp
    on the special-function units, the rest on the CUDA cores) hides under the matmuls
    (`sim.engines.gpu.timing.CtaWork.overlap`): `FA3_SOFTMAX_OVERLAP` for FA3's ping-pong of two
    warpgroups and its intra-warpgroup pipelining (§3.1-3.2), `FA2_SOFTMAX_OVERLAP` for FA2, whose
    warps compute their softmax between their own matmuls, 1 (all of it) for the kernels of FA3's
    design that no calibration source times across head dims (cuDNN's sm90 SDPA, TLX's).
    `cuda_cores`: its decode matmuls run on the CUDA
    cores, one FMA per MAC over the real query rows, where FlashAttention's tensor-core tiles pad a
    GQA group's rows to `DECODE_BLOCK_M` (its prefill stays FlashAttention-2's). `hopper_only`:
    the implementation exists for compute capability 9.0 only (FlashAttention-3's hopper/ kernels,
    TLX's Hopper tutorial kernel: ``wgmma``, TMA and ``setmaxnreg`` are sm90 instructions).
    `per_query_head`: its decode launches one CTA per query head (grid (heads, batch, splits)), each
    loading its K/V head itself, so the ``g`` query heads of a GQA group read that head through L2
    ``g`` times (from DRAM once: the group's CTAs are adjacent in the grid and run together), where
    FlashAttention and FlashInfer stack the group's heads in one CTA. `decode_splits`: the split
    count its own heuristic picks (None: FlashAttention's, `flash_num_splits`); `decode_block_n`:
    keys per step of its decode loop (0: FlashAttention's `split_kv_block_n`); `kv_passes`: loops
    over the keys one after the other (2 where Q·Kᵀ runs over every key before the softmax and P·V
    runs over them again), each step of each waiting on its loads (`ATTENTION_STAGES`).
    `decode_sass`: where the kernel's decode was counted in its compiled SASS, its `SassCounts` for
    the problem on a GPU of the given compute capability: the instructions one CTA spends per key
    and its registers per thread (None, or a function giving None for a problem it has no counts
    for: one FMA per MAC plus the softmax and conversions the model derives, registers from the
    tile). `causal_order`: the order its causal prefill hands query
    blocks to the SMs (`sim.engines.gpu.attention.launch_order`): ``ascending`` within each head
    (FlashAttention-2's grid ``(num_m_block, b, h)`` with ``m_block = blockIdx.x``; the Triton
    tutorial's and TLX's ``program_id(0)``), ``longest_first`` (FlashAttention-3's
    ``DynamicPersistentTileScheduler``), or ``""`` where the order is not known (the CTAs then
    count at their mean length, bounded by the longest). `forward_tile`: its own forward tile
    (block_m, block_n) for a problem on Hopper, one CTA per SM (a kernel that fills the SM's shared
    memory with its K/V stages: FlashAttention-3, TLX, cuDNN), where None runs FlashAttention-2's
    tile table (`fa2_tile`), as where it gives None. `decodes_on_forward_tile`: its decode runs that
    forward kernel (FlashAttention-3's ``flash_attn_with_kvcache``: its keys per block and one CTA
    per SM), where a kernel whose decode is not known (cuDNN's: only its prefill was read) decodes
    on FlashAttention's split-KV tile. `decode_load_batches`: keys per batch of loads its decode's
    K pass and V pass issue together before using any (TensorRT-LLM's masked MHA: "explicit
    batching of LDGs"), one memory latency per batch in series (`sim.engines.gpu.timing.CtaWork.
    latency_waits`); empty where it pipelines its loads through `ATTENTION_STAGES`.
    `splits_forward`: its forward asks FlashAttention's split heuristic (`flash_num_splits`) at any
    query length, not only for a decode: FlashAttention-2's ``mha_fwd`` (``flash_attn_func``) calls
    ``set_params_splitkv`` for every forward without dropout and runs the split-KV kernel whenever
    the heuristic returns more than one split (csrc/flash_attn/flash_api.cpp, ``run_mha_fwd``: the
    standard kernel only for one split). A non-causal forward whose 64-row query tiles fill less
    than `FLASH_FILL_FRACTION` of two CTAs an SM splits its keys: 985 queries over 62208 keys in 9
    heads on an A100 are ``9 · ceil(985/64) = 144`` tiles against ``0.8 · 216``. The two slots an
    SM are FlashAttention-2's since 2.5.7 (one before), ASSUMED where a source does not record its
    version. FA2 splits a causal forward too; the model keeps the standard kernel there (its
    split-KV cost has no causal mask). `decode_max_sq`: the most query tokens its decode mode
    takes (0: any up to `DECODE_MAX_QUERY_ROWS` rows); a step of more runs its forward kernel
    (the standard partition on its forward tile: one CTA per query head and query block, no
    split of the keys). `loads_waited_per_block`: memory waits in series its main loop takes per
    K/V block, one tile in flight each (`FA2_LOADS_WAITED_PER_BLOCK`: FlashAttention-2 waits for K,
    then for V), where 1 is a pipeline of `ATTENTION_STAGES` (`sim.engines.gpu.timing.CtaWork.
    waits_per_step`)."""

    mma_sync: bool
    overlap: float
    cuda_cores: bool = False
    query_tile: Callable[[int, int], int] | None = None
    kv_convert: Callable[[DType, DType, int, int], float] | None = None
    converting_warps: Callable[[int], int] | None = None
    decode_warps: Callable[[int], int] | None = None
    hopper_only: bool = False
    per_query_head: bool = False
    decode_splits: Callable[[AttentionProblem], int] | None = None
    decode_block_n: int = 0
    kv_passes: int = 1
    decode_sass: Callable[[AttentionProblem, float], SassCounts | None] | None = None
    causal_order: str = ASCENDING
    forward_tile: Callable[[AttentionProblem], tuple[int, int] | None] | None = None
    decodes_on_forward_tile: bool = False
    decode_load_batches: tuple[int, ...] = ()
    splits_forward: bool = False
    decode_max_sq: int = 0
    loads_waited_per_block: int = 1

    def warps_for(self, block_m: int) -> int:
        """Warps holding a decode tile's accumulators (for its registers per thread):
        `decode_warps`' count for `block_m` rows where the kernel has one, else FA2's
        `ATTENTION_WARPS`."""
        return self.decode_warps(block_m) if self.decode_warps else ATTENTION_WARPS

    def kv_convert_instructions(self, q_dtype: DType, kv_dtype: DType, d: int, dv: int) -> float:
        """CUDA-core instructions per K/V element to bring a cache stored narrower than the query to
        the query's dtype: `kv_convert`'s count where the kernel has one, else one conversion
        (`KV_CONVERT_INSTRUCTIONS`); 0 for a cache as wide as the query."""
        if kv_dtype.bits >= q_dtype.bits:
            return 0.0
        if self.kv_convert:
            return self.kv_convert(q_dtype, kv_dtype, d, dv)
        return KV_CONVERT_INSTRUCTIONS.get(kv_dtype, KV_CONVERT_INSTRUCTIONS[DType.INT8])

    def kv_converting_warps(self, block_m: int) -> int:
        """Warps of a CTA that each convert the same K/V block (every warp along the query rows
        converts the fragments it multiplies): `converting_warps`' count, else 1."""
        return self.converting_warps(block_m) if self.converting_warps else 1

    def decode_block_m(self, packed_rows: int, head_dim: int) -> int:
        """Query rows of its decode tile for `packed_rows` rows per K/V head (a GQA group's query
        heads times the query length): `query_tile`'s choice where it has one, else
        FlashAttention's fixed `DECODE_BLOCK_M`."""
        return self.query_tile(packed_rows, head_dim) if self.query_tile else DECODE_BLOCK_M


#: How far FlashAttention-2's softmax hides under other warps' matmuls. CALIBRATED on the A100
#: (`benchmarks/solve_gpu_presets.py`), where mma.sync is the native instruction and FA2 runs at
#: the A100's attention fraction, 0.9201 of peak: the model then gives the FA2 paper's "up to 73%"
#: of the peak (Dao 2023, abstract; published_figures.csv) at B1 H16 S16k D128 non-causal. In series
#: (0) it would give 58%, fully overlapped (1) 91%. One figure for two unknowns: the split is
#: ASSUMED (a100_80gb_sxm.yaml: 0.9201 was the A100's GEMM fraction until that was solved on the
#: MAMF sweep's best, 0.8793, at which 73% would need FA2 to hide more of its softmax than FA3 does).
FA2_SOFTMAX_OVERLAP = 0.5539
#: How far FlashAttention-3's softmax hides under the matmuls (its ping-pong of two consumer
#: warpgroups, one's softmax beside the other's ``wgmma``, and its intra-warpgroup pipelining, FA3
#: paper §3.1-3.2), not all of it: the FA3 paper's Figure 5 (non-causal forward on an H100 SXM5,
#: 16k tokens) gives 497, 648 and 756 TFLOP/s at head dims 64, 128 and 256, where a fully hidden
#: softmax would leave the rate flat across head dims (the matmuls' MACs per score grow with the
#: head dim, the softmax's exp and its four CUDA-core instructions per score do not: 1/16 + 4/128 =
#: 0.094 SM cycles a score against 64/1024 = 0.0625 of ``wgmma`` at head dim 64 and 0.25 at 256).
#: CALIBRATED with the FlashAttention-3 fraction on that figure's 18 FlashAttention-3 bars (source
#: fa3_paper_fig5, a calibration source; `benchmarks/solve_gpu_presets.py` solve_fa3_overlap): at
#: 0.60 with the fraction 0.8966 the model meets them within a median 2.8% (fully hidden, at its best fraction
#: 0.6664: 14.6%, too fast at head dim 64 and too slow at 256 by about 20% each); FA3's shipped
#: fraction, 0.9018, is `codesign calibrate`'s fit on all its calibration rows at this overlap
#: (2.7% on the figure; h100_sxm.yaml). The other kernels of
#: its design (cuDNN's sm90 SDPA, TLX's Hopper kernel) keep a fully hidden softmax at the spec-wide
#: fraction: no calibration source times them across head dims, and FA3's fit would make them
#: faster than FA3's, which the FA3 paper's own cuDNN bars are not (595 and 581 TFLOP/s at head
#: dims 128 and 256, Figure 5).
FA3_SOFTMAX_OVERLAP = 0.60


def flashinfer_cta_tile_q(packed_rows: int, head_dim: int) -> int:
    """FlashInfer's query tile for its FA2-template kernels on compute capability 8.0 and later
    (``FA2DetermineCtaTileQ``, include/flashinfer/utils.cuh): 128 rows where more than 64 rows
    are packed per K/V head (head dim below 256), 64 where more than 16, else 16, one m16 MMA.
    A decode of 8 query heads per K/V head (Llama-3-70B's GQA) multiplies 16 rows, not 64."""
    if packed_rows > 64 and head_dim < 256:
        return 128
    return 64 if packed_rows > 16 else 16


def flashinfer_warps_q(cta_tile_q: int) -> int:
    """Warps along the query rows of FlashInfer's FA2-template CTA (``get_num_warps_q``,
    include/flashinfer/attention/prefill.cuh): 4 for a query tile above 16 rows, else 1 (its four
    warps then split the keys). Each converts the K/V fragments it multiplies itself."""
    return 4 if cta_tile_q > 16 else 1


def flashinfer_kv_convert(q_dtype: DType, kv_dtype: DType, d: int, dv: int) -> float:
    """Instructions per K/V element of FlashInfer's FA2-template kernel for an fp8 cache
    (`FLASHINFER_FP8_SWIZZLE`, `FLASHINFER_E4M3_CAST`; shuffles at `SHUFFLE_SLOTS`), K's ``d``
    and V's ``dv`` elements weighted: bf16 queries (128-dim K and V) take (4·4 + 4 + 20) / 8 = 5
    per K element and (6·4 + 6 + 20) / 8 = 6.25 per V element, 5.625 on average, where one
    ``cvt`` per pair would be 0.5; fp16 queries (4·4 + 4 + 4) / 8 = 3 and 4.25. Any other narrow
    cache: one conversion (`KV_CONVERT_INSTRUCTIONS`)."""
    if kv_dtype is not DType.FP8 or q_dtype not in FLASHINFER_E4M3_CAST:
        return KV_CONVERT_INSTRUCTIONS.get(kv_dtype, KV_CONVERT_INSTRUCTIONS[DType.INT8])
    cast = FLASHINFER_E4M3_CAST[q_dtype]
    per_element = {
        operand: (shuffles * SHUFFLE_SLOTS + permutes + cast) / 8
        for operand, (shuffles, permutes) in FLASHINFER_FP8_SWIZZLE.items()
    }
    return (per_element["K"] * d + per_element["V"] * dv) / (d + dv)


def fa3_block_m(packed_rows: int, head_dim: int) -> int:
    """FlashAttention-3's query tile on Hopper (``tile_size_fwd_sm90``, hopper/tile_size.h at
    7ff73af of 2025-04-10, 16-bit and fp8 alike): 192 rows up to head dim 96, else 128. A decode
    packs a GQA group's query heads into it (PackGQA, always on for split-KV and for a paged cache
    read without TMA: ``get_pack_gqa`` in hopper/flash_api.cpp) and pads the rest: one query row
    of an MHA decode is multiplied as 128 by its ``wgmma``s."""
    return 192 if head_dim <= 96 else 128


def fa3_mma_warps(block_m: int) -> int:
    """FlashAttention-3's consumer warps: one warpgroup (4 warps) per 64 query rows of its tile
    (``NumMmaWarpGroups``, hopper/mainloop_fwd_sm90_tma_gmma_ws.hpp: a ``wgmma`` atom is 64 rows),
    besides its producer warpgroup, whose registers it gives back (``warpgroup_reg_dealloc``)."""
    return 4 * math.ceil(block_m / 64)


def fa3_tile(problem: AttentionProblem) -> tuple[int, int]:
    """FlashAttention-3's forward tile (``tile_size_fwd_sm90``, hopper/tile_size.h at 0251105a:
    kBlockM × kBlockN) for a contiguous K/V cache. 16-bit: 192 × (128 causal, else 192) up to head
    dim 64; 192 × 144 up to 96; 128 × (128 causal, else 176) up to 128; 128 × (128 where Dv ≤ 128,
    else 112) up to 192; 128 × 80 above. FP8: 192 × 160, 192 × 128, 128 × 224, 128 × 160, 128 × 128."""
    d, causal = problem.d, problem.causal
    if problem.q_bytes == 1:
        return (192, 160) if d <= 64 else (192, 128) if d <= 96 else (128, 224) if d <= 128 else (
            (128, 160) if d <= 192 else (128, 128))
    if d <= 64:
        return 192, 128 if causal else 192
    if d <= 96:
        return 192, 144
    if d <= 128:
        return 128, 128 if causal else 176
    if d <= 192:
        return 128, 128 if problem.dv <= 128 else 112
    return 128, 80


#: The tile of cuDNN's open sm90 prefill kernels and of TLX's Hopper kernel: two 64-row consumer
#: warpgroups over 128-key blocks (cudnn-frontend sm90_sdpa_prefill_engine.h at 3929da2: tile_m
#: 64 x 2, tile_n 128, for head dims 64 and 128; TLX's tutorial: BLOCK_M 128, BLOCK_N 128).
WS_PINGPONG_TILE = (128, 128)


def ws_pingpong_tile(problem: AttentionProblem) -> tuple[int, int]:
    """`WS_PINGPONG_TILE`."""
    return WS_PINGPONG_TILE


def cudnn_sm90_tile(problem: AttentionProblem) -> tuple[int, int] | None:
    """cuDNN's open sm90 tile (`WS_PINGPONG_TILE`) for the head dims it has kernels for (up to
    128); None above (FlashAttention-2's table, ASSUMED)."""
    return WS_PINGPONG_TILE if problem.d <= 128 else None


#: The K/V bytes FlashAttention-3's longest-first scheduler keeps in L2 per section of heads
#: (hopper/tile_scheduler.hpp at 0251105a, ``DynamicPersistentTileScheduler``: ``size_l2 = 32 *
#: 1024 * 1024; // 32 MB for K & V``).
FA3_L2_SECTION_BYTES = 32 * 2**20


def fa3_l2_section_heads(problem: AttentionProblem) -> int:
    """(batch, head) pairs per section of FlashAttention-3's longest-first scheduler, which hands
    out a section's tiles longest query block first, its heads innermost, before the next section's:
    the power of two of one K/V head's bytes that fit `FA3_L2_SECTION_BYTES` (1 where one does not),
    times the query heads per K/V head (no PackGQA: FA3's ``should_pack_gqa`` keeps it off for a
    query length that fills its tiles, as a prefill's does). 8192 keys of head dim 128 in 16 bits
    are 4 MB a K/V head: sections of 8 K/V heads."""
    one_head = problem.skv * (problem.d + problem.dv) * problem.kv_bytes
    fitting = 1 if one_head > FA3_L2_SECTION_BYTES else 2 ** int(math.log2(FA3_L2_SECTION_BYTES // one_head))
    return fitting * problem.group


#: vLLM's PagedAttention V2 splits a sequence into partitions of this many keys
#: (csrc/attention/paged_attention_v2.cu, ``PARTITION_SIZE = 512``; vllm 0.2.7-0.6.4).
VLLM_PARTITION_SIZE = 512
#: Up to this context vLLM may run V1 (one CTA per query head and sequence, no partitions)
#: (vllm/attention/ops/paged_attn.py: V2 beyond it "to avoid shared memory shortage").
VLLM_V1_MAX_CONTEXT = 8192
#: With more (sequence, query head) CTAs than this, V1 has "enough work to parallelize".
VLLM_V1_MIN_CTAS = 512
#: Keys per step of the CUDA-core decode kernels that give each of their 4 warps one 16-token
#: block of K (or V) per iteration (vLLM's ``for (block_idx = start_block_idx + warp_idx; ...;
#: block_idx += NUM_WARPS)``, NUM_WARPS = 128 / 32, BLOCK_SIZE 16), then loop over V likewise.
#: TensorRT-LLM's masked MHA takes it too (ASSUMED: its key loop's unroll was not read). vLLM V1's
#: shared memory also holds the whole context's logits (4 B a key), which `ctas_per_sm` leaves out.
CUDA_CORE_DECODE_KEYS_PER_STEP = 64


def vllm_paged_attention_splits(problem: AttentionProblem) -> int:
    """The partitions vLLM's PagedAttention runs a decode in (vllm/attention/ops/paged_attn.py,
    0.4.2-0.6.4): V1, one, where the context is at most 8192 keys and either fits one 512-key
    partition or the sequences times query heads exceed 512; else V2, ``ceil(context / 512)``.
    Batch 64 × 64 heads at 4096 keys: 4096 CTAs > 512, V1; batch 1 × 32 heads: V2, 8 partitions."""
    partitions = math.ceil(problem.skv / VLLM_PARTITION_SIZE)
    ctas = problem.batch * problem.heads
    if problem.skv <= VLLM_V1_MAX_CONTEXT and (partitions == 1 or ctas > VLLM_V1_MIN_CTAS):
        return 1
    return partitions


def own_rows(rows: int, head_dim: int) -> int:
    """The query rows a CUDA-core decode CTA holds: its own, unpadded (no tensor-core tile)."""
    return rows


def one_split(problem: AttentionProblem) -> int:
    """No split of the keys: TensorRT-LLM v0.5-v0.7's masked MHA without multi-block mode, off by
    default (``multi_block_mode=False``, tensorrt_llm/functional.py at v0.5.0; an opt-in
    ``--multi_block_mode`` build flag at v0.6.1)."""
    return 1


def counted_sass(
    table: Mapping[tuple[float, int, bool], SassCounts],
    problem: AttentionProblem,
    capability: float,
    *,
    paged: bool,
) -> SassCounts:
    """A counted kernel's `SassCounts` for `problem` on a GPU of `capability` (`TRTLLM_MMHA_SASS`,
    `VLLM_PAGED_ATTENTION_SASS`). A (capability, cache) that was not compiled takes the counts of the
    same cache width and layout on the nearest compiled capability (ASSUMED: an H100 with a 16-bit
    cache, the A100's; an int8 cache, fp8's), a width never compiled (fp32) the nearest width's; a
    head dim other than the compiled 128 scales the loops by ``d / 128`` (ASSUMED: GPT-J's 256 gives
    each key twice the threads of the same work each)."""
    bits = int(problem.kv_bytes * 8)
    counted = [key for key in table if key[1:] == (bits, paged)]
    if not counted:  # a cache width never compiled (fp32): the nearest width's counts
        counted = [key for key in table if key[2] == paged]
        counted = [min(counted, key=lambda key: abs(key[1] - bits))]
    return table[nearest_capability(counted, capability)].scaled(problem.d / SASS_HEAD_DIM)


def flashinfer_decode_sass(problem: AttentionProblem, capability: float) -> SassCounts | None:
    """FlashInfer's CUDA-core decode counts for `problem` (`FLASHINFER_DECODE_SASS`): its GQA group
    and head dim as compiled; a group never compiled (3, 5-7, above 8) takes the nearest compiled
    group's counts (the larger on a tie) per query head times its own group, a head dim other than
    the compiled ones 128's scaled by ``d / 128``, a GPU of another capability the nearest compiled
    one's, and a bf16 cache fp16's (ASSUMED, each: only sm_90 and fp16 were compiled; bf16 widens to
    fp32 with one instruction an element too; the per-head counts fall from 1146.5 to 890.5 between
    groups 1 and 8, so a group's cost grows with its heads). None for an 8-bit cache, which the model
    then costs as one FMA per MAC plus its softmax."""
    if problem.kv_bytes != 2:
        return None
    group = min({key[1] for key in FLASHINFER_DECODE_SASS}, key=lambda g: (abs(g - problem.group), -g))
    counted = [key for key in FLASHINFER_DECODE_SASS if key[1] == group]
    exact = [key for key in counted if key[2] == problem.d]
    key = nearest_capability(exact or [k for k in counted if k[2] == SASS_HEAD_DIM] or counted, capability)
    return FLASHINFER_DECODE_SASS[key].scaled((problem.d / key[2]) * (problem.group / group))


def issue_slots_per_key(counts: SassCounts) -> float:
    """A CTA's issue slots per key: its loops' and softmax's instructions, each shuffle at
    `SHUFFLE_SLOTS`: TensorRT-LLM's masked MHA on an H100 with an fp8 paged cache ``1032 + 620 + 3·64
    + 22 = 1866``."""
    return counts.k_loop + counts.v_loop + (SHUFFLE_SLOTS - 1) * counts.shuffles + counts.softmax


#: Memory waits FlashAttention-2's main loop takes per K/V block: it waits for the block's K
#: (``cp_async_wait<0>``), only then issues V's ``cp.async`` and runs Q·Kᵀ, waits for V, only then
#: issues the next block's K and runs the softmax and P·V, so each CTA has one K or V tile in flight
#: at a time and waits for each (csrc/flash_attn/src/flash_fwd_kernel.h at v2.3.3 and later,
#: ``compute_attn_1rowblock`` and ``compute_attn_1rowblock_splitkv``: two ``cp_async_wait<0>`` a
#: block). Kernels whose producer warps keep K and V stages in flight (FlashAttention-3, cuDNN's and
#: TLX's sm90 kernels) and the rest wait once a block (`AttentionKernel.loads_waited_per_block`).
FA2_LOADS_WAITED_PER_BLOCK = 2
FLASH_ATTENTION_2 = AttentionKernel(
    mma_sync=True, overlap=FA2_SOFTMAX_OVERLAP, splits_forward=True,
    loads_waited_per_block=FA2_LOADS_WAITED_PER_BLOCK,
)
#: The names that run FlashAttention-2's own kernels, and so its loop's two waits a block: the
#: preset's default (''), FlashAttention-2 and its v2.0.9, its split-KV decode as the Flash-Decoding
#: post benchmarks it (FlashAttention 2.2+), and PyTorch SDPA's flash backend (FA2's kernels). Any
#: other name without traits of its own (a Triton, TileLang or FBGEMM kernel) takes FA2's other
#: traits but waits once a block, a pipeline's wait: its loop was not read (`UNLISTED_ATTENTION`).
FA2_LOOP_NAMES = frozenset(
    {"", "flash_attention_2", "flash_attention_v2.0.9", "flash_decoding", "torch_sdpa"}
)
UNLISTED_ATTENTION = dataclasses.replace(FLASH_ATTENTION_2, loads_waited_per_block=1)
#: A decode with one CTA per query head on the CUDA cores, Q·Kᵀ over its keys and then P·V over
#: them again, its prefill FlashAttention-2's: vLLM's PagedAttention and TensorRT-LLM's masked MHA,
#: which differ in how they split the keys (`decode_splits`)
#: Both take one query token a sequence (vLLM's ``q: [num_seqs, num_heads, head_size]``;
#: TensorRT-LLM's masked MHA generates one token a step, its multi-token steps other kernels), so a
#: step of several tokens runs their prefill's kernel (`AttentionKernel.decode_max_sq`).
PER_QUERY_HEAD_DECODE = dataclasses.replace(
    FLASH_ATTENTION_2, splits_forward=False, cuda_cores=True, query_tile=own_rows, per_query_head=True,
    decode_splits=one_split, decode_block_n=CUDA_CORE_DECODE_KEYS_PER_STEP, kv_passes=2, decode_max_sq=1,
)


def trtllm_mmha(*, paged: bool) -> AttentionKernel:
    """TensorRT-LLM's masked MHA on a paged or a contiguous K/V cache: one CTA of 256 threads per
    query head and sequence, no split, its compiled registers and SASS counts."""
    return dataclasses.replace(
        PER_QUERY_HEAD_DECODE,
        decode_warps=lambda rows: TRTLLM_MMHA_WARPS,
        decode_sass=functools.partial(counted_sass, TRTLLM_MMHA_SASS, paged=paged),
        decode_load_batches=TRTLLM_MMHA_LOAD_BATCHES,
    )


#: Named implementations (a measured row's `kernel`, `--attention-kernel`); any other name is
#: FlashAttention-2's (SDPA's flash backend, flash-decoding, our Triton kernels' structure).
ATTENTION_KERNELS = {
    # FA3's decode runs its forward kernel's tile over the packed rows (`fa3_block_m`); its causal
    # prefill runs on the longest-first persistent scheduler (hopper/flash_fwd_launch_template.h at
    # 0251105a: ``DynamicPersistentTileScheduler`` where ``Is_causal`` and not varlen)
    "flash_attention_3": AttentionKernel(
        mma_sync=False, overlap=FA3_SOFTMAX_OVERLAP, query_tile=fa3_block_m, decode_warps=fa3_mma_warps,
        hopper_only=True, causal_order=LONGEST_FIRST, forward_tile=fa3_tile, decodes_on_forward_tile=True,
    ),
    "flash_attention_3_fp8": AttentionKernel(
        mma_sync=False, overlap=FA3_SOFTMAX_OVERLAP, query_tile=fa3_block_m, decode_warps=fa3_mma_warps,
        hopper_only=True, causal_order=LONGEST_FIRST, forward_tile=fa3_tile, decodes_on_forward_tile=True,
    ),
    # FA3 Table 2's ablations: wgmma, with one of the full kernel's two overlaps removed, read as
    # FA2's softmax overlap (0.5539, a little under the full kernel's FA3_SOFTMAX_OVERLAP) at the
    # spec-wide fraction: their gap to the full kernel is the fraction's, not the overlap's (their
    # calibration rows 12-15% slow in the model, as before FA3's overlap was solved)
    "flash_attention_3_no_pipelining": AttentionKernel(
        mma_sync=False, overlap=FA2_SOFTMAX_OVERLAP, hopper_only=True, causal_order=LONGEST_FIRST,
        forward_tile=fa3_tile,
    ),
    "flash_attention_3_no_warp_specialization": AttentionKernel(
        mma_sync=False, overlap=FA2_SOFTMAX_OVERLAP, hopper_only=True, causal_order=LONGEST_FIRST,
        forward_tile=fa3_tile,
    ),
    # Triton emits wgmma on Hopper; the tutorial kernel has no warp specialization
    "triton_tutorial_fa2": AttentionKernel(mma_sync=False, overlap=FA2_SOFTMAX_OVERLAP),
    # Meta's TLX Hopper flash attention (facebookexperimental/triton,
    # third_party/tlx/tutorials/flash-attention-WS-pipelined-pingpong-hopper.py) is FA3's design in
    # Triton: a TMA producer, two consumer warpgroups of 64 query rows in ping-pong (named
    # barriers), async wgmma with the next block's QK^T issued before this block's softmax; a
    # 128 x 128 tile. Its forward (prefill) kernel
    "tlx_fa": AttentionKernel(mma_sync=False, overlap=1.0, hopper_only=True, forward_tile=ws_pingpong_tile),
    # vLLM's PagedAttention V1/V2 decode (csrc/attention/attention_kernels.cu, vllm 0.2.7-0.6.4):
    # grid (num_heads, num_seqs, partitions), ``kv_head_idx = head_idx / num_queries_per_kv``; its
    # prefill runs FlashAttention-2 (vLLM's flash backend); V1's instructions counted in SASS stand
    # for V2's, whose loops are V1's over one 512-key partition
    "paged_attention": dataclasses.replace(
        PER_QUERY_HEAD_DECODE,
        decode_splits=vllm_paged_attention_splits,
        decode_sass=functools.partial(counted_sass, VLLM_PAGED_ATTENTION_SASS, paged=True),
    ),
    # TensorRT-LLM's masked multi-head attention, its decode before XQA (v0.5-v0.7) and for the
    # groups XQA has no kernel for (decoderMaskedMultiheadAttentionTemplate.h at v0.5.0 and 4bb65f21: ``hi =
    # blockIdx.x``, ``hi_kv = hi / qhead_per_kv``; launch grid (num_heads, batch, seq_len_tile)), no
    # split by default (`one_split`), its instructions counted in SASS (`TRTLLM_MMHA_SASS`;
    # v0.8's kernel stands for v0.5-v0.6's, whose loops unroll 8 keys and 4 values instead of 4 and 8,
    # ASSUMED the same per key); its context phase is a fused FMHA, taken as FlashAttention-2's
    # traits. `trtllm_mmha` reads a contiguous K/V cache (v0.5-v0.6's default, ``--paged_kv_cache``
    # off in examples/llama/build.py; v0.9's ``--paged_kv_cache disable``), `trtllm_mmha_paged`
    # trtllm-build's paged one (v0.8+)
    "trtllm_mmha": trtllm_mmha(paged=False),
    # TensorRT-LLM's XQA decode (v0.7+) ships as cubins: FlashAttention-2's traits stand for it (the
    # GQA group's query heads stacked in one split-KV CTA, on the tensor cores)
    "trtllm_xqa": dataclasses.replace(FLASH_ATTENTION_2, splits_forward=False, loads_waited_per_block=1),
    "trtllm_mmha_paged": trtllm_mmha(paged=True),
    # FlashInfer's default batch decode (BatchDecodeWithPagedKVCacheWrapper, use_tensor_cores=False:
    # docs.flashinfer.ai/api/decode; include/flashinfer/decode.cuh: grid (batch, num_kv_heads),
    # ``qo_head_idx = kv_head_idx * bdy + threadIdx.y``, ``bdy = GROUP_SIZE``): each K/V head's CTA
    # loads its keys once for the group's query heads and multiplies on the CUDA cores, so a
    # decode of 1-8 query rows per K/V head is not padded to a 64-row tile. Both engines' prefill
    # (FlashAttention-2 in vLLM, FlashInfer's FA2 template) takes FlashAttention-2's traits
    # Its loop as compiled (`FLASHINFER_DECODE_SASS`): the instructions a key costs its CTA
    # It takes one query token a request (``q: [batch_size, num_qo_heads, head_dim]``): a step of
    # several runs the prefill's kernel
    "flashinfer_batch_decode": AttentionKernel(
        mma_sync=True, overlap=FA2_SOFTMAX_OVERLAP, cuda_cores=True, decode_sass=flashinfer_decode_sass,
        decode_max_sq=1,
    ),
    # FlashInfer's batch decode with use_tensor_cores=True runs its prefill kernel (the FA2
    # template: mma.sync, softmax between the warps' own matmuls) over the GQA group's packed rows
    # in a query tile of `flashinfer_cta_tile_q` rows (docs.flashinfer.ai/api/decode); an fp8
    # cache is swizzled and converted in registers by every query-row warp (`flashinfer_kv_convert`)
    "flashinfer_batch_decode_tensor_cores": AttentionKernel(
        mma_sync=True, overlap=FA2_SOFTMAX_OVERLAP, query_tile=flashinfer_cta_tile_q,
        kv_convert=flashinfer_kv_convert, converting_warps=flashinfer_warps_q,
    ),
}


#: The compute capability of Hopper (H100, H200, H20), whose kernels `HOPPER_ATTENTION_KERNELS` hold.
HOPPER = 9.0
#: Implementations whose Hopper kernel (compute capability 9.0) is a different design from their
#: kernel elsewhere, by name: on other GPUs the name takes `ATTENTION_KERNELS`' traits (FA2's). An
#: entry converts a narrow K/V cache as the name does elsewhere (no `kv_convert` of its own):
#: `attention_problem` counts that conversion before a GPU is known.
HOPPER_ATTENTION_KERNELS = {
    # cuDNN's SDPA forward on sm90 (PyTorch's SDPBackend.CUDNN_ATTENTION), open-sourced in
    # cudnn-frontend v1.19.0 (include/cudnn_frontend/generated/sdpa/sm90/prefill/full_seqlens/
    # d128_fprop_kernel.h at 3929da2): 384 threads, a TMA producer warpgroup (reg_dealloc<40>) and
    # two math warpgroups (reg_alloc<232>) in ping-pong on named barriers, both matmuls as
    # wgmma.mma_async 64x128x16, a persistent tile loop; no mma.sync: FA3's design. The source read
    # is its prefill kernel; a decode runs with these traits on FlashAttention's 64-row split-KV
    # tile (no decode tile of its own is known). Its decode mode is one query token
    # (include/cudnn_frontend/node/sdpa_support_surface.h at 3929da2: ``is_decode_only = (s_q ==
    # 1)``, the mode its Hopper decode support is stated for): a step of more tokens runs the
    # forward kernel, one CTA per batch and query head over the whole cache (`decode_max_sq`)
    # That open kernel's persistent loop takes tiles in ascending order (``tile_id`` from an atomic
    # counter, the query block its fastest index), but the rows measured ran cuDNN's backend
    # engine, chosen by its heuristics and not recorded: its order is not known (and the ascending
    # one does not fit them: benchmarks/RESULTS.md, session 14)
    "cudnn_sdpa": AttentionKernel(mma_sync=False, overlap=1.0, causal_order="", forward_tile=cudnn_sm90_tile,
                                decode_max_sq=1),
}


#: The name of FlashAttention-2, whose traits every name the tables do not hold takes.
FLASH_ATTENTION_2_NAME = "flash_attention_2"


def modeled_attention_kernels() -> frozenset[str]:
    """Names of the attention implementations whose traits the model holds (FlashAttention-2's,
    `ATTENTION_KERNELS`, `HOPPER_ATTENTION_KERNELS`)."""
    return frozenset({FLASH_ATTENTION_2_NAME, *ATTENTION_KERNELS, *HOPPER_ATTENTION_KERNELS})


def attention_kernel_refusal(name: str, spec: GPUSpec) -> str:
    """Why the named implementation cannot run on `spec` ('' where it can, or where the GPU's
    compute capability is not stated: 0)."""
    capability = spec.compute_capability
    if capability and capability != HOPPER and attention_kernel(name).hopper_only:
        return (
            f"{name} runs on compute capability {HOPPER} (Hopper) only; hardware {spec.name!r} has "
            f"compute capability {capability}"
        )
    return ""


def attention_kernel(name: str, compute_capability: float = 0.0) -> AttentionKernel:
    """The traits of the named implementation on a GPU of `compute_capability`: its Hopper kernel's
    on 9.0 where `HOPPER_ATTENTION_KERNELS` names one, else `ATTENTION_KERNELS`', else
    FlashAttention-2's."""
    if compute_capability == HOPPER and name in HOPPER_ATTENTION_KERNELS:
        return HOPPER_ATTENTION_KERNELS[name]
    if name in FA2_LOOP_NAMES:
        return FLASH_ATTENTION_2
    return ATTENTION_KERNELS.get(name, UNLISTED_ATTENTION)


@dataclass(frozen=True, kw_only=True)
class AttentionProblem:
    """Sizes, causality and per-element bytes; `kv_dequant` counts CUDA-core instructions per K/V
    element, per converting warp (`AttentionKernel.kv_converting_warps`), when the cache is stored
    narrower (int8, fp8) than the query's dtype (`AttentionKernel.kv_convert_instructions`)."""

    batch: int
    heads: int
    kv_heads: int
    sq: int
    skv: int
    d: int
    dv: int
    causal: bool
    q_bytes: float
    kv_bytes: float
    o_bytes: float
    math_dtype: DType
    kv_dequant: float = 0.0
    only: Partition | None = None  # the kernel's one partition (FlashAttention before 2.2: FA2)
    kernel: str = ""  # the implementation (`ATTENTION_KERNELS`); empty: FlashAttention-2
    # keys every causal query row sees beyond its top-left diagonal (a bottom-right mask: Skv − Sq;
    # `workloads.kernel_ops.causal_offset`)
    causal_offset: int = 0

    @property
    def group(self) -> int:
        return self.heads // self.kv_heads

    @property
    def kv_total_bytes(self) -> float:
        """K and V of every K/V head, read once."""
        return self.batch * self.kv_heads * self.skv * (self.d + self.dv) * self.kv_bytes

    @property
    def q_total_bytes(self) -> float:
        return self.batch * self.heads * self.sq * self.d * self.q_bytes

    @property
    def o_total_bytes(self) -> float:
        return self.batch * self.heads * self.sq * self.dv * self.o_bytes


@dataclass(frozen=True, kw_only=True)
class AttentionPlan:
    """A partition and its tile: ``block_m`` query rows × ``block_n`` keys per step; split-KV's
    number of splits; lean's grid as a divisor of the GPU's CTA slots."""

    partition: Partition
    block_m: int
    block_n: int
    ctas_per_sm: int
    splits: int = 1
    grid_divisor: int = 1

    def describe(self) -> str:
        if self.partition is Partition.SPLIT_KV:
            return f"split-kv {self.block_m}x{self.block_n} splits{self.splits}"
        if self.partition is Partition.LEAN:
            return f"lean {self.block_m}x{self.block_n} grid 1/{self.grid_divisor}"
        return f"fa2 {self.block_m}x{self.block_n}"


def attention_problem(op: Op, kernel: str | None = None) -> AttentionProblem:
    """The `AttentionProblem` of an ATTENTION op as `kernel` runs it (None: the kernel the op's
    attrs name, if any): it multiplies in the query's dtype and converts a narrower K/V cache as
    that kernel does."""
    q, k, out = _named(op, "Q"), _named(op, "K"), op.operand(Role.OUTPUT)
    if kernel is None:
        kernel = str(dict(op.attrs).get("kernel", ""))
    dequant = attention_kernel(kernel).kv_convert_instructions(q.dtype, k.dtype, op.dim("D"), op.dim("Dv"))
    return AttentionProblem(
        batch=op.dim("B"),
        heads=op.dim("H"),
        kv_heads=op.dim("Hkv"),
        sq=op.dim("Sq"),
        skv=op.dim("Skv"),
        d=op.dim("D"),
        dv=op.dim("Dv"),
        causal=dict(op.attrs).get("causal") == 1,
        causal_offset=causal_offset(op),
        q_bytes=q.dtype.bytes,
        kv_bytes=k.dtype.bytes,
        o_bytes=out.dtype.bytes,
        math_dtype=q.dtype,
        kv_dequant=dequant,
        only=_partition(op),
        kernel=kernel,
    )


def candidate_plans(problem: AttentionProblem, spec: GPUSpec) -> list[AttentionPlan]:
    """FA2's tile for the head dim, except where the kernel splits the keys more than once; for a
    few query rows, unmasked or after a cache (decode), split-KV at the split count
    `flash_num_splits` picks (beside FA2's own kernel when that is one split, as ``mha_fwd`` then
    runs it), likewise for any non-causal forward of a kernel that asks the heuristic at every
    length (`AttentionKernel.splits_forward`) where it picks more than one, and lean attention's
    grids for a row that names lean; only the problem's own partition where it names one."""
    plans = []
    kernel = attention_kernel(problem.kernel, spec.compute_capability)
    # a few query rows after a cache (a decode step of several tokens: a bottom-right mask over it,
    # its masked corner the step's own few tokens) decode as one token does; a top-left mask does not
    top_left = problem.causal and not problem.causal_offset
    decode = not (top_left or problem.group * problem.sq > DECODE_MAX_QUERY_ROWS) and not (
        kernel.decode_max_sq and problem.sq > kernel.decode_max_sq)
    heuristic = kernel.decode_splits or (lambda p: flash_num_splits(p, spec))
    # FlashAttention-2's mha_fwd asks the heuristic for a non-causal forward too (`splits_forward`)
    forward = kernel.splits_forward and not (decode or problem.causal) and problem.only is None
    splits = heuristic(problem) if (decode or forward) and problem.only is not Partition.FA2 else 1
    split_kv = decode or splits > 1
    # a kernel with one CTA per query head multiplies that head's rows only (`stacks_group`)
    packed_rows = problem.group * problem.sq if stacks_group(kernel, problem) else problem.sq
    decode_m = kernel.decode_block_m(packed_rows, problem.d)
    decode_warps = kernel.warps_for(decode_m)
    own = kernel.forward_tile(problem) if kernel.forward_tile and spec.compute_capability == HOPPER else None
    if own:  # one CTA per SM: its K/V stages fill the shared memory
        block_m, block_n = own
        warps = fa3_mma_warps(block_m)
        occupancy = min(1, ctas_per_sm(problem, spec, block_m, block_n, warps))
    else:
        block_m, block_n, warps = fa2_tile(problem.d, spec, causal=problem.causal)
        occupancy = ctas_per_sm(problem, spec, block_m, block_n, warps)
    # its decode kernel is the only one it has, unless a row names FlashAttention-2's partition
    own_decode = decode and kernel.per_query_head and problem.only is None
    if occupancy and splits == 1 and not own_decode:
        plans.append(AttentionPlan(partition=Partition.FA2, block_m=block_m, block_n=block_n,
                                   ctas_per_sm=occupancy))
    if decode and problem.only is Partition.LEAN:
        for block_n in LEAN_BLOCK_NS:
            occupancy = ctas_per_sm(problem, spec, decode_m, block_n, decode_warps)
            plans.extend(
                AttentionPlan(partition=Partition.LEAN, block_m=decode_m, block_n=block_n,
                              ctas_per_sm=occupancy, grid_divisor=divisor)
                for divisor in LEAN_GRID_DIVISORS
                if occupancy
            )
    if split_kv:
        decode_own = own if kernel.decodes_on_forward_tile else None
        block_n = kernel.decode_block_n or (
            decode_own[1] if decode_own else split_kv_block_n(problem.d, splits))
        sass = kernel.decode_sass(problem, spec.compute_capability) if kernel.decode_sass else None
        registers = sass.registers if sass else 0
        occupancy = ctas_per_sm(problem, spec, decode_m, block_n, decode_warps, registers=registers)
        occupancy = min(1, occupancy) if decode_own else occupancy
        if occupancy:
            plans.append(AttentionPlan(partition=Partition.SPLIT_KV, block_m=decode_m,
                                       block_n=block_n, splits=splits, ctas_per_sm=occupancy))
    return [plan for plan in plans if problem.only in (None, plan.partition)]


def stacks_group(kernel: AttentionKernel, problem: AttentionProblem) -> bool:
    """Whether a split-KV CTA of `kernel` stacks a GQA group's query heads in its rows: FlashAttention-3
    and FlashInfer always do (FA3's ``get_num_splits`` counts ``b · h_k · ceil(Sq·g / kBlockM)``),
    FlashAttention-2's ``mha_fwd`` only for one query token (``seqlenq_ngroups_swapped``: ``seqlen_q
    == 1``; `AttentionKernel.splits_forward`), a kernel with one CTA per query head never."""
    if kernel.per_query_head:
        return False
    return not (kernel.splits_forward and problem.sq > 1)


def flash_num_splits(problem: AttentionProblem, spec: GPUSpec) -> int:
    """The split count FlashAttention's heuristic picks for a decode, or for FlashAttention-2's
    forward at any length (`AttentionKernel.splits_forward`) (`FLASH_FILL_FRACTION`):
    tiles = batch · K/V heads · ceil(g·Sq / 64) where a CTA stacks a GQA group's query heads in its
    rows (`stacks_group`), else batch · heads · ceil(Sq / 64), the tiles `sim.engines.gpu.attention`
    then costs; slots = 2 per SM (FlashAttention-2 since 2.5.7, ``num_SMs * 2``), K/V blocks of
    `split_kv_block_n`'s split size. Batch 16 × 32 heads on 132 SMs: 512 tiles ≥ 0.8 · 264, one
    split; batch 1 × 8 K/V heads at 4096 keys: 8 tiles, 32 blocks of 128; s splits fill ``8s/264``
    of a wave, and the split counts that change the blocks per split are 1-8, 11, 16 and 32 (12
    splits are 3 blocks each as 11 are): 32 fills 97%, 16 only 48% (< 0.85 · 97%), so 32 splits."""
    kernel = attention_kernel(problem.kernel, spec.compute_capability)
    if stacks_group(kernel, problem):
        tiles = problem.batch * problem.kv_heads * math.ceil(problem.group * problem.sq / DECODE_BLOCK_M)
    else:
        tiles = problem.batch * problem.heads * math.ceil(problem.sq / DECODE_BLOCK_M)
    slots = spec.sm_count * FLASH_SLOTS_PER_SM
    if tiles >= FLASH_FILL_FRACTION * slots:
        return 1
    blocks = math.ceil(problem.skv / split_kv_block_n(problem.d, 2))
    most = min(FLASH_MAX_SPLITS, slots, blocks)

    def eligible(splits: int) -> bool:  # 64 blocks over 11 or 12 splits are both 6 per split
        return splits == 1 or math.ceil(blocks / splits) != math.ceil(blocks / (splits - 1))

    efficiency = {}
    for splits in range(1, most + 1):
        if eligible(splits):
            waves = tiles * splits / slots
            efficiency[splits] = waves / math.ceil(waves)
    best = max(efficiency.values(), default=0.0)
    return next((s for s, e in efficiency.items() if e >= FLASH_EFFICIENCY_FRACTION * best), 1)


def fa2_tile(head_dim: int, spec: GPUSpec, *, causal: bool = False) -> tuple[int, int, int]:
    """FlashAttention-2's forward tile (block_m, block_n, warps) for `head_dim` on `spec`
    (`FA2_TILES`, `FA2_SM8X_TILES`)."""
    capability = spec.compute_capability
    if 8 < capability < 9 and FA2_TILES[0][0] < head_dim <= FA2_SM8X_TILES[-1][0]:  # 8.6, 8.9
        for largest, open_tile, causal_tile in FA2_SM8X_TILES:
            if head_dim <= largest:
                return causal_tile if causal else open_tile
    if head_dim > FA2_TILES[-2][0]:
        fits_one = 2 * head_dim * (128 + 2 * 64) <= spec.shared_memory_bytes_per_sm
        fits_two_small = 4 * head_dim * (64 + 2 * 64) <= spec.shared_memory_bytes_per_sm
        return (128, 64, 8) if fits_one and not fits_two_small else FA2_HDIM256_SMALL_TILE
    for largest, block_m, block_n, warps in FA2_TILES:
        if head_dim <= largest:
            return block_m, block_n, warps
    return FA2_HDIM256_SMALL_TILE


def split_kv_block_n(head_dim: int, splits: int) -> int:
    """Keys per block of FA2's split-KV kernel (`DECODE_BLOCK_M` docstring); any split count
    above one runs the split kernel's blocks (the heuristic counts those)."""
    if splits == 1:
        return 128 if head_dim <= 64 else 64
    return 256 if head_dim <= 64 else 128 if head_dim <= 128 else 64


def ctas_per_sm(
    problem: AttentionProblem,
    spec: GPUSpec,
    block_m: int,
    block_n: int,
    warps: int = ATTENTION_WARPS,
    *,
    registers: int = 0,
) -> int:
    """CTAs one SM holds: the Q tile and one K and one V block in shared memory (FA2's kernel
    traits: ``kSmemSize = kSmemQSize + kSmemKVSize``, K and V one block each); the output
    accumulator and the score block in registers (fp32, one register each), or `registers` per
    thread where the kernel's compiled count is known."""
    shared = block_m * problem.d * problem.q_bytes + block_n * (problem.d + problem.dv) * problem.kv_bytes
    threads = warps * THREADS_PER_WARP
    per_thread = (
        registers or block_m * (problem.dv + block_n) / threads + REGISTERS_PER_THREAD_BESIDES_ACCUMULATORS
    )
    if per_thread > MAX_REGISTERS_PER_THREAD or shared > spec.shared_memory_bytes_per_sm:
        return 0
    by_registers = spec.registers_per_sm // math.ceil(per_thread * threads)
    return min(by_registers, int(spec.shared_memory_bytes_per_sm // shared), MAX_CTAS_PER_SM)


def _partition(op: Op) -> Partition | None:
    """The partition an op's attrs name (a measured kernel that has only one), or None."""
    name = dict(op.attrs).get("partition")
    if name is None:
        return None
    try:
        return Partition(name)
    except ValueError:
        valid = ", ".join(p.value for p in Partition)
        raise WorkloadError(f"attention op {op.name!r}: partition {name!r}: valid: {valid}") from None


def _named(op: Op, name: str) -> Operand:
    for operand in op.operands:
        if operand.name == name:
            return operand
    raise KeyError(f"attention op {op.name!r} has no operand {name!r}")
