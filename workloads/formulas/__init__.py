"""The registry's formulas, one module per family of aten ops; importing this package fills
`workloads.registry.REGISTRY`."""

from workloads.formulas import attention, matmul, memory, pointwise, reduce

__all__ = ["attention", "matmul", "memory", "pointwise", "reduce"]
