"""`codesign calibrate MEASURED.csv [--hw PRESET] --out FILE.yaml`: fit a GPU or CPU preset's
achievable rates, launch overhead and per-kernel tensor fractions to measured kernels, report the
errors before and after on rows held out of the fit, and write the calibrated spec as a YAML file
that `--hw FILE.yaml` reads."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import TYPE_CHECKING, Any

from sim.commands.compare import preset_for
from sim.commands.stderr import EXIT_INTERRUPTED, warning_line
from sim.measured.holdout import DEFAULT_HOLDOUT
from sim.present.tables import OutputFormat
from workloads.errors import CodesignError

if TYPE_CHECKING:
    from hwmodels.device import Device
    from sim.measured.calibrate import Calibration



def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="fit a GPU or CPU preset's achievable rates and overheads to measured kernels",
        description="Fit the achievable HBM bandwidth, launch overhead and tensor-core fractions "
        "(spec-wide for the torch library kernels, per kernel for the others) of a GPU preset, or a "
        "CPU's bandwidth, call overhead and GEMM efficiency, to a measured CSV (codesign measure). "
        "Rows are split by a hash of kernel and shape: the fit sees the training part, and the "
        "errors on the held-out part say how well the calibrated spec predicts.",
    )
    parser.add_argument("measured", metavar="MEASURED.csv", help="a CSV written by codesign measure")
    parser.add_argument("--hw", help="preset to start from (default: inferred from device_name)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument(
        "--holdout",
        type=float,
        default=DEFAULT_HOLDOUT,
        metavar="SHARE",
        help=f"share of rows held out of the fit to measure it (default {DEFAULT_HOLDOUT})",
    )
    parser.add_argument(
        "--out", metavar="FILE.yaml", help="write the calibrated spec (use it as --hw FILE.yaml)"
    )
    parser.add_argument("--name", help="the calibrated spec's name (default: PRESET_calibrated)")
    parser.add_argument(
        "--fastest",
        action="store_true",
        help="the file holds several runs of the same kernels (a shared machine): use each kernel and "
        "shape's fastest run",
    )
    parser.add_argument("--format", choices=[f.value for f in OutputFormat], default=OutputFormat.TABLE.value)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # hwmodels, numpy, pandas: imported here, so the parser needs none of them
    from tqdm import tqdm

    from hwmodels import load_hardware
    from hwmodels.loader import spec_to_yaml
    from sim.measured.calibrate import calibrate
    from sim.measured.compare import fastest_runs, read_measured

    measured = read_measured(args.measured)
    device_names = sorted(measured["device_name"].astype(str).unique())
    devices = sorted(measured["device"].astype(str).unique()) if "device" in measured else []
    base = load_hardware(args.hw or preset_for(device_names, devices), args.overrides)
    if not 0 <= args.holdout < 1:
        raise CodesignError(f"--holdout {args.holdout!r}: must be in [0, 1) (the share of rows not fitted)")
    bar = tqdm(total=None, desc="calibrate", unit="knob", file=sys.stderr, leave=False)

    def on_knob(name: str, index: int, count: int) -> None:
        bar.total = count
        bar.n = index
        bar.set_postfix_str(name)

    if args.fastest:
        measured = fastest_runs(measured)
    try:
        result = calibrate(measured, base, holdout=args.holdout, on_knob=on_knob)
    finally:
        bar.close()
    for (family, kernel, reason), group in result.skipped.groupby(["family", "kernel", "reason"]):
        warning_line("calibrate", f"{len(group)} {family}/{kernel} rows not used: {reason}")
    if result.validation_rows_dropped:  # the file's `split` column (reference_kernels/sources.py)
        print(
            f"codesign calibrate: {result.validation_rows_dropped} rows of validation sources not "
            "fitted (split = validation): compare the calibrated spec on them",
            file=sys.stderr,
        )
    _print(result, OutputFormat(args.format), device_names, base.name)
    if args.out:
        name = args.name or f"{base.name}_calibrated"
        spec = dataclasses.replace(result.spec, name=name)
        text = spec_to_yaml(
            spec, comments=_comments(result), header=_header(result, args, device_names, base)
        )
        from workloads.files import write_text

        write_text(args.out, text, option="--out")
        print(f"calibrated spec: {args.out} (use --hw {args.out})", file=sys.stderr)
    if result.interrupted:
        print(
            f"codesign calibrate: interrupted after {len(result.fits)} knobs; "
            + ("wrote the ones fitted" if args.out else "nothing written (no --out)"),
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED  # the knobs fitted so far are written
    return 0


def _print(result: Calibration, fmt: OutputFormat, device_names: list[str], base: str) -> None:
    if fmt is OutputFormat.CSV:
        print(result.fits.to_csv(index=False), end="")
        return
    if fmt is OutputFormat.JSON:
        print(result.fits.to_json(orient="records", indent=1))
        return
    print(f"calibrating {base} to {', '.join(device_names)}")
    if result.fits.empty:  # interrupted during the first knob
        print("no field fitted")
        return
    fits = result.fits.copy()
    for column in ("before", "after"):
        fits[column] = fits[column].map(lambda value: f"{value:.4g}")
    print(fits.to_string(index=False, float_format=lambda v: f"{v:.1f}", na_rep="-"))
    print("\nmedian |error| % per kernel, before -> after calibration (held-out rows were not fitted):")
    print(result.summary.to_string(index=False, float_format=lambda v: f"{v:.1f}", na_rep="-"))


def _comments(result: Calibration) -> dict[str, str]:
    """A CALIBRATED comment for each field a knob changed (kernel entries under their mapping)."""
    comments: dict[str, list[str]] = {}
    for fit in result.fits.itertuples(index=False):
        if fit.after == fit.before:
            continue
        field, bracket, kernel = fit.knob.partition("[")
        who = f"{kernel.removesuffix(']')}: " if bracket else ""
        comments.setdefault(field, []).append(
            f"{who}{fit.before:.4g} -> {fit.after:.4g} on {fit.train_rows} rows, median |error| "
            f"{fit.train_before_pct:.1f}% -> {fit.train_after_pct:.1f}%" + _held(fit)
        )
    return {field: "CALIBRATED: " + "; ".join(parts) for field, parts in comments.items()}


def _held(fit: Any) -> str:
    import numpy as np

    if not fit.held_out_rows or np.isnan(fit.held_out_before_pct):
        return ""
    return (
        f" (held out: {fit.held_out_rows} rows, {fit.held_out_before_pct:.1f}% -> "
        f"{fit.held_out_after_pct:.1f}%)"
    )


def _header(result: Calibration, args: argparse.Namespace, devices: list[str], base: Device) -> str:
    rows = int(result.summary["train_rows"].sum() + result.summary["held_out_rows"].sum())
    held = int(result.summary["held_out_rows"].sum())
    lines = [
        f"Calibrated by `codesign calibrate {args.measured} --hw {base.name} --holdout {args.holdout:g}`",
        f"from preset {base.name} (its datasheet sources: {base.source or 'none given'}).",
        f"Measured on {', '.join(devices)}: {rows} rows simulated, {held} held out of the fit.",
        "Median |error| % before -> after, held-out rows, per kernel:",
    ]
    for row in result.summary.itertuples(index=False):
        if row.held_out_rows:
            lines.append(
                f"  {row.family}/{row.kernel}: {row.held_out_before_pct:.1f} -> "
                f"{row.held_out_after_pct:.1f} ({row.held_out_rows} rows)"
            )
    if result.interrupted:
        lines.append("INTERRUPTED: only the knobs commented CALIBRATED were fitted.")
    return "\n".join(lines)
