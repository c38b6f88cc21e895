"""`load_model_graph`: a zoo name or ``path/to/file.py:factory`` → a traced, annotated `OpGraph`.

Phases of an LLM: ``prefill`` runs `seq` prompt tokens per sequence and writes their K/V into the
cache; ``decode`` runs one new token per sequence (or `seq` of them: a speculative decoder's drafts)
with attention over a KV cache of `context` positions: the tokens before the step and its own K/V,
which the step writes. A prefill given a `context` is a chunk of `seq` tokens after ``context −
seq`` cached ones, attending over all `context`. Several new tokens after a cache attend under a
bottom-right causal mask. Encoders and vision models have one phase, ``prefill``. Impossible
combinations are refused with one line naming the fix.

A zoo model's trace is kept in the trace cache (`workloads.trace_cache`): a second call with the
same model, phase, batch and lengths reads it back without importing torch, which is most of the
time a ``codesign simulate --model`` takes. The tracing itself, and a user's ``file.py:factory``
(traced every time), are in `workloads.model_trace`.
"""

from __future__ import annotations

import dataclasses

from workloads import trace_cache
from workloads.annotate import annotate
from workloads.fusion import MOE_REWRITES, MoeMode
from workloads.op import OpGraph, Phase, positive_int
from workloads.serving import FUSION_REWRITES, FusionMode

#: `load_model_graph`'s keyword arguments beside the model (a sweep's model entry, a published
#: model row's columns name them so), and those that are integers.
#: The keywords that annotate a traced graph: precision, sparsity, MoE layout, fusion.
ANNOTATION_KEYS = (
    "weights", "group_size", "activations", "gemm_activations", "attention_dtype", "kv", "sparsity", "moe",
    "fusion",
)  # fmt: skip
MODEL_KEYS = ("phase", "batch", "seq", "context", *ANNOTATION_KEYS)
INTEGER_MODEL_KEYS = ("batch", "seq", "context", "group_size")


def load_model_graph(
    model: str,
    *,
    phase: str = "prefill",
    batch: int = 1,
    seq: int | None = None,
    context: int | None = None,
    weights: str | None = None,
    group_size: int | None = None,
    activations: str | None = None,
    gemm_activations: str | None = None,
    attention_dtype: str | None = None,
    kv: str | None = None,
    sparsity: str | None = None,
    moe: str | MoeMode = MoeMode.EAGER,
    fusion: str | FusionMode = FusionMode.EAGER,
    max_positions: int | None = None,
) -> OpGraph:
    """Trace `model` (zoo name or ``file.py:factory``) for one step of `phase`, then annotate it.

    `seq` defaults to the longest prompt the config takes in one pass (its position limit, or its
    sliding window), for decode to one new token; `context` is required for decode and makes a
    prefill a chunk after its cache (module docstring). See `workloads.annotate.annotate` for the
    precision and sparsity arguments. `moe` ``grouped`` merges each MoE layer's per-expert kernels
    into grouped ones (`workloads.fusion.group_experts`); ``eager`` keeps them as traced.
    `fusion` ``serving`` runs the graph as a serving engine's fused kernels
    (`workloads.serving.fuse_for_serving`); ``eager`` runs every traced op as its own kernel.
    The rewrites run on the traced dtypes, before the annotations, which then apply to the
    rewritten ops as to traced ones. `max_positions` lifts a zoo model's position limit (a study
    of contexts beyond what the checkpoint was trained on, as Lamina's traces ask of LLaMA-1; a
    learned position table keeps its trained size).
    """
    step = Phase.parse(phase)
    batch = positive_int(batch, field="--batch")
    moe = MoeMode.parse(moe)
    fusion = FusionMode.parse(fusion)
    if model.endswith(".py") or ".py:" in model:
        from workloads.model_trace import trace_factory  # imports torch

        graph = trace_factory(model, step, batch, seq, context)
    else:
        name = model.strip().lower()
        if max_positions is not None:
            name += f"+positions{positive_int(max_positions, field='max_positions')}"
        key = {"model": name, "phase": step.value, "batch": batch, "seq": seq, "context": context}
        graph = trace_cache.cached(key, lambda: _trace_zoo(model, step, batch, seq, context, max_positions))
    graph = FUSION_REWRITES[fusion](MOE_REWRITES[moe](graph))
    return annotate(
        graph,
        weights=weights,
        group_size=group_size,
        activations=activations,
        kv=kv,
        sparsity=sparsity,
        gemm_activations=gemm_activations,
        attention_dtype=attention_dtype,
    )


def _trace_zoo(
    model: str, step: Phase, batch: int, seq: int | None, context: int | None, max_positions: int | None
) -> OpGraph:
    from workloads.model_trace import trace_zoo  # imports torch
    from workloads.zoo import get_model

    entry = get_model(model)
    if max_positions is not None:
        entry = dataclasses.replace(entry, max_positions=max_positions)
    return trace_zoo(entry, step, batch, seq, context)
