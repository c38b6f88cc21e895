"""Workloads: ops as loop nests, op graphs, SCALE-Sim topologies (and, later, the PyTorch tracer).

Knows no hardware.
"""

from workloads.dtypes import DType
from workloads.errors import CodesignError, WorkloadError
from workloads.op import (
    DENSE,
    Op,
    OpGraph,
    OpKind,
    Operand,
    Role,
    Sparsity,
    SparsityKind,
    conv2d_op,
    gemm_op,
)
from workloads.topology import read_topology

__all__ = [
    "DENSE",
    "CodesignError",
    "DType",
    "Op",
    "OpGraph",
    "OpKind",
    "Operand",
    "Role",
    "Sparsity",
    "SparsityKind",
    "WorkloadError",
    "conv2d_op",
    "gemm_op",
    "read_topology",
]
