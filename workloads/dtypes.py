"""Numeric formats of operands, with their storage size.

Sizes in bits are the formats' definitions (IEEE 754 for fp16/fp32, the OCP FP8 spec for fp8,
two's-complement integers for int4/int8/int32/int64); int4 packs two values per byte. bool is stored in
one byte, as PyTorch stores it. The wide integers and bool carry the tracer's indices and masks.
"""

from __future__ import annotations

import enum

from workloads.errors import CodesignError


class DType(enum.Enum):
    """An operand's number format; the value is its name on the command line and in files."""

    INT4 = "int4"
    INT8 = "int8"
    FP8 = "fp8"
    FP16 = "fp16"
    BF16 = "bf16"
    TF32 = "tf32"
    FP32 = "fp32"
    FP64 = "fp64"
    INT32 = "int32"
    INT64 = "int64"
    BOOL = "bool"

    @property
    def bits(self) -> int:
        return _BITS[self]

    @property
    def bytes(self) -> float:
        """Storage bytes per element (0.5 for int4)."""
        return _BITS[self] / 8

    @classmethod
    def parse(cls, text: str, *, field: str = "dtype") -> DType:
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            valid = ", ".join(d.value for d in cls)
            raise CodesignError(f"{field}: unknown dtype {text!r}; valid: {valid}") from None


_BITS = {
    DType.INT4: 4,
    DType.INT8: 8,
    DType.FP8: 8,
    DType.FP16: 16,
    DType.BF16: 16,
    DType.TF32: 32,  # stored as fp32 in memory; tensor cores read 19 significant bits
    DType.FP32: 32,
    DType.FP64: 64,
    DType.INT32: 32,
    DType.INT64: 64,
    DType.BOOL: 8,  # torch.bool: one byte per element
}
