"""`calibrate()`: the spec fields a measured file pins down, fitted to it one at a time.

Datasheets give peaks; what a kernel reaches is measured. Each *knob* is one spec field (or one
kernel's entry of a GPU's `kernel_fractions` or `kernel_bandwidth_fractions`) and the measured
rows that inform it:

======================================  =====================================================
GPU knob                                rows it is fitted on
======================================  =====================================================
``launch_overhead_s``                   every row measured under `SMALL_KERNEL_S`
``achievable_hbm_bytes_per_s``          the copy family
``gemm_bandwidth_fraction``             GEMM rows of the library kernels (`LIBRARY_GEMM_KERNELS`)
                                        that the tensor fraction does not move (GEMVs)
``achievable_tensor_fraction``          GEMM rows of the library kernels
``attention_bandwidth_fraction``,       the same for the attention rows of
``attention_tensor_fraction``           `LIBRARY_ATTENTION_KERNELS`
``kernel_bandwidth_fractions[K]``,      the GEMM or attention rows of any other kernel K
``kernel_fractions[K]``
``kernel_...[K:F]``                     ... of family F, when K was measured on several families
======================================  =====================================================

A CPU's knobs are ``call_overhead_s`` (rows under `SMALL_CPU_KERNEL_S`), ``memory_bytes_per_s``
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

Rows are split once, by a hash of kernel and shape, into a training part the knobs are fitted on
and a held-out part (`holdout`) that only measures the result, so the errors reported for the
calibrated spec are not the errors it was fitted to.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hwmodels.cpu import CPUSpec
from hwmodels.gpu import GPUSpec
from sim.measured.compare import Simulated, row_label, simulate_measured
from sim.simulate import simulate_op_latency
from workloads.errors import CodesignError
from workloads.kernel_ops import ATTENTION_FAMILIES, GEMM_FAMILIES
from workloads.op import Op

#: Kernels whose rows set a GPU's spec-wide fractions: the vendor libraries as torch calls them
#: (cuBLAS behind matmul, FlashAttention-2 or cuDNN behind SDPA), the kernels a traced model's ops
#: run as. Every other kernel gets its own `kernel_fractions` entry.
LIBRARY_GEMM_KERNELS = ("torch_matmul",)
LIBRARY_ATTENTION_KERNELS = ("torch_sdpa",)
#: Measured time under which a GPU kernel is mostly launch and setup (a 4096² bf16 GEMM takes ~200
#: µs on an H100; a 256² one ~5 µs, of which the math is ~0.03 µs).
SMALL_KERNEL_S = 20e-6
#: The same for a CPU op (an ATen call's dispatch is microseconds; a 64² fp32 GEMM ~10 µs).
SMALL_CPU_KERNEL_S = 100e-6
#: Relative change of a row's simulated latency, between the knob's halved and doubled value
#: (linear knobs: its two bounds), that makes the row inform the knob.
SENSITIVE_CHANGE = 0.10
#: Values tried across a knob's bounds, then golden-section steps between the best one's neighbours.
GRID_POINTS = 12
REFINE_STEPS = 12
#: Significant digits a fitted value keeps (the fit's own resolution is coarser).
FITTED_DIGITS = 4
#: Default share of rows held out of the fit to measure it.
DEFAULT_HOLDOUT = 0.3
#: A GPU's achievable HBM bandwidth is searched down to this fraction of the datasheet's.
MIN_HBM_FRACTION = 0.3
#: Bounds of a tensor-core fraction and of a CPU's GEMM efficiency.
MIN_FRACTION, MAX_FRACTION = 0.02, 1.0
#: Lower bound of a kernel's bandwidth fraction (of the achievable HBM rate); the upper one is the
#: spec's `max_bandwidth_fraction` (the datasheet rate), taken when the knob is fitted.
MIN_BANDWIDTH_FRACTION = 0.1
#: A CPU's memory bandwidth and half-efficiency rows are searched over these factors of the base.
CPU_SEARCH_FACTOR = 10.0
_GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass(frozen=True)
class Knob:
    """One fitted value: a spec field, or a kernel's entry of the spec's mapping `mapping`
    (`kernel` set; `field` is then the spec field the entry stands in for, as `for_kernel` sets it)."""

    field: str
    rows: tuple[int, ...]  # positions (in the simulated rows) it is fitted on, before the sensitivity test
    low: float
    high: float  # math.inf: the spec's `max_bandwidth_fraction` when fitted
    log: bool
    kernel: str | None = None
    mapping: str = "kernel_fractions"
    unless_moved_by: Knob | None = None  # rows halving this other knob moves do not inform the knob

    @property
    def name(self) -> str:
        return f"{self.mapping}[{self.kernel}]" if self.kernel else self.field

    def value(self, spec: Any) -> float:
        """The value the knob's rows run at now (a ``kernel:family`` key falls back to the kernel's
        entry, then to the spec-wide field, as `GPUSpec.for_kernel` does)."""
        if self.kernel:
            kernel, _, family = self.kernel.partition(":")
            return float(getattr(spec.for_kernel(kernel, family), self.field))
        return float(getattr(spec, self.field))

    def apply(self, spec: Any, value: float) -> Any:
        if self.kernel:
            entries = {**getattr(spec, self.mapping), self.kernel: value}
            return dataclasses.replace(spec, **{self.mapping: entries})
        return dataclasses.replace(spec, **{self.field: value})

    def bounds(self, spec: Any) -> tuple[float, float]:
        return self.low, spec.max_bandwidth_fraction if math.isinf(self.high) else self.high

    def probes(self, spec: Any) -> tuple[float, float]:
        """The two values whose latencies decide whether a row informs this knob."""
        low, high = self.bounds(spec)
        if not self.log:
            return low, high
        value = self.value(spec)
        return max(low, value / 2), min(high, value * 2)

    def grid(self, spec: Any) -> np.ndarray:
        low, high = self.bounds(spec)
        if self.log:
            return np.geomspace(low, high, GRID_POINTS)
        return np.linspace(low, high, GRID_POINTS)


@dataclass(frozen=True)
class Calibration:
    spec: Any  # the calibrated spec
    fits: pd.DataFrame  # one row per knob: value before and after, rows, train and held-out error
    summary: pd.DataFrame  # per (family, kernel): median |error| % before and after, train and held out
    skipped: pd.DataFrame  # measured rows not simulated: family, kernel, shape, reason
    interrupted: bool  # stopped by Ctrl-C: `spec` holds the knobs fitted before it


def calibrate(
    measured: pd.DataFrame,
    base: Any,
    *,
    holdout: float = DEFAULT_HOLDOUT,
    on_knob: Callable[[str, int, int], None] | None = None,
) -> Calibration:
    """Fit `base`'s knobs (module docstring) to `measured`; ``on_knob(name, index, count)`` is
    called as each starts."""
    if not 0 <= holdout < 1:
        raise CodesignError(f"holdout = {holdout!r}: must be in [0, 1) (the share of rows not fitted)")
    if not isinstance(base, GPUSpec | CPUSpec):
        raise CodesignError(
            f"hardware {base.name!r} is a {type(base).__name__}: calibrate fits GPU and CPU specs "
            "(the devices codesign measure times)"
        )
    rows, simulated = _simulable(measured, base)
    ops = simulated.ops
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
    )


def knobs_for(rows: pd.DataFrame, spec: Any) -> Iterator[Knob]:
    """The knobs `rows` can inform on `spec`, in fitting order (module docstring)."""
    family, kernel = rows["family"].astype(str), rows["kernel"].astype(str)
    latency = rows["latency_s"].to_numpy(dtype=float)

    def where(mask: Any) -> tuple[int, ...]:
        return tuple(int(i) for i in np.flatnonzero(np.asarray(mask)))

    copies = where(family == "copy")
    gemms = family.isin(GEMM_FAMILIES).to_numpy()
    if isinstance(spec, GPUSpec):
        hbm_low = MIN_HBM_FRACTION * spec.hbm_bytes_per_s
        hbm = Knob("achievable_hbm_bytes_per_s", copies, hbm_low, spec.hbm_bytes_per_s, log=True)
        if small := where(latency < SMALL_KERNEL_S):
            yield Knob("launch_overhead_s", small, 0.0, SMALL_KERNEL_S, log=False, unless_moved_by=hbm)
        if copies:
            yield hbm
        tensor = gemms | family.isin(ATTENTION_FAMILIES).to_numpy()
        library = set(LIBRARY_GEMM_KERNELS) | set(LIBRARY_ATTENTION_KERNELS)
        for name in sorted(set(kernel[tensor]), key=lambda k: (k not in library, k)):
            picked = tensor & (kernel == name).to_numpy()
            # a kernel measured on several families gets fractions for each; a library kernel sets
            # the spec-wide fields, one pair fitted on all its rows
            families = [None] if name in library else sorted(set(family[picked]))
            for one in families:
                rows_of = picked & (family == one).to_numpy() if len(families) > 1 else picked
                key = None if name in library else f"{name}:{one}" if len(families) > 1 else name
                kind = "gemm" if gemms[rows_of].all() else "attention"
                tensor_field = "achievable_tensor_fraction" if kind == "gemm" else "attention_tensor_fraction"
                tensor_knob = Knob(
                    tensor_field, where(rows_of), MIN_FRACTION, MAX_FRACTION, log=True, kernel=key
                )
                yield Knob(
                    f"{kind}_bandwidth_fraction",
                    where(rows_of),
                    MIN_BANDWIDTH_FRACTION,
                    math.inf,
                    log=True,
                    kernel=key,
                    mapping="kernel_bandwidth_fractions",
                    unless_moved_by=tensor_knob,
                )
                yield tensor_knob
    else:
        memory = Knob(
            "memory_bytes_per_s",
            copies,
            spec.memory_bytes_per_s / CPU_SEARCH_FACTOR,
            spec.memory_bytes_per_s * CPU_SEARCH_FACTOR,
            log=True,
        )
        if small := where(latency < SMALL_CPU_KERNEL_S):
            yield Knob("call_overhead_s", small, 0.0, SMALL_CPU_KERNEL_S, log=False, unless_moved_by=memory)
        if copies:
            yield memory
        if gemm_rows := where(gemms):
            yield Knob("gemm_efficiency", gemm_rows, MIN_FRACTION, MAX_FRACTION, log=True)
            rows_half = spec.gemm_half_efficiency_rows
            yield Knob(
                "gemm_half_efficiency_rows",
                gemm_rows,
                rows_half / CPU_SEARCH_FACTOR,
                rows_half * CPU_SEARCH_FACTOR,
                log=True,
            )


def _simulable(measured: pd.DataFrame, spec: Any) -> tuple[pd.DataFrame, Simulated]:
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


def _fit(knob: Knob, spec: Any, ops: list[Op], measured_s: np.ndarray, held: np.ndarray) -> dict[str, Any]:
    """Fit one knob on its sensitive training rows; the record of what it did (and the new spec)."""
    sensitive = [i for i in knob.rows if _moves(ops[i], *(knob.apply(spec, v) for v in knob.probes(spec)))]
    if other := knob.unless_moved_by:
        halved = other.apply(spec, other.value(spec) / 2)
        sensitive = [i for i in sensitive if not _moves(ops[i], halved, spec)]
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

    if not train:
        return {
            **record,
            "after": before,
            "train_before_pct": np.nan,
            "train_after_pct": np.nan,
            "held_out_before_pct": np.nan,
            "held_out_after_pct": np.nan,
            "spec": spec,
            "note": "no training row moves with it; kept",
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


def _moves(op: Op, low: Any, high: Any) -> bool:
    """Whether `op`'s simulated latency differs by `SENSITIVE_CHANGE` or more between two specs."""
    return abs(simulate_op_latency(op, high) / simulate_op_latency(op, low) - 1) >= SENSITIVE_CHANGE


def _minimize(objective: Callable[[float], float], knob: Knob, spec: Any) -> float:
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


def _median_error(spec: Any, ops: list[Op], measured_s: np.ndarray, positions: list[int]) -> float:
    simulated = np.array([simulate_op_latency(ops[i], spec) for i in positions])
    return float(np.median(np.abs(simulated - measured_s[positions]) / measured_s[positions]) * 100)


def _summary(
    rows: pd.DataFrame, ops: list[Op], measured_s: np.ndarray, held: np.ndarray, base_s: np.ndarray, spec: Any
) -> pd.DataFrame:
    """Median |error| % per (family, kernel) on the base (its simulated seconds, `base_s`) and the
    calibrated spec, over the training and the held-out rows."""
    frame = rows[["family", "kernel"]].copy()
    after_s = np.array([simulate_op_latency(op, spec) for op in ops])
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
