"""`codesign compare MEASURED.csv [--hw PRESET]`: measured against simulated latency, per kernel
family the median and p90 absolute percentage error and the worst shapes, and an HTML report."""

from __future__ import annotations

import argparse
import re
import sys

from sim.commands.stderr import warning_line
from sim.present.tables import OutputFormat
from workloads.errors import CodesignError

#: Device names as CUDA and the OS report them → the preset that models the device. Order matters:
#: the first pattern that matches wins ("H100" before "H10").
DEVICE_PRESETS = (
    (r"H100", "h100_sxm"),
    (r"H200", "h200"),
    (r"H20\b", "h20"),
    (r"A100.*40GB", "a100_40gb_sxm"),
    (r"A100", "a100_80gb_sxm"),
    (r"A10\b", "a10"),
    (r"V100", "v100s"),
    (r"L40S", "l40s"),
    (r"RTX 4090", "rtx_4090"),
)
#: The preset for measurements taken on a CPU: the machine running the comparison, detected (CI
#: measures and compares on the same machine).
HOST_CPU_PRESET = "host"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare measured kernel latencies with the simulator",
        description="Join a measured CSV (codesign measure) with simulations of the same work; "
        "print per-family errors and write an HTML report.",
    )
    parser.add_argument("measured", metavar="MEASURED.csv", help="a CSV written by codesign measure")
    parser.add_argument("--hw", help="preset to simulate on (default: inferred from device_name)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--out", metavar="REPORT.html", help="write an HTML report")
    parser.add_argument("--rows", metavar="FILE.csv", help="write every joined row to a CSV")
    parser.add_argument(
        "--fastest",
        action="store_true",
        help="the file holds several runs of the same kernels (a shared machine): use each kernel and "
        "shape's fastest run",
    )
    parser.add_argument("--format", choices=[f.value for f in OutputFormat], default=OutputFormat.TABLE.value)
    parser.set_defaults(run=run)


def preset_for(device_names: list[str], devices: list[str]) -> str:
    """The preset that models the measured device, or an error saying none does."""
    from hwmodels import list_presets

    if len(device_names) != 1:
        raise CodesignError(
            f"the file has rows from {len(device_names)} devices ({', '.join(device_names)}); "
            "give --hw PRESET and compare one device's rows at a time"
        )
    name = device_names[0]
    if devices == ["cpu"]:
        return HOST_CPU_PRESET
    for pattern, preset in DEVICE_PRESETS:
        if re.search(pattern, name) and preset in list_presets():
            return preset
    raise CodesignError(
        f"device {name!r} matches no hardware preset; give --hw PRESET (known presets: "
        f"{', '.join(list_presets())})"
    )


def run(args: argparse.Namespace) -> int:
    # hwmodels, pandas: imported here, so the parser needs neither
    from hwmodels import load_hardware
    from sim.measured.compare import FRACTION_FORMATTERS, below_floor, compare, fastest_runs, read_measured

    measured = read_measured(args.measured)
    device_names = sorted(measured["device_name"].astype(str).unique())
    devices = sorted(measured["device"].astype(str).unique()) if "device" in measured else []
    preset = args.hw or preset_for(device_names, devices)
    hardware = load_hardware(preset, args.overrides)
    result = compare(fastest_runs(measured) if args.fastest else measured, hardware)
    if len(result.skipped):
        for (family, kernel, reason), group in result.skipped.groupby(["family", "kernel", "reason"]):
            warning_line("compare", f"{len(group)} {family}/{kernel} rows not simulated: {reason}")
    for (family, kernel), group in below_floor(result.rows).groupby(["family", "kernel"]):
        worst = group.loc[(group["latency_s"] / group["floor_s"]).idxmin()]
        warning_line(
            "compare",
            f"{len(group)} {family}/{kernel} rows measured faster than {hardware.name} can run them "
            f"(e.g. {worst['shape']}: latency_s = {worst['latency_s']:.3g} against a roofline floor of "
            f"{worst['floor_s']:.3g} s at its datasheet peaks): check that latency_s is in seconds and "
            "that the rows ran on this device",
        )
    fmt = OutputFormat(args.format)
    if fmt is OutputFormat.CSV:
        print(result.summary.to_csv(index=False), end="")
    elif fmt is OutputFormat.JSON:
        print(result.summary.to_json(orient="records", indent=1))
    else:
        print(
            f"{len(measured)} rows measured on {', '.join(device_names)}, {len(result.rows)} simulated "
            f"on {hardware.name}"
        )
        print(
            result.summary.to_string(
                index=False, float_format=lambda v: f"{v:.1f}", formatters=FRACTION_FORMATTERS
            )
        )
    from workloads.files import write_text, writing

    if args.rows:
        write_text(args.rows, result.rows.to_csv(index=False), option="--rows")
    if args.out:
        from sim.measured.report import write_report  # plotly: only when a report is asked for

        with writing(args.out, option="--out"):
            write_report(result, args.out, device=", ".join(device_names), hardware=hardware.name)
        print(f"report: {args.out}", file=sys.stderr)
    return 0
