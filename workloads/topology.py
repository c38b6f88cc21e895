"""SCALE-Sim topology CSVs, read as they are: the convolution form and the GEMM form.

Convolution form (SCALE-Sim's ``topologies/conv_nets``)::

    Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
    Conv1, 224, 224, 7, 7, 3, 64, 2,

GEMM form (``topologies/GEMM_mnk``)::

    Layer, M, N, K,
    fc1, 128, 1024, 1024,

Rows end with a trailing comma in SCALE-Sim's files; it is optional here. A layer whose name contains
``DP`` is depthwise: SCALE-Sim runs it as one single-channel convolution per channel, which is
represented here as one op with ``count = channels``. An optional last column ``N:M`` is SCALE-Sim's
sparsity ratio; only ``1:1`` (dense) is modeled by the systolic engine so far.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

from workloads.dtypes import DType
from workloads.errors import WorkloadError
from workloads.files import text_stream
from workloads.op import Op, OpGraph, conv2d_op, gemm_op, positive_int

CONV_FIELDS = (
    "IFMAP Height",
    "IFMAP Width",
    "Filter Height",
    "Filter Width",
    "Channels",
    "Num Filter",
    "Strides",
)
GEMM_FIELDS = ("M", "N", "K")


def read_topology(path: str | Path, *, dtype: DType = DType.INT8) -> OpGraph:
    """Read a SCALE-Sim topology CSV (either form, told apart by its header) into an `OpGraph`."""
    path = Path(path)
    if not path.is_file():
        raise WorkloadError(f"topology: no such file {str(path)!r}")
    handle = text_stream(path, what="a SCALE-Sim topology CSV", error=WorkloadError)
    rows = [[cell.strip() for cell in row] for row in csv.reader(handle)]
    numbered = [(number, _drop_trailing_empty(row)) for number, row in enumerate(rows, start=1)]
    numbered = [(number, row) for number, row in numbered if row]
    if not numbered:
        raise WorkloadError(f"{path}: the topology file is empty")
    header_line, header = numbered[0]
    is_gemm = [name.upper() for name in header[1:4]] == list(GEMM_FIELDS)
    if not is_gemm and len(header) < 1 + len(CONV_FIELDS):
        raise WorkloadError(
            f"{path}:{header_line}: header {','.join(header)!r} is neither the GEMM form "
            f"(Layer, M, N, K) nor the convolution form (Layer name, {', '.join(CONV_FIELDS)})"
        )
    ops = [
        _gemm_row(row, where=f"{path}:{number}", dtype=dtype)
        if is_gemm
        else _conv_row(row, where=f"{path}:{number}", dtype=dtype)
        for number, row in numbered[1:]
    ]
    if not ops:
        raise WorkloadError(f"{path}: the topology file has a header but no layers")
    return OpGraph(name=path.stem, ops=tuple(ops))


def _drop_trailing_empty(row: list[str]) -> list[str]:
    while row and row[-1] == "":
        row = row[:-1]
    return row


def _check_dense(row: list[str], n_fields: int, where: str) -> None:
    if len(row) > n_fields + 1:
        raise WorkloadError(
            f"{where}: expected {n_fields + 1} fields (or one more for sparsity), got {len(row)}"
        )
    if len(row) == n_fields + 1 and row[-1].replace(" ", "") not in ("1:1", ""):
        raise WorkloadError(
            f"{where}: sparsity {row[-1]!r} is not modeled by the systolic engine yet; use 1:1"
        )


def _gemm_row(row: list[str], *, where: str, dtype: DType) -> Op:
    if len(row) < 4:
        raise WorkloadError(f"{where}: a GEMM row needs Layer, M, N, K; got {','.join(row)!r}")
    _check_dense(row, 4, where)
    m, n, k = (
        positive_int(value, field=name, where=where) for name, value in zip("MNK", row[1:4], strict=True)
    )
    return gemm_op(m, n, k, name=row[0], input_dtype=dtype, weight_dtype=dtype, output_dtype=dtype)


def _conv_row(row: list[str], *, where: str, dtype: DType) -> Op:
    if len(row) < 1 + len(CONV_FIELDS):
        raise WorkloadError(
            f"{where}: a convolution row needs Layer name, {', '.join(CONV_FIELDS)}; got {len(row)} fields"
        )
    _check_dense(row, 1 + len(CONV_FIELDS), where)
    values = [
        positive_int(value, field=name, where=where)
        for name, value in zip(CONV_FIELDS, row[1 : 1 + len(CONV_FIELDS)], strict=True)
    ]
    ifmap_h, ifmap_w, filter_h, filter_w, channels, num_filters, stride = values
    depthwise = "DP" in row[0]
    if filter_h > ifmap_h or filter_w > ifmap_w:
        raise WorkloadError(
            f"{where}: filter {filter_h}x{filter_w} is larger than the ifmap {ifmap_h}x{ifmap_w}"
        )
    op = conv2d_op(
        ifmap_h=ifmap_h,
        ifmap_w=ifmap_w,
        filter_h=filter_h,
        filter_w=filter_w,
        channels=1 if depthwise else channels,
        num_filters=num_filters,
        stride_h=stride,
        stride_w=stride,
        name=row[0],
        dtype=dtype,
    )
    return replace(op, count=channels) if depthwise else op
