"""`codesign simulate`: one simulation of a workload on a hardware preset, as a table, CSV or JSON.

The workload is GEMMs (`--gemm`), a SCALE-Sim topology (`--topology`), a traced model (`--model`,
with the phase options of `codesign trace`) or an op-graph CSV written by `codesign trace --format
csv` (`--ops`).
"""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

from sim.commands.gpu_args import (
    add_gpu_arguments,
    add_stack_arguments,
    apply_gpu_arguments,
    launch_timing_of,
    require_gpu,
    stack_arguments,
)
from sim.commands.model_args import (
    GEMM_ANNOTATIONS,
    add_model_arguments,
    gemm_workload,
    load_graph,
    refuse_dtype,
    refuse_model_arguments,
)
from sim.commands.simulate_system import add_system_arguments, run_on_system
from sim.commands.stderr import warning_line
from sim.present.tables import OutputFormat, render
from workloads.dtypes import DType
from workloads.errors import WorkloadError
from workloads.op import OpGraph, Phase
from workloads.summary import resident_bytes
from workloads.topology import read_topology
from workloads.zoo import context_length

if TYPE_CHECKING:
    import pandas as pd

    from hwmodels.device import Device


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="simulate a workload on a hardware preset",
        description="Simulate GEMMs, a SCALE-Sim topology, a model or an op graph on a device (--hw: a "
        "systolic array, GPU, CPU or FPGA preset or file; one row per op and a total), or a model on a "
        "system of devices (--system: a row per device group and link, and serving figures).",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--hw", help="preset name, .yaml file or SCALE-Sim .cfg")
    target.add_argument(
        "--system", help="a system of devices: a system preset (codesign presets) or .yaml (docs/systems.md)"
    )
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
    workload.add_argument("--model", help="a zoo model (codesign presets lists them) or file.py:factory")
    workload.add_argument("--ops", metavar="FILE.csv", help="an op graph written by codesign trace")
    add_model_arguments(parser)
    parser.add_argument(
        "--dtype",
        help="operand dtype (default: the hardware's default_dtype); one of "
        + ", ".join(d.value for d in DType),
    )
    add_gpu_arguments(parser)
    add_stack_arguments(parser)
    add_system_arguments(parser)
    parser.add_argument(
        "--format",
        choices=[f.value for f in OutputFormat],
        default=OutputFormat.TABLE.value,
        help="output format (default: table)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hwmodels import load_hardware

    refuse_dtype(args)
    if args.system:
        return run_on_system(args)
    import pandas as pd  # pandas: imported here, so the parser does not need it

    from sim.engines.registry import model_for
    from sim.simulate import simulate, summarize
    from workloads.graph_io import read_graph_csv

    if not args.model:  # before the stack's arguments fill in --fusion
        refuse_model_arguments(args, _workload_flag(args), allowed=GEMM_ANNOTATIONS if args.gemm else ())
    stack, host_s, host_why = stack_arguments(args)
    hardware = load_hardware(args.hw, args.overrides)
    as_shipped = _is_shipped_preset(hardware)
    if host_s and not stack:  # --step-host-s alone: a GPU's serving engine, as --stack is
        hardware = require_gpu(hardware, "--step-host-s")
    hardware = apply_gpu_arguments(hardware, args, stack, args.phase)
    timing = launch_timing_of(args, stack, args.phase)
    dtype = DType.parse(args.dtype, field="--dtype") if args.dtype else hardware.default_dtype
    if args.gemm:
        workload = gemm_workload(args.gemm, dtype, args)
    elif args.topology:
        workload = read_topology(args.topology, dtype=dtype)
    elif args.ops:
        workload = read_graph_csv(args.ops)
    else:
        workload = load_graph(args, "simulate")
        if args.stack:  # the GEMMs the stack runs as a kernel of their own by module
            from sim.stack_step import with_stack_module_kernels

            workload = with_stack_module_kernels(workload, args.stack, args.weights or "")
    if args.model:
        _warn_if_it_does_not_fit(workload, hardware)
    if stack is not None and stack.decodes_last_prompt_token and workload.phase is Phase.PREFILL:
        warning_line(
            "simulate",
            f"--stack {args.stack} prefills a prompt's tokens but the last and gives the first token "
            "from a decode step over the whole prompt (workloads.stacks.Stack.decodes_last_prompt_token): "
            "its first-token time is this prefill (one token shorter) plus that step, --phase decode "
            f"--context {workload.seq_len}",
        )
    batches = _prefill_batches(stack, workload, args) if stack else (workload.batch,)
    if len(batches) > 1 or host_s:  # the stack's prefill steps, each waiting for the engine's host
        from sim.stack_step import simulate_steps

        results = simulate_steps(_prefill_steps(args, workload, batches), hardware, host_s, host_why)
    else:
        results = simulate(workload, hardware)
    total = summarize(results, hardware)
    if total["unmodeled_ops"]:
        flagged = results.loc[results["unmodeled"].astype(bool)]
        unmodeled = sorted(set(flagged["aten"]))
        reasons = sorted({str(reason) for reason in flagged["mapping"] if isinstance(reason, str) and reason})
        warning_line(
            "simulate",
            f"{total['unmodeled_ops']} unmodeled ops ({', '.join(unmodeled)}) are listed with no "
            "cycles and left out of the total" + (f": {'; '.join(reasons)}" if reasons else ""),
        )
    table = pd.concat([results, pd.DataFrame([total])], ignore_index=True)
    fmt = OutputFormat(args.format)
    print(render(table, fmt))
    if fmt is OutputFormat.TABLE:
        if len(batches) > 1:
            from workloads.stacks import describe_steps

            budget = stack.prefill_budget(context_length(args.model))
            print(
                f"{args.stack}'s scheduler runs the {workload.batch} prompts of {workload.seq_len} tokens "
                f"as {describe_steps(batches)} (at most {budget:,} tokens a step); each step's rows are "
                "labelled with its prompts"
            )
        note = _launch_note(results, hardware, timing)
        if note:
            print(note)
        device_note = model_for(hardware).run_note
        if device_note:
            print(device_note(results, hardware))
        print(_summary_line(workload, total, hardware))
        routing = _routing_note(workload)
        if routing:
            print(routing)
        validated = _accuracy_note(workload, hardware, args, as_shipped=as_shipped)
        if validated:
            print(validated)
    return 0


def _routing_note(workload: OpGraph) -> str:
    """For a workload with mixture-of-experts layers, the routing it assumes: each layer's tokens
    spread evenly over the experts a uniform random router touches in expectation
    (`workloads.zoo.layers.experts_touched`), the most any layer touches; '' for any other."""
    from workloads.fusion import EXPERT_PATH

    touched: dict[str, set[str]] = {}
    for op in workload.ops:
        match = EXPERT_PATH.search(op.module)
        if not match or not op.is_gemm_shaped:
            continue
        layer = op.module[: match.start()]
        if match.group(1) == "*":  # a grouped op: its B dim counts the experts
            touched.setdefault(layer, set()).update(str(i) for i in range(dict(op.dims).get("B", 1)))
        else:
            touched.setdefault(layer, set()).add(match.group(1))
    if not touched:
        return ""
    most = max(len(experts) for experts in touched.values())
    return (
        f"MoE routing: each layer's tokens go evenly to the {most} experts a uniform random router "
        "touches in expectation (workloads/zoo/layers.py experts_touched); a trained router's skew, "
        "which reads fewer experts' weights or loads some more, is not modeled"
    )


def _is_shipped_preset(hardware) -> bool:
    """Whether `hardware` is a shipped preset exactly as it ships (not changed by ``--set`` nor read
    from a file that keeps a preset's name)."""
    from hwmodels import load_hardware
    from hwmodels.loader import list_presets

    return hardware.name in list_presets() and hardware == load_hardware(hardware.name)


def _accuracy_note(workload: OpGraph, hardware, args: argparse.Namespace, *, as_shipped: bool) -> str:
    """Where the device's kind is validated on published timings (a GPU), how far a result of the
    workload's accuracy family was on that preset (`sim.measured.accuracy`), said of the preset as
    shipped where the spec differs from it; '' for other devices and for workloads no family
    covers. A GEMM result names its kernel (``--gemm-kernel``, else the library's), so the note can
    say when none of the cell's rows time it."""
    from sim.engines.registry import model_for
    from sim.measured.accuracy import DEFAULT_WEIGHT_ONLY_GEMM, LIBRARY_GEMM, accuracy_note, workload_family

    family = workload_family(workload)
    if not model_for(hardware).validated_on_published or family is None:
        return ""
    default = DEFAULT_WEIGHT_ONLY_GEMM if family == "weight-only GEMM" else LIBRARY_GEMM
    kernel = (getattr(args, "gemm_kernel", None) or default) if "GEMM" in family else ""
    note = accuracy_note(family, hardware.name, modified=not as_shipped, kernel=kernel)
    several = workload.seq_len > 1 and workload.context_len > workload.seq_len  # new tokens after a cache
    if several and note.startswith("Validated"):
        note += " Its rows are whole prompts and one-token steps, none several tokens after a cache."
    return note


def _prefill_batches(stack, workload: OpGraph, args: argparse.Namespace) -> tuple[int, ...]:
    """The prompts in each prefill step the stack's scheduler makes of the workload's batch
    (`workloads.stacks.Stack.prefill_steps`); one step for a decode or a non-model workload."""
    if workload.phase is not Phase.PREFILL or not workload.seq_len:
        return (workload.batch,)
    return stack.prefill_steps(workload.batch, workload.seq_len, context_length(args.model))


def _prefill_steps(args: argparse.Namespace, workload: OpGraph, batches: tuple[int, ...]):
    """Each distinct prefill step's graph and how many times it runs (`sim.stack_step.step_graphs`),
    the other sizes traced as the workload was, with the stack's GEMMs by module."""
    from sim.stack_step import step_graphs, with_stack_module_kernels

    def trace(size: int) -> OpGraph:
        graph = load_graph(argparse.Namespace(**{**vars(args), "batch": size}), "simulate")
        return with_stack_module_kernels(graph, args.stack, args.weights or "")

    return step_graphs(batches, workload, trace)


def _warn_if_it_does_not_fit(graph: OpGraph, hardware: Device) -> None:
    """A warning when the model's weights and KV cache exceed the device's memory (where the spec
    states a `dram_capacity_bytes`): the latency is still given (what-if questions want it) but one
    device could not run the step."""
    need, capacity = resident_bytes(graph), hardware.dram_capacity_bytes
    if capacity and need["total"] > capacity and getattr(hardware, "memory_must_hold_model", False):
        raise WorkloadError(  # a device with nowhere else to keep them (an FPGA overlay) refuses
            f"weights ({need['weights'] / 1e9:.1f} GB) and KV cache ({need['kv_cache'] / 1e9:.1f} GB) "
            f"need {need['total'] / 1e9:.1f} GB, more than {hardware.name}'s {capacity / 1e9:.1f} GB of "
            "board memory (quantize with --weights int4, shorten --context or --batch, or use a bigger board)"
        )
    if capacity and need["total"] > capacity:
        warning_line(
            "simulate",
            f"weights ({need['weights'] / 1e9:.1f} GB) and KV cache ({need['kv_cache'] / 1e9:.1f} GB) "
            f"need {need['total'] / 1e9:.1f} GB, more than {hardware.name}'s dram_capacity_bytes "
            f"({capacity / 1e9:.0f} GB): one device could not run this step (quantize with --weights, "
            "shorten --context or --batch, or shard it)",
        )


#: How a step's kernels are launched (`workloads.stacks.launch_timing`) → the spec field their
#: launch overhead comes from and the mode's name in the launch note.
LAUNCH_NOTES = {
    "graph": ("graph_launch_overhead_s", "CUDA graphs"),
    "events": ("launch_overhead_s", "a native runtime"),
    "back_to_back": ("launch_overhead_s", "eager"),
}


def _launch_note(results: pd.DataFrame, hardware, timing: str) -> str:
    """On a GPU: how many kernels the step launches and how much of its time their launch overhead
    is (`launch_overhead_s` eager or from a native runtime, `graph_launch_overhead_s` from a CUDA
    graph, which `hardware` then already carries), and the host time the step waits for."""
    if "launches" not in results:
        return ""
    launches = int(results["launches"].fillna(0).sum())
    overhead = launches * hardware.launch_overhead_s
    kernels = f"{launches:,} kernel launch" + ("" if launches == 1 else "es")
    field, mode = LAUNCH_NOTES[timing]
    note = (
        f"{kernels}: {overhead * 1e3:.4g} ms of the total is launch overhead at "
        f"{field} = {hardware.launch_overhead_s * 1e6:g} us ({mode})"
    )
    host = results.loc[results["kind"] == "host", "latency_s"].sum()
    if host:
        note += f"; {host * 1e3:.4g} ms is host time the engine's loop adds (engine_host)"
    return note


def _summary_line(workload: OpGraph, total: dict, hardware) -> str:
    """Latency and energy; tokens per second and joules per token for an LLM step."""
    from sim.cost import energy_note, tokens_per_run

    line = f"\n{workload.name} on {hardware.name}: {total['latency_s'] * 1e3:.4g} ms"
    tokens = 0
    if workload.phase is Phase.DECODE:
        new = max(1, workload.seq_len)
        tokens = tokens_per_run(workload)
        step, counted = (f" of {new} new tokens", "; every new token counted") if new > 1 else ("", "")
        rate = tokens / total["latency_s"]
        line += f" per decode step{step}, {rate:,.1f} tokens/s (batch {workload.batch}{counted})"
    elif workload.phase is Phase.PREFILL and workload.seq_len:
        tokens = tokens_per_run(workload)
        cached = workload.context_len - workload.seq_len if workload.context_len else 0
        chunk = f" chunk of {workload.seq_len} tokens after {cached} cached" if cached > 0 else ""
        line += f" per prefill{chunk}, {tokens / total['latency_s']:,.1f} tokens/s"
    if total["unmodeled_ops"]:
        line += f" — a lower bound: {total['unmodeled_ops']} unmodeled ops left out"
    energy = total.get("energy_j", math.nan)
    if energy == energy:  # not NaN: the preset has what the cost model needs
        note = energy_note(hardware)  # TDP × time: say it is an upper bound
        at_most = "≤ " if note else ""
        line += f"; {at_most}{energy:.4g} J" + (f", {at_most}{energy / tokens:.4g} J/token" if tokens else "")
        line += f" ({note})" if note else ""
    return line


def _workload_flag(args: argparse.Namespace) -> str:
    return "--gemm" if args.gemm else "--topology" if args.topology else "--ops"
