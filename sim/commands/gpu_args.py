"""Command-line arguments that say how a GPU runs a workload's kernels, shared by `simulate` and
`plot`: which calibrated kernel implementation GEMMs and attention run as, and whether the step's
kernels are replayed from a CUDA graph."""

from __future__ import annotations

import argparse

from workloads.errors import WorkloadError


def add_gpu_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gemm-kernel",
        metavar="NAME",
        help="GPU: run GEMMs as this kernel: its traits where the model has them (e.g. "
        "w8a8_block_fp8_triton) and its calibrated tensor and bandwidth fractions where the preset has "
        "them (kernel_fractions, kernel_bandwidth_fractions)",
    )
    parser.add_argument(
        "--attention-kernel",
        metavar="NAME",
        help="GPU: run attention as this kernel: its traits (e.g. flash_attention_3, cudnn_sdpa, "
        "paged_attention; default FlashAttention-2's) and its calibrated fractions where the preset "
        "has them",
    )
    parser.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="GPU: replay the step's kernels from a CUDA graph (each pays graph_launch_overhead_s "
        "instead of launch_overhead_s), as serving engines run decode",
    )


def apply_gpu_arguments(hardware, args: argparse.Namespace, stack=None, phase: str = "decode"):
    """`hardware` as the arguments run a `phase` step on it; an error naming the option when it is
    not a GPU. With a `stack` (`workloads.stacks.Stack`, ``--stack``): its attention and weight-only
    GEMM kernels where the command line names none, and its launch mode for the phase
    (`sim.stack_step.launched_as`) unless ``--cuda-graphs`` is given; an option given wins."""
    given = (
        ("--gemm-kernel", args.gemm_kernel),
        ("--attention-kernel", args.attention_kernel),
        ("--cuda-graphs", args.cuda_graphs),
        ("--stack", stack is not None),
    )
    options = [name for name, on in given if on]
    if not options:
        return hardware
    hardware = require_gpu(hardware, "/".join(options))
    gemm, attention = args.gemm_kernel, args.attention_kernel
    if stack is not None:
        from workloads.stacks import stack_kernels
        from workloads.zoo.configs import query_heads_per_kv

        group = query_heads_per_kv(args.model.strip().lower())
        weights = args.weights or ""
        by_stack = stack_kernels(args.stack, stack, phase, group=group, weights=weights)
        gemm, attention = gemm or by_stack[0] or None, attention or by_stack[1] or None
    if gemm or attention:
        from mappers.gpu_attention import attention_kernel_refusal
        from sim.engines.gpu.engine import modeled_kernels

        refusal = attention_kernel_refusal(attention or "", hardware)
        if refusal:
            raise WorkloadError(f"--attention-kernel {attention!r}: {refusal}")
        hardware = hardware.with_kernels(gemm=gemm, attention=attention, known=modeled_kernels())
    if args.cuda_graphs:
        return hardware.with_cuda_graphs()
    if stack is not None:
        from sim.stack_step import launched_as

        return launched_as(hardware, stack, phase)
    return hardware


def require_gpu(hardware, option: str):
    """`hardware`, or an error naming `option` when it is not a GPU."""
    from hwmodels.gpu import GPUSpec

    if not isinstance(hardware, GPUSpec):
        kind = type(hardware).__name__
        raise WorkloadError(f"{option}: GPU options; hardware {hardware.name!r} is a {kind}")
    return hardware


def apply_to_gpus(system, args: argparse.Namespace, stack, phase: str):
    """`system` with `apply_gpu_arguments` on every GPU (devices of other kinds as they are: the
    options are for the system's GPUs)."""
    from hwmodels.gpu import GPUSpec

    def on_gpus(device):
        return apply_gpu_arguments(device, args, stack, phase) if isinstance(device, GPUSpec) else device

    return system.with_devices(on_gpus)


def launch_timing_of(args: argparse.Namespace, stack, phase: str) -> str:
    """How the step's kernels are launched, as the measured format's `timing` names it
    (`workloads.stacks.launch_timing`): ``--cuda-graphs``, else the stack's for the phase, else eager."""
    if args.cuda_graphs:
        return "graph"
    return stack.timing(phase) if stack is not None else "back_to_back"


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """``--stack`` and ``--step-host-s``: a model's step as a serving stack runs it (`sim.stack_step`)."""
    from workloads.stacks import STACKS

    parser.add_argument(
        "--stack",
        metavar="NAME",
        help="GPU, --model: run the step as this software stack runs it: its kernels' fusion, launch "
        "(CUDA graphs, eager, a native runtime), attention and weight-only GEMM kernels, the host "
        "time each step waits for (vllm's 1.88 ms, calibrated) and a prefill batch in its "
        "scheduler's steps; one of " + ", ".join(STACKS),
    )
    parser.add_argument(
        "--step-host-s",
        type=float,
        metavar="SECONDS",
        help="GPU, --model: host time each step waits for, beside its kernels (a serving engine's "
        "loop); default: --stack's (0 without one)",
    )


def stack_arguments(args: argparse.Namespace):
    """(the `workloads.stacks.Stack` ``--stack`` names or None, the host seconds each step waits for,
    where that figure comes from); sets `args.fusion` and `args.moe` to the stack's where ``--fusion``
    and ``--moe`` are not given (eager without a stack). An error naming the option for a stack
    that does not exist, a stack without ``--model``, or a host time out of range."""
    from workloads.stacks import STACKS, host_note, step_host_problem

    if not args.stack and args.step_host_s is None:
        args.fusion = args.fusion or "eager"
        return None, 0.0, ""
    given = (("--stack", bool(args.stack)), ("--step-host-s", args.step_host_s is not None))
    options = "/".join(name for name, on in given if on)
    if not args.model:
        raise WorkloadError(f"{options}: a stack runs a model's step; give --model")
    if args.step_host_s is not None and (problem := step_host_problem(args.step_host_s)):
        raise WorkloadError(f"--step-host-s {args.step_host_s!r}: {problem}")
    if args.stack and args.stack not in STACKS:
        raise WorkloadError(f"--stack {args.stack!r}: valid: {', '.join(STACKS)}")
    stack = STACKS[args.stack] if args.stack else None
    args.fusion = args.fusion or (stack.fusion if stack else "eager")
    if hasattr(args, "moe"):  # the stack's MoE kernels, as its fusion, where --moe is not given
        args.moe = args.moe or (stack.moe.value if stack else None)
    if args.step_host_s is not None:  # given alone, or over the stack's
        return stack, args.step_host_s, "engine host time per step (--step-host-s)"
    return stack, stack.step_host_s, host_note(args.stack)
