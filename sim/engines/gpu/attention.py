"""Fused attention on a GPU: every partition of `mappers.gpu_attention` costed with the wave model
of `sim.engines.gpu.timing`, and the fastest kept.

Per K/V block of ``bn`` keys a CTA with ``bm`` query rows does ``bm·bn·(D + Dv)`` tensor-core MACs
(Q·Kᵀ then P·V) at `attention_tensor_fraction` of the SM's rate (of ``mma.sync``'s rate for a
kernel that issues it: FlashAttention-2; the fraction as the SM's tensor rate carries it from its
reference SM's, `GPUSpec.transferred_fraction`), the online softmax of its ``bm·bn`` scores on the CUDA
cores (`SOFTMAX_INSTRUCTIONS_PER_SCORE`) and the special-function units (one exp per score), the
rescale of its ``bm × Dv`` accumulator, and the conversion of a narrower K/V cache; it loads the
block's K and V through L2. The softmax runs beside the matmuls or after them as the kernel does
(`mappers.gpu_attention.AttentionKernel`), so the GPU's balance sets the efficiency: on an H100
a 128×128 block at head dim 128 is ``128·128·256 / 1365 = 3072`` cycles of ``mma.sync``, ``16384
/ 16 = 1024`` of exp on the SFUs and ``16384 · 4 / 128 = 512`` of CUDA-core softmax: FA2 (in
series) spends 4608 cycles where the tensor cores alone need 2048 at the ``wgmma`` rate (44%
before its tensor fraction), FA3 (``wgmma``, 60% of its softmax hidden: `FA3_SOFTMAX_OVERLAP`)
2048 + 0.4·1536 = 2662, so at head dim 64 (half the matmul cycles, the same softmax) it keeps less
of the tensor rate and at 256 more, as the FA3 paper's Figure 5 shows. On an H20, whose
tensor cores do 480 MACs/cycle (``mma.sync`` 320), FA2's matmuls take 13107 cycles and its
softmax, all of it in series, would add 12%.
DRAM reads Q, K and V once (the query tiles and grouped query heads of one K/V head find it in
L2) and writes O.

* FA2: CTAs = ceil(Sq/bm)·H·B. Causal: a query block visits the K/V blocks up to its diagonal;
  CTAs are costed at the mean length, and the kernel lasts no less than its busiest SM when the
  CTAs are dispatched in the kernel's launch order (ascending per head, or longest first), each
  freed slot taking the next (`_no_shorter_than_its_busiest_sm`).
* split-KV: CTAs = B·Hkv·ceil(g·Sq/bm)·splits over ``Skv/splits`` keys each; each writes an fp32
  partial output and its log-sum-exp, and a reduction kernel combines them (a second launch). A
  kernel with one CTA per query head (`AttentionKernel.per_query_head`) runs B·H·ceil(Sq/bm)·splits
  CTAs, each loading its K/V head through L2 (g times the bytes; DRAM still once), and its key
  loops (`kv_passes`: Q·Kᵀ, then P·V) each wait on their loads step by step. Where a kernel's
  decode instructions were counted in its SASS (`AttentionKernel.decode_sass`: TensorRT-LLM's
  masked MHA, vLLM's PagedAttention), a CTA spends per key the longer of its issue slots at four warp
  instructions a clock (`ISSUE_SLOTS_PER_CYCLE_PER_SM`) and its FP32 instructions at the FP32
  pipe's rate, instead of the FMA per MAC and the softmax the model otherwise derives: 1866 slots
  per key on an H100 with an fp8 paged cache (14.6 clocks), against 256 MACs, so the 32 query
  heads of a GQA-4 model issue as many instructions as an MHA model's and Mistral-7B's decode is
  bound by them, not by its 4x smaller K/V.
* lean: every CTA of a grid sized to the GPU's CTA slots (or a fraction of them) takes an equal
  share of the (head, K/V block) units; heads split across CTAs write partials that the CTA
  owning the head's end combines in-kernel (no launch).
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import math
from dataclasses import dataclass

from hwmodels.errors import HardwareSpecError
from hwmodels.gpu import GPUSpec
from mappers.gpu_attention import (
    ATTENTION_STAGES,
    DECODE_MAX_QUERY_ROWS,
    ISSUE_SLOTS_PER_CYCLE_PER_SM,
    LONGEST_FIRST,
    AttentionKernel,
    AttentionPlan,
    AttentionProblem,
    Partition,
    attention_kernel,
    candidate_plans,
    fa3_l2_section_heads,
    issue_slots_per_key,
    stacks_group,
)
from mappers.gpu_gemm import PARTIAL_SUM_BYTES
from sim.engines.gpu.timing import (
    FILL_AND_DRAIN_LATENCIES,
    FLOPS_PER_CUDA_CORE_INSTRUCTION,
    CtaWork,
    KernelCost,
    KernelTime,
    follow_on_kernel,
    kernel_time,
    mac_rate_per_sm,
    sm_compute_s,
)
from workloads.errors import WorkloadError

#: CUDA-core instructions per score of FlashAttention-2's online softmax: one FMA scaling the score
#: and subtracting the running max, one max, one add into the row sum, one conversion of the
#: probability to 16 bits (FA2 paper, Dao 2023, §3.1 Algorithm 1, lines 8–10); the exp is one
#: special-function op (MUFU.EX2) besides.
SOFTMAX_INSTRUCTIONS_PER_SCORE = 4
#: Bytes of the log-sum-exp a split-KV partial stores per query row (fp32).
LSE_BYTES = 4


@dataclass(frozen=True, kw_only=True)
class AttentionCost(KernelCost):
    """A costed attention schedule; the reduction kernel is split-KV's."""

    plan: AttentionPlan

    @property
    def launches(self) -> int:
        """Kernels launched: the attention kernel, and split-KV's combine (lean combines in-kernel)."""
        return 2 if self.plan.partition is Partition.SPLIT_KV and self.reduce_s > 0 else 1

    def describe(self) -> str:
        return f"{self.plan.describe()} waves {self.main.waves:.2f}"


def _batched_load_waits(kernel: AttentionKernel, keys: int) -> float:
    """Memory latencies a decode CTA waits in series over its `keys` where the kernel issues its
    K and V loads in batches (`AttentionKernel.decode_load_batches`: keys per batch of each pass),
    one latency per batch; 0 where it pipelines them (the stages' chain)."""
    if not kernel.decode_load_batches:
        return 0.0
    return float(sum(math.ceil(keys / batch) for batch in kernel.decode_load_batches))


def cost_attention(problem: AttentionProblem, plan: AttentionPlan, spec: GPUSpec) -> AttentionCost:
    """Time and traffic of `problem` under `plan` (see the module docstring)."""
    bm, bn = plan.block_m, plan.block_n
    kernel = attention_kernel(problem.kernel, spec.compute_capability)
    # a decode CTA's real query rows: a GQA group's stacked heads, or one head's (`per_query_head`)
    # a split-KV CTA's rows: one query head's, or a GQA group's stacked (`stacks_group`)
    per_head = plan.partition is Partition.SPLIT_KV and not stacks_group(kernel, problem)
    group = 1 if per_head else problem.group
    rows_per_cta = min(bm, group * problem.sq)
    kv_blocks = math.ceil(problem.skv / bn)
    if plan.partition is Partition.FA2:
        ctas = math.ceil(problem.sq / bm) * problem.heads * problem.batch
        steps = _mean_blocks(problem, bm, bn) if problem.causal else kv_blocks
        partial_rows = 0
    else:
        head_ctas = problem.heads if per_head else problem.kv_heads
        row_tiles = problem.batch * head_ctas * math.ceil(group * problem.sq / bm)
        if plan.partition is Partition.SPLIT_KV:
            ctas = row_tiles * plan.splits
            steps = math.ceil(math.ceil(problem.skv / plan.splits) / bn)
            partial_rows = ctas * rows_per_cta if plan.splits > 1 else 0
        else:
            grid = max(1, spec.sm_count * plan.ctas_per_sm // plan.grid_divisor)
            ctas = min(grid, row_tiles * kv_blocks)
            steps = math.ceil(row_tiles * kv_blocks / ctas)
            partial_rows = ctas * rows_per_cta if ctas > row_tiles else 0
    partial_bytes = partial_rows * (problem.dv * PARTIAL_SUM_BYTES + LSE_BYTES)
    # a CUDA-core decode kernel multiplies the real query rows, one FMA per MAC; a tensor-core tile
    # multiplies all its `bm` rows, padding included (`AttentionKernel.cuda_cores`)
    on_cuda_cores = kernel.cuda_cores and plan.partition is not Partition.FA2
    rows = rows_per_cta if on_cuda_cores else bm
    macs = steps * rows * bn * (problem.d + problem.dv)
    counted = on_cuda_cores and kernel.decode_sass
    counts = kernel.decode_sass(problem, spec.compute_capability) if counted else None
    if counts:  # counted in its SASS, per key
        fp32_per_cycle = spec.cuda_core_flops_per_cycle_per_sm / FLOPS_PER_CUDA_CORE_INSTRUCTION
        issue = issue_slots_per_key(counts) / ISSUE_SLOTS_PER_CYCLE_PER_SM
        cycles_per_key = max(issue, counts.fp32 / fp32_per_cycle)
        cuda_ops = steps * bn * cycles_per_key * fp32_per_cycle  # in the FP32 instructions `cuda_ops` counts
    else:
        cuda_ops = (macs if on_cuda_cores else 0.0) + steps * (
            rows * bn * SOFTMAX_INSTRUCTIONS_PER_SCORE
            + rows * problem.dv
            + problem.kv_dequant * kernel.kv_converting_warps(bm) * bn * (problem.d + problem.dv)
        )
    work = CtaWork(
        tensor_macs=0.0 if on_cuda_cores else macs,
        tensor_macs_per_s=mac_rate_per_sm(
            spec,
            problem.math_dtype,
            sparse=False,
            fraction=spec.attention_tensor_fraction,
            mma_sync=kernel.mma_sync,
        ),
        overlap=kernel.overlap,
        cuda_ops=cuda_ops,
        sfu_ops=steps * rows * bn,
        l2_bytes=steps * bn * (problem.d + problem.dv) * problem.kv_bytes
        + rows * problem.d * problem.q_bytes,
        steps=steps * (kernel.kv_passes if plan.partition is Partition.SPLIT_KV else 1),
        stages=ATTENTION_STAGES,
        latency_waits=_batched_load_waits(kernel, steps * bn) if plan.partition is Partition.SPLIT_KV
        else 0.0,
        # each step waits on its loads `loads_waited_per_block` times (FA2's tile loop: K, then V);
        # a CUDA-core decode runs a loop of its own (its passes, `kv_passes`)
        waits_per_step=1 if on_cuda_cores else kernel.loads_waited_per_block,
    )
    reads = problem.q_total_bytes + problem.kv_total_bytes
    main_writes = partial_bytes or problem.o_total_bytes  # split-KV's main kernel writes only partials
    main = kernel_time(
        spec, work, ctas=ctas, ctas_per_sm=plan.ctas_per_sm,
        dram_bytes_of_wave=lambda wave_ctas: (reads + main_writes) * wave_ctas / ctas,
    )
    if plan.partition is Partition.FA2 and problem.causal:
        main = _no_shorter_than_its_busiest_sm(
            main, work, problem, plan, kernel, spec, (reads + main_writes) / ctas)
    combine_bytes = partial_bytes + problem.o_total_bytes if partial_bytes else 0.0  # read partials, write O
    reduce_write_back = 0.0
    if plan.partition is Partition.SPLIT_KV and partial_bytes:
        reduce_s, reduce_write_back = follow_on_kernel(
            spec, main, combine_bytes, cuda_flops=partial_rows * problem.dv * 2
        )
    elif partial_bytes:  # lean: the CTA owning a head's end combines its partials in-kernel
        reduce_s = combine_bytes / spec.achievable_dram_bytes_per_s + spec.memory_latency_s
    else:
        reduce_s = 0.0
    writes = partial_bytes + problem.o_total_bytes
    return AttentionCost(
        plan=plan,
        main=main,
        reduce_s=reduce_s,
        dram_read_bytes=reads + partial_bytes,
        dram_write_bytes=writes + main.write_back_bytes + reduce_write_back,
    )


def _no_shorter_than_its_busiest_sm(
    main: KernelTime, work: CtaWork, problem: AttentionProblem, plan: AttentionPlan, kernel: AttentionKernel,
    spec: GPUSpec, bytes_per_cta: float,
) -> KernelTime:
    """A causal kernel lasts as long as its busiest SM, where the wave model charges every CTA the
    mean length (`_mean_blocks`). Query block i visits `_blocks_visited` K/V blocks, and the CTAs
    reach the SMs in the kernel's order (`launch_order`): the block scheduler places the grid in
    launch order across the SMs, then gives each slot that frees the next CTA (a persistent
    kernel's atomic tile counter does the same). `_busiest_sm_s` plays that out; where the
    kernel's order is not known, only the longest CTA alone bounds the kernel. A CTA alone on its
    SM takes the time of a lone CTA per block (`kernel_time` of one CTA: its arithmetic, or its
    loads' latency chain where longer); ``k`` CTAs sharing an SM share its arithmetic. With one
    wave or less nothing back-fills: 2048 causal tokens in 128-row blocks visit 2 to 32 64-key
    blocks, 17 on the mean, so the 32-block CTA sets the time. With more, an ascending order
    leaves each head's longest blocks for last: 16 heads of 16 such blocks on 132 one-CTA SMs
    end after 27 blocks' time where the mean gives 17."""
    query_blocks = math.ceil(problem.sq / plan.block_m)
    ctas = query_blocks * problem.heads * problem.batch
    if not kernel.causal_order or ctas > MAX_DISPATCHED_WAVES * spec.sm_count * plan.ctas_per_sm:
        lengths = [_blocks_visited(problem, query_blocks - 1, plan.block_m, plan.block_n)]  # the longest
    else:
        lengths = launch_order(problem, plan, kernel)
    alone = kernel_time(spec, work, ctas=1, ctas_per_sm=plan.ctas_per_sm,
                        dram_bytes_of_wave=lambda _: bytes_per_cta)
    outside = FILL_AND_DRAIN_LATENCIES * spec.memory_latency_s + spec.launch_overhead_s
    lone_s = (alone.total_s - outside) / work.steps
    arithmetic_s = sm_compute_s(spec, work, 1) / work.steps
    # the play-out scales with its two rates together: cached per ratio (a causal block always has
    # tensor work, so the arithmetic time is positive)
    ratio = float(f"{lone_s / arithmetic_s:.{RATE_RATIO_DIGITS}g}")
    played = arithmetic_s * _busiest_sm_units(tuple(lengths), spec.sm_count, plan.ctas_per_sm, ratio)
    busiest = played + outside
    return dataclasses.replace(main, total_s=busiest) if busiest > main.total_s else main


#: Waves of CTAs up to which `_no_shorter_than_its_busiest_sm` plays out the dispatch; beyond, only
#: the longest CTA alone bounds the kernel (the play-out's cost grows with the CTAs, and the tail
#: it finds over the mean, one longest CTA at most, twice a mean one, is a thirty-second of such a
#: kernel or less).
MAX_DISPATCHED_WAVES = 64


def launch_order(problem: AttentionProblem, plan: AttentionPlan, kernel: AttentionKernel) -> list[int]:
    """K/V blocks of each causal CTA in the order the kernel hands them to the SMs
    (`AttentionKernel.causal_order`): query blocks ascending within each (batch, head), or, longest
    first (FlashAttention-3's ``DynamicPersistentTileScheduler``), query blocks descending with the
    (batch, head) pairs of an L2 section (`fa3_l2_section_heads`) innermost."""
    query_blocks = math.ceil(problem.sq / plan.block_m)
    lengths = [_blocks_visited(problem, i, plan.block_m, plan.block_n) for i in range(query_blocks)]
    head_batches = problem.heads * problem.batch
    if kernel.causal_order != LONGEST_FIRST:
        return lengths * head_batches
    section = fa3_l2_section_heads(problem)
    order: list[int] = []
    for first in range(0, head_batches, section):
        width = min(section, head_batches - first)
        order.extend(length for length in reversed(lengths) for _ in range(width))
    return order


#: Significant digits of a lone CTA's time per block over its share of the SM's arithmetic kept when
#: `_busiest_sm_units` caches a play-out: the result moves by less than 0.05% for the rounding,
#: and a calibration's probes, which scale both rates together, reuse it.
RATE_RATIO_DIGITS = 3
#: Finishes closer than this fraction of a block's time are simultaneous in `_busiest_sm_s`.
TIE_TICK = 1e-6


@functools.lru_cache(maxsize=4096)
def _busiest_sm_units(lengths: tuple[int, ...], sms: int, per_sm: int, lone_ratio: float) -> float:
    """`_busiest_sm_s` in units of the arithmetic time per block (its time is homogeneous in the
    two rates: doubling both doubles it), for a lone CTA `lone_ratio` times slower per block."""
    return _busiest_sm_s(list(lengths), sms, per_sm, lone_ratio, 1.0)


def _busiest_sm_s(lengths: list[int], sms: int, per_sm: int, lone_s: float, arithmetic_s: float) -> float:
    """When the last of `lengths` (K/V blocks per CTA, in launch order) finishes: the first ``sms ·
    per_sm`` CTAs placed across the SMs in turn (CTA j on SM ``j mod sms``), each later one on the
    SM whose slot freed first (the lower-numbered on a tie: finishes closer than `TIE_TICK` of a
    block's time count as one, so rounding in the rates cannot reorder identical CTAs). ``k`` CTAs
    on an SM each take ``max(lone_s, k · arithmetic_s)`` per block."""
    pending = iter(lengths)
    remaining: list[list[float]] = [[] for _ in range(sms)]
    for j, length in zip(range(sms * per_sm), pending, strict=False):
        remaining[j % sms].append(float(length))
    since = [0.0] * sms
    tick = TIE_TICK * min(lone_s, arithmetic_s)
    events = []
    for sm in range(sms):
        if remaining[sm]:
            per_block = max(lone_s, len(remaining[sm]) * arithmetic_s)
            finish = min(remaining[sm]) * per_block
            events.append((round(finish / tick), sm, finish))
    heapq.heapify(events)
    end = 0.0
    while events:
        _, sm, now = heapq.heappop(events)
        per_block = max(lone_s, len(remaining[sm]) * arithmetic_s)
        done = (now - since[sm]) / per_block
        left = [blocks - done for blocks in remaining[sm]]
        running = [blocks for blocks in left if blocks > 1e-9]
        freed = len(left) - len(running)
        running.extend(float(length) for _, length in zip(range(freed), pending, strict=False))
        remaining[sm], since[sm], end = running, now, now
        if running:
            per_block = max(lone_s, len(running) * arithmetic_s)
            finish = now + min(running) * per_block
            heapq.heappush(events, (round(finish / tick), sm, finish))
    return end


def _blocks_visited(problem: AttentionProblem, i: int, bm: int, bn: int) -> int:
    """K/V blocks causal query block i visits: its rows ``[i·bm, (i+1)·bm)`` keep keys up to the last
    row's index (torch's top-left ``is_causal``), ``min(ceil((i+1)·bm / bn), ceil(Skv / bn))``; under a
    bottom-right mask up to that index plus `AttentionProblem.causal_offset` (``Skv − Sq``): a chunk
    of 256 queries over 8192 keys in 128-row blocks of 128 keys visits 63 and 64 blocks."""
    last_key = problem.causal_offset + min((i + 1) * bm, problem.sq)
    return min(math.ceil(last_key / bn), math.ceil(problem.skv / bn))


def _mean_blocks(problem: AttentionProblem, bm: int, bn: int) -> float:
    """Mean K/V blocks a causal query block visits (`_blocks_visited`)."""
    query_blocks = math.ceil(problem.sq / bm)
    return sum(_blocks_visited(problem, i, bm, bn) for i in range(query_blocks)) / query_blocks


@functools.lru_cache(maxsize=1024)
def best_attention(problem: AttentionProblem, spec: GPUSpec) -> AttentionCost:
    """The fastest partition (the first listed on a tie); an error when the GPU has no path for the
    query's dtype or no partition fits its shared memory."""
    mac_rate_per_sm(spec, problem.math_dtype, sparse=False, fraction=1.0)
    plans = candidate_plans(problem, spec)
    if not plans and problem.only is not None:
        raise WorkloadError(
            f"attention partition {problem.only.value!r} does not apply to this shape (split-kv and "
            f"lean run only non-causal attention of up to {DECODE_MAX_QUERY_ROWS} query rows per "
            "K/V head: decode)"
        )
    if not plans:
        raise HardwareSpecError(
            f"hardware {spec.name!r}: no attention tiling of head dim {problem.d} fits "
            f"shared_memory_bytes_per_sm = {spec.shared_memory_bytes_per_sm}"
        )
    return min((cost_attention(problem, plan, spec) for plan in plans), key=lambda cost: cost.total_s)
