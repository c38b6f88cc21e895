"""W4A16 GEMM in Triton: ``C[M, N] = A[M, K] @ dequant(W)`` with fp16 activations and int4 weights.

The weight is packed by `reference_kernels.quant` (two codes per byte along K, fp16 scales and zero
points per group of K rows and column). Each K step loads a ``[BLOCK_K / 2, BLOCK_N]`` byte tile,
splits the nibbles, dequantizes ``(q - z) · s`` in registers and feeds the fp16 tile to `tl.dot`, so
the weight crosses DRAM at 4 bits per element (plus the scales), the point of the format.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from reference_kernels.quant import Int4Weight
from reference_kernels.triton_kernels.matmul import TileConfig, grouped_tile, pick_config, sm_count


@triton.jit
def _w4a16_kernel(
    a_ptr, w_ptr, s_ptr, z_ptr, c_ptr, M, N, K,
    stride_am, stride_ak, stride_wk, stride_wn, stride_sg, stride_sn, stride_cm, stride_cn,
    GROUP_SIZE: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):
    pid_m, pid_n = grouped_tile(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)

    HALF_K: tl.constexpr = BLOCK_K // 2
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    offs_kp = tl.arange(0, HALF_K)
    m_ok = offs_m < M
    n_ok = offs_n < N
    a_ptrs = a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak  # [BLOCK_M, BLOCK_K]
    w_ptrs = w_ptr + offs_kp[:, None] * stride_wk + offs_n[None, :] * stride_wn  # [BLOCK_K/2, BLOCK_N]
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    # K is a whole number of groups and GROUP_SIZE a multiple of BLOCK_K: no K tail, one scale row
    # per step.
    for k0 in range(0, K, BLOCK_K):
        a = tl.load(a_ptrs, mask=m_ok[:, None], other=0.0)
        packed = tl.load(w_ptrs, mask=n_ok[None, :], other=0)
        low = (packed & 0x0F).to(tl.float16)  # rows k0 + 2i
        high = (packed >> 4).to(tl.float16)  # rows k0 + 2i + 1
        codes = tl.reshape(tl.permute(tl.join(low, high), (0, 2, 1)), (BLOCK_K, BLOCK_N))
        group = k0 // GROUP_SIZE
        scale = tl.load(s_ptr + group * stride_sg + offs_n * stride_sn, mask=n_ok, other=0.0)
        zero = tl.load(z_ptr + group * stride_sg + offs_n * stride_sn, mask=n_ok, other=0.0)
        w = (codes - zero[None, :]) * scale[None, :]
        acc = tl.dot(a, w.to(tl.float16), acc)
        a_ptrs += BLOCK_K * stride_ak
        w_ptrs += HALF_K * stride_wk
    c_ptrs = c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn
    tl.store(c_ptrs, acc.to(tl.float16), mask=m_ok[:, None] & n_ok[None, :])


def pick_w4a16_config(m: int, n: int, k: int, group_size: int, sms: int) -> TileConfig:
    """`pick_config`'s fp16 tile with a K step that divides the group (one scale row per step)."""
    cfg = pick_config(m, n, k, 2, sms)
    block_k = min(cfg.block_k, group_size)
    while group_size % block_k:
        block_k //= 2
    return TileConfig(cfg.block_m, cfg.block_n, block_k, cfg.group_m, cfg.num_warps, cfg.num_stages)


def w4a16_matmul(a: torch.Tensor, weight: Int4Weight, *, config: TileConfig | None = None) -> torch.Tensor:
    """``a [M, K]`` fp16 ``@ dequant(weight) [K, N] -> [M, N]`` fp16, fp32 accumulation.

    The group size must be a multiple of 16 (the smallest `tl.dot` K step).
    """
    m, k = a.shape
    if a.dtype != torch.float16 or k != weight.k:
        raise ValueError(f"w4a16_matmul needs fp16 a [M, {weight.k}]; got {a.dtype} {tuple(a.shape)}")
    if weight.group_size % 16:
        raise ValueError(f"w4a16_matmul needs a group_size multiple of 16; got {weight.group_size}")
    n = weight.n
    cfg = config or pick_w4a16_config(m, n, k, weight.group_size, sm_count(a.device))
    if weight.group_size % cfg.block_k:
        raise ValueError(f"block_k = {cfg.block_k} must divide group_size = {weight.group_size}")
    c = torch.empty((m, n), dtype=torch.float16, device=a.device)
    grid = (triton.cdiv(m, cfg.block_m) * triton.cdiv(n, cfg.block_n),)
    _w4a16_kernel[grid](
        a, weight.packed, weight.scales, weight.zeros, c, m, n, k,
        a.stride(0), a.stride(1), weight.packed.stride(0), weight.packed.stride(1),
        weight.scales.stride(0), weight.scales.stride(1), c.stride(0), c.stride(1),
        GROUP_SIZE=weight.group_size,
        BLOCK_M=cfg.block_m, BLOCK_N=cfg.block_n, BLOCK_K=cfg.block_k, GROUP_M=cfg.group_m,
        num_warps=cfg.num_warps, num_stages=cfg.num_stages,
    )
    return c
