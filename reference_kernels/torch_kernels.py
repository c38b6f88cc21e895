"""Torch baselines beside the Triton kernels: what a user gets from the vendor libraries.

`torch.matmul` (cuBLAS on a GPU, oneDNN/MKL on a CPU), `torch._scaled_mm` for fp8 and
`torch._int_mm` for int8 (cuBLASLt),
`scaled_dot_product_attention` (FlashAttention/cuDNN/efficient backends on a GPU, a fused C++ kernel
on a CPU), a 2:4 semi-structured sparse linear (cuSPARSELt or CUTLASS; GPU only) and a plain copy
for bandwidth. Shapes follow the Triton wrappers': ``A[M, K] @ B[K, N]``, attention ``[B, H, S, D]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Elements per group of the 2:4 pattern, and the non-zeros kept in each.
SPARSE_GROUP = 4
SPARSE_KEPT = 2


def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a [M, K] @ b [K, N]`` in the inputs' dtype."""
    return torch.matmul(a, b)


def scaled_mm_fp8(a: torch.Tensor, b: torch.Tensor, out_dtype: torch.dtype = torch.float16) -> torch.Tensor:
    """fp8 e4m3 ``a [M, K]`` (row-major) ``@ b [K, N]`` (column-major) with unit scales."""
    one = torch.ones((), dtype=torch.float32, device=a.device)
    return torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=out_dtype)


def int_mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """int8 ``a [M, K]`` (row-major) ``@ b [K, N]`` (column-major) -> int32: W8A8 on the integer
    tensor cores, the accumulators returned unscaled."""
    return torch._int_mm(a, b)


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool = False) -> torch.Tensor:
    """``q [B, H, Sq, D]``, ``k, v [B, Hkv, Skv, D]`` -> ``[B, H, Sq, D]``; GQA when Hkv < H."""
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=k.shape[1] != q.shape[1])


def prune_2to4(weight: torch.Tensor) -> torch.Tensor:
    """``weight [N, K]`` with the two smallest-magnitude values of every 4 along K set to zero."""
    n, k = weight.shape
    groups = weight.reshape(n, k // SPARSE_GROUP, SPARSE_GROUP)
    keep = groups.abs().topk(SPARSE_KEPT, dim=-1).indices
    mask = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, keep, True)
    return (groups * mask).reshape(n, k)


def to_sparse24(weight: torch.Tensor) -> torch.Tensor:
    """A 2:4-pruned ``weight [N, K]`` in torch's semi-structured sparse format (CUDA only)."""
    if weight.device.type != "cuda":
        raise ValueError("2:4 semi-structured sparsity runs on CUDA only (cuSPARSELt/CUTLASS)")
    from torch.sparse import to_sparse_semi_structured

    return to_sparse_semi_structured(prune_2to4(weight))


def sparse24_linear(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``x [M, K] @ weightᵀ`` with ``weight [N, K]`` from `to_sparse24` -> ``[M, N]``."""
    return F.linear(x, weight)


def copy(dst: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """``dst.copy_(src)``: reads and writes ``src.nbytes`` bytes."""
    return dst.copy_(src)
