"""Tracing a zoo model or a user's ``file.py:factory`` for one step of a phase (torch's side of
`workloads.model_graph.load_model_graph`, imported only when a graph is not in the trace cache).

A user factory is a function in a Python file, called under ``torch.device("meta")`` with those of
the keyword arguments ``phase, batch, seq, context`` it declares, returning ``(module,
example_inputs)`` or ``(module, example_inputs, kv_cache_tensors)``.
"""

from __future__ import annotations

import importlib.util
import inspect
from dataclasses import replace
from pathlib import Path

import torch

from workloads.errors import WorkloadError
from workloads.op import OpGraph, Phase, positive_int
from workloads.tracer import trace
from workloads.zoo import Task, ZooEntry

#: The dtype the zoo traces in: half precision, the usual inference precision; annotations
#: (`--weights`, `--activations`, `--kv`) change operand dtypes afterwards without retracing.
TRACE_DTYPE = torch.float16


def trace_zoo(entry: ZooEntry, phase: Phase, batch: int, seq: int | None, context: int | None) -> OpGraph:
    name = entry.name
    if entry.task is not Task.CAUSAL_LM and phase is Phase.DECODE:
        raise WorkloadError(f"{name} ({entry.task.value} model) has only --phase prefill")
    if context is not None and phase is Phase.PREFILL and entry.task is not Task.CAUSAL_LM:
        raise WorkloadError(f"{name} ({entry.task.value} model) has no KV cache: --context is for causal LMs")
    with torch.device("meta"):
        module = entry.build().to(TRACE_DTYPE).eval()
        if entry.task is Task.VISION:
            if seq is not None:
                raise WorkloadError(f"{name} takes {entry.image_size}x{entry.image_size} images, not --seq")
            shape = (batch, entry.channels, entry.image_size, entry.image_size)
            inputs, cache, seq = (torch.empty(shape, dtype=TRACE_DTYPE),), [], 0
        elif phase is Phase.DECODE:
            if context is None:
                raise WorkloadError("--phase decode needs --context N (tokens already in the KV cache)")
            # a step's new tokens: one, or several (a speculative decoder's drafts to verify)
            seq = 1 if seq is None else positive_int(seq, field="--seq")
            context = _step_context(entry, seq, context)
            if 1 < seq == context:
                raise WorkloadError(
                    f"--phase decode --seq {seq} --context {context}: a decode step's tokens follow a cache "
                    f"(--context above --seq); {seq} tokens from the start are a prefill (--phase prefill)"
                )
            cache = module.allocate_kv_cache(batch, context, TRACE_DTYPE)
            inputs = (torch.zeros(batch, seq, dtype=torch.long), context - seq)
        else:
            seq = _prefill_length(entry) if seq is None else positive_int(seq, field="--seq")
            _check_length(entry, seq, "--seq")
            if entry.task is Task.CAUSAL_LM:
                # a chunked prefill: `seq` new tokens after context − seq cached ones, attending over all
                length = seq if context is None else _step_context(entry, seq, context)
                cache = module.allocate_kv_cache(batch, length, TRACE_DTYPE)
                inputs = (torch.zeros(batch, seq, dtype=torch.long), length - seq)
            else:
                inputs, cache = (torch.zeros(batch, seq, dtype=torch.long),), []
    graph = trace(module, inputs, name=name, kv_cache=cache)
    return replace(graph, phase=phase, batch=batch, seq_len=seq, context_len=context or 0)


def _step_context(entry: ZooEntry, seq: int, context: int) -> int:
    """The KV length a step of `seq` new tokens attends over (`context`: the cached tokens and the
    step's own; a chunked prefill's, or a decode step's), checked: at least the step's tokens,
    within the model's positions."""
    context = positive_int(context, field="--context")
    if context < seq:
        raise WorkloadError(
            f"--context {context} < --seq {seq}: --context counts the cached tokens and the step's "
            f"--seq new ones (at least --seq; {seq} is a prefill from the start)"
        )
    _check_length(entry, context, "--context")
    return context


def _prefill_length(entry: ZooEntry) -> int:
    if entry.sliding_window:
        return min(entry.max_positions, entry.sliding_window)
    return entry.max_positions


def _check_length(entry: ZooEntry, length: int, what: str) -> None:
    if length > entry.max_positions:
        raise WorkloadError(
            f"{what} = {length} exceeds {entry.name}'s {entry.max_positions} positions ({entry.source})"
        )
    if entry.sliding_window and what == "--seq" and length > entry.sliding_window:
        raise WorkloadError(
            f"--seq {length}: {entry.name} prefill beyond its {entry.sliding_window}-token "
            "sliding window (banded attention) is not modeled"
        )


def trace_factory(spec: str, phase: Phase, batch: int, seq: int | None, context: int | None) -> OpGraph:
    path_text, _, factory_name = spec.rpartition(":") if ".py:" in spec else (spec, "", "")
    path = Path(path_text)
    if not factory_name:
        raise WorkloadError(f"--model {spec!r}: name the factory, e.g. {path}:build_model")
    if not path.is_file():
        raise WorkloadError(f"--model {spec!r}: no such file {str(path)!r}")
    module_spec = importlib.util.spec_from_file_location(f"codesign_user_{path.stem}", path)
    source = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(source)
    except Exception as error:  # the user's file: any error in it is reported, in one line
        raise WorkloadError(
            f"--model {spec!r}: importing {path} failed: {type(error).__name__}: {error}"
        ) from error
    factory = getattr(source, factory_name, None)
    if not callable(factory):
        raise WorkloadError(f"--model {spec!r}: {path} has no function {factory_name!r}")
    offered = {"phase": phase.value, "batch": batch, "seq": seq, "context": context}
    accepted = inspect.signature(factory).parameters
    with torch.device("meta"):
        try:
            built = factory(**{key: value for key, value in offered.items() if key in accepted})
        except Exception as error:  # the user's factory, reported in one line
            raise WorkloadError(
                f"--model {spec!r}: {factory_name}() failed: {type(error).__name__}: {error}"
            ) from error
    if not isinstance(built, tuple) or len(built) not in (2, 3) or not isinstance(built[0], torch.nn.Module):
        raise WorkloadError(
            f"--model {spec!r}: {factory_name}() must return (module, example_inputs) or "
            "(module, example_inputs, kv_cache_tensors)"
        )
    module, inputs, *cache = built
    graph = trace(module, inputs, name=f"{path.stem}:{factory_name}", kv_cache=cache[0] if cache else ())
    return replace(graph, phase=phase, batch=batch, seq_len=seq or 0, context_len=context or 0)
