"""Weight quantization of a GEMM weight, in the layouts `w4a16_matmul` and `w8a16_matmul` read.

Int4, by groups along K:

A weight ``W[K, N]`` is split along K into groups of `group_size` rows; each (group, column) has an
fp16 scale ``s`` and an fp16 zero point ``z`` (asymmetric, as in GPTQ/AWQ checkpoints), and
``W ≈ (q - z) · s`` with ``q ∈ [0, 15]``. Two codes share a byte along K: row ``2i`` in the low
nibble, row ``2i + 1`` in the high nibble, so ``packed`` is ``[K / 2, N]`` uint8.

Int8, per output channel (gpt-fast's and LLM.int8()'s weight-only scheme, W8A16): each column has
one fp16 scale ``s = max |W[:, n]| / 127`` and ``W ≈ q · s`` with ``q ∈ [-127, 127]`` (symmetric,
no zero point), ``codes`` ``[K, N]`` int8.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reference_kernels.cases import DEFAULT_GROUP_SIZE

#: Largest 4-bit unsigned code.
INT4_MAX = 15
#: Largest magnitude of a symmetric 8-bit code (-128 is left out so the range is symmetric).
INT8_MAX = 127


@dataclass(frozen=True)
class Int4Weight:
    """A packed int4 weight: ``packed [K/2, N]`` uint8, ``scales`` and ``zeros`` ``[K/G, N]`` fp16."""

    packed: torch.Tensor
    scales: torch.Tensor
    zeros: torch.Tensor
    group_size: int

    @property
    def k(self) -> int:
        return 2 * self.packed.shape[0]

    @property
    def n(self) -> int:
        return self.packed.shape[1]


def check_group_size(k: int, group_size: int) -> None:
    """`ValueError` unless K splits into whole groups of an even size."""
    if group_size <= 0 or group_size % 2 or k % group_size:
        raise ValueError(f"K = {k} must be a multiple of an even group_size; got group_size = {group_size}")


def quantize_int4(weight: torch.Tensor, group_size: int = DEFAULT_GROUP_SIZE) -> Int4Weight:
    """Asymmetric round-to-nearest int4 quantization of ``weight [K, N]`` (any float dtype).

    Per (group, column): ``s = (max - min) / 15`` and ``z = round(-min / s)``, so the group's range
    maps onto the codes 0…15 (a constant group gets ``s = 1``).
    """
    k, n = weight.shape
    check_group_size(k, group_size)
    groups = weight.detach().float().reshape(k // group_size, group_size, n)
    low = groups.amin(dim=1)
    high = groups.amax(dim=1)
    scales = (high - low) / INT4_MAX
    scales = torch.where(scales > 0, scales, torch.ones_like(scales)).half()
    zeros = torch.round(-low / scales.float()).clamp(0, INT4_MAX).half()
    codes = torch.round(groups / scales.float()[:, None, :] + zeros.float()[:, None, :])
    codes = codes.clamp(0, INT4_MAX).to(torch.uint8).reshape(k, n)
    return pack_int4(codes, scales, zeros, group_size)


def pack_int4(codes: torch.Tensor, scales: torch.Tensor, zeros: torch.Tensor, group_size: int) -> Int4Weight:
    """Pack codes ``[K, N]`` (uint8 values 0…15) two per byte along K."""
    k, n = codes.shape
    check_group_size(k, group_size)
    if scales.shape != (k // group_size, n) or zeros.shape != scales.shape:
        raise ValueError(f"scales and zeros must be [{k // group_size}, {n}]; got {tuple(scales.shape)}")
    codes = codes.to(torch.uint8)
    packed = codes[0::2] | (codes[1::2] << 4)
    return Int4Weight(packed.contiguous(), scales.half().contiguous(), zeros.half().contiguous(), group_size)


def unpack_codes(weight: Int4Weight) -> torch.Tensor:
    """The codes ``[K, N]`` (uint8, 0…15) of a packed weight."""
    low = weight.packed & 0x0F
    high = weight.packed >> 4
    return torch.stack((low, high), dim=1).reshape(weight.k, weight.n)


def dequantize_int4(weight: Int4Weight, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``(q - z) · s`` as ``[K, N]`` in `dtype`: the exact weight the kernel multiplies by."""
    codes = unpack_codes(weight).to(dtype)
    scales = weight.scales.to(dtype).repeat_interleave(weight.group_size, dim=0)
    zeros = weight.zeros.to(dtype).repeat_interleave(weight.group_size, dim=0)
    return (codes - zeros) * scales


@dataclass(frozen=True)
class Int8Weight:
    """A per-channel int8 weight: ``codes [K, N]`` int8 and ``scales [N]`` fp16."""

    codes: torch.Tensor
    scales: torch.Tensor

    @property
    def k(self) -> int:
        return self.codes.shape[0]

    @property
    def n(self) -> int:
        return self.codes.shape[1]


def quantize_int8(weight: torch.Tensor) -> Int8Weight:
    """Symmetric round-to-nearest int8 quantization of ``weight [K, N]`` per column (a zero column
    gets ``s = 1``)."""
    w = weight.detach().float()
    scales = w.abs().amax(dim=0) / INT8_MAX
    scales = torch.where(scales > 0, scales, torch.ones_like(scales)).half()
    codes = torch.round(w / scales.float()).clamp(-INT8_MAX, INT8_MAX).to(torch.int8)
    return Int8Weight(codes.contiguous(), scales.contiguous())


def dequantize_int8(weight: Int8Weight, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``q · s`` as ``[K, N]`` in `dtype`."""
    return weight.codes.to(dtype) * weight.scales.to(dtype)
