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


def apply_gpu_arguments(hardware, args: argparse.Namespace):
    """`hardware` as the arguments run it; an error naming the option when it is not a GPU."""
    from hwmodels.gpu import GPUSpec

    options = [
        name
        for name, given in (
            ("--gemm-kernel", args.gemm_kernel),
            ("--attention-kernel", args.attention_kernel),
            ("--cuda-graphs", args.cuda_graphs),
        )
        if given
    ]
    if not options:
        return hardware
    if not isinstance(hardware, GPUSpec):
        raise WorkloadError(
            f"{'/'.join(options)}: GPU options; hardware {hardware.name!r} is a {type(hardware).__name__}"
        )
    if args.gemm_kernel or args.attention_kernel:
        from mappers.gpu_attention import attention_kernel_refusal
        from sim.engines.gpu.engine import modeled_kernels

        refusal = attention_kernel_refusal(args.attention_kernel or "", hardware)
        if refusal:
            raise WorkloadError(f"--attention-kernel {args.attention_kernel!r}: {refusal}")
        hardware = hardware.with_kernels(
            gemm=args.gemm_kernel, attention=args.attention_kernel, known=modeled_kernels()
        )
    return hardware.with_cuda_graphs() if args.cuda_graphs else hardware


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """``--stack`` and ``--step-host-s``: a model's step as a serving stack runs it (`sim.stack_step`)."""
    from workloads.stacks import STACKS

    parser.add_argument(
        "--stack",
        metavar="NAME",
        help="GPU, --model: run the step as this software stack runs it: its kernels' fusion, launch "
        "(CUDA graphs, eager, a native runtime), attention and weight-only GEMM kernels, and the "
        "host time each step waits for (vllm's 1.88 ms, calibrated); one of " + ", ".join(STACKS),
    )
    parser.add_argument(
        "--step-host-s",
        type=float,
        metavar="SECONDS",
        help="GPU, --model: host time each step waits for, beside its kernels (a serving engine's "
        "loop); default: --stack's (0 without one)",
    )


def apply_stack_arguments(hardware, args: argparse.Namespace) -> tuple[object, float, str, str]:
    """(`hardware` as `args.stack` launches the step's kernels, the host seconds the step waits for,
    where that figure comes from, how the kernels are launched: the measured format's `timing`
    name, `workloads.stacks.launch_timing`); fills `args.fusion`, `args.attention_kernel` and
    `args.gemm_kernel` with the stack's where the command line gave none. Without ``--stack`` the
    hardware is returned as it is (eager, or ``--cuda-graphs``), with eager fusion by default."""
    timing = "graph" if args.cuda_graphs else "back_to_back"
    from workloads.stacks import STACKS

    if not args.stack and args.step_host_s is None:
        args.fusion = args.fusion or "eager"
        return hardware, 0.0, "", timing
    from hwmodels.gpu import GPUSpec

    given = (("--stack", bool(args.stack)), ("--step-host-s", args.step_host_s is not None))
    options = "/".join(name for name, on in given if on)
    if not args.model:
        raise WorkloadError(f"{options}: a stack runs a model's step; give --model")
    if not isinstance(hardware, GPUSpec):
        kind = type(hardware).__name__
        raise WorkloadError(f"{options}: GPU options; hardware {hardware.name!r} is a {kind}")
    if args.step_host_s is not None and not 0 <= args.step_host_s < 10:  # NaN fails too
        raise WorkloadError(f"--step-host-s {args.step_host_s!r}: seconds per step, at least 0 and below 10")
    if not args.stack:
        args.fusion = args.fusion or "eager"
        return hardware, args.step_host_s, "engine host time per step (--step-host-s)", timing
    if args.stack not in STACKS:
        raise WorkloadError(f"--stack {args.stack!r}: valid: {', '.join(STACKS)}")
    from sim.stack_step import launched_as, stack_kernels
    from workloads.zoo.configs import query_heads_per_kv

    stack = STACKS[args.stack]
    args.fusion = args.fusion or stack.fusion
    group = query_heads_per_kv(args.model.strip().lower())
    gemm, attention = stack_kernels(args.stack, stack, args.phase, group=group, weights=args.weights or "")
    args.gemm_kernel = args.gemm_kernel or gemm or None
    args.attention_kernel = args.attention_kernel or attention or None
    if not args.cuda_graphs:
        hardware, timing = launched_as(hardware, stack, args.phase), stack.timing(args.phase)
    if args.step_host_s is not None:
        return hardware, args.step_host_s, "engine host time per step (--step-host-s)", timing
    return hardware, stack.step_host_s, f"{args.stack}'s engine loop, once a step", timing
