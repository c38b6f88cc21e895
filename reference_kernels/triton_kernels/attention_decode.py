"""Attention decode in Triton, split-KV flash-decoding: one query token against a K/V cache.

q is ``[B, H, D]`` (or ``[B, H, 1, D]``), the cache ``[B, Hkv, S, D]``. The cache is cut into
`num_splits` chunks along S; program ``(b · Hkv + kv_head, split)`` loads its chunk once and scores
it against all ``H / Hkv`` query heads of the group as one ``[BLOCK_G, D]`` tile (so GQA reads each
K/V byte once), leaving a partial output and its log-sum-exp per (head, split). A second kernel
merges the splits: ``o = Σ_s exp(lse_s - lse) · o_s`` (Dao et al., Flash-Decoding, 2023).
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from reference_kernels.triton_kernels.attention_prefill import LOG2E, check_heads
from reference_kernels.triton_kernels.matmul import sm_count

#: Cache rows per K/V block in the split kernel.
BLOCK_N = 64
#: Smallest row count of a `tl.dot` operand; a GQA group is padded up to it.
MIN_DOT_ROWS = 16
#: Programs per multiprocessor the split count aims for, so every SM has two to switch between
#: while one waits on DRAM (the occupancy flash-decoding's split heuristic targets).
PROGRAMS_PER_SM = 2


@triton.jit
def _split_kernel(
    q_ptr, k_ptr, v_ptr, o_part_ptr, lse_ptr, sm_scale, SEQ_KV, KV_HEADS, GROUP, CHUNK,
    stride_qb, stride_qh, stride_kb, stride_kh, stride_ks, stride_vb, stride_vh, stride_vs,
    stride_ob, stride_oh, stride_osplit, stride_lb, stride_lh,
    HEAD_DIM: tl.constexpr, BLOCK_G: tl.constexpr, BLOCK_N: tl.constexpr,
):
    pid_bkv = tl.program_id(0)
    split = tl.program_id(1)
    b = pid_bkv // KV_HEADS
    kv_h = pid_bkv % KV_HEADS
    offs_g = tl.arange(0, BLOCK_G)
    offs_d = tl.arange(0, HEAD_DIM)
    offs_n = tl.arange(0, BLOCK_N)
    heads = kv_h * GROUP + offs_g  # query heads of this group
    g_ok = offs_g < GROUP

    q_ptrs = q_ptr + b * stride_qb + heads[:, None] * stride_qh + offs_d[None, :]
    q = tl.load(q_ptrs, mask=g_ok[:, None], other=0.0)  # [BLOCK_G, HEAD_DIM]
    k_base = k_ptr + b * stride_kb + kv_h * stride_kh
    v_base = v_ptr + b * stride_vb + kv_h * stride_vh
    qk_scale = sm_scale * LOG2E
    m_i = tl.full((BLOCK_G,), float("-inf"), dtype=tl.float32)
    l_i = tl.zeros((BLOCK_G,), dtype=tl.float32)
    acc = tl.zeros((BLOCK_G, HEAD_DIM), dtype=tl.float32)
    start = split * CHUNK
    end = tl.minimum(start + CHUNK, SEQ_KV)
    for start_n in range(start, end, BLOCK_N):
        cols = start_n + offs_n
        n_ok = cols < end
        k = tl.load(k_base + cols[None, :] * stride_ks + offs_d[:, None], mask=n_ok[None, :], other=0.0)
        s = tl.dot(q, k) * qk_scale  # [BLOCK_G, BLOCK_N], log2 units
        s = tl.where(n_ok[None, :], s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        p = tl.exp2(s - m_new[:, None])
        alpha = tl.exp2(m_i - m_new)
        l_i = l_i * alpha + tl.sum(p, 1)
        v = tl.load(v_base + cols[:, None] * stride_vs + offs_d[None, :], mask=n_ok[:, None], other=0.0)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    o_ptrs = o_part_ptr + b * stride_ob + heads[:, None] * stride_oh + split * stride_osplit + offs_d[None, :]
    tl.store(o_ptrs, acc / l_i[:, None], mask=g_ok[:, None])
    tl.store(lse_ptr + b * stride_lb + heads * stride_lh + split, m_i + tl.log2(l_i), mask=g_ok)


@triton.jit
def _reduce_kernel(
    o_part_ptr, lse_ptr, o_ptr, NUM_SPLITS, HEADS,
    stride_pb, stride_ph, stride_psplit, stride_lb, stride_lh, stride_ob, stride_oh,
    HEAD_DIM: tl.constexpr, BLOCK_S: tl.constexpr,
):
    pid = tl.program_id(0)
    b = pid // HEADS
    h = pid % HEADS
    offs_s = tl.arange(0, BLOCK_S)
    offs_d = tl.arange(0, HEAD_DIM)
    s_ok = offs_s < NUM_SPLITS
    lse = tl.load(lse_ptr + b * stride_lb + h * stride_lh + offs_s, mask=s_ok, other=float("-inf"))
    parts = tl.load(
        o_part_ptr + b * stride_pb + h * stride_ph + offs_s[:, None] * stride_psplit + offs_d[None, :],
        mask=s_ok[:, None], other=0.0,
    )  # [BLOCK_S, HEAD_DIM]
    weights = tl.exp2(lse - tl.max(lse, 0))
    out = tl.sum(parts * weights[:, None], 0) / tl.sum(weights, 0)
    tl.store(o_ptr + b * stride_ob + h * stride_oh + offs_d, out.to(o_ptr.dtype.element_ty))


def pick_num_splits(batch: int, kv_heads: int, seq_kv: int, sms: int) -> int:
    """Splits so that ``B · Hkv · splits`` fills `PROGRAMS_PER_SM` programs per multiprocessor,
    with at least one `BLOCK_N` block per split."""
    wanted = triton.cdiv(PROGRAMS_PER_SM * sms, batch * kv_heads)
    return max(1, min(wanted, triton.cdiv(seq_kv, BLOCK_N)))


def attention_decode(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, num_splits: int | None = None
) -> torch.Tensor:
    """``q [B, H, D]`` or ``[B, H, 1, D]``, cache ``k, v [B, Hkv, S, D]`` -> o shaped like q.

    Scale ``1 / sqrt(D)``; no mask (every cached token is visible to the new one). `num_splits`
    defaults to `pick_num_splits`; it is cut to the number of non-empty chunks.
    """
    squeeze = q.dim() == 4
    q3 = q.squeeze(2) if squeeze else q
    batch, heads, head_dim = q3.shape
    if k.shape != v.shape or k.shape[0] != batch or k.shape[3] != head_dim or q3.stride(2) != 1:
        raise ValueError(f"need q [{batch}, H, D] contiguous in D and k, v [{batch}, Hkv, S, {head_dim}]")
    if k.stride(3) != 1 or v.stride(3) != 1:
        raise ValueError("k and v need a contiguous head dimension")
    kv_heads, seq_kv = k.shape[1], k.shape[2]
    group = check_heads(heads, kv_heads, head_dim)
    splits = num_splits or pick_num_splits(batch, kv_heads, seq_kv, sm_count(q.device))
    chunk = triton.cdiv(triton.cdiv(seq_kv, splits), BLOCK_N) * BLOCK_N
    splits = triton.cdiv(seq_kv, chunk)
    o_part = torch.empty((batch, heads, splits, head_dim), dtype=torch.float32, device=q.device)
    lse = torch.empty((batch, heads, splits), dtype=torch.float32, device=q.device)
    _split_kernel[(batch * kv_heads, splits)](
        q3, k, v, o_part, lse, 1.0 / math.sqrt(head_dim), seq_kv, kv_heads, group, chunk,
        q3.stride(0), q3.stride(1), k.stride(0), k.stride(1), k.stride(2),
        v.stride(0), v.stride(1), v.stride(2),
        o_part.stride(0), o_part.stride(1), o_part.stride(2), lse.stride(0), lse.stride(1),
        HEAD_DIM=head_dim, BLOCK_G=max(MIN_DOT_ROWS, triton.next_power_of_2(group)), BLOCK_N=BLOCK_N,
        num_warps=4, num_stages=2,
    )
    o = torch.empty((batch, heads, head_dim), dtype=q.dtype, device=q.device)
    _reduce_kernel[(batch * heads,)](
        o_part, lse, o, splits, heads,
        o_part.stride(0), o_part.stride(1), o_part.stride(2), lse.stride(0), lse.stride(1),
        o.stride(0), o.stride(1),
        HEAD_DIM=head_dim, BLOCK_S=triton.next_power_of_2(splits), num_warps=4,
    )
    return o.unsqueeze(2) if squeeze else o
