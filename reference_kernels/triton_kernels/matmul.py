"""Tiled GEMM in Triton: ``C[M, N] = A[M, K] @ B[K, N]`` with fp16, bf16, fp8 (e4m3) or int8 operands.

Float products accumulate in fp32 and the result is stored in fp16 or bf16; int8 products (W8A8,
the integer tensor-core path) accumulate and are stored in int32, as ``torch._int_mm`` returns them.
Tiles are constexpr configurations picked per shape by `pick_config` (no autotuning, so a measured
row always names the tile that ran and a rerun times the same code). B may be row-major ``[K, N]``
or the transpose view of a row-major ``[N, K]`` weight (strides ``(1, K)``); fp8 and int8 on
Hopper want the latter, the layout ``torch._scaled_mm`` and ``torch._int_mm`` take.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl

#: Streaming multiprocessors of an H100 SXM (NVIDIA H100 datasheet), the default CTA target when no
#: GPU is visible (the interpreter); on a GPU the count is read from the device.
H100_SMS = 132

_OUT_DTYPES = (torch.float16, torch.bfloat16)
_IN_DTYPES = (torch.float16, torch.bfloat16, torch.float8_e4m3fn, torch.int8)


@dataclass(frozen=True)
class TileConfig:
    """A GEMM tile: ``block_m × block_n`` outputs per program, ``block_k`` of K per step."""

    block_m: int
    block_n: int
    block_k: int
    group_m: int
    num_warps: int
    num_stages: int


def sm_count(device: torch.device) -> int:
    """Multiprocessors of a CUDA device, or `H100_SMS` for a CPU tensor (the interpreter)."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).multi_processor_count
    return H100_SMS


def pick_config(m: int, n: int, k: int, element_bytes: int, sms: int) -> TileConfig:
    """A tile for ``M × N × K`` with operands of `element_bytes` bytes.

    Decode GEMVs (M ≤ 16) take 16-row tiles and wide K steps, since they stream the weight once;
    otherwise 128 × 128 tiles (64 × 128 for M ≤ 64, or when 128-row tiles would leave more than
    half the multiprocessors without a tile). A K step spans 128 bytes of a row (64 fp16 or 128
    fp8 elements), one 128-byte memory transaction, as in Triton's matmul tutorial's configs.
    """
    block_k = 128 // element_bytes
    if m <= 16:
        return TileConfig(16, 64, 2 * block_k, 1, 4, 4)
    block_m = 128 if m > 64 else 64
    block_n = 128
    while block_m > 64 and triton.cdiv(m, block_m) * triton.cdiv(n, block_n) < sms // 2:
        block_m //= 2
    return TileConfig(block_m, block_n, block_k, 8, 8 if block_m * block_n >= 128 * 128 else 4, 4)


@triton.jit
def grouped_tile(pid, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, GROUP_M: tl.constexpr):
    """The (row, column) of the output tile program `pid` computes: programs walk the tiles in
    groups of GROUP_M tile rows, column by column, so that neighbours share B tiles in L2 (Triton's
    matmul tutorial; CUTLASS's threadblock swizzle). Shared by the GEMM kernels of this package."""
    num_m = tl.cdiv(M, BLOCK_M)
    num_n = tl.cdiv(N, BLOCK_N)
    group_size = GROUP_M * num_n
    first_m = (pid // group_size) * GROUP_M
    rows_in_group = min(num_m - first_m, GROUP_M)
    return first_m + (pid % group_size) % rows_in_group, (pid % group_size) // rows_in_group


@triton.jit
def _matmul_kernel(
    a_ptr, b_ptr, c_ptr, M, N, K,
    stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
    UPCAST_DOT: tl.constexpr, INT8: tl.constexpr,
):
    pid_m, pid_n = grouped_tile(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)

    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak  # [BLOCK_M, BLOCK_K]
    b_ptrs = b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn  # [BLOCK_K, BLOCK_N]
    if INT8:  # int8 products accumulate exactly in int32
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.int32)
    else:
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        k_ok = offs_k < K - k0
        a = tl.load(a_ptrs, mask=(offs_m[:, None] < M) & k_ok[None, :], other=0.0)
        b = tl.load(b_ptrs, mask=k_ok[:, None] & (offs_n[None, :] < N), other=0.0)
        if UPCAST_DOT:  # see `_upcast_dot`
            a = a.to(tl.float32)
            b = b.to(tl.float32)
        # Triton 3.6 (the GPU image's) wants the integer accumulator named, not inferred; a
        # constexpr `if` block rather than a conditional expression, which the front end also folds
        if INT8:  # noqa: SIM108
            acc = tl.dot(a, b, acc, out_dtype=tl.int32)
        else:
            acc = tl.dot(a, b, acc)
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk
    c_ptrs = c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn
    tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))


def _upcast_dot(t: torch.Tensor) -> bool:
    """Whether the kernel must widen bf16 tiles to fp32 before `tl.dot`: Triton 3.9's interpreter
    (CPU tensors) multiplies bf16 tiles as their raw uint16 bits (``interpreter.create_dot``), so the
    CPU tests upcast; a GPU multiplies bf16 natively and never takes this branch."""
    return t.device.type == "cpu" and t.dtype == torch.bfloat16


def matmul(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    out_dtype: torch.dtype | None = None,
    config: TileConfig | None = None,
) -> torch.Tensor:
    """``a [M, K] @ b [K, N] -> [M, N]``; fp32 accumulation (int32 for int8), result in `out_dtype`.

    `out_dtype` defaults to the inputs' dtype for fp16/bf16, to fp16 for fp8 inputs and to int32
    (the only one) for int8. `config`
    overrides the tile that `pick_config` would choose (the tests use it to force K and M tails).
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul needs a [M, K] and b [K, N]; got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.dtype not in _IN_DTYPES or b.dtype != a.dtype:
        raise ValueError(
            f"matmul takes two fp16, bf16, float8_e4m3fn or int8 tensors; got {a.dtype}, {b.dtype}"
        )
    integer = a.dtype == torch.int8
    if out_dtype is None:
        out_dtype = torch.int32 if integer else a.dtype if a.dtype in _OUT_DTYPES else torch.float16
    if integer and out_dtype != torch.int32:
        raise ValueError(f"an int8 matmul returns its int32 accumulators; got out_dtype {out_dtype}")
    m, k = a.shape
    n = b.shape[1]
    c = torch.empty((m, n), dtype=out_dtype, device=a.device)
    cfg = config or pick_config(m, n, k, a.element_size(), sm_count(a.device))
    grid = (triton.cdiv(m, cfg.block_m) * triton.cdiv(n, cfg.block_n),)
    _matmul_kernel[grid](
        a, b, c, m, n, k,
        a.stride(0), a.stride(1), b.stride(0), b.stride(1), c.stride(0), c.stride(1),
        BLOCK_M=cfg.block_m, BLOCK_N=cfg.block_n, BLOCK_K=cfg.block_k, GROUP_M=cfg.group_m,
        UPCAST_DOT=_upcast_dot(a), INT8=integer,
        num_warps=cfg.num_warps, num_stages=cfg.num_stages,
    )
    return c
