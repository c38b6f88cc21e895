"""The HTML report of a comparison: a measured-vs-simulated scatter (log-log, with the y = x line),
the error against the size of the work, and the per-family error table. Plotly, self-contained
(the plotly.js library is embedded once, so the file opens offline)."""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from sim.measured.compare import FRACTION_FORMATTERS, Comparison

#: Plot size in pixels: fits a laptop screen and a two-column paper figure when exported.
FIGURE_WIDTH, FIGURE_HEIGHT = 900, 600


def scatter_figure(rows: pd.DataFrame, title: str) -> go.Figure:
    """Measured (x) against simulated (y) latency, log-log, one colour per family."""
    frame = rows.assign(measured_us=rows["latency_s"] * 1e6, simulated_us=rows["simulated_latency_s"] * 1e6)
    figure = px.scatter(
        frame,
        x="measured_us",
        y="simulated_us",
        color="family",
        symbol="kernel",
        hover_data={"shape": True, "error_pct": ":.1f", "measured_us": ":.2f", "simulated_us": ":.2f"},
        log_x=True,
        log_y=True,
        labels={"measured_us": "measured latency (µs)", "simulated_us": "simulated latency (µs)"},
        title=title,
        width=FIGURE_WIDTH,
        height=FIGURE_HEIGHT,
    )
    low = float(min(frame["measured_us"].min(), frame["simulated_us"].min()))
    high = float(max(frame["measured_us"].max(), frame["simulated_us"].max()))
    figure.add_trace(
        go.Scatter(
            x=[low, high], y=[low, high], mode="lines", name="y = x", line={"color": "gray", "dash": "dash"}
        )
    )
    return figure


def error_figure(rows: pd.DataFrame, title: str) -> go.Figure:
    """Signed error (%) against the work's size: FLOPs, or bytes for copies."""
    bytes_moved = pd.to_numeric(rows["bytes"], errors="coerce") if "bytes" in rows else math.nan
    size = np.where(rows["flops"].fillna(0) > 0, rows["flops"], bytes_moved)
    frame = rows.assign(work=size)
    figure = px.scatter(
        frame,
        x="work",
        y="error_pct",
        color="family",
        symbol="kernel",
        hover_data={"shape": True},
        log_x=True,
        labels={"work": "work (FLOPs; bytes for copies)", "error_pct": "simulated − measured (%)"},
        title=title,
        width=FIGURE_WIDTH,
        height=FIGURE_HEIGHT,
    )
    figure.add_hline(y=0, line_color="gray", line_dash="dash")
    return figure


def write_report(comparison: Comparison, path: str | Path, *, device: str, hardware: str) -> Path:
    """Write the HTML report to `path` and return it."""
    rows = comparison.rows
    heading = f"Measured on {device} vs simulated on preset {hardware}"
    parts = [
        f"<html><head><meta charset='utf-8'><title>{html.escape(heading)}</title></head><body>",
        f"<h1>{html.escape(heading)}</h1>",
        f"<p>{len(rows)} rows compared; {len(comparison.skipped)} not simulated.</p>",
        "<h2>Error per kernel family</h2>",
        comparison.summary.to_html(
            index=False, float_format=lambda v: f"{v:.1f}", formatters=FRACTION_FORMATTERS
        ),
    ]
    if len(rows):
        parts.append(
            scatter_figure(rows, "Measured vs simulated latency").to_html(
                full_html=False, include_plotlyjs=True
            )
        )
        parts.append(
            error_figure(rows, "Error against the size of the work").to_html(
                full_html=False, include_plotlyjs=False
            )
        )
    if len(comparison.skipped):
        parts += ["<h2>Rows not simulated</h2>", comparison.skipped.to_html(index=False)]
    parts.append("</body></html>")
    path = Path(path)
    path.write_text("\n".join(parts))
    return path
