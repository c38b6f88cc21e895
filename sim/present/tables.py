"""Render result tables for the terminal, CSV and JSON (the edge where units become readable)."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported by `render`, so the CLI parses without it
    import pandas as pd


class OutputFormat(enum.Enum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


#: Columns shown in the terminal table; CSV and JSON carry every column.
TABLE_COLUMNS = (
    "layer",
    "compute_cycles",
    "stall_cycles",
    "total_cycles",
    "utilization",
    "mapping_efficiency",
    "sram_reads",
    "sram_writes",
    "dram_read_bytes",
    "dram_write_bytes",
    "latency_s",
    "mapping",
)


#: Name endings of columns that hold seconds, joules, watts or ratios: floats even when whole.
NOT_COUNT_ENDINGS = ("_s", "_j", "_w", "_pct", "utilization", "efficiency", "fraction")
#: Whole floats up to here are exact integers (2^53).
EXACT_INTEGER_LIMIT = 2.0**53


def _counts_as_integers(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with each float column of counts whose values are all whole (cycles, MACs, bytes,
    folds, launches, M/N/K: float because a total row or an unmodeled op has NaN there) as nullable
    integers, so CSV writes ``1850000``, not ``1850000.0``, and a NaN still writes empty."""
    import numpy as np
    import pandas as pd

    whole = {}
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_float_dtype(values) or str(column).endswith(NOT_COUNT_ENDINGS):
            continue
        known = values.dropna().to_numpy()
        if np.isfinite(known).all() and (np.abs(known) < EXACT_INTEGER_LIMIT).all() and (
            known == np.round(known)
        ).all():
            whole[column] = values.astype("Int64")
    return frame.assign(**whole) if whole else frame


def render(frame: pd.DataFrame, fmt: OutputFormat) -> str:
    import pandas as pd

    if fmt is OutputFormat.CSV:
        return _counts_as_integers(frame).to_csv(index=False)
    if fmt is OutputFormat.JSON:
        return frame.to_json(orient="records", indent=1)
    shown = frame[[c for c in TABLE_COLUMNS if c in frame.columns]].copy()
    formatters = {
        "utilization": "{:.1%}".format,
        "mapping_efficiency": "{:.1%}".format,
        "latency_s": "{:.4g}".format,
    }
    for column in shown.columns:
        if column in formatters:
            shown[column] = shown[column].map(formatters[column])
        elif pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: f"{v:,.0f}")
        elif pd.api.types.is_integer_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: f"{v:,}")
    return shown.to_string(index=False)
