"""What the GPU probes' measurements (`reference_kernels.probes`) say about the model's assumptions.

Each function reads one probe's rows (the CSV `run_probes` writes, as a DataFrame) and returns the
figures a preset field would be set from, with the arithmetic in its docstring:

* `memory_law`: the closed queue of `sim.engines.gpu.timing` says a stream with ``I`` bytes in
  flight runs at ``I / (L + I / P)``: ``1 / rate = L / I + 1 / P``, a straight line in ``1 / I``
  whose intercept is the stream's ceiling ``P`` and whose slope its latency ``L``. Fitted on the
  read streams whose CTAs are all resident at once (at most one per SM), it gives the read-only
  ceiling (against the copy's rate: the presets' `gemm_bandwidth_fraction` and
  `attention_bandwidth_fraction`, as `h100_pcie.yaml` sets from te42kyfo's read stream) and the
  latency the law implies (against the pointer chase's `memory_latency_s`).
* `sustained_clock`: a burst's rate (the first second of back-to-back 8192³ GEMMs) against the
  sustained one (the last second), per data kind, beside nvidia-smi's SM clock and power (over the
  whole probe, and over each kind's last second where the samples carry their time): whether a
  GPU's `loaded_clock_hz` differs from the clock a short calibration burst ran at, and whether FP8
  holds a lower clock than bf16.
* `dirty_share`: a GEMV timed after a flush by writes less the same after a flush by reads, at the
  copy's rate, is the bytes written back for the dirty lines the flush left: as a share of the L2,
  what `GPUSpec.after_l2_flush_by_writes` assumes to be the whole of it.
* `fast_accumulation`: cuBLAS FP8 without fast accumulation over with it, per shape.
* `clock_after_idle`: a spin of ``c`` cycles and one of ``2c`` timed by CUDA events take
  ``t1 = o + c / f`` and ``t2 = o + 2c / f`` at an SM clock ``f`` with the same launch and event
  overhead ``o``, so ``f = c / (t2 - t1)``: per condition, the clock a call meets (back to back
  after a warm-up, after host idle, after a flush and a synchronize), over the back-to-back one,
  beside the small calls' times over theirs back to back.
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd

#: Seconds of the sustained probe counted as its burst (from its start) and as its sustained rate
#: (up to its end).
BURST_S = 1.0
#: nvidia-smi's column names for the SM clock and the board power (``--format=csv`` headers).
SMI_CLOCK = "clocks.current.sm [MHz]"
SMI_POWER = "power.draw [W]"
SMI_TIME = "timestamp"
#: nvidia-smi's timestamp, local time (``--query-gpu=timestamp``: "2026/12/07 15:30:00.123").
SMI_TIME_FORMAT = "%Y/%m/%d %H:%M:%S.%f"


def memory_law(streams: pd.DataFrame) -> dict[str, float]:
    """The read streams' ceiling and latency (module docstring: ``1 / rate = L / I + 1 / P``, a
    least-squares line through the rows with ``ctas <= sm_count``), the best write and copy rates,
    and the read ceiling over the copy's rate."""
    reads = streams[(streams["kind"] == "read") & (streams["ctas"] <= streams["sm_count"])]
    if len(reads) < 2:
        raise ValueError(f"memory_law: {len(reads)} read rows with every CTA resident: need at least 2")
    in_flight = reads["bytes_in_flight_if_resident"].to_numpy(float)
    slope, intercept = np.polyfit(1 / in_flight, 1 / reads["bytes_per_s"].to_numpy(float), 1)
    best = streams.groupby("kind")["bytes_per_s"].max()
    result = {"read_ceiling_bytes_per_s": 1 / intercept, "law_latency_s": slope,
              "best_read_bytes_per_s": float(best.get("read", np.nan)),
              "write_bytes_per_s": float(best.get("write", np.nan)),
              "copy_bytes_per_s": float(best.get("copy", np.nan))}
    result["read_over_copy"] = result["read_ceiling_bytes_per_s"] / result["copy_bytes_per_s"]
    return result


def sustained_clock(chunks: pd.DataFrame, smi: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per data kind: the mean rate of the chunks starting in the first `BURST_S` and of those
    starting in the last, their ratio, and (with nvidia-smi's log) the median SM clock and power
    over the whole probe."""
    rows = []
    for data, group in chunks.groupby("data", sort=False):
        end = group["start_s"].max()
        burst = group[group["start_s"] < BURST_S]["flops_per_s"].mean()
        held = group[group["start_s"] >= end - BURST_S]["flops_per_s"].mean()
        rows.append({"data": data, "burst_flops_per_s": burst, "sustained_flops_per_s": held,
                     "sustained_over_burst": held / burst})
    result = pd.DataFrame(rows)
    if smi is None or smi.empty:
        return result
    columns = {column.strip(): column for column in smi.columns}
    values = {name: pd.to_numeric(smi[columns[key]].astype(str).str.split().str[0], errors="coerce")
              for name, key in (("sm_clock_mhz", SMI_CLOCK), ("power_w", SMI_POWER)) if key in columns}
    for name, series in values.items():
        result[f"median_{name}"] = series.median()
    if SMI_TIME not in columns or "epoch_s" not in chunks:
        return result
    sampled = pd.Series([_smi_epoch(stamp) for stamp in smi[columns[SMI_TIME]]], index=smi.index)
    for name, series in values.items():  # each kind's last second, by the samples' time
        result[f"sustained_{name}"] = [
            series[(sampled >= end - BURST_S) & (sampled <= end)].median()
            for end in chunks.groupby("data", sort=False)["epoch_s"].max()
        ]
    return result


def _smi_epoch(stamp: object) -> float:
    """Seconds since the epoch of an nvidia-smi timestamp (local time, `SMI_TIME_FORMAT`); NaN for
    one it does not parse."""
    try:
        return datetime.datetime.strptime(str(stamp).strip(), SMI_TIME_FORMAT).timestamp()
    except ValueError:
        return float("nan")


def dirty_share(gemvs: pd.DataFrame, copy_bytes_per_s: float) -> pd.DataFrame:
    """Per GEMV: its time after a write flush less after a read flush, times the copy's rate,
    over the L2 (module docstring): 1 where the whole L2 is written back, 0 where none of it. A
    GEMV evicts one dirty line per line it reads (`sim.engines.gpu.timing.dirty_write_back_bytes`),
    so one whose weight is smaller than the L2 writes back at most its weight's bytes: its share
    measures the dirty lines only up to that (`measures_whole_l2` False), a lower bound there."""
    times = gemvs.pivot_table(index=["n", "k", "weight_bytes", "l2_bytes"], columns="before",
                              values="median_s").reset_index()
    times["written_back_bytes"] = (times["write_flush"] - times["read_flush"]) * copy_bytes_per_s
    times["dirty_share"] = times["written_back_bytes"] / times["l2_bytes"]
    times["measures_whole_l2"] = times["weight_bytes"] >= times["l2_bytes"]
    return times


def fast_accumulation(fp8: pd.DataFrame) -> pd.DataFrame:
    """Per shape: cuBLAS FP8's time without fast accumulation over its time with it."""
    times = fp8.pivot_table(index=["m", "n", "k"], columns="use_fast_accum", values="median_s")
    times = times.rename(columns={False: "promoted_s", True: "fast_s"}).reset_index()
    times["promoted_over_fast"] = times["promoted_s"] / times["fast_s"]
    return times


def clock_after_idle(rows: pd.DataFrame) -> pd.DataFrame:
    """Per condition and host gap: the SM clock its spins ran at (module docstring: ``f = c / (t2 -
    t1)``, from the medians), over the ``hot`` condition's, and each other call's median time over
    its ``hot`` one."""
    medians = rows.pivot_table(index=["condition", "gap_s"], columns="call", values="median_s", sort=False)
    cycles = rows[rows["call"] == "spin"]["cycles"].iloc[0]
    result = pd.DataFrame({"clock_hz": cycles / (medians["spin_twice"] - medians["spin"])})
    hot = medians.xs("hot", level="condition").iloc[0]
    result["clock_over_hot"] = result["clock_hz"] / result.loc[("hot", hot.name), "clock_hz"]
    for call in medians.columns.difference(["spin", "spin_twice"]):
        result[f"{call}_s"] = medians[call]
        result[f"{call}_over_hot"] = medians[call] / hot[call]
    return result.reset_index()

