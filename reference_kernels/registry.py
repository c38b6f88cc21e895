"""The kernels `measure` can time: for each, the families it implements, the devices it runs on and
a builder that allocates a case's inputs and returns a zero-argument call of the kernel.

Triton kernels are imported inside their builders, so measuring torch kernels on a CPU never imports
Triton (whose interpreter is a correctness tool, not a performance path).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from reference_kernels import torch_kernels
from reference_kernels.cases import AttentionCase, Case, CopyCase, GemmCase
from reference_kernels.quant import quantize_int4, quantize_int8

#: The CSV's dtype names and the torch dtypes they stand for (int4 weights are packed in uint8).
TORCH_DTYPES = {
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
    "fp8": torch.float8_e4m3fn,
    "fp32": torch.float32,
    "int8": torch.int8,
    "int32": torch.int32,
}
#: Operand dtypes a tensor core wants K-major on both sides (Hopper's wgmma reads 8-bit B only
#: K-major; cuBLASLt's fp8 and int8 GEMMs take the "TN" layout): B is the transpose of ``[N, K]``.
K_MAJOR_DTYPES = ("fp8", "int8")
Builder = Callable[[Case, torch.device], Callable[[], object]]
#: fp8 tensor cores need compute capability 8.9 (Ada) or 9.0 (Hopper).
FP8_CAPABILITY = (8, 9)
#: `torch._scaled_mm` (cuBLASLt fp8) needs every dimension a multiple of 16.
SCALED_MM_ALIGN = 16
#: `torch._int_mm` on a GPU needs M > 16 and K, N multiples of 8 (aten/src/ATen/native/cuda/Blas.cpp,
#: ``_int_mm_out_cuda``'s checks).
INT_MM_MIN_M, INT_MM_ALIGN = 17, 8
#: A 2:4 fp16 weight ``[N, K]`` needs N a multiple of 32 and K of 64 (torch.sparse.semi_structured,
#: ``SparseSemiStructuredTensorCUTLASS._DTYPE_SHAPE_CONSTRAINTS``; cuSPARSELt's are looser).
SPARSE24_ALIGN_N, SPARSE24_ALIGN_K = 32, 64
#: Operand dtypes the Triton kernels take (fp32 cases of the small grid are torch's alone).
TRITON_DTYPES = ("fp16", "bf16", "fp8", "int8")
#: Seed of the random inputs, so a rerun times the same data.
SEED = 0


@dataclass(frozen=True)
class KernelSpec:
    """A timeable kernel: its name in the `kernel` column, the families it implements, where it runs."""

    name: str
    families: tuple[str, ...]
    devices: tuple[str, ...]
    build: Builder
    supports: Callable[[Case, torch.device], bool] = lambda case, device: True


def _randn(shape: tuple[int, ...], dtype: str, device: torch.device) -> torch.Tensor:
    """Standard-normal values drawn in `dtype` itself (fp8, which randn cannot draw, through fp16),
    so a multi-GB KV cache needs no fp32 copy; int8 gets uniform codes in [-127, 127]."""
    gen = torch.Generator(device=device).manual_seed(SEED)
    target = TORCH_DTYPES[dtype]
    if target == torch.int8:
        return torch.randint(-127, 128, shape, generator=gen, device=device, dtype=torch.int8)
    drawn = torch.float16 if target.itemsize == 1 else target
    return torch.randn(shape, generator=gen, device=device, dtype=drawn).to(target)


def _fp8_ok(case: Case, device: torch.device) -> bool:
    if not isinstance(case, GemmCase) or case.a_dtype != "fp8":
        return True
    return device.type == "cuda" and torch.cuda.get_device_capability(device) >= FP8_CAPABILITY


def _triton_dtype_ok(case: Case, device: torch.device) -> bool:
    """The Triton kernels take fp16/bf16 (and fp8 GEMM operands where the GPU has fp8)."""
    dtype = case.a_dtype if isinstance(case, GemmCase) else case.dtype
    return dtype in TRITON_DTYPES and _fp8_ok(case, device)


def _gemm_operands(case: GemmCase, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``A [M, K]`` and ``B [K, N]``; an 8-bit B is the column-major view of an ``[N, K]`` weight."""
    a = _randn((case.m, case.k), case.a_dtype, device)
    if case.b_dtype in K_MAJOR_DTYPES:
        return a, _randn((case.n, case.k), case.b_dtype, device).t()
    return a, _randn((case.k, case.n), case.b_dtype, device)


def _triton_gemm(case: GemmCase, device: torch.device) -> Callable[[], object]:
    from reference_kernels.triton_kernels import matmul

    a, b = _gemm_operands(case, device)
    out = TORCH_DTYPES[case.out_dtype]
    return lambda: matmul(a, b, out_dtype=out)


def _torch_matmul(case: GemmCase, device: torch.device) -> Callable[[], object]:
    a, b = _gemm_operands(case, device)
    return lambda: torch_kernels.matmul(a, b)


def _scaled_mm(case: GemmCase, device: torch.device) -> Callable[[], object]:
    a, b = _gemm_operands(case, device)
    out = TORCH_DTYPES[case.out_dtype]
    return lambda: torch_kernels.scaled_mm_fp8(a, b, out)


def _scaled_mm_ok(case: Case, device: torch.device) -> bool:
    aligned = all(size % SCALED_MM_ALIGN == 0 for size in (case.m, case.n, case.k))
    return aligned and _fp8_ok(case, device)


def _int_mm(case: GemmCase, device: torch.device) -> Callable[[], object]:
    a, b = _gemm_operands(case, device)
    return lambda: torch_kernels.int_mm(a, b)


def _int_mm_ok(case: Case, device: torch.device) -> bool:
    aligned = case.n % INT_MM_ALIGN == 0 and case.k % INT_MM_ALIGN == 0
    return aligned and (device.type != "cuda" or case.m >= INT_MM_MIN_M)


def _triton_w8a16(case: GemmCase, device: torch.device) -> Callable[[], object]:
    from reference_kernels.triton_kernels import w8a16_matmul

    a = _randn((case.m, case.k), case.a_dtype, device)
    weight = quantize_int8(_randn((case.k, case.n), "fp16", device))
    return lambda: w8a16_matmul(a, weight)


def _triton_w4a16(case: GemmCase, device: torch.device) -> Callable[[], object]:
    from reference_kernels.triton_kernels import w4a16_matmul

    a = _randn((case.m, case.k), case.a_dtype, device)
    weight = quantize_int4(_randn((case.k, case.n), "fp16", device), case.group_size)
    return lambda: w4a16_matmul(a, weight)


def _torch_sparse24(case: GemmCase, device: torch.device) -> Callable[[], object]:
    x = _randn((case.m, case.k), case.a_dtype, device)
    weight = torch_kernels.to_sparse24(_randn((case.n, case.k), case.b_dtype, device))
    return lambda: torch_kernels.sparse24_linear(x, weight)


def _sparse24_ok(case: Case, device: torch.device) -> bool:
    return case.n % SPARSE24_ALIGN_N == 0 and case.k % SPARSE24_ALIGN_K == 0


def _qkv(case: AttentionCase, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``q [B, H, Sq, D]``, ``k, v [B, Hkv, Skv, D]``."""
    q = _randn((case.batch, case.heads, case.seq_q, case.head_dim), case.dtype, device)
    kv_shape = (case.batch, case.kv_heads, case.seq_kv, case.head_dim)
    return q, _randn(kv_shape, case.dtype, device), _randn(kv_shape, case.dtype, device)


def _triton_prefill(case: AttentionCase, device: torch.device) -> Callable[[], object]:
    from reference_kernels.triton_kernels import attention_prefill

    q, k, v = _qkv(case, device)
    return lambda: attention_prefill(q, k, v, causal=case.causal)


def _triton_decode(case: AttentionCase, device: torch.device) -> Callable[[], object]:
    from reference_kernels.triton_kernels import attention_decode

    q, k, v = _qkv(case, device)
    return lambda: attention_decode(q, k, v)


def _torch_sdpa(case: AttentionCase, device: torch.device) -> Callable[[], object]:
    q, k, v = _qkv(case, device)
    return lambda: torch_kernels.sdpa(q, k, v, causal=case.causal)


def _torch_copy(case: CopyCase, device: torch.device) -> Callable[[], object]:
    src = torch.ones(case.bytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    return lambda: torch_kernels.copy(dst, src)


KERNELS = {
    spec.name: spec
    for spec in (
        KernelSpec("triton_gemm", ("gemm", "gemm_fp8", "gemm_int8"), ("cuda",), _triton_gemm,
                   _triton_dtype_ok),
        KernelSpec("torch_matmul", ("gemm",), ("cuda", "cpu"), _torch_matmul),
        KernelSpec("torch_scaled_mm", ("gemm_fp8",), ("cuda",), _scaled_mm, _scaled_mm_ok),
        KernelSpec("torch_int_mm", ("gemm_int8",), ("cuda",), _int_mm, _int_mm_ok),
        KernelSpec("triton_w4a16", ("gemm_w4a16",), ("cuda",), _triton_w4a16),
        KernelSpec("triton_w8a16", ("gemm_w8a16",), ("cuda",), _triton_w8a16),
        KernelSpec("torch_sparse24", ("gemm_sparse24",), ("cuda",), _torch_sparse24, _sparse24_ok),
        KernelSpec("triton_attention_prefill", ("attention_prefill",), ("cuda",), _triton_prefill,
                   _triton_dtype_ok),
        KernelSpec("triton_attention_decode", ("attention_decode",), ("cuda",), _triton_decode,
                   _triton_dtype_ok),
        KernelSpec("torch_sdpa", ("attention_prefill", "attention_decode"), ("cuda", "cpu"), _torch_sdpa),
        KernelSpec("torch_copy", ("copy",), ("cuda", "cpu"), _torch_copy),
    )
}
