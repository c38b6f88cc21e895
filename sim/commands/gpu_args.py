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
