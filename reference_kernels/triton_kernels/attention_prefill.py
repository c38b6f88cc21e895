"""Attention prefill in Triton, FlashAttention-2 style: ``O = softmax(Q Kᵀ · scale) V`` per head.

Q and O are ``[B, H, Sq, D]``, K and V ``[B, Hkv, Skv, D]``; query head ``h`` reads K/V head
``h // (H / Hkv)`` (grouped-query attention). One program owns ``BLOCK_M`` query rows of one head
and streams K/V in ``BLOCK_N`` blocks with an online softmax (running max ``m``, running sum ``l``),
so the ``Sq × Skv`` score matrix never leaves registers (Dao, FlashAttention-2, 2023, Algorithm 1).
The causal mask is top-left aligned like torch's ``is_causal``: query ``i`` sees keys ``j ≤ i``, and
blocks wholly above the diagonal are skipped.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

#: log2(e): the kernel computes exp(x) as exp2(x · log2 e), the form the GPU's MUFU unit evaluates.
LOG2E = tl.constexpr(1.4426950408889634)


@triton.jit
def _prefill_kernel(
    q_ptr, k_ptr, v_ptr, o_ptr, sm_scale, SEQ_Q, SEQ_KV, HEADS, GROUP,
    stride_qb, stride_qh, stride_qs, stride_kb, stride_kh, stride_ks,
    stride_vb, stride_vh, stride_vs, stride_ob, stride_oh, stride_os,
    HEAD_DIM: tl.constexpr, CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // HEADS
    h = pid_bh % HEADS
    kv_h = h // GROUP
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    m_ok = offs_m < SEQ_Q

    q_ptrs = q_ptr + b * stride_qb + h * stride_qh + offs_m[:, None] * stride_qs + offs_d[None, :]
    q = tl.load(q_ptrs, mask=m_ok[:, None], other=0.0)  # [BLOCK_M, HEAD_DIM]
    k_base = k_ptr + b * stride_kb + kv_h * stride_kh
    v_base = v_ptr + b * stride_vb + kv_h * stride_vh
    qk_scale = sm_scale * LOG2E

    m_i = tl.full((BLOCK_M,), float("-inf"), dtype=tl.float32)
    l_i = tl.zeros((BLOCK_M,), dtype=tl.float32)
    acc = tl.zeros((BLOCK_M, HEAD_DIM), dtype=tl.float32)
    end_n = tl.minimum(SEQ_KV, (pid_m + 1) * BLOCK_M) if CAUSAL else SEQ_KV
    for start_n in range(0, end_n, BLOCK_N):
        cols = start_n + offs_n
        n_ok = cols < SEQ_KV
        k = tl.load(k_base + cols[None, :] * stride_ks + offs_d[:, None], mask=n_ok[None, :], other=0.0)
        s = tl.dot(q, k) * qk_scale  # [BLOCK_M, BLOCK_N], log2 units
        keep = n_ok[None, :]
        if CAUSAL:
            keep = keep & (cols[None, :] <= offs_m[:, None])
        s = tl.where(keep, s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        p = tl.exp2(s - m_new[:, None])
        alpha = tl.exp2(m_i - m_new)
        l_i = l_i * alpha + tl.sum(p, 1)
        v = tl.load(v_base + cols[:, None] * stride_vs + offs_d[None, :], mask=n_ok[:, None], other=0.0)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    out = acc / l_i[:, None]
    o_ptrs = o_ptr + b * stride_ob + h * stride_oh + offs_m[:, None] * stride_os + offs_d[None, :]
    tl.store(o_ptrs, out.to(o_ptr.dtype.element_ty), mask=m_ok[:, None])


def check_heads(heads: int, kv_heads: int, head_dim: int) -> int:
    """The GQA group ``H / Hkv``; `ValueError` for a ragged group or a head dim Triton cannot tile."""
    if kv_heads <= 0 or heads % kv_heads:
        raise ValueError(f"heads = {heads} must be a multiple of kv_heads = {kv_heads}")
    if head_dim < 16 or head_dim & (head_dim - 1):
        raise ValueError(f"head_dim must be a power of two ≥ 16; got {head_dim}")
    return heads // kv_heads


def attention_prefill(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    block_m: int | None = None,
    block_n: int | None = None,
) -> torch.Tensor:
    """``q [B, H, Sq, D]``, ``k, v [B, Hkv, Skv, D]`` (fp16 or bf16) ``-> o [B, H, Sq, D]``.

    Scale ``1 / sqrt(D)``. Blocks default to 128 × 64 query × key rows (64 × 64 for D > 64, which
    keeps the fp32 accumulator within registers), the FlashAttention-2 forward's tile on A100/H100.
    """
    batch, heads, seq_q, head_dim = q.shape
    if k.shape != v.shape or k.shape[0] != batch or k.shape[3] != head_dim:
        raise ValueError(f"k and v must be [{batch}, Hkv, Skv, {head_dim}]; got {tuple(k.shape)}")
    group = check_heads(heads, k.shape[1], head_dim)
    if q.stride(3) != 1 or k.stride(3) != 1 or v.stride(3) != 1:
        raise ValueError("q, k and v need a contiguous head dimension")
    block_m = block_m or (128 if head_dim <= 64 else 64)
    block_n = block_n or 64
    o = torch.empty_like(q)
    grid = (triton.cdiv(seq_q, block_m), batch * heads)
    _prefill_kernel[grid](
        q, k, v, o, 1.0 / math.sqrt(head_dim), seq_q, k.shape[2], heads, group,
        q.stride(0), q.stride(1), q.stride(2), k.stride(0), k.stride(1), k.stride(2),
        v.stride(0), v.stride(1), v.stride(2), o.stride(0), o.stride(1), o.stride(2),
        HEAD_DIM=head_dim, CAUSAL=causal, BLOCK_M=block_m, BLOCK_N=block_n,
        num_warps=4 if head_dim <= 64 else 8, num_stages=3,
    )
    return o
