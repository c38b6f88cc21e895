"""`codesign plot`: design-space plots of a sweep (or a CSV), a roofline of one simulation, or a
per-op-kind breakdown on one or more presets; written as HTML, PNG or SVG.

    codesign plot DIR --x area_mm2 --y latency_s [--color rows] [--facet workload] [--pareto] [--log]
    codesign plot --roofline --hw h100_sxm --model llama-2-7b --phase decode --context 4096 --out r.png
    codesign plot --breakdown --hw h100_sxm --hw a100_80gb_sxm --model ... [--y energy_j] --out b.png
"""

from __future__ import annotations

import argparse
import sys

from sim.commands.gpu_args import add_gpu_arguments, apply_gpu_arguments
from sim.commands.model_args import (
    GEMM_ANNOTATIONS,
    add_model_arguments,
    gemm_workload,
    load_graph,
    refuse_dtype,
    refuse_model_arguments,
)
from workloads.dtypes import DType
from workloads.errors import CodesignError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="plot a sweep (Pareto fronts), a roofline or a latency/energy breakdown",
        description="Scatter two columns of a sweep folder or CSV (hover shows each config's swept "
        "fields), mark the Pareto front, or plot one simulation's ops over the device roofline "
        "(--roofline) or its per-op-kind latency/energy (--breakdown). --out FILE.html|.png|.svg.",
    )
    parser.add_argument("table", nargs="?", metavar="DIR_OR_CSV", help="a sweep's output folder or a CSV")
    parser.add_argument("--x", help="column on the x axis")
    parser.add_argument("--y", help="column on the y axis (--breakdown: latency_s or energy_j)")
    parser.add_argument("--color", help="column that colours the points")
    parser.add_argument("--facet", help="column that splits the plot into panels")
    parser.add_argument("--pareto", action="store_true", help="draw the Pareto front (per panel)")
    for axis in ("x", "y"):
        goal = parser.add_mutually_exclusive_group()
        goal.add_argument(f"--{axis}-min", action="store_const", const="min", dest=f"{axis}_goal",
                          help=f"Pareto: smaller {axis} is better (default: from the column's name)")
        goal.add_argument(f"--{axis}-max", action="store_const", const="max", dest=f"{axis}_goal",
                          help=f"Pareto: larger {axis} is better")
    parser.add_argument("--log", action="store_true", help="log scale on both axes")
    parser.add_argument("--title", help="plot title")
    parser.add_argument("--out", required=True, metavar="FILE", help="output: .html, .png or .svg")
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--roofline", action="store_true", help="ops of one simulation over the roofline")
    view.add_argument("--breakdown", action="store_true", help="per-op-kind latency (or energy) bars")
    parser.add_argument("--hw", action="append", default=[], help="preset for --roofline/--breakdown")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE")
    workload = parser.add_mutually_exclusive_group()
    workload.add_argument("--model", help="a zoo model, for --roofline/--breakdown")
    workload.add_argument("--gemm", action="append", metavar="M,N,K", help="a GEMM; repeatable")
    add_model_arguments(parser)
    add_gpu_arguments(parser)
    parser.add_argument("--dtype", help="GEMM dtype (default: the hardware's default_dtype)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # pandas, plotly: imported here, so the parser needs neither
    from sim.present.plot import goal_for, load_table, scatter_figure, write_figure

    if args.roofline or args.breakdown:
        figure = _simulation_figure(args)
    else:
        if not args.table or not args.x or not args.y:
            raise CodesignError("give DIR_OR_CSV with --x COL --y COL (or --roofline / --breakdown)")
        from sim.present.plot import without_totals

        frame, totals = without_totals(load_table(args.table))
        if totals:
            print(
                f"codesign plot: note: {totals} total row(s) of {args.table} left out (sums over the "
                "ops of a codesign simulate run, not ops to plot)",
                file=sys.stderr,
            )
        goals = (args.x_goal or goal_for(args.x), args.y_goal or goal_for(args.y))
        figure = scatter_figure(frame, args.x, args.y, color=args.color, facet=args.facet,
                                pareto=args.pareto, goals=goals, log=args.log, title=args.title)
    path = write_figure(figure, args.out)
    print(f"plot: {path}", file=sys.stderr)
    return 0


def _simulation_figure(args: argparse.Namespace):
    from hwmodels import load_hardware
    from sim.present.views import breakdown_figure, roofline_figure
    from sim.simulate import simulate

    if not args.hw:
        raise CodesignError("--roofline and --breakdown need --hw PRESET")
    if not args.model and not args.gemm:
        raise CodesignError("--roofline and --breakdown need a workload: --model M or --gemm M,N,K")
    if args.roofline and len(args.hw) > 1:
        raise CodesignError("--roofline plots one device: give one --hw")
    refuse_dtype(args)
    if not args.model:
        refuse_model_arguments(args, "--gemm", allowed=GEMM_ANNOTATIONS)
    graph = load_graph(args, "plot") if args.model else None
    results = {}
    for preset in args.hw:
        hardware = apply_gpu_arguments(load_hardware(preset, args.overrides), args)
        dtype = DType.parse(args.dtype, field="--dtype") if args.dtype else hardware.default_dtype
        workload = graph or gemm_workload(args.gemm, dtype, args)
        results[hardware.name] = (simulate(workload, hardware), hardware)
    if args.roofline:
        frame, hardware = next(iter(results.values()))
        return roofline_figure(frame, hardware, title=args.title)
    column = args.y or "latency_s"
    return breakdown_figure({name: frame for name, (frame, _) in results.items()}, column, title=args.title)
