"""Whole-run figures of an FPGA simulation, from its rows (totals are sums of rows).

`run_summary(results, spec)`: HBM bandwidth utilization (bytes moved over the run's time at the
datasheet rate), DSP utilization (useful MACs over the MPE's INT8 peak for the time), the unit
busiest over the run and its busy share, the share of ops whose activations stayed on chip, the
timeline's excess over the closed form, average power, and the resources the overlay uses.
`run_note` is that as the lines `codesign simulate` prints under the table.
"""

from __future__ import annotations

import pandas as pd

from hwmodels.fpga import FPGASpec
from sim.engines.fpga.engine import BUSY_COLUMNS


def run_summary(results: pd.DataFrame, spec: FPGASpec) -> dict[str, float | str]:
    """The whole-run figures of FPGA `results` (module docstring); modeled rows only."""
    rows = results[~results["unmodeled"].astype(bool)]
    latency = float(rows["latency_s"].sum())
    busy = {column.removesuffix("_busy_s"): float(rows[column].sum()) for column in BUSY_COLUMNS.values()}
    unit = max(busy, key=busy.__getitem__)
    energy = float(rows["energy_j"].sum()) if "energy_j" in rows else float("nan")
    used = spec.resources
    return {
        "latency_s": latency,
        "hbm_utilization": float(rows["dram_bytes"].sum()) / (latency * spec.dram_bytes_per_s),
        "dsp_utilization": float(rows["macs"].sum()) / (latency * spec.peak_flops(spec.default_dtype) / 2),
        "bottleneck": unit,
        "bottleneck_busy": busy[unit] / latency,
        "on_chip_share": float(rows["activations_on_chip"].mean()),
        "closed_form_s": float(rows["closed_form_s"].sum()),
        "power_w": energy / latency if latency else float("nan"),
        "dsps_used": used.dsps,
        "onchip_bytes_used": used.onchip_bytes,
        "channels_used": used.channels,
    }


def run_note(results: pd.DataFrame, spec: FPGASpec) -> str:
    """The summary as two lines."""
    s = run_summary(results, spec)
    device = spec.device
    gap = (s["latency_s"] / s["closed_form_s"] - 1) * 100 if s["closed_form_s"] else 0.0
    return (
        f"HBM bandwidth utilization {s['hbm_utilization']:.1%}, DSP utilization {s['dsp_utilization']:.1%}, "
        f"busiest unit {s['bottleneck']} ({s['bottleneck_busy']:.0%} of the time), activations on chip in "
        f"{s['on_chip_share']:.0%} of ops, timeline {gap:+.1f}% over the closed form, {s['power_w']:.1f} W\n"
        f"overlay uses {s['dsps_used']:,} of {device.dsp_slices:,} DSPs, "
        f"{s['onchip_bytes_used'] / 2**20:.1f} of {device.onchip_bytes / 2**20:.1f} MiB BRAM+URAM, "
        f"{s['channels_used']} of {device.memory_channels} memory channels"
    )
