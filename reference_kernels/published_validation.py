"""Published GPU measurements from sources no fit has used, as rows to validate the simulator on.

`reference_kernels/data/published_validation.csv` (`PUBLISHED_VALIDATION.md` describes each source,
how far to trust it and its caveats) holds kernel timings (GEMM, FP8 GEMM, weight-only GEMM,
attention prefill and decode) and whole-model figures (decode and prefill). Each row's split comes
from the source registry (`reference_kernels.sources`); `split` says which rows accuracy may be
quoted on.

* `validation_kernels` turns the kernel rows into the measured-data format `codesign compare`
  reads (docs/measured_format.md), with `preset`, `source_id`, `split`, `locator` and `quote`.
  Library kernels called from torch (cuBLAS behind ``torch.mm``/``F.linear``) become
  ``torch_matmul``, the kernel a traced model's GEMMs run as; the others keep a short name of
  their own (`KERNELS`). Each row's `timing` says what its figure includes beside the kernel
  (CUDA events around each call, a loop of eager calls, a profiler's device time, a CUDA-graph
  replay) and `l2_flush` how the L2 was flushed before each call (docs/measured_format.md): its
  source's in `data/sources.csv` (`reference_kernels.sources.harness`), whose `harness_note` says
  what shows it (the benchmark script read, the method the source states, or none stated). A
  ``tflops_best_of_sizes`` row (a table that kept only the best of several square sizes) keeps the
  sizes in `best_of_sizes` and no shape: the simulation side compares it with the best simulated
  rate over those sizes.
* `validation_steps` turns the whole-model rows (and the whole-model rows of
  `published_models.csv` whose source is a validation source) into step descriptions: the
  model, what the figure times (`scope`: ``generate`` = a prefill of `input_len` tokens and
  `output_len` decode steps, the figure being the whole run divided by `output_len`; ``decode`` =
  the mean of `output_len` decode steps after `input_len` tokens; ``prefill`` = one prefill of
  `input_len` tokens), the precisions, the software stack's kernel policy (`workloads.stacks.STACKS`) and the
  tensor-parallel degree (`tp`: 1 for one GPU; more, a node of that many GPUs).

Rows that cannot be simulated keep a `reason`: no preset for the GPU, a model the zoo does not
have, no latency.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hwmodels.system_loader import nvlink_node_preset
from reference_kernels.published_models import PUBLISHED_MODELS, published_model_steps
from reference_kernels.sources import DATA, harness, with_split
from workloads.stacks import STACKS, WEIGHT_ONLY_KERNELS, Stack, stack_kernels
from workloads.zoo import context_length, list_models
from workloads.zoo.configs import query_heads_per_kv

PUBLISHED_VALIDATION = DATA / "published_validation.csv"

#: The published kernel (the `kernel` cell, up to its first space or parenthesis) → the measured
#: format's kernel name. Library calls from torch are ``torch_matmul``.
KERNELS = {
    "torch_F.linear_fp16": "torch_matmul",
    "torch.mm": "torch_matmul",
    "torch_fp16_matmul": "torch_matmul",
    "torch-bf16": "torch_matmul",
    "torch-cublas": "torch_matmul",
    "torch": "torch_matmul",  # TileOPs' "torch baseline GEMV (b @ a)"; tilus' torch.matmul baseline
    "torch_fp16_linear": "torch_matmul",  # fxmarty's q4f16 benchmark: an fp16 nn.Linear
    "cuBLAS": "torch_matmul",  # fast.cu's KERNEL 0: cublasGemmEx at CUBLAS_GEMM_DEFAULT
    # QUICK's README: its dense "FP16" column names no library; ASSUMED cuBLAS through torch
    "fp16_dense": "torch_matmul",
    # cuBLASLt called with its own heuristic's first algorithm, as torch's bf16 matmul does on Hopper
    "cuBLASLt": "torch_matmul",
    # superbench's cublaslt_gemm with FP8 inputs (Azure's results documents): one cublasLtMatmul at
    # its heuristic's first algorithm with CUBLASLT_MATMUL_DESC_FAST_ACCUM set to 1 (cublaslt_utils.cc
    # at gitaumark/superbenchmark@3e2f95d1 and @1089cfc1, under a comment that says it disables it),
    # the kernel torch._scaled_mm(use_fast_accum=True) runs
    "cublaslt_fp8_tensorwise": "scaled_mm_fast_accum",
    "torchao_triton_blockwise_fp8_gemm": "torchao_triton_blockwise_fp8",
    "torchao_triton_fp8_gemm_1x128_128x1": "torchao_triton_fp8_gemm_1x128_128x1",
    "fp8-tensor-w-tensor-a-noquant": "cutlass_scaled_mm",
    "vllm_marlin_w4a16": "marlin",
    "vllm_marlin_w8a16": "marlin",
    "flash_attention_3": "flash_attention_3",
    "flash_attention_3_fp8": "flash_attention_3_fp8",
}
#: FA3 paper Table 2's ablations: kernels of their own (the full kernel is FA3).
FA3_ABLATIONS = {
    "no GEMM-softmax pipelining": "flash_attention_3_no_pipelining",
    "no warp specialization": "flash_attention_3_no_warp_specialization",
}
#: Published dtype labels → the measured format's.
DTYPES = {"fp16": "fp16", "bf16": "bf16", "fp8": "fp8", "fp8_e4m3": "fp8", "int8": "int8", "int4": "int4"}


#: Sources whose FP8 engines held K/V in 8 bits though their text does not name the flag: the
#: TensorRT-LLM H200 launch blog's batches are "Largest batch supported on given TP configuration
#: by power of 2" on a 141 GB H200, and Llama-2-13B's K/V is 2 · 40 layers · 5120 · 2 B = 819 KB
#: per token in fp16: batch 1024 at 128 + 128 tokens would need 215 GB, batch 128 at 128 + 2048
#: 228 GB; in 8 bits 107 and 114 GB beside 13 GB of FP8 weights. The campaign's v0.6.1 FP8 builds
#: pass --fp8_kv_cache.
EIGHT_BIT_KV_SOURCES = frozenset({"trtllm_h200_launch_blog"})


#: Models the zoo has (by the published name; `workloads.zoo` lists them without importing torch).
ZOO_NAMES = frozenset(list_models())


def _read(path: Path) -> pd.DataFrame:
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    return with_split(rows, path.name).drop(columns="publication")


def validation_kernels(path: Path = PUBLISHED_VALIDATION) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the kernel rows in the measured format, with `preset`, `source_id`, `split`, `locator`,
    `quote`; the kernel rows left out, with their `reason`)."""
    figures = _read(path)
    figures = figures[~figures["family"].str.startswith("model")]
    kept, skipped = [], []
    for _, figure in figures.iterrows():
        if not figure["preset"]:
            skipped.append({**figure.to_dict(), "reason": f"no preset models {figure['gpu']}"})
            continue
        kept.append(_kernel_row(figure))
    return pd.DataFrame(kept), pd.DataFrame(skipped)


def _kernel_row(figure: pd.Series) -> dict[str, object]:
    family = figure["family"]
    a, b = DTYPES[figure["a_dtype"]], DTYPES[figure["b_dtype"]]
    if family == "gemm_weight_only":
        family = {"int4": "gemm_w4a16", "int8": "gemm_w8a16"}[b]
    row: dict[str, object] = {
        "family": family,
        "kernel": _kernel_name(figure),
        "a_dtype": a,
        "b_dtype": b,
        "device": "cuda",
        "device_name": figure["gpu_as_published"],
        "preset": figure["preset"],
        "latency_s": float(figure["latency_s"]) if figure["latency_s"] else float("nan"),
        **harness(figure["source_id"])._asdict(),  # how the source timed it (sources.csv)
    }
    if family.startswith("gemm"):
        if figure["metric"] == "tflops_best_of_sizes":
            sizes = figure["latency_derivation"].split("sizes ")[1].split(" (")[0]
            row |= {"best_of_sizes": sizes.replace(" ", ""), "best_tflops": float(figure["value"])}
        else:
            row |= {c.upper(): int(figure[c]) for c in ("m", "n", "k")}
        if figure["batch"]:
            row["batch"] = int(figure["batch"])
        group = figure["group_size"]
        if family == "gemm_w4a16":
            row["group_size"] = int(group) if group.isdigit() else int(figure["k"])  # channelwise: all of K
        elif family in ("gemm_w8a16", "gemm_fp8") and group.isdigit():
            # groupwise int8 (MLX's groups of 64); block-scaled FP8: the scale block along K
            row["group_size"] = int(group)
        row["out_dtype"] = "bf16" if a == "fp8" else a
    else:
        row |= {c: int(figure[c]) for c in ("batch", "heads", "kv_heads", "seq_kv", "head_dim")}
        if figure.get("head_dim_v", ""):  # V's head dim where it differs from Q's and K's
            row["head_dim_v"] = int(figure["head_dim_v"])
        row |= {"seq_q": int(figure["seq_q"] or 1), "causal": int(figure["causal"] or 0)}
    keep = ("source", "source_id", "split", "locator", "quote", "settings")
    return row | {column: figure[column] for column in keep}


def _kernel_name(figure: pd.Series) -> str:
    published = figure["kernel"]
    tensor_cores = "use_tensor_cores=True" in published
    if published.startswith(("flashinfer_batch_decode", "flashinfer_single_decode")) and tensor_cores:
        return "flashinfer_batch_decode_tensor_cores"  # its prefill kernel (mappers.gpu_attention)
    for needle, name in FA3_ABLATIONS.items():
        if needle in published and "FlashAttention-3 (full)" not in published:
            return name
    first = published.replace("(", " ").split()[0]
    return KERNELS.get(first, first)


#: Columns of a step description (`validation_steps`).
STEP_COLUMNS = (
    "family", "model", "scope", "batch", "input_len", "output_len", "weights", "group_size",
    "activations", "kv", "fusion", "cuda_graphs", "eager_host", "eager_prefill", "step_host_s",
    "prefill_batches", "decodes_last_prompt_token", "stack",
    "gemm_kernel",
    "attention_kernel", "decode_attention_kernel", "preset", "gpu",
    "tp", "latency_s",
    "set", "source_id", "split", "reason", "locator", "quote",
)  # fmt: skip


def validation_steps(path: Path = PUBLISHED_VALIDATION, models_path: Path = PUBLISHED_MODELS) -> pd.DataFrame:
    """Every whole-model row of both files, as a step description (`STEP_COLUMNS`); `reason` is
    empty for the rows that can be simulated (on one GPU, or `tp` of them in a node)."""
    figures = _read(path)
    steps = [_step(figure) for _, figure in figures[figures["family"].str.startswith("model")].iterrows()]
    figure_steps = pd.DataFrame(steps, columns=list(STEP_COLUMNS))
    return pd.concat([figure_steps, published_model_step_rows(models_path)], ignore_index=True)


def published_model_step_rows(models_path: Path = PUBLISHED_MODELS) -> pd.DataFrame:
    """The rows of `published_models.csv` (one step each: a prefill of ``seq`` tokens or a decode
    step at ``context``) as step descriptions (`STEP_COLUMNS`), with their split."""
    models = with_split(published_model_steps(models_path), models_path.name)
    steps = [_published_model_step(row) for _, row in models.iterrows()]
    return pd.DataFrame(steps, columns=list(STEP_COLUMNS))


def _step(figure: pd.Series) -> dict[str, object]:
    stack_name = figure["kernel"].split()[0]
    stack = STACKS[stack_name]
    scope = figure["timing_scope"]
    phase = figure["phase"]
    if figure["family"] == "model_prefill":
        scope_name = "prefill"
    elif phase.startswith("generate") or scope.startswith("whole generation"):
        scope_name = "generate"
    else:
        scope_name = "decode"
    weights, activations = DTYPES[figure["b_dtype"]], DTYPES[figure["a_dtype"]]
    # TensorRT-LLM v0.6.1's FP8 engines were built with --fp8_kv_cache (its settings say so); the
    # H200 launch blog's engines must have held K/V in 8 bits (`EIGHT_BIT_KV_SOURCES`)
    stated = "--fp8_kv_cache" in figure["settings"] or figure["source_id"] in EIGHT_BIT_KV_SOURCES
    kv = "fp8" if stated and weights == "fp8" else ""
    group = query_heads_per_kv(figure["model"])
    gemm, decode_attention = stack_kernels(stack_name, stack, "decode", group=group, weights=weights)
    reason = ""
    if not figure["latency_s"]:
        reason = "no latency: " + figure["latency_derivation"]
    elif figure["model"] not in ZOO_NAMES:
        reason = f"model {figure['model']} is not in the zoo"
    elif not figure["preset"]:
        reason = f"no preset models {figure['gpu']}"
    elif int(figure["tp"] or 1) > 1 and nvlink_node_preset(figure["preset"]) is None:
        reason = f"tp {figure['tp']} on {figure['preset']}: no NVLink node preset for it (PCIe cards)"
    return {
        "family": figure["family"],
        "model": figure["model"],
        "scope": scope_name,
        "batch": int(figure["batch"]),
        "input_len": int(figure["input_len"] or 1),
        "output_len": int(figure["output_len"] or 1),
        "weights": weights,
        "group_size": int(figure["group_size"]) if figure["group_size"].isdigit() else None,
        "activations": activations,
        "kv": kv,
        "fusion": stack.fusion,
        "cuda_graphs": int(stack.cuda_graphs),
        "eager_host": int(stack.eager_host),
        "eager_prefill": int(stack.eager_prefill),
        "step_host_s": stack.step_host_s,
        "prefill_batches": _prefill_batches(stack, figure),
        "decodes_last_prompt_token": int(stack.decodes_last_prompt_token),
        "stack": stack_name,
        "gemm_kernel": gemm,
        "attention_kernel": stack.attention_kernel,
        "decode_attention_kernel": decode_attention,
        "preset": figure["preset"],
        "gpu": figure["gpu"],
        "tp": int(figure["tp"] or 1),
        "latency_s": float(figure["latency_s"]) if figure["latency_s"] else float("nan"),
        "set": "",
        "source_id": figure["source_id"],
        "split": figure["split"],
        "reason": reason,
        "locator": figure["locator"],
        "quote": figure["quote"],
    }


def _prefill_batches(stack: Stack, figure: pd.Series) -> str:
    """The sequences in each of the prefill steps the stack's scheduler runs the figure's batch in
    (`Stack.prefill_steps`, the model's context length its zoo config's), ``;``-joined."""
    batch, seq = int(figure["batch"]), int(figure["input_len"] or 1)
    return ";".join(str(n) for n in stack.prefill_steps(batch, seq, context_length(figure["model"])))


def _published_model_step(row: pd.Series) -> dict[str, object]:
    decode = row["phase"] == "decode"
    group = row["group_size"]
    return {
        "family": "model_decode" if decode else "model_prefill",
        "model": row["model"],
        "scope": "decode" if decode else "prefill",
        "batch": int(row["batch"]),
        "input_len": int(row["context"]) - 1 if decode else int(row["seq"]),
        "output_len": 1,
        "weights": row["weights"],
        "group_size": int(group) if pd.notna(group) else None,
        "activations": row["activations"] if isinstance(row["activations"], str) else "",
        "kv": row["kv"] if isinstance(row["kv"], str) else "",
        "fusion": row["fusion"],
        "cuda_graphs": int(row["cuda_graphs"]),
        "eager_host": 0,  # gpt-fast replays CUDA graphs; TensorRT-LLM launches from C++
        "eager_prefill": 0,
        "step_host_s": 0.0,
        "prefill_batches": str(int(row["batch"])),  # gpt-fast and TensorRT-LLM: one step
        "decodes_last_prompt_token": 0,
        "stack": (stack := row["source"].split("/")[1].split(" ")[0].lower()),
        "gemm_kernel": WEIGHT_ONLY_KERNELS.get((stack, row["weights"]), ""),
        "attention_kernel": "",
        "decode_attention_kernel": "",
        "preset": row["preset"],
        "gpu": row["gpu"],
        "tp": 1,
        "latency_s": float(row["measured_s"]),
        "source_id": row["source_id"],
        "split": row["split"],
        "set": row["set"] if isinstance(row["set"], str) else "",
        "reason": "",
        "locator": row["locator"],
        "quote": row["quote"],
    }
