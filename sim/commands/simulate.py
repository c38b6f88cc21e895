"""`codesign simulate`: one simulation of a workload on a hardware preset, as a table, CSV or JSON."""

from __future__ import annotations

import argparse

import pandas as pd

from hwmodels import load_hardware
from sim.output import OutputFormat, render
from sim.simulate import simulate, summarize
from workloads.dtypes import DType
from workloads.errors import WorkloadError
from workloads.op import OpGraph, gemm_op
from workloads.topology import read_topology


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="simulate a workload on a hardware preset",
        description="Simulate GEMMs or a SCALE-Sim topology on a systolic-array preset.",
    )
    parser.add_argument("--hw", required=True, help="preset name, .yaml file or SCALE-Sim .cfg")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a hardware field, e.g. --set rows=64 --set dataflow=ws",
    )
    workload = parser.add_mutually_exclusive_group(required=True)
    workload.add_argument(
        "--gemm", action="append", metavar="M,N,K", help="a GEMM C[M,N] += A[M,K] B[K,N]; repeatable"
    )
    workload.add_argument("--topology", metavar="FILE.csv", help="a SCALE-Sim topology CSV")
    parser.add_argument(
        "--dtype",
        help="operand dtype (default: the hardware's default_dtype); one of "
        + ", ".join(d.value for d in DType),
    )
    parser.add_argument(
        "--format",
        choices=[f.value for f in OutputFormat],
        default=OutputFormat.TABLE.value,
        help="output format (default: table)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    hardware = load_hardware(args.hw, args.overrides)
    dtype = DType.parse(args.dtype, field="--dtype") if args.dtype else hardware.default_dtype
    if args.gemm:
        workload = OpGraph(
            name="gemm",
            ops=tuple(_parse_gemm(text, index, dtype) for index, text in enumerate(args.gemm)),
        )
    else:
        workload = read_topology(args.topology, dtype=dtype)
    results = simulate(workload, hardware)
    table = pd.concat([results, pd.DataFrame([summarize(results, hardware)])], ignore_index=True)
    print(render(table, OutputFormat(args.format)))
    return 0


def _parse_gemm(text: str, index: int, dtype: DType):
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 3:
        raise WorkloadError(f"--gemm {text!r}: expected three sizes M,N,K, e.g. --gemm 128,1024,1024")
    try:
        m, n, k = (int(part) for part in parts)
    except ValueError:
        raise WorkloadError(f"--gemm {text!r}: M, N and K must be integers") from None
    return gemm_op(
        m, n, k, name=f"gemm{index}", input_dtype=dtype, weight_dtype=dtype, output_dtype=dtype
    )
