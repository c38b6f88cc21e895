"""Workloads: ops as loop nests, op graphs, SCALE-Sim topologies, the PyTorch tracer and model zoo.

Knows no hardware. The names that need torch (`trace`, `load_model_graph`, the zoo) or pandas (the
graph's DataFrame and CSV I/O) are imported on first use, so the rest of the toolkit, and the
command line before it parses, start without loading either.
"""

import importlib

from workloads.annotate import annotate
from workloads.dtypes import DType
from workloads.errors import CodesignError, UnmodeledOpWarning, WorkloadError
from workloads.op import (
    DENSE,
    Op,
    Operand,
    OpGraph,
    OpKind,
    Role,
    Sparsity,
    SparsityKind,
    conv2d_op,
    gemm_op,
)
from workloads.summary import graph_totals, group_ops
from workloads.topology import read_topology

#: Public names that import torch or pandas, and the module each comes from.
_LAZY_NAMES = {
    "trace": "workloads.tracer",
    "load_model_graph": "workloads.model_graph",
    "list_models": "workloads.zoo",
    "attention_op": "workloads.formulas.attention",
    "frame_to_graph": "workloads.graph_io",
    "graph_to_frame": "workloads.graph_io",
    "read_graph_csv": "workloads.graph_io",
    "write_graph_csv": "workloads.graph_io",
}


def __getattr__(name: str):
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    raise AttributeError(f"module 'workloads' has no attribute {name!r}")


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
    "UnmodeledOpWarning",
    "WorkloadError",
    "annotate",
    "attention_op",
    "conv2d_op",
    "frame_to_graph",
    "gemm_op",
    "graph_to_frame",
    "graph_totals",
    "group_ops",
    "list_models",
    "load_model_graph",
    "read_graph_csv",
    "read_topology",
    "trace",
    "write_graph_csv",
]
