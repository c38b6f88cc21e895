"""The GPU model against kernel timings other people measured and published.

Reads `reference_kernels/data/published_figures.csv` (each figure with its source and a verbatim
quote; trust and caveats per source in `published_figures.md`), turns the rows that time a kernel
we model into the measured-data format (`reference_kernels.published`), and runs the same
`compare` as `codesign compare` on each GPU's preset. Prints, per source kernel and preset, the
number of rows and the median and p90 absolute error (simulated vs published); ``--rows`` prints
every row. The A100 of the Flash-Decoding blog is not named 40 or 80 GB, so its rows are also
compared on `a100_40gb_sxm`. A row a preset was fitted to (`CALIBRATION_POINTS`) is no check of the
model: it is printed apart, as a calibration point with its fit residual, not as an error.

The first table uses each preset's spec-wide fractions only (its `kernel_fractions` and
`kernel_bandwidth_fractions` cleared): what a traced model's ops run at by default.
``--calibrate`` then runs `codesign calibrate`'s fit from that same preset on each GPU's published
rows, prints the fitted values and the per-kernel errors on the rows held out of the fit, and says
whether the preset's per-kernel entries are the fitted values (they were written from this run).

    .venv/bin/python benchmarks/bench_gpu_published.py [--rows] [--calibrate]
"""

from __future__ import annotations

import argparse
import dataclasses

import pandas as pd

from hwmodels import load_hardware
from hwmodels.gpu import KERNEL_MAPPINGS
from reference_kernels.published import published_measurements
from sim.measured.calibrate import calibrate
from sim.measured.compare import compare

#: Extra presets a source's rows are also compared on, where the source leaves the variant open.
ALSO_ON = {"flash_decoding": ("a100_40gb_sxm",), "flash_attention_v2.0.9": ("a100_40gb_sxm",)}

#: (preset, kernel, family) rows a preset's spec-wide field was fitted to, and which field.
CALIBRATION_POINTS = {
    ("a100_80gb_sxm", "torch_mm_best_shape", "gemm"): "achievable_tensor_fraction fitted to it",
}


def published_errors() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per kernel and preset: n, median/p90 |error| %, median error %; every joined row)."""
    rows, _ = published_measurements()
    jobs = [(preset, group) for preset, group in rows.groupby("preset")]
    for kernel, presets in ALSO_ON.items():
        jobs += [(preset, rows[rows["kernel"] == kernel]) for preset in presets]
    summaries, joined = [], []
    for preset, group in jobs:
        result = compare(group, library_fractions(preset))
        summaries.append(result.summary.assign(preset=preset))
        joined.append(result.rows.assign(preset=preset))
    summary = pd.concat(summaries, ignore_index=True)
    errors = ["median_abs_error_pct", "p90_abs_error_pct", "median_error_pct"]
    return summary[["kernel", "family", "preset", "n", *errors]], pd.concat(joined, ignore_index=True)


def is_calibration_point(summary: pd.DataFrame) -> pd.Series:
    """Which summary rows are `CALIBRATION_POINTS`."""
    keys = zip(summary["preset"], summary["kernel"], summary["family"], strict=True)
    return pd.Series([key in CALIBRATION_POINTS for key in keys], index=summary.index)


def library_fractions(preset: str):
    """The preset with its per-kernel fractions cleared: every kernel at the spec-wide ones."""
    return dataclasses.replace(load_hardware(preset), **dict.fromkeys(KERNEL_MAPPINGS, {}))


def published_calibration() -> dict[str, object]:
    """`calibrate` from each preset (per-kernel fractions cleared) on its own published rows."""
    rows, _ = published_measurements()
    return {preset: calibrate(group, library_fractions(preset)) for preset, group in rows.groupby("preset")}


def _print_calibration() -> None:
    for preset, result in published_calibration().items():
        fitted = result.fits[result.fits["after"] != result.fits["before"]]
        print(f"\n{preset}: calibrated on the published rows (held-out rows were not fitted)")
        print(fitted.drop(columns="note").to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        print(result.summary.to_string(index=False, float_format=lambda v: f"{v:.1f}", na_rep="-"))
        for mapping in KERNEL_MAPPINGS:
            shipped = getattr(load_hardware(preset), mapping)
            for kernel, value in shipped.items():
                fit = getattr(result.spec, mapping).get(kernel)
                verdict = "= the fit" if fit == value else f"!= the fit {fit}"
                print(f"preset {preset} {mapping}[{kernel}] = {value} {verdict}")
            for kernel, fit in getattr(result.spec, mapping).items():
                if kernel not in shipped:
                    print(f"preset {preset} {mapping}[{kernel}]: fitted {fit}, not shipped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", action="store_true", help="print every published row beside its simulation")
    parser.add_argument("--calibrate", action="store_true", help="fit per-kernel fractions; held-out errors")
    args = parser.parse_args()
    summary, rows = published_errors()
    calibration = is_calibration_point(summary)
    checks, points = summary[~calibration], summary[calibration]
    also = checks["preset"].isin({preset for presets in ALSO_ON.values() for preset in presets})
    also &= checks["kernel"].isin(ALSO_ON)
    print(
        f"Checks: {int(checks['n'].sum() - checks['n'][also].sum())} published rows no preset was fitted "
        f"to ({int(checks['n'][also].sum())} of them also on a second preset)"
    )
    print(checks.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print("\nCalibration points: a preset was fitted to these rows, so their residual is no error")
    keys = zip(points["preset"], points["kernel"], points["family"], strict=True)
    points = points[["kernel", "family", "preset", "n"]].assign(
        fit_residual_pct=points["median_error_pct"], fitted=[CALIBRATION_POINTS[key] for key in keys]
    )
    print(points.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    if args.rows:
        rows["published_us"] = rows["latency_s"] * 1e6
        rows["simulated_us"] = rows["simulated_latency_s"] * 1e6
        print()
        print(
            rows[["kernel", "preset", "shape", "published_us", "simulated_us", "error_pct"]].to_string(
                index=False, float_format=lambda v: f"{v:.1f}"
            )
        )

    if args.calibrate:
        _print_calibration()


if __name__ == "__main__":
    main()
