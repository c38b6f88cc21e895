"""`codesign trace`: a model's operator graph — one row per op (or per group), and its totals.

Calls `workloads.load_model_graph`; the CSV it writes reads back into the same graph
(`workloads.read_graph_csv`, ``codesign simulate --ops FILE``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from sim.commands.model_args import add_model_arguments, load_graph
from sim.present.tables import OutputFormat
from workloads.summary import graph_totals, group_ops

if TYPE_CHECKING:
    import pandas as pd

#: Columns of the terminal table; CSV and JSON carry every column of `graph_to_frame`.
TABLE_COLUMNS = (
    "op",
    "kind",
    "module",
    "aten",
    "dims",
    "flops",
    "input_bytes",
    "weight_bytes",
    "output_bytes",
    "kv_cache_bytes",
    "kv_cache_write_bytes",
    "metadata_bytes",
    "dtypes",
    "count",
    "unmodeled",
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "trace",
        help="trace a model into its operator graph",
        description="Trace a zoo model (or path/to/file.py:factory) on meta tensors: no weights "
        "are downloaded and no GPU is needed.",
    )
    parser.add_argument("model", help="zoo name (see the error for a list) or file.py:factory")
    add_model_arguments(parser)
    parser.add_argument("--group", action="store_true", help="one row per group of equal ops")
    parser.add_argument(
        "--format",
        choices=[f.value for f in OutputFormat],
        default=OutputFormat.TABLE.value,
        help="output format (default: table)",
    )
    parser.add_argument("--out", metavar="FILE", help="write the output to FILE")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from workloads.graph_io import graph_to_frame  # pandas: imported here, so the parser needs none

    graph = load_graph(args, "trace")
    if args.group:
        graph = group_ops(graph)
    totals = graph_totals(graph)
    fmt = OutputFormat(args.format)
    text = _render(graph_to_frame(graph), totals, fmt)
    if args.out:
        from workloads.files import write_text

        write_text(Path(args.out), text, option="--out")
        print(_summary(totals))
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0


def _render(frame: pd.DataFrame, totals: dict[str, object], fmt: OutputFormat) -> str:
    if fmt is OutputFormat.CSV:
        return frame.to_csv(index=False)
    if fmt is OutputFormat.JSON:
        return json.dumps({"summary": totals, "ops": frame.to_dict("records")}, indent=1) + "\n"
    shown = frame[[c for c in TABLE_COLUMNS if c in frame.columns]].copy()
    empty = [c for c in shown.columns if c.endswith("_bytes") and not shown[c].any()]
    shown = shown.drop(columns=empty)
    for column in shown.columns:
        if column == "flops" or column.endswith("_bytes"):
            shown[column] = shown[column].map(lambda v: f"{v:,.0f}")
    return shown.to_string(index=False) + "\n\n" + _summary(totals) + "\n"


def _summary(totals: dict[str, object]) -> str:
    """The graph's totals as aligned ``name: value`` lines (bytes in GB, FLOPs in GFLOP)."""
    lines = [
        f"model:          {totals['graph']}  phase={totals['phase']} batch={totals['batch']} "
        f"seq={totals['seq_len']} context={totals['context_len']}",
        f"params:         {totals['params']:,}",
        f"ops:            {totals['ops']:,}",
        f"FLOPs:          {totals['flops'] / 1e9:,.3f} GFLOP "
        f"(matmul/conv/attention {totals['matmul_flops'] / 1e9:,.3f})",
        f"bytes:          {totals['bytes'] / 1e9:,.4f} GB "
        f"(weights {totals['weight_bytes'] / 1e9:,.4f}, "
        f"KV read {totals['kv_cache_bytes'] / 1e9:,.4f}, "
        f"KV written {totals['kv_cache_write_bytes'] / 1e9:,.4f}, "
        f"quant/sparse metadata {totals['metadata_bytes'] / 1e9:,.4f})",
        f"intensity:      {totals['arithmetic_intensity']:,.2f} FLOP/byte",
    ]
    if totals["unmodeled"]:
        lines.append(f"unmodeled ops:  {totals['unmodeled']}")
    return "\n".join(lines)
