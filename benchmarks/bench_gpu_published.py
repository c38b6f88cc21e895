"""The GPU model against kernel and whole-model timings other people measured and published.

Every published row belongs to a source, and every source is either a calibration source (fits
may use it, presets may cite it) or a validation source (no fit has seen it): the registry is
`reference_kernels/data/sources.csv` (`reference_kernels.sources`). This script prints:

1. **Validation** (the accuracy the README and RESULTS.md quote): on the validation rows only
   (`reference_kernels/data/published_validation.csv`, and the validation sources of
   `published_models.csv`), per family (GEMM, FP8 GEMM, weight-only quantized GEMM, attention
   prefill, attention decode, whole-model decode, whole-model prefill) and per GPU preset: the row
   count, the median and p90 absolute error, the median signed error, and whether the median is
   within the 10% target (`sim.measured.published_validation`). Whole-model rows take a few
   minutes the first time (each step is traced once, then read from the trace cache);
   ``--kernels-only`` leaves them out. ``--by-source`` breaks each cell down by source (which
   publication sets a cell's median), ``--rows`` lists every row beside its simulation.
   ``--write-accuracy`` writes the table where `codesign simulate` reads it to say beside a
   result how far it was validated (`sim.measured.accuracy`; whole-model rows required).
2. **Calibration sources** (``--calibration``): the same comparison per kernel on the rows of
   calibration sources (`published_figures.csv`), each preset at its spec-wide fractions (its
   `kernel_fractions` and `kernel_bandwidth_fractions` cleared). These rows informed the presets;
   their errors are not accuracy.
3. ``--calibrate``: `codesign calibrate`'s fit from each preset (per-kernel fractions cleared) on
   its calibration rows only (`calibration_measurements`; `calibrate` drops any validation row
   itself), the fitted values, and whether the preset ships them.

    .venv/bin/python benchmarks/bench_gpu_published.py [--kernels-only] [--by-source] [--rows]
        [--markdown] [--calibration] [--calibrate] [--write-accuracy]
"""

from __future__ import annotations

import argparse
import dataclasses

import pandas as pd
from bench_gpu_measured import _cell, markdown  # this folder's scripts run with it on sys.path

from hwmodels import load_hardware
from hwmodels.gpu import KERNEL_MAPPINGS
from reference_kernels.published import calibration_measurements, published_measurements
from reference_kernels.sources import Split, calibration_only
from sim.measured.accuracy import ACCURACY_CSV, write_accuracy
from sim.measured.calibrate import calibrate
from sim.measured.compare import compare
from sim.measured.published_validation import TARGET_PCT, accuracy_table, by_source_table, validation_results

#: Extra presets a source's rows are also compared on, where the source leaves the variant open.
ALSO_ON = {"flash_decoding": ("a100_40gb_sxm",), "flash_attention_v2.0.9": ("a100_40gb_sxm",)}


def published_errors() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Calibration sources: (per kernel and preset: n, median/p90 |error| %, median error %; every
    joined row), each preset at its spec-wide fractions."""
    rows, _ = published_measurements()
    rows = calibration_only(rows)
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


def library_fractions(preset: str):
    """The preset with its per-kernel fractions cleared: every kernel at the spec-wide ones."""
    return dataclasses.replace(load_hardware(preset), **dict.fromkeys(KERNEL_MAPPINGS, {}))


def published_calibration() -> dict[str, object]:
    """`calibrate` from each preset (per-kernel fractions cleared) on its calibration rows."""
    rows = calibration_measurements()
    return {preset: calibrate(group, library_fractions(preset)) for preset, group in rows.groupby("preset")}


def _print_calibration() -> None:
    for preset, result in published_calibration().items():
        fitted = result.fits[result.fits["after"] != result.fits["before"]]
        print(f"\n{preset}: calibrated on the rows of {', '.join(result.sources)} (calibration sources)")
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


def _print(frame: pd.DataFrame, as_markdown: bool) -> None:
    print(markdown(frame) if as_markdown else frame.to_string(index=False, float_format=_cell))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernels-only", action="store_true", help="leave the whole-model rows out")
    parser.add_argument("--rows", action="store_true", help="every validation row beside its simulation")
    parser.add_argument("--by-source", action="store_true", help="each cell's rows by source")
    parser.add_argument("--markdown", action="store_true", help="tables as Markdown, for RESULTS.md")
    parser.add_argument("--calibration", action="store_true", help="per-kernel table, calibration sources")
    parser.add_argument("--calibrate", action="store_true", help="fit per-kernel fractions, calibration rows")
    parser.add_argument(
        "--write-accuracy",
        action="store_true",
        help=f"write the validation table codesign simulate quotes ({ACCURACY_CSV.name})",
    )
    args = parser.parse_args()
    if args.write_accuracy and args.kernels_only:
        parser.error("--write-accuracy needs the whole-model rows: leave out --kernels-only")
    results = validation_results(kernels_only=args.kernels_only)
    print(f"Validation rows only (sources no fit has used); target: median |error| <= {TARGET_PCT:g}%")
    _print(accuracy_table(results, Split.VALIDATION), args.markdown)
    if args.by_source:
        print("\nEach cell by source (validation rows):")
        _print(by_source_table(results, Split.VALIDATION), args.markdown)
    if args.rows:
        print()
        rows = results[results["split"] == Split.VALIDATION.value]
        _print(rows.assign(measured_us=rows["measured_s"] * 1e6, simulated_us=rows["simulated_s"] * 1e6)
               .drop(columns=["measured_s", "simulated_s", "split"]), args.markdown)
    if args.calibration:
        print("\nCalibration sources (these rows informed the presets; not accuracy), spec-wide fractions:")
        summary, _ = published_errors()
        _print(summary, args.markdown)
    if args.calibrate:
        _print_calibration()
    if args.write_accuracy:
        write_accuracy(results)
        print(f"\nwrote {ACCURACY_CSV}")


if __name__ == "__main__":
    main()
