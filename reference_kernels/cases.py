"""The work one measured row times: a GEMM, an attention call or a copy, with its CSV columns.

Each case names its work the way docs/measured_format.md does (a family plus shape columns) and
knows its useful FLOPs; the kernels that can run it are in `reference_kernels.registry`. This module
and `grids` do not import torch, so the command line can name grids without loading it.
"""

from __future__ import annotations

from dataclasses import dataclass

from workloads.kernel_ops import causal_pairs

#: Bytes per element of the CSV's dtype names that a case's tensors use.
DTYPE_BYTES = {"int8": 1, "fp8": 1, "fp16": 2, "bf16": 2, "fp32": 4}
#: Default quantization group along K of a W4A16 weight (GPTQ's and AWQ's default).
DEFAULT_GROUP_SIZE = 128


@dataclass(frozen=True)
class GemmCase:
    """``C[M, N] = A[M, K] @ B[K, N]`` in `family` (gemm, gemm_fp8, gemm_int8, gemm_w4a16,
    gemm_w8a16, gemm_sparse24)."""

    family: str
    m: int
    n: int
    k: int
    a_dtype: str
    b_dtype: str
    out_dtype: str
    group_size: int | None = None

    @property
    def flops(self) -> int:
        """2·M·N·K: one multiply and one add per MAC (2:4 sparsity still counts the dense work)."""
        return 2 * self.m * self.n * self.k

    def columns(self) -> dict[str, object]:
        return {
            "family": self.family, "M": self.m, "N": self.n, "K": self.k, "group_size": self.group_size,
            "a_dtype": self.a_dtype, "b_dtype": self.b_dtype, "out_dtype": self.out_dtype,
        }


@dataclass(frozen=True)
class AttentionCase:
    """Attention of `batch` × `heads` queries of length `seq_q` over `seq_kv` keys (`kv_heads` K/V
    heads, GQA when fewer); decode has ``seq_q = 1``. `dtype` is Q's, K/V's and O's."""

    family: str
    batch: int
    heads: int
    kv_heads: int
    seq_q: int
    seq_kv: int
    head_dim: int
    causal: bool
    dtype: str

    @property
    def flops(self) -> int:
        """4·B·H·pairs·D (Q·Kᵀ and P·V, 2 FLOPs per MAC), pairs = Sq·Skv or the causal pairs kept."""
        pairs = causal_pairs(self.seq_q, self.seq_kv) if self.causal else self.seq_q * self.seq_kv
        return 4 * self.batch * self.heads * pairs * self.head_dim

    @property
    def kv_cache_bytes(self) -> int:
        """Bytes of K and V together."""
        return 2 * self.batch * self.kv_heads * self.seq_kv * self.head_dim * DTYPE_BYTES[self.dtype]

    def columns(self) -> dict[str, object]:
        return {
            "family": self.family, "batch": self.batch, "heads": self.heads, "kv_heads": self.kv_heads,
            "seq_q": self.seq_q, "seq_kv": self.seq_kv, "head_dim": self.head_dim,
            "causal": int(self.causal), "a_dtype": self.dtype, "b_dtype": self.dtype,
            "out_dtype": self.dtype,
        }


@dataclass(frozen=True)
class CopyCase:
    """A device-to-device copy of `bytes` bytes (read once, written once)."""

    bytes: int
    family: str = "copy"

    @property
    def flops(self) -> int:
        return 0

    def columns(self) -> dict[str, object]:
        return {"family": self.family, "bytes": self.bytes}


Case = GemmCase | AttentionCase | CopyCase
