"""Command-line arguments that name a model and its phase, shared by `trace` and `simulate`."""

from __future__ import annotations

import argparse

from sim.commands.stderr import warnings_to_stderr
from workloads.dtypes import DType
from workloads.errors import WorkloadError
from workloads.fusion import MoeMode
from workloads.op import OpGraph, gemm_op
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
    parser.add_argument(
        "--seq",
        type=int,
        help="prefill: prompt tokens per sequence (a chunk's, with --context); decode: new tokens a step "
        "(default 1; more for a speculative decoder's drafts), with --system the prompt its time to first "
        "token prefills",
    )
    parser.add_argument(
        "--context",
        type=int,
        help="decode: KV-cache length attended over (earlier tokens + the step's new ones); prefill: a "
        "chunked prefill's (the cached tokens + the chunk's --seq); several new tokens attend under a "
        "bottom-right causal mask",
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
        default=None,
        help="MoE experts: eager (default, or --stack's; one kernel per expert and op, as traced) or "
        "grouped (one grouped kernel per op over all experts, as serving engines run them)",
    )
    parser.add_argument(
        "--fusion",
        choices=[mode.value for mode in FusionMode],
        default=None,
        help="kernels: eager (default, or --stack's; one per traced op) or serving (GEMMs sharing an "
        "input merged, as QKV and gate/up; chains of elementwise/norm/copy ops fused, as vLLM runs a "
        "decoder)",
    )


#: The model arguments a `--gemm` takes: it is a layer's GEMM, B its weight (quantized, grouped or
#: sparse as a model's would be) and A and C its activations.
GEMM_ANNOTATIONS = ("weights", "group_size", "activations", "gemm_activations", "sparsity")
#: Model arguments and the values they have when not given (the others default to None).
MODEL_ARGUMENT_DEFAULTS = {"phase": "prefill", "batch": 1}
#: Where a workload without a model takes what the model arguments would set.
INSTEAD = {
    "--gemm": "a --gemm is one layer's GEMM: its M is the tokens",
    "--topology": "a topology's layers take --dtype",
    "--ops": "an op graph keeps the phase and precisions codesign trace gave it",
}


def refuse_dtype(args: argparse.Namespace) -> None:
    """An error where ``--dtype`` comes with a model or an op graph, which it would not change: a
    model's precisions are its annotations (``--weights``, ``--activations``, ``--kv``)."""
    if getattr(args, "dtype", None) and (args.model or getattr(args, "ops", None)):
        workload = "--model" if args.model else "--ops"
        raise WorkloadError(
            f"--dtype {args.dtype!r}: sets a --gemm's or a --topology's operands; with {workload} give "
            "--weights, --activations, --gemm-activations or --kv (an op graph: trace it with them)"
        )


def refuse_model_arguments(args: argparse.Namespace, workload: str, *, allowed: tuple[str, ...] = ()) -> None:
    """An error naming the first model argument given (off its default) that `workload` (``--gemm``,
    ``--topology``, ``--ops``) has no use for, outside `allowed`: a silently ignored ``--weights
    int4`` would print an fp16 number as if it were the int4 one."""
    from workloads.model_graph import ANNOTATION_KEYS  # tracing stays out of start-up

    for name in ("phase", "batch", "seq", "context", *ANNOTATION_KEYS):
        value = getattr(args, name, None)
        if name in allowed or value is None or value == MODEL_ARGUMENT_DEFAULTS.get(name):
            continue
        takes = ", ".join("--" + key.replace("_", "-") for key in allowed) or "none of them"
        raise WorkloadError(
            f"--{name.replace('_', '-')} {value!r}: applies to --model; of the model arguments {workload} "
            f"takes {takes} ({INSTEAD[workload]})"
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
    return given | {
        "fusion": given["fusion"] or FusionMode.EAGER.value,
        "moe": given["moe"] or MoeMode.EAGER.value,
    }


def gemm_workload(texts: list[str], dtype: DType, args: argparse.Namespace) -> OpGraph:
    """Each ``--gemm M,N,K`` as a layer's GEMM in `dtype` (B its weight), then the weight,
    activation and sparsity arguments given (`GEMM_ANNOTATIONS`) as `annotate` sets them on a
    model: ``--weights int4`` stores B in 4 bits with its group scales and zero points."""
    from workloads.annotate import annotate  # the annotations stay out of start-up

    ops = tuple(_parse_gemm(text, index, dtype) for index, text in enumerate(texts))
    return annotate(OpGraph(name="gemm", ops=ops), **{name: getattr(args, name) for name in GEMM_ANNOTATIONS})


def _parse_gemm(text: str, index: int, dtype: DType):
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 3:
        raise WorkloadError(f"--gemm {text!r}: expected three sizes M,N,K, e.g. --gemm 128,1024,1024")
    try:
        m, n, k = (int(part) for part in parts)
    except ValueError:
        raise WorkloadError(f"--gemm {text!r}: M, N and K must be integers") from None
    return gemm_op(m, n, k, name=f"gemm{index}", input_dtype=dtype, weight_dtype=dtype, output_dtype=dtype,
                   attrs=(("weight_is_param", 1),))
