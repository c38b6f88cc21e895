"""Triton reference kernels, each with a wrapper that takes and returns torch tensors.

On a GPU they compile for the device. On CPU tensors they run only under Triton's interpreter, which
must be switched on (``TRITON_INTERPRET=1``) before this package is imported, since `triton.jit`
reads it when a kernel is defined; the tests do so to check correctness without a GPU.
"""

from reference_kernels.triton_kernels.attention_decode import attention_decode, pick_num_splits
from reference_kernels.triton_kernels.attention_prefill import attention_prefill
from reference_kernels.triton_kernels.matmul import TileConfig, matmul, pick_config
from reference_kernels.triton_kernels.w4a16 import pick_w4a16_config, w4a16_matmul
from reference_kernels.triton_kernels.w8a16 import w8a16_matmul

__all__ = [
    "TileConfig",
    "attention_decode",
    "attention_prefill",
    "matmul",
    "pick_config",
    "pick_num_splits",
    "pick_w4a16_config",
    "w4a16_matmul",
    "w8a16_matmul",
]
