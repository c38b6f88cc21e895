"""Plots of one simulation: ops over the device's roofline, and where the time (or energy) goes
per op kind on one or more devices.

Roofline (`device_roof`): the ceiling is ``min(peak FLOP/s, intensity × DRAM bytes/s)`` with the
datasheet peak of the device's default dtype (`Device.peak_flops`: systolic 2 · PEs · MACs/PE/cycle
· clock; GPU the dense tensor-core peak; CPU the FMA peak) and its datasheet DRAM bandwidth; where
the achievable bandwidth is lower (a GPU's copy rate) it is drawn dashed. Each op is a point at
(FLOPs / DRAM bytes, FLOPs / latency).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from hwmodels.device import Device
from sim.cost import tdp_bound_labels
from sim.present.plot import FIGURE_HEIGHT, FIGURE_WIDTH
from workloads.errors import CodesignError

#: Intensity range drawn (FLOP/byte), widened to cover every op.
ROOF_INTENSITY_RANGE = (1e-2, 1e4)
#: Columns a breakdown stacks: the scale to the unit shown, the quantity and the unit.
BREAKDOWN_UNITS = {"latency_s": (1e3, "latency", "ms"), "energy_j": (1e3, "energy", "mJ")}


def device_roof(hardware: Device) -> tuple[float, float, float]:
    """(peak FLOP/s, DRAM bytes/s, achievable DRAM bytes/s) of `hardware` in its default dtype
    (`hwmodels.device.Device`: every kind answers these itself)."""
    peak = hardware.peak_flops(hardware.default_dtype)
    return peak, hardware.dram_bytes_per_s, hardware.achievable_dram_bytes_per_s


def roofline_figure(results: pd.DataFrame, hardware: Device, title: str | None = None) -> go.Figure:
    """Each modeled op with FLOPs and DRAM bytes as a point over `hardware`'s roofline, log-log,
    coloured by op kind; hover names the layer; the title counts the ops left out, and why."""
    unmodeled = results["unmodeled"].astype(bool)
    rows = results[~unmodeled & (results["flops"] > 0) & (results["dram_bytes"] > 0)]
    if rows.empty:
        raise CodesignError("no op has both FLOPs and DRAM bytes to place on a roofline")
    rows = rows.assign(
        intensity=rows["flops"] / rows["dram_bytes"],
        achieved_flops_per_s=rows["flops"] / rows["latency_s"],
        latency_us=rows["latency_s"] * 1e6,
    )
    peak, bandwidth, achievable = device_roof(hardware)
    figure = px.scatter(
        rows,
        x="intensity",
        y="achieved_flops_per_s",
        color="kind",
        hover_data={"layer": True, "latency_us": ":.3g", "flops": ":.3g", "dram_bytes": ":.3g"},
        log_x=True,
        log_y=True,
        labels={"intensity": "arithmetic intensity (FLOP/byte of DRAM traffic)",
                "achieved_flops_per_s": "achieved (FLOP/s)", "kind": "op kind", "latency_us": "latency (µs)"},
        title=title or f"Roofline on {hardware.name}: {_drawn(len(rows), len(results), int(unmodeled.sum()))}"
        f"<br><sup>peak {peak / 1e12:.4g} TFLOP/s ({hardware.default_dtype.value}), "
        f"DRAM {bandwidth / 1e9:.4g} GB/s, ridge at {peak / bandwidth:.3g} FLOP/byte</sup>",
        width=FIGURE_WIDTH,
        height=FIGURE_HEIGHT,
        template="plotly_white",
    )
    low = min(ROOF_INTENSITY_RANGE[0], rows["intensity"].min() / 2)
    high = max(ROOF_INTENSITY_RANGE[1], rows["intensity"].max() * 2)
    intensity = np.geomspace(low, high, 200)
    roofs = [("roofline (datasheet)", bandwidth, {"color": "black"})]
    if achievable < bandwidth:
        roofs.append(("roofline (achievable DRAM)", achievable, {"color": "gray", "dash": "dash"}))
    for name, rate, line in roofs:
        ceiling = np.minimum(peak, intensity * rate)
        figure.add_trace(go.Scatter(x=intensity, y=ceiling, mode="lines", name=name, line=line))
    figure.update_xaxes(exponentformat="power")  # 10^15 beside 10^12, not "100T" beside "10^15"
    figure.update_yaxes(exponentformat="power")
    return figure


def _drawn(drawn: int, ops: int, unmodeled: int) -> str:
    """What the points are: ``713 ops with FLOPs and DRAM bytes; 120 without and 15 unmodeled are
    not drawn``, or ``848 ops`` when every op is drawn."""
    if drawn == ops:
        return f"{ops} ops"
    without = ops - drawn - unmodeled
    left_out = [f"{without} without" if without else "", f"{unmodeled} unmodeled" if unmodeled else ""]
    return f"{drawn} ops with FLOPs and DRAM bytes; {' and '.join(filter(None, left_out))} are not drawn"


def breakdown_figure(
    results: dict[str, pd.DataFrame], column: str = "latency_s", title: str | None = None
) -> go.Figure:
    """One stacked bar per device (the keys of `results`), split by op kind: the sum of `column`
    (latency or energy) over the modeled ops of each kind."""
    if column not in BREAKDOWN_UNITS:
        raise CodesignError(f"--y {column}: a breakdown stacks one of {', '.join(BREAKDOWN_UNITS)}")
    scale, quantity, unit = BREAKDOWN_UNITS[column]
    label = f"{quantity} ({unit})"
    parts = []
    for device, frame in results.items():
        modeled = frame[~frame["unmodeled"].astype(bool)]
        by_kind = modeled.groupby("kind", as_index=False)[column].sum(min_count=1)
        parts.append(by_kind.assign(device=device, value=by_kind[column] * scale))
    table = pd.concat(parts, ignore_index=True).dropna(subset=["value"])
    if table.empty:
        raise CodesignError(f"no modeled op has a {column} value on these devices")
    bounded = [device for device, frame in results.items() if column in tdp_bound_labels(frame)]
    if bounded:  # energy as TDP × time on these devices
        label += f"; {', '.join(bounded)}: {tdp_bound_labels(results[bounded[0]])[column]}"
    totals = table.groupby("device", sort=False)["value"].sum()
    shown = ", ".join(f"{d} {'≤ ' if d in bounded else ''}{v:.4g} {unit}" for d, v in totals.items())
    figure = px.bar(
        table,
        x="device",
        y="value",
        color="kind",
        text_auto=",.3~r",
        labels={"value": label, "device": "hardware", "kind": "op kind"},
        title=title or f"{quantity.capitalize()} by op kind"
        f"<br><sup>total: {shown}</sup>",
        width=FIGURE_WIDTH,
        height=FIGURE_HEIGHT,
        template="plotly_white",
    )
    figure.update_layout(uniformtext_minsize=10, uniformtext_mode="hide")  # no unreadable labels
    return figure
