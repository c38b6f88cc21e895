"""Command-line arguments that name a model and its phase, shared by `trace` and `simulate`."""

from __future__ import annotations

import argparse

from sim.commands.stderr import warnings_to_stderr
from workloads.errors import WorkloadError
from workloads.fusion import MoeMode
from workloads.op import OpGraph
from workloads.serving import FusionMode


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Phase, batch, lengths and precision/sparsity annotations of a traced model."""
    parser.add_argument("--phase", default="prefill", help="prefill (default) or decode")
    parser.add_argument(
        "--batch",
        type=batch_size,
        default=1,
        help="sequences or images (default 1); with --system also 'max', the largest batch that fits",
    )
    parser.add_argument("--seq", type=int, help="prefill: prompt tokens per sequence")
    parser.add_argument(
        "--context", type=int, help="decode: KV-cache length attended over (earlier tokens + the new one)"
    )
    parser.add_argument("--weights", help="weight dtype: int4, int8, fp8, fp16, bf16, fp32")
    parser.add_argument("--group-size", type=int, help="quantization group along K (int4: 128)")
    parser.add_argument(
        "--activations",
        help="every activation's dtype, GEMMs', norms' and attention's alike: fp16, bf16, fp8, int8, fp32 "
        "(an 8-bit datapath; W8A8 as GPU stacks run it is --gemm-activations)",
    )
    parser.add_argument(
        "--gemm-activations",
        help="W8A8: the dtype weight GEMMs read their input in (fp8, int8), quantized on the way in "
        "as GPU serving stacks do; outputs, norms, attention and the rest keep --activations'",
    )
    parser.add_argument(
        "--attention-dtype",
        help="attention's Q/K/V/output dtype (default: --activations'); fp8 for FlashAttention-3's "
        "FP8 kernels",
    )
    parser.add_argument("--kv", help="KV-cache dtype: fp16, int8, fp8, fp32")
    parser.add_argument("--sparsity", help="N:M sparsity of linear weights: 2:4, 8:16, ...")
    parser.add_argument(
        "--moe",
        choices=[mode.value for mode in MoeMode],
        default=MoeMode.EAGER.value,
        help="MoE experts: eager (default; one kernel per expert and op, as traced) or grouped (one "
        "grouped kernel per op over all experts, as serving engines run them)",
    )
    parser.add_argument(
        "--fusion",
        choices=[mode.value for mode in FusionMode],
        default=None,
        help="kernels: eager (default, or --stack's; one per traced op) or serving (GEMMs sharing an "
        "input merged, as QKV and gate/up; chains of elementwise/norm/copy ops fused, as vLLM runs a "
        "decoder)",
    )


def batch_size(text: str) -> int | str:
    """``--batch``: an integer (checked where it is used), or ``max``."""
    return "max" if text.strip().lower() == "max" else int(text)


def load_graph(args: argparse.Namespace, command: str) -> OpGraph:
    """Trace `args.model` with the phase arguments; tracer warnings go to stderr, one line each."""
    from workloads.model_graph import load_model_graph  # torch only on a trace-cache miss

    if args.batch == "max":
        raise WorkloadError("--batch max: only with --system (the largest batch a system's memory holds)")
    with warnings_to_stderr(command):
        graph = load_model_graph(
            args.model,
            phase=args.phase,
            batch=args.batch,
            seq=args.seq,
            context=args.context,
            **annotation_arguments(args),
        )
    return graph


def annotation_arguments(args: argparse.Namespace) -> dict[str, object]:
    """The precision, sparsity, MoE and fusion options given, as `load_model_graph`'s keywords."""
    from workloads.model_graph import ANNOTATION_KEYS  # tracing stays out of start-up

    given = {name: getattr(args, name) for name in ANNOTATION_KEYS}
    return given | {"fusion": given["fusion"] or FusionMode.EAGER.value}
