"""`OpGraph` ↔ pandas DataFrame ↔ CSV, one row per op; reading a written file gives the same graph.

Columns (graph facts repeat on every row, so each row stands alone):

- ``graph, params, phase, batch, seq_len, context_len``: the `OpGraph`'s facts;
- ``op, kind, module, aten, count, unmodeled``: the op;
- ``dims``: the loop nest, ``M=1;N=4096;K=4096``;
- ``flops``: one instance's FLOPs (a MAC is 2; multiply by ``count`` for the op's total);
- ``<role>_bytes`` (``input_bytes``, ``weight_bytes``, ``output_bytes``, ``kv_cache_bytes``, …) and
  ``bytes``: one instance's bytes by operand role, and in all (derived; ignored when reading);
- ``dtypes``: each operand's dtype, ``A:fp16 B:int4 C:fp16`` (derived; ignored when reading);
- ``operands``: every operand as ``name/role/dims/elements/dtype[/sparsity]``, space-separated,
  dims dot-separated (``M.K``; ``-`` for none), sparsity ``2:4``, ``block=0.5`` or
  ``unstructured=0.5``;
- ``attrs``: the op's attrs as a JSON object.

A hand-written file needs only ``op, kind, dims, flops, operands``; the rest have defaults.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from workloads.dtypes import DType
from workloads.errors import WorkloadError
from workloads.files import text_stream
from workloads.op import DENSE, Op, Operand, OpGraph, OpKind, Phase, Role, Sparsity, SparsityKind

GRAPH_COLUMNS = ("graph", "params", "phase", "batch", "seq_len", "context_len")
REQUIRED_COLUMNS = ("op", "kind", "dims", "flops", "operands")
BYTES_COLUMNS = tuple(f"{role.value}_bytes" for role in Role)


def _sparsity_text(sparsity: Sparsity) -> str:
    if sparsity.kind is SparsityKind.N_OF_M:
        return f"/{sparsity.n}:{sparsity.m}"
    if sparsity.kind is SparsityKind.DENSE:
        return ""
    return f"/{sparsity.kind.value}={sparsity.density!r}"


def _operand_text(operand: Operand) -> str:
    dims = ".".join(operand.dims) or "-"
    fields = f"{operand.name}/{operand.role.value}/{dims}/{operand.elements}/{operand.dtype.value}"
    return fields + _sparsity_text(operand.sparsity)


def op_row(op: Op) -> dict[str, object]:
    """One op as a row (without the graph's facts)."""
    by_role = {column: 0.0 for column in BYTES_COLUMNS}
    for operand in op.operands:
        by_role[f"{operand.role.value}_bytes"] += operand.bytes
    return {
        "op": op.name,
        "kind": op.kind.value,
        "module": op.module,
        "aten": op.aten,
        "dims": ";".join(f"{name}={size}" for name, size in op.dims),
        "flops": op.flops,
        **by_role,
        "bytes": sum(by_role.values()),
        "dtypes": " ".join(f"{o.name}:{o.dtype.value}" for o in op.operands),
        "count": op.count,
        "unmodeled": op.unmodeled,
        "operands": " ".join(_operand_text(operand) for operand in op.operands),
        "attrs": json.dumps(dict(op.attrs)) if op.attrs else "",
    }


def graph_to_frame(graph: OpGraph) -> pd.DataFrame:
    """The graph as a DataFrame: the graph's facts, then one row per op (columns as above)."""
    facts = {
        "graph": graph.name,
        "params": graph.params,
        "phase": graph.phase.value if graph.phase else "",
        "batch": graph.batch,
        "seq_len": graph.seq_len,
        "context_len": graph.context_len,
    }
    return pd.DataFrame([facts | op_row(op) for op in graph.ops])


def write_graph_csv(graph: OpGraph, path: str | Path) -> None:
    graph_to_frame(graph).to_csv(path, index=False)


def read_graph_csv(path: str | Path) -> OpGraph:
    """Read a graph CSV written by `write_graph_csv` (or by hand); errors name the file and row."""
    path = Path(path)
    if not path.is_file():
        raise WorkloadError(f"ops file: no such file {str(path)!r}")
    stream = text_stream(path, what="an op-graph CSV (codesign trace --format csv)", error=WorkloadError)
    try:
        frame = pd.read_csv(stream, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise WorkloadError(f"{path}: not a readable CSV: {error}") from None
    return frame_to_graph(frame, where=str(path))


def frame_to_graph(frame: pd.DataFrame, *, where: str = "ops") -> OpGraph:
    """The `OpGraph` of a DataFrame in `graph_to_frame`'s layout (derived columns are ignored)."""
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise WorkloadError(f"{where}: missing column(s) {', '.join(missing)}")
    if frame.empty:
        raise WorkloadError(f"{where}: no ops")
    rows = frame.astype(str).to_dict("records")
    ops = tuple(_row_op(row, f"{where}: row {number}") for number, row in enumerate(rows, start=2))
    first = rows[0]
    return OpGraph(
        name=first.get("graph", "") or Path(where).stem,
        ops=ops,
        params=_int(first.get("params", "0") or "0", "params", where),
        phase=Phase.parse(first["phase"], field="column 'phase' =") if first.get("phase") else None,
        batch=_int(first.get("batch", "1") or "1", "batch", where),
        seq_len=_int(first.get("seq_len", "0") or "0", "seq_len", where),
        context_len=_int(first.get("context_len", "0") or "0", "context_len", where),
    )


def _int(text: str, field: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise WorkloadError(f"{where}: {field} must be an integer, got {text!r}") from None


def _enum(cls, text: str, field: str, where: str):
    try:
        return cls(text)
    except ValueError:
        valid = ", ".join(member.value for member in cls)
        raise WorkloadError(f"{where}: unknown {field} {text!r}; valid: {valid}") from None


def _row_op(row: dict[str, str], where: str) -> Op:
    dims = []
    for item in filter(None, row["dims"].split(";")):
        name, _, size = item.partition("=")
        dims.append((name.strip(), _int(size, f"dim {name.strip()!r}", where)))
    attrs_text = row.get("attrs", "")
    try:
        attrs = tuple(json.loads(attrs_text).items()) if attrs_text else ()
    except json.JSONDecodeError:
        raise WorkloadError(f"{where}: attrs must be a JSON object, got {attrs_text!r}") from None
    return Op(
        name=row["op"],
        kind=_enum(OpKind, row["kind"], "kind", where),
        dims=tuple(dims),
        operands=tuple(_parse_operand(text, where) for text in row["operands"].split()),
        flops=_int(row["flops"], "flops", where),
        module=row.get("module", ""),
        aten=row.get("aten", ""),
        count=_int(row.get("count", "1") or "1", "count", where),
        unmodeled=row.get("unmodeled", "False").strip().lower() == "true",
        attrs=attrs,
    )


def _parse_operand(text: str, where: str) -> Operand:
    fields = text.split("/")
    if len(fields) not in (5, 6):
        raise WorkloadError(f"{where}: operand {text!r} must be name/role/dims/elements/dtype[/sparsity]")
    name, role, dims, elements, dtype = fields[:5]
    return Operand(
        name=name,
        role=_enum(Role, role, "operand role", where),
        dims=() if dims == "-" else tuple(dims.split(".")),
        elements=_int(elements, f"operand {name!r} elements", where),
        dtype=DType.parse(dtype, field=f"{where}: operand {name!r}"),
        sparsity=_parse_sparsity(fields[5], where) if len(fields) == 6 else DENSE,
    )


def _parse_sparsity(text: str, where: str) -> Sparsity:
    if ":" in text:
        n, _, m = text.partition(":")
        return Sparsity(kind=SparsityKind.N_OF_M, n=_int(n, "N", where), m=_int(m, "M", where))
    kind, _, density = text.partition("=")
    try:
        return Sparsity(kind=_enum(SparsityKind, kind, "sparsity", where), density=float(density))
    except ValueError:
        raise WorkloadError(f"{where}: sparsity {text!r} must be N:M or kind=density") from None
