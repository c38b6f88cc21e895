"""W8A16 GEMM in Triton: ``C[M, N] = A[M, K] @ (Q · s)`` with fp16 activations and int8 weights.

The weight is quantized per output channel by `reference_kernels.quant.quantize_int8` (int8 codes
``[K, N]``, one fp16 scale per column). A column's scale is common to its whole K sum, so the kernel
converts each ``[BLOCK_K, BLOCK_N]`` code tile to fp16 in registers, accumulates ``A · Q`` in fp32
and scales the accumulators once in the epilogue, as gpt-fast's ``F.linear(x, w.to(x.dtype)) *
scales`` does: the weight crosses DRAM at one byte per element, the point of the format.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from reference_kernels.quant import Int8Weight
from reference_kernels.triton_kernels.matmul import TileConfig, grouped_tile, pick_config, sm_count


@triton.jit
def _w8a16_kernel(
    a_ptr, w_ptr, s_ptr, c_ptr, M, N, K,
    stride_am, stride_ak, stride_wk, stride_wn, stride_cm, stride_cn,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):
    pid_m, pid_n = grouped_tile(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)

    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    m_ok = offs_m < M
    n_ok = offs_n < N
    a_ptrs = a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak  # [BLOCK_M, BLOCK_K]
    w_ptrs = w_ptr + offs_k[:, None] * stride_wk + offs_n[None, :] * stride_wn  # [BLOCK_K, BLOCK_N]
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        k_ok = offs_k < K - k0
        a = tl.load(a_ptrs, mask=m_ok[:, None] & k_ok[None, :], other=0.0)
        q = tl.load(w_ptrs, mask=k_ok[:, None] & n_ok[None, :], other=0)
        acc = tl.dot(a, q.to(tl.float16), acc)  # int8 codes are exact in fp16
        a_ptrs += BLOCK_K * stride_ak
        w_ptrs += BLOCK_K * stride_wk
    scale = tl.load(s_ptr + offs_n, mask=n_ok, other=0.0).to(tl.float32)
    c_ptrs = c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn
    tl.store(c_ptrs, (acc * scale[None, :]).to(tl.float16), mask=m_ok[:, None] & n_ok[None, :])


def w8a16_matmul(a: torch.Tensor, weight: Int8Weight, *, config: TileConfig | None = None) -> torch.Tensor:
    """``a [M, K]`` fp16 ``@ (codes · scales) [K, N] -> [M, N]`` fp16, fp32 accumulation.

    The tile is `pick_config`'s for fp16 operands (the dot runs in fp16)."""
    m, k = a.shape
    if a.dtype != torch.float16 or k != weight.k:
        raise ValueError(f"w8a16_matmul needs fp16 a [M, {weight.k}]; got {a.dtype} {tuple(a.shape)}")
    n = weight.n
    cfg = config or pick_config(m, n, k, 2, sm_count(a.device))
    c = torch.empty((m, n), dtype=torch.float16, device=a.device)
    grid = (triton.cdiv(m, cfg.block_m) * triton.cdiv(n, cfg.block_n),)
    _w8a16_kernel[grid](
        a, weight.codes, weight.scales, c, m, n, k,
        a.stride(0), a.stride(1), weight.codes.stride(0), weight.codes.stride(1), c.stride(0), c.stride(1),
        BLOCK_M=cfg.block_m, BLOCK_N=cfg.block_n, BLOCK_K=cfg.block_k, GROUP_M=cfg.group_m,
        num_warps=cfg.num_warps, num_stages=cfg.num_stages,
    )
    return c
