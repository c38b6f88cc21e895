"""`calibrate()`: the spec fields a measured file pins down, fitted to it one at a time.

Datasheets give peaks; what a kernel reaches is measured. Each *knob* is one spec field (or one
kernel's entry of a GPU's `kernel_fractions` or `kernel_bandwidth_fractions`) and the measured
rows that inform it:

======================================  =====================================================
GPU knob                                rows it is fitted on
======================================  =====================================================
``launch_overhead_s``                   every row measured under `SMALL_KERNEL_S`
``achievable_dram_bytes_per_s``          the copy family
``gemm_bandwidth_fraction``             GEMM rows of the library kernels (`LIBRARY_GEMM_KERNELS`)
                                        that the tensor fraction does not move (GEMVs)
``achievable_tensor_fraction``          GEMM rows of the library kernels
``attention_bandwidth_fraction``,       the same for the attention rows of
``attention_tensor_fraction``           `LIBRARY_ATTENTION_KERNELS`
``kernel_bandwidth_fractions[K]``,      the GEMM or attention rows of any other kernel K
``kernel_fractions[K]``
``kernel_...[K:F]``                     ... of family F, when K was measured on several families
======================================  =====================================================

A GPU's ``dtype_tensor_fractions`` (a dtype's own GEMM fraction, none in the presets) is not a knob:
a calibrated spec keeps its base preset's, which the model's GEMMs of that dtype run at whatever
``achievable_tensor_fraction`` the bf16 rows fit; measured FP8 rows fit their kernel's own entry,
which replaces it for that kernel. A knob is fitted on at least ``Knob.min_train_rows`` training
rows (two for a bandwidth fraction, `MIN_BANDWIDTH_TRAIN_ROWS`), else kept.

A CPU's knobs are ``launch_overhead_s`` (rows under `SMALL_CPU_KERNEL_S`), ``dram_bytes_per_s``
(copy), ``gemm_efficiency`` and ``gemm_half_efficiency_rows`` (GEMM rows).

Knobs are fitted once each, in that order, each holding the earlier fits: the fixed cost first, on
the small rows whose latency halving the bandwidth does not move (launch-bound, not a 1 MiB
copy); then the bandwidth (it bounds the memory-bound rows among the later knobs'); then per
kernel its bandwidth fraction, on its rows halving its tensor fraction does not move
(memory-bound: decode GEMVs and attention), and its tensor fraction. A row informs a knob only if
halving or doubling the knob's value moves the row's simulated latency by `SENSITIVE_CHANGE` or
more (a decode GEMV says nothing about the tensor rate). The fit minimizes the median absolute
percentage error of the knob's rows, the figure `codesign compare` reports: a grid of
`GRID_POINTS` values across the knob's bounds, then a golden-section search between the best
point's neighbours.

Only calibration rows are fitted: a file with a `split` column (a published data set whose
sources the registry `reference_kernels.sources` splits) has its ``validation`` rows dropped before
anything is simulated, and the result names the sources its rows came from (`Calibration.sources`),
so a test can check that no validation source reached a fit. A file without the column is one
source (one measurement run) and all of it is calibration.

Within the calibration rows, a hash of kernel and shape splits off a held-out part (`holdout`) that
only measures the result: a check within the same sources, not a validation (the validation rows
are other sources', `sim.measured.published_validation`).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hwmodels.device import Device
from sim.engines.registry import model_for
from sim.measured.compare import Simulated, row_label, simulate_measured, timed_as
from sim.measured.holdout import DEFAULT_HOLDOUT
from sim.measured.knobs import FITTED_DIGITS, REFINE_STEPS, SENSITIVE_CHANGE, Knob
from sim.simulate import simulate_op_latency
from workloads.errors import CodesignError
from workloads.op import Op

#: The golden ratio's step of a golden-section search.
_GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass(frozen=True)
class Calibration:
    spec: Device  # the calibrated spec
    fits: pd.DataFrame  # one row per knob: value before and after, rows, train and held-out error
    summary: pd.DataFrame  # per (family, kernel): median |error| % before and after, train and held out
    skipped: pd.DataFrame  # measured rows not simulated: family, kernel, shape, reason
    interrupted: bool  # stopped by Ctrl-C: `spec` holds the knobs fitted before it
    sources: tuple[str, ...] = ()  # the sources of the rows fitted (`source_id`, else `source`)
    validation_rows_dropped: int = 0  # rows of validation sources left out before the fit


@dataclass(frozen=True)
class TimedOp:
    """A measured row's op and how it was timed (its `timing`, `l2_flush` and `sm_clock_mhz`): a
    fit simulates it on each candidate spec as `codesign compare` does
    (`sim.measured.compare.timed_as`), so what the timing method adds (launch, host dispatch, a
    flushed L2's write-back, a locked clock) is not fitted into the spec's own fields."""

    op: Op
    how: tuple[str, str, str]


def _latencies(spec: Device, ops: list[TimedOp], positions: Iterable[int]) -> np.ndarray:
    """The simulated seconds of ``ops[i]`` for each position, each on `spec` as its row was timed
    (each distinct timing's variant of `spec` built once)."""
    variants: dict[tuple[str, str], Device] = {}
    seconds = []
    for i in positions:
        how = ops[i].how
        if how not in variants:
            variants[how] = timed_as(spec, *how)
        seconds.append(simulate_op_latency(ops[i].op, variants[how]))
    return np.array(seconds)


def calibrate(
    measured: pd.DataFrame,
    base: Device,
    *,
    holdout: float = DEFAULT_HOLDOUT,
    on_knob: Callable[[str, int, int], None] | None = None,
) -> Calibration:
    """Fit `base`'s knobs (module docstring) to `measured`; ``on_knob(name, index, count)`` is
    called as each starts."""
    if not 0 <= holdout < 1:
        raise CodesignError(f"holdout = {holdout!r}: must be in [0, 1) (the share of rows not fitted)")
    knobs_for(measured.iloc[:0], base)  # a kind without knobs is refused before simulating
    measured, dropped = calibration_rows(measured)
    rows, simulated = _simulable(measured, base)
    ops = [TimedOp(op, how) for op, how in zip(simulated.ops, simulated.how, strict=True)]
    held = np.array([is_held_out(row, holdout) for _, row in rows.iterrows()], dtype=bool)
    measured_s = rows["latency_s"].to_numpy(dtype=float)
    spec, fits, interrupted = base, [], False
    knobs = list(knobs_for(rows, base))
    if not knobs:
        raise CodesignError(
            "nothing to calibrate on: no row informs a field (fitted are GEMM and attention rows, "
            "copies, and rows under the launch-bound latency; see docs/calibration.md)"
        )
    try:
        for index, knob in enumerate(knobs):
            if on_knob:
                on_knob(knob.name, index, len(knobs))
            fit = _fit(knob, spec, ops, measured_s, held)
            spec = fit.pop("spec")
            fits.append(fit)
    except KeyboardInterrupt:
        interrupted = True
    summary = _summary(rows, ops, measured_s, held, np.array(simulated.latency_s), spec)
    return Calibration(
        spec=spec,
        fits=pd.DataFrame(fits),
        summary=summary,
        skipped=simulated.skipped,
        interrupted=interrupted,
        sources=_sources(rows),
        validation_rows_dropped=dropped,
    )


def calibration_rows(measured: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The rows a fit may use, and how many validation rows were left out: every row of a file
    without a `split` column (one source, its own measurement), else those whose split is
    ``calibration``; an error when none is left."""
    if "split" not in measured:
        return measured, 0
    split = measured["split"].astype(str).str.strip()
    unknown = sorted(set(split) - {"calibration", "validation"})
    if unknown:
        raise CodesignError(f"split {unknown}: valid: calibration, validation (reference_kernels/sources.py)")
    kept = measured[split == "calibration"].reset_index(drop=True)
    if kept.empty:
        raise CodesignError(
            "nothing to calibrate on: every row is of a validation source (split = validation); "
            "a fit may use calibration rows only"
        )
    return kept, int((split == "validation").sum())


def _sources(rows: pd.DataFrame) -> tuple[str, ...]:
    """The distinct sources of the fitted rows: `source_id` where the file has it, else `source`."""
    for column in ("source_id", "source"):
        if column in rows:
            return tuple(sorted(set(rows[column].astype(str))))
    return ()


def knobs_for(rows: pd.DataFrame, spec: Device) -> Iterator[Knob]:
    """The knobs `rows` can inform on `spec`, in fitting order (module docstring): its kind's
    `DeviceModel.calibration_knobs`."""
    knobs = model_for(spec).calibration_knobs
    if knobs is None:
        raise CodesignError(
            f"hardware {spec.name!r} is a {type(spec).__name__}: calibrate fits GPU and CPU specs "
            "(the devices codesign measure times)"
        )
    return knobs(rows, spec)


def _simulable(measured: pd.DataFrame, spec: Device) -> tuple[pd.DataFrame, Simulated]:
    """The rows the simulator models on `spec` (a row without a positive latency is skipped, with
    the reason), and their simulation on it (`sim.measured.compare.simulate_measured`: ops, seconds, and
    the rows skipped)."""
    simulated = simulate_measured(measured, spec)
    rows = measured.iloc[simulated.positions].reset_index(drop=True)
    if rows.empty:
        raise CodesignError("nothing to calibrate on: no row the simulator models")
    rows["latency_s"] = simulated.measured_s
    return rows, simulated


def is_held_out(row: pd.Series, holdout: float) -> bool:
    """Whether a row is held out: a stable hash of its kernel and shape (same file, same split)."""
    key = f"{row['family']}|{row['kernel']}|{row_label(row)}|{row.get('a_dtype', '')}"
    return zlib.crc32(key.encode()) % 1000 < holdout * 1000


def _fit(
    knob: Knob, spec: Device, ops: list[TimedOp], measured_s: np.ndarray, held: np.ndarray
) -> dict[str, Any]:
    """Fit one knob on its sensitive training rows; the record of what it did (and the new spec)."""
    low, high = (knob.apply(spec, v) for v in knob.probes(spec))
    sensitive = _moved(ops, knob.rows, low, high)
    if other := knob.unless_moved_by:
        unmoved = set(sensitive) - set(_moved(ops, sensitive, other.apply(spec, other.value(spec) / 2), spec))
        sensitive = [i for i in sensitive if i in unmoved]
    train = [i for i in sensitive if not held[i]]
    test = [i for i in sensitive if held[i]]
    before = knob.value(spec)
    record = {
        "knob": knob.name,
        "rows": len(knob.rows),
        "train_rows": len(train),
        "held_out_rows": len(test),
        "before": before,
    }

    def error(value: float, positions: list[int]) -> float:
        return _median_error(knob.apply(spec, value), ops, measured_s, positions)

    if len(train) < knob.min_train_rows:
        return {
            **record,
            "after": before,
            "train_before_pct": np.nan,
            "train_after_pct": np.nan,
            "held_out_before_pct": np.nan,
            "held_out_after_pct": np.nan,
            "spec": spec,
            "note": "no training row moves with it; kept"
            if not train
            else f"{len(train)} training row, fewer than the {knob.min_train_rows} it needs; kept",
        }
    after = float(f"{_minimize(lambda value: error(value, train), knob, spec):.{FITTED_DIGITS}g}")
    train_before, train_after = error(before, train), error(after, train)
    if train_after >= train_before:  # the search found nothing better than the base value
        after, train_after = before, train_before
    return {
        **record,
        "after": after,
        "train_before_pct": train_before,
        "train_after_pct": train_after,
        "held_out_before_pct": error(before, test) if test else np.nan,
        "held_out_after_pct": error(after, test) if test else np.nan,
        "spec": knob.apply(spec, after) if after != before else spec,
        "note": "",
    }


def _moved(ops: list[TimedOp], positions: list[int], low: Any, high: Any) -> list[int]:
    """The positions whose simulated latency differs by `SENSITIVE_CHANGE` or more between two
    specs, in order."""
    ratio = _latencies(high, ops, positions) / _latencies(low, ops, positions)
    return [i for i, r in zip(positions, ratio, strict=True) if abs(r - 1) >= SENSITIVE_CHANGE]


def _minimize(objective: Callable[[float], float], knob: Knob, spec: Device) -> float:
    """The value in the knob's bounds with the least objective: the best of a grid, refined by a
    golden-section search between its neighbours."""
    grid = knob.grid(spec)
    values = [objective(float(value)) for value in grid]
    best = int(np.argmin(values))
    low, high = float(grid[max(best - 1, 0)]), float(grid[min(best + 1, len(grid) - 1)])
    to_axis, from_axis = (math.log, math.exp) if knob.log and low > 0 else (float, float)
    a, b = to_axis(low), to_axis(high)
    candidates = {float(grid[best]): values[best]}
    for _ in range(REFINE_STEPS):
        c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
        fc, fd = objective(from_axis(c)), objective(from_axis(d))
        candidates[from_axis(c)], candidates[from_axis(d)] = fc, fd
        if fc <= fd:
            b = d
        else:
            a = c
    return min(candidates, key=lambda value: (candidates[value], value))


def _median_error(spec: Device, ops: list[TimedOp], measured_s: np.ndarray, positions: list[int]) -> float:
    simulated = _latencies(spec, ops, positions)
    return float(np.median(np.abs(simulated - measured_s[positions]) / measured_s[positions]) * 100)


def _summary(
    rows: pd.DataFrame,
    ops: list[TimedOp],
    measured_s: np.ndarray,
    held: np.ndarray,
    base_s: np.ndarray,
    spec: Device,
) -> pd.DataFrame:
    """Median |error| % per (family, kernel) on the base (its simulated seconds, `base_s`) and the
    calibrated spec, over the training and the held-out rows."""
    frame = rows[["family", "kernel"]].copy()
    after_s = _latencies(spec, ops, range(len(ops)))
    for label, simulated in (("before", base_s), ("after", after_s)):
        frame[label] = np.abs(simulated - measured_s) / measured_s * 100
    frame["held_out"] = held
    records = []
    for (family, kernel), group in frame.groupby(["family", "kernel"], sort=True):
        train, test = group[~group["held_out"]], group[group["held_out"]]
        records.append(
            {
                "family": family,
                "kernel": kernel,
                "train_rows": len(train),
                "train_before_pct": train["before"].median(),
                "train_after_pct": train["after"].median(),
                "held_out_rows": len(test),
                "held_out_before_pct": test["before"].median(),
                "held_out_after_pct": test["after"].median(),
            }
        )
    return pd.DataFrame(records)
