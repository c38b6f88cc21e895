"""Design-space plots: a sweep's rows (Parquet parts) or a CSV as a scatter of one column against
another, coloured and faceted by others, with the Pareto front marked; HTML (interactive, hover
shows the config's swept fields) or a static PNG/SVG through kaleido.

Pareto rule (`pareto_mask`): a point is on the front when no other point is at least as good on
both axes and strictly better on one. Which way is better (`goal_for`) comes from the column's
name unless the caller says: throughput-like names (`MAXIMIZE_MARKERS`: ``per_s``, ``tokens_per``,
``utilization``, ``efficiency``, ``throughput``) are maximized, everything else (latency, energy,
area, power, price) minimized.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from hwmodels.cpu import CPUSpec
from hwmodels.gpu import GPUSpec
from hwmodels.systolic import SystolicArraySpec
from sim.cost import tdp_bound_labels
from workloads.errors import CodesignError
from workloads.files import text_stream, writing

#: Plot size in pixels (as the compare report): a laptop screen, a two-column paper figure.
FIGURE_WIDTH, FIGURE_HEIGHT = 900, 600
#: Pixel density of PNG exports (2: sharp on high-DPI screens and in slides).
PNG_SCALE = 2
OUTPUT_SUFFIXES = (".html", ".png", ".svg")
#: Legend in a row under the x axis title (clear of the colour bar, the title and facet titles).
LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.16, "xanchor": "center", "x": 0.5}
#: A numeric colour column with at most this many values gets a discrete legend, not a colour bar.
DISCRETE_LEVELS = 10
MAXIMIZE_MARKERS = ("per_s", "tokens_per", "utilization", "efficiency", "throughput")
#: Column-name suffixes and the unit they stand for, longest first where they overlap.
UNIT_SUFFIXES = (
    ("_bytes_per_s", "bytes/s"),
    ("_flops_per_s", "FLOP/s"),
    ("tokens_per_s", "tokens/s"),
    ("tokens_per_usd", "tokens/$"),
    ("tokens_per_j", "tokens/J"),
    ("usd_per_hour", "$/h"),
    ("_per_token_j", "J/token"),
    ("_mm2", "mm²"),
    ("_bytes", "bytes"),
    ("_hz", "Hz"),
    ("_nm", "nm"),
    ("_j", "J"),
    ("_w", "W"),
    ("_s", "s"),
)
#: Names of fields of any hardware spec: the columns a sweep may have swept (hover shows them).
SPEC_FIELDS = frozenset(
    f.name for cls in (SystolicArraySpec, GPUSpec, CPUSpec) for f in dataclasses.fields(cls)
)
#: Browsers kaleido 1.x (through choreographer) can drive, looked up on PATH; BROWSER_PATH overrides.
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def load_table(path: str | Path) -> pd.DataFrame:
    """A sweep folder's Parquet parts (sorted by `config_id` when present), a .parquet file or a CSV."""
    path = Path(path)
    if path.is_dir():
        parts = sorted(path.glob("*.parquet"))
        if not parts:
            raise CodesignError(f"{path}: no Parquet parts in this folder (is it a sweep's output folder?)")
        frame = pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True)
        if "config_id" in frame:
            frame = frame.sort_values("config_id", kind="stable", ignore_index=True)
        return frame
    if path.suffix == ".csv" and path.is_file():
        try:
            return pd.read_csv(text_stream(path, what="a CSV table to plot"))
        except pd.errors.EmptyDataError:
            raise CodesignError(f"{path}: the CSV file is empty (no header, no rows)") from None
        except pd.errors.ParserError as error:
            raise CodesignError(f"{path}: not a readable CSV: {str(error).strip()}") from None
    if path.suffix == ".parquet" and path.is_file():
        return pd.read_parquet(path)
    raise CodesignError(f"{path}: not a sweep folder, .parquet or .csv file")


def without_totals(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """`frame` less the total rows a ``codesign simulate --format csv`` file holds (layer ``total``
    and no op kind: sums over the ops, not an op), and how many there were."""
    if "layer" not in frame or "kind" not in frame:
        return frame, 0
    no_kind = frame["kind"].isna() | (frame["kind"].astype(str) == "")
    totals = (frame["layer"].astype(str) == "total") & no_kind
    return frame[~totals].reset_index(drop=True), int(totals.sum())


def axis_label(column: str) -> str:
    """``latency_s`` → ``latency (s)``; ``tokens_per_s`` → ``tokens per s (tokens/s)``."""
    for suffix, unit in UNIT_SUFFIXES:
        if column.endswith(suffix):
            stem = column[: -len(suffix)] if suffix.startswith("_") else column
            return f"{stem.replace('_', ' ')} ({unit})"
    return column.replace("_", " ")


def goal_for(column: str) -> str:
    """``max`` for throughput-like names (`MAXIMIZE_MARKERS`), else ``min``."""
    return "max" if any(marker in column for marker in MAXIMIZE_MARKERS) else "min"


def pareto_mask(x: np.ndarray, y: np.ndarray, x_goal: str = "min", y_goal: str = "min") -> np.ndarray:
    """True where (x, y) is not dominated: no other point is at least as good on both and strictly
    better on one (NaN points are never on the front). Equal points are all kept. O(n log n)."""
    a = np.where(x_goal == "max", -np.asarray(x, float), np.asarray(x, float))
    b = np.where(y_goal == "max", -np.asarray(y, float), np.asarray(y, float))
    mask = np.zeros(len(a), dtype=bool)
    best_b, last = math.inf, (math.nan, math.nan)
    for i in np.lexsort((b, a)):  # by a, then b: better first
        if math.isnan(a[i]) or math.isnan(b[i]):
            continue
        if b[i] < best_b or (a[i], b[i]) == last:
            mask[i], best_b, last = True, b[i], (a[i], b[i])
    return mask


def check_columns(frame: pd.DataFrame, *columns: str | None) -> None:
    """An error naming the unknown column and listing the known ones."""
    for column in columns:
        if column is not None and column not in frame.columns:
            raise CodesignError(f"unknown column {column!r}; columns: {', '.join(map(str, frame.columns))}")


def scatter_figure(
    frame: pd.DataFrame,
    x: str,
    y: str,
    *,
    color: str | None = None,
    facet: str | None = None,
    pareto: bool = False,
    goals: tuple[str, str] | None = None,
    log: bool = False,
    title: str | None = None,
) -> go.Figure:
    """`y` against `x`, one point per row; rows with an `error` or a NaN on an axis are left out
    (counted in the subtitle). With `pareto`, the front (per facet) is drawn as a line over its points."""
    check_columns(frame, x, y, color, facet)
    usable = frame[frame[x].notna() & frame[y].notna()]
    if "error" in usable.columns:
        usable = usable[usable["error"].isna() | (usable["error"].astype(str) == "")]
    if usable.empty:
        raise CodesignError(f"no row has both {x} and {y} (of {len(frame)} rows)")
    x_goal, y_goal = goals or (goal_for(x), goal_for(y))
    hover = [c for c in ("config_id", "workload", *sorted(SPEC_FIELDS)) if c in usable and c not in (x, y)]
    hover = [c for c in hover if c in ("config_id", "workload") or usable[c].nunique() > 1]
    labels = {c: axis_label(c) for c in usable.columns}
    for column, note in tdp_bound_labels(usable).items():  # energy as TDP × time: a bound
        labels[column] = f"{labels[column]}, {note}"
    heading = title or f"{labels[y]} vs {labels[x]}"
    left_out = len(frame) - len(usable)
    subtitle = f"{len(usable)} points" + (f", {left_out} rows without both left out" if left_out else "")
    if pareto:
        subtitle += f"; Pareto front: {x_goal} {x}, {y_goal} {y}"
    if color and pd.api.types.is_numeric_dtype(usable[color]) and usable[color].nunique() <= DISCRETE_LEVELS:
        # a few swept values read better as a legend of discrete colours than as a colour bar
        order = [_level(v) for v in sorted(usable[color].unique())]
        usable = usable.assign(**{color: usable[color].map(_level)})
        category_orders = {color: order}
    else:
        category_orders = {}
    figure = px.scatter(
        usable,
        x=x,
        y=y,
        color=color,
        category_orders=category_orders,
        facet_col=facet,
        facet_col_wrap=3 if facet else 0,
        hover_data=hover,
        log_x=log,
        log_y=log,
        labels=labels,
        title=f"{heading}<br><sup>{subtitle}</sup>",
        width=FIGURE_WIDTH,
        height=FIGURE_HEIGHT,
        template="plotly_white",
    )
    if pareto:
        _add_fronts(figure, usable, x, y, facet, (x_goal, y_goal))
    figure.update_layout(legend=LEGEND_BELOW, margin={"b": 150})
    figure.for_each_annotation(lambda note: note.update(text=note.text.replace("=", ": ", 1)))
    return figure


def _level(value: float) -> str:
    """A legend entry for a numeric level: integers as they are up to 10⁷, else 4 significant digits."""
    if float(value).is_integer() and abs(value) < 1e7:
        return str(int(value))
    return f"{value:.4g}"


def _add_fronts(figure: go.Figure, frame: pd.DataFrame, x: str, y: str, facet: str | None, goals) -> None:
    groups = frame.groupby(facet, sort=True) if facet else [(None, frame)]
    for index, (_, group) in enumerate(groups):
        front = group[pareto_mask(group[x].to_numpy(), group[y].to_numpy(), *goals)].sort_values(x)
        trace = go.Scatter(
            x=front[x], y=front[y], mode="lines+markers", name="Pareto front", showlegend=index == 0,
            line={"color": "black", "width": 1.5},
            marker={"symbol": "circle-open", "size": 11, "color": "black"},
            hoverinfo="skip",
        )
        if facet:
            row, col = _facet_cell(len(groups), index)
            figure.add_trace(trace, row=row, col=col)
        else:
            figure.add_trace(trace)


def _facet_cell(count: int, index: int) -> tuple[int, int]:
    """plotly's (row, col) of facet `index` with `facet_col_wrap=3` (rows numbered bottom-up)."""
    rows = math.ceil(count / 3)
    return rows - index // 3, index % 3 + 1


def browser_path() -> str | None:
    """The Chrome/Chromium kaleido will use: BROWSER_PATH if set, else the first on PATH."""
    return os.environ.get("BROWSER_PATH") or next(filter(None, map(shutil.which, BROWSER_NAMES)), None)


def write_figure(figure: go.Figure, path: str | Path) -> Path:
    """Write `figure` as self-contained HTML, or PNG/SVG through kaleido (which needs a Chrome or
    Chromium; an error naming the fix when there is none)."""
    path = Path(path)
    if path.suffix not in OUTPUT_SUFFIXES:
        raise CodesignError(f"--out {path}: unsupported extension {path.suffix!r}; use .html, .png or .svg")
    if path.suffix == ".html":
        with writing(path, option="--out"):
            figure.write_html(path, include_plotlyjs=True)
        return path
    _import_kaleido(path)
    if browser_path() is None:
        raise CodesignError(
            f"--out {path}: kaleido needs Chrome or Chromium: apt-get install chromium "
            "(or plotly_get_chrome), set BROWSER_PATH, or write .html"
        )
    with writing(path, option="--out"):
        figure.write_image(path, scale=PNG_SCALE if path.suffix == ".png" else 1)
    return path


def _import_kaleido(path: Path) -> None:
    """Import kaleido before plotly does, with the command line hidden: its logging dependency
    (logistro, ``_args.py``) parses ``sys.argv`` on import, and reads ``--log`` as an ambiguous
    abbreviation of its own ``--logistro-*`` options, exiting the program."""
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise CodesignError(f"--out {path}: static images need kaleido: pip install kaleido") from None
    finally:
        sys.argv = argv
