"""`codesign simulate --system`: a model on a system of devices, per resource and as serving figures.

The command-line layer only: the system is loaded (`hwmodels.system_loader.load_system`, with
``--set`` paths), the model traced per micro-batch, placed (`mappers.placement.place`), costed and
scheduled (`sim.system_run.run_system`), checked against memory and turned into serving figures
(`sim.serving`). Heavy modules are imported inside the functions, so the parser needs none.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math

from sim.commands.stderr import warning_line


def add_system_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--requests",
        metavar="TRACE|FILE.csv",
        help="with --system: request lengths, a trace Lamina used (azure-conv, azure-code, kimi-conv, "
        "kimi-ta: its Table 4 means) or a CSV in the Azure LLM inference trace format "
        "(TIMESTAMP,ContextTokens,GeneratedTokens); decode runs at the mean prompt + generated/2, "
        "the time to first token at the mean prompt",
    )
    parser.add_argument(
        "--timeline",
        metavar="FILE.csv",
        help="with --system: write the step's schedule, a row per task (resource, start, end, what it ran)",
    )


def run_on_system(args: argparse.Namespace) -> int:
    from hwmodels.system_loader import load_system
    from mappers.placement import place, plan_batch, prefill_system
    from sim.commands.gpu_args import apply_to_gpus, stack_arguments
    from sim.present.tables import OutputFormat
    from sim.serving import max_batch, request_mix, require_fit, serving_figures
    from sim.system_run import resource_table, run_system, timeline_table
    from workloads.errors import WorkloadError
    from workloads.op import Phase

    if not args.model:
        raise WorkloadError("--system runs a zoo model: give --model (not --gemm, --topology or --ops)")
    stack, host_s, _ = stack_arguments(args)
    loaded = load_system(args.system, args.overrides)
    phase = Phase.parse(args.phase)
    system = apply_to_gpus(loaded, args, stack, phase.value)
    mix = request_mix(args.requests) if args.requests else None
    context = args.context or (mix.decode_context if mix else None)
    prompt = args.seq or (round(mix.prompt_tokens) if mix else None)
    if phase is Phase.DECODE and not context:
        raise WorkloadError("--phase decode on a system needs --context N or --requests TRACE")
    if phase is Phase.DECODE and prompt and context < prompt:  # the step attends over the prompt
        raise WorkloadError(
            f"--context {context} < --seq {prompt}: a decode step's context holds the prompt; "
            f"give --context of at least {prompt}"
        )

    def trace(batch: int, step: Phase = phase):
        return _trace(args, step, batch, context=context, seq=prompt)

    kv_to = ""
    if phase is Phase.PREFILL:  # a prefill on its own devices, or on one replica of the model's
        system, kv_to = prefill_system(system)
    if args.batch == "max":
        batch = max_batch(trace, system)
    else:
        batch = int(args.batch)
        if batch < 1:
            raise WorkloadError(f"--batch {batch}: must be a positive integer or max")
    placement = place(trace(plan_batch(system, batch)), system, kv_to=kv_to)
    require_fit(placement, system)
    steps: tuple[int, ...] = ()
    if stack is not None and phase is Phase.PREFILL and prompt:  # the scheduler's prefill steps
        placement, steps = _in_prefill_steps(args, stack, system, batch, prompt, placement, trace, kv_to)
    # each step waits for the serving engine's host work (--stack, --step-host-s) on the critical path
    run = dataclasses.replace(run_system(placement, system), host_s=host_s * max(len(steps), 1))
    prefill_s = decode_s = math.nan
    decodes = 0
    if phase is Phase.DECODE and prompt:  # the first token: a prefill as the stack launches one
        prefill_s, decode_s, decodes = _first_token_s(args, loaded, stack, prompt, host_s)
    figures = serving_figures(
        run,
        context=context or 0,
        ttft_s=prefill_s + decode_s,
        generated_tokens=mix.generated_tokens if mix else math.nan,
        prefill_shared=not system.parallel.prefill_group,
        first_token_decodes=decodes,
        prefill_s=prefill_s,
    )
    table = resource_table(run)
    if args.timeline:
        from workloads.files import writing

        with writing(args.timeline, option="--timeline", error=WorkloadError):
            timeline_table(run).to_csv(args.timeline, index=False)
    fmt = OutputFormat(args.format)
    if run.unmodeled_ops:
        left_out = f"{run.unmodeled_ops} unmodeled ops are left out of the step (counted as 0 s)"
        warning_line("simulate", f"{left_out}: a lower bound")
    if fmt is OutputFormat.JSON:
        print(
            json.dumps(
                {
                    "resources": json.loads(table.to_json(orient="records")),
                    "serving": _plain(figures.__dict__),
                },
                indent=1,
            )
        )
        return 0
    if fmt is OutputFormat.CSV:
        print(table.to_csv(index=False), end="")
        return 0
    print(_render(table))
    print()
    print(_summary(args, system, run, figures, mix, prompt, steps, batch_was_max=args.batch == "max"))
    return 0


def _first_token_s(args, loaded, stack, prompt: int, host_s: float) -> tuple[float, float, int]:
    """One request's time to first token on `loaded` (the system as given), as (its prefill's
    seconds, its decode steps' seconds, how many decode steps): its prompt's prefill from an empty
    cache (the decode's --context is the step's, not the prompt's: until session 29 the prefill was
    traced as a chunk after ``context - prompt`` cached tokens) as the stack launches one, each
    step waiting for the engine's `host_s`; where the stack decodes the prompt's last token
    (`workloads.stacks.Stack.first_token_steps`: TurboMind v0.1), the prefill of the rest and a
    decode step over the whole prompt, as the validation harness runs it. The two parts stay
    apart because that decode step is also one of the request's decode steps
    (`sim.serving.serving_figures`' ``first_token_decodes``)."""
    from mappers.placement import place, prefill_system
    from sim.commands.gpu_args import apply_to_gpus
    from sim.system_run import run_system
    from workloads.op import Phase

    tokens, decodes = stack.first_token_steps(prompt) if stack is not None else (prompt, 0)
    prefill_s = decode_s = 0.0
    if tokens:
        prefill, kv_to = prefill_system(apply_to_gpus(loaded, args, stack, Phase.PREFILL.value))
        graph = _trace(args, Phase.PREFILL, 1, context=None, seq=tokens)  # from an empty cache
        prefill_s = run_system(place(graph, prefill, kv_to=kv_to), prefill).latency_s + host_s
    if decodes:
        decoding = apply_to_gpus(loaded, args, stack, Phase.DECODE.value)
        # one request's step: one micro-batch of one replica (`place`), not the pipeline's several
        parallel = dataclasses.replace(decoding.parallel, micro_batches=1)
        decoding = dataclasses.replace(decoding, parallel=parallel)
        graph = _trace(args, Phase.DECODE, 1, context=prompt, seq=None)
        decode_s = decodes * (run_system(place(graph, decoding), decoding).latency_s + host_s)
    return prefill_s, decode_s, decodes


def _in_prefill_steps(args, stack, system, batch: int, prompt: int, whole, trace, kv_to: str):
    """The batch's prefill as the stack's scheduler runs it (`workloads.stacks.Stack.prefill_steps`):
    one step after another (`mappers.placement.in_steps`) on the prefill's system, which is one
    engine (`mappers.placement.prefill_system`: one replica, one micro-batch). `whole` (the batch
    placed as one step) is kept where the scheduler makes one step, and its memory is the steps'
    (an engine holds the KV cache of every prompt it has prefilled). Returns the placement and the
    prompts of each step (empty: one step)."""
    from mappers.placement import in_steps, place
    from workloads.zoo import context_length

    sizes = stack.prefill_steps(batch, prompt, context_length(args.model))
    if len(sizes) == 1:
        return whole, ()
    return in_steps(sizes, lambda size: place(trace(size), system, kv_to=kv_to), whole), sizes


def _trace(args: argparse.Namespace, phase, batch: int, *, context, seq):
    from sim.commands.model_args import annotation_arguments
    from sim.commands.stderr import warnings_to_stderr
    from workloads.model_graph import load_model_graph

    with warnings_to_stderr("simulate"):
        graph = load_model_graph(
            args.model,
            phase=phase.value,
            batch=batch,
            # a decode's --seq is the prompt its time to first token prefills; a prefill's --context
            # is a chunk's, after its cache
            seq=seq if phase.value == "prefill" else None,
            context=context,
            **annotation_arguments(args),
        )
    if args.stack:  # the GEMMs the stack runs as a kernel of their own by module, as on --hw
        from sim.stack_step import with_stack_module_kernels

        graph = with_stack_module_kernels(graph, args.stack, args.weights or "")
    return graph


def _render(table) -> str:
    """The resource table for the terminal: times in ms, bytes in GB, fractions in %."""
    shown = table.copy()
    for column in ("busy_s",):
        shown[column] = shown[column].map(lambda v: f"{v * 1e3:.3f} ms")
    shown["utilization"] = shown["utilization"].map("{:.1%}".format)
    shown["flops"] = shown["flops"].map(lambda v: f"{v / 1e12:.3g} T" if v else "")
    for column in ("dram_bytes", "wire_bytes", "weights_bytes", "kv_bytes", "memory_bytes", "capacity_bytes"):
        if column in shown:
            shown[column] = shown[column].map(lambda v: "" if v != v or not v else f"{v / 1e9:.3g} GB")
    shown = shown.drop(columns=[c for c in ("activation_bytes",) if c in shown])
    shown["devices"] = shown["devices"].map(lambda v: str(v) if v else "")
    return shown.to_string(index=False)


def _summary(args, system, run, figures, mix, prompt, steps, *, batch_was_max: bool) -> str:
    groups = " + ".join(f"{group.count}x {group.device.name}" for group in system.groups.values())
    batch = f"batch {figures.batch}" + (" (the largest that fits)" if batch_was_max else "")
    lines = [
        f"{args.model} {args.phase} on {system.name} ({groups}): {batch}"
        + (f", context {figures.context}" if figures.context else "")
        + (
            f", requests {mix.name} (prompt {mix.prompt_tokens:g}, generated {mix.generated_tokens:g})"
            if mix
            else ""
        )
    ]
    step = "time between tokens" if args.phase == "decode" else "prefill"
    line = f"  {step} {run.latency_s * 1e3:.4g} ms, {figures.tokens_per_s:,.1f} tokens/s"
    if figures.ttft_s == figures.ttft_s:
        line += (
            f"; time to first token {figures.ttft_s * 1e3:.4g} ms (a prefill of {prompt} tokens, no queueing)"
        )
    lines.append(line)
    if steps:
        from workloads.stacks import describe_steps

        lines.append(
            f"  {args.stack}'s scheduler runs the {sum(steps)} prompts as {describe_steps(steps)} "
            "(tasks labelled 'step N bS' in --timeline), each waiting for the engine's host time"
        )
    if figures.tokens_per_s_with_prefill == figures.tokens_per_s_with_prefill:
        lines.append(f"  with each request's prefill: {figures.tokens_per_s_with_prefill:,.1f} tokens/s")
    cost = []
    if figures.usd_per_hour == figures.usd_per_hour:
        cost.append(f"${figures.usd_per_hour:.2f}/h, {figures.tokens_per_usd:,.0f} tokens/$")
    if figures.power_w == figures.power_w:
        cost.append(f"{figures.power_w:,.0f} W at TDP, {figures.tokens_per_j:.3g} tokens/J")
    if cost:
        lines.append("  " + "; ".join(cost))
    busiest = max(run.timeline.busy_s.items(), key=lambda item: item[1], default=("", 0.0))
    host = f" ({run.host_s * 1e3:.4g} ms of it the serving engine's host time)" if run.host_s else ""
    lines.append(
        f"  critical path {run.latency_s * 1e3:.4g} ms{host}; busiest resource {busiest[0]} "
        f"{busiest[1] * 1e3:.4g} ms ({busiest[1] / run.latency_s:.0%}); {len(run.placement.tasks):,} tasks"
    )
    return "\n".join(lines)


def _plain(values: dict) -> dict:
    return {
        key: (None if isinstance(value, float) and math.isnan(value) else value)
        for key, value in values.items()
    }
