"""`codesign measure`: time the reference kernels over a grid of shapes into a measured-data CSV.

A thin shell over `reference_kernels.measure.measure`; the CSV's columns are docs/measured_format.md's
and `codesign compare` reads it. torch is imported only when the command runs, so the other commands
start without it.
"""

from __future__ import annotations

import argparse

from reference_kernels.grids import DEVICES, GRIDS

#: Failed rows listed one per line before the rest are counted.
MAX_FAILURES_SHOWN = 5


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "measure",
        help="time the reference kernels (Triton and torch) into a measured-data CSV",
        description="Time reference kernels over a grid of shapes: warm-up, a cache flush before "
        "each run, the median of many runs (CUDA events on a GPU). Rows are written as they finish. "
        "Triton kernels run on a GPU only; on a CPU the torch baselines are timed.",
    )
    parser.add_argument(
        "--kernels", nargs="+", metavar="NAME",
        help="kernels to time (default: all that run on the device; see the error for a list)",
    )
    parser.add_argument("--device", choices=DEVICES, default="cuda", help="cuda (default) or cpu")
    parser.add_argument(
        "--grid", choices=tuple(GRIDS), default="small",
        help="small: a handful of shapes (CPU CI); full: the GPU data set (default: small)",
    )
    parser.add_argument("--out", metavar="FILE.csv", default="measured.csv", help="output CSV")
    parser.add_argument("--resume", action="store_true", help="keep FILE's rows and add the missing ones")
    parser.add_argument("--max-seconds", type=float, metavar="S", help="start no new row after S seconds")
    parser.add_argument(
        "--repeat", type=int, default=1, metavar="N",
        help="time the grid N times, pass after pass (a shared machine: then compare/calibrate --fastest)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from reference_kernels.measure import measure  # imports torch: only when measuring

    try:
        result = measure(
            args.kernels, args.device, args.grid, args.out, resume=args.resume,
            max_seconds=args.max_seconds, repeat=args.repeat,
        )
    except KeyboardInterrupt:  # sim.cli prints it as one line; the rows finished are in the file
        kept = f"rows finished so far are kept in {args.out}; --resume finishes it"
        raise KeyboardInterrupt(kept) from None
    print(f"wrote {result.written} rows to {result.path} ({result.already_present} already there)")
    for failure in result.failed[:MAX_FAILURES_SHOWN]:
        print(f"failed: {failure}")
    if len(result.failed) > MAX_FAILURES_SHOWN:
        print(f"... and {len(result.failed) - MAX_FAILURES_SHOWN} more failed rows")
    if result.stopped_early:
        print(f"stopped after --max-seconds {args.max_seconds:g}; rerun with --resume to finish")
    return 0
