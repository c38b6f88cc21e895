"""The trace cache (workloads/trace_cache.py): a zoo model traced once is read back, keyed by its
arguments, the torch version and the workloads source, and never at the cost of a wrong graph."""

from __future__ import annotations

import dataclasses
import warnings

import pytest

import workloads.model_trace as model_trace
from workloads import UnmodeledOpWarning, gemm_op, trace_cache
from workloads.model_graph import load_model_graph
from workloads.op import OpGraph

MODEL = {"phase": "decode", "context": 16}


@pytest.fixture
def traces(monkeypatch, tmp_path):
    """A cache directory of the test's own, and a count of the traces that really ran."""
    monkeypatch.setenv(trace_cache.CACHE_ENV, str(tmp_path / "graphs"))
    calls = []
    real = model_trace.trace_zoo

    def counted(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(model_trace, "trace_zoo", counted)
    return calls


def test_a_second_load_reads_the_same_graph_without_tracing(traces, tmp_path):
    first = load_model_graph("gpt2-small", **MODEL)
    second = load_model_graph("GPT2-small", **MODEL)  # the zoo's names are case-insensitive
    assert len(traces) == 1 and second == first
    assert len(list((tmp_path / "graphs").glob("*.pickle"))) == 1
    # rewrites and annotations run on every call, after the cache
    fused = load_model_graph("gpt2-small", **MODEL, fusion="serving", weights="int8")
    assert len(traces) == 1 and len(fused.ops) < len(first.ops)


def test_other_arguments_torch_or_source_miss(traces, monkeypatch):
    load_model_graph("gpt2-small", **MODEL)
    load_model_graph("gpt2-small", phase="decode", context=32)  # other lengths: another trace
    assert len(traces) == 2
    monkeypatch.setattr(trace_cache, "torch_version", lambda: "0.0.0")  # torch upgraded
    load_model_graph("gpt2-small", **MODEL)
    monkeypatch.setattr(trace_cache, "source_fingerprint", lambda: "edited")  # tracer edited
    load_model_graph("gpt2-small", **MODEL)
    assert len(traces) == 4


def test_a_damaged_entry_is_traced_again_and_replaced(traces, tmp_path):
    graph = load_model_graph("gpt2-small", **MODEL)
    (entry,) = (tmp_path / "graphs").glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    assert load_model_graph("gpt2-small", **MODEL) == graph and len(traces) == 2
    assert load_model_graph("gpt2-small", **MODEL) == graph and len(traces) == 2  # whole again


def test_off_and_unwritable_still_trace(traces, monkeypatch, tmp_path):
    monkeypatch.setenv(trace_cache.CACHE_ENV, "off")
    graph = load_model_graph("gpt2-small", **MODEL)
    load_model_graph("gpt2-small", **MODEL)
    assert len(traces) == 2 and not (tmp_path / "graphs").exists()
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache directory would go")
    monkeypatch.setenv(trace_cache.CACHE_ENV, str(blocked / "graphs"))
    assert load_model_graph("gpt2-small", **MODEL) == graph and len(traces) == 3


def test_a_cached_graph_warns_of_its_unmodeled_ops_as_its_trace_did(monkeypatch, tmp_path):
    monkeypatch.setenv(trace_cache.CACHE_ENV, str(tmp_path))
    sort = dataclasses.replace(gemm_op(2, 2, 2), aten="aten.sort.default", unmodeled=True)
    graph = OpGraph(name="toy", ops=(sort,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trace_cache.cached({"model": "toy"}, lambda: graph)
    with pytest.warns(UnmodeledOpWarning, match=r"toy: 1 op\(s\).*aten\.sort\.default \(x1\)"):
        assert trace_cache.cached({"model": "toy"}, lambda: pytest.fail("traced again")) == graph


def test_the_fingerprint_reads_the_workloads_sources():
    # the tracer, the registry and the zoo are all in it: editing any of them misses old entries
    assert len(trace_cache.source_fingerprint()) == 64
    files = {path.name for path in trace_cache.PACKAGE_DIR.rglob("*.py")}
    assert {"tracer.py", "registry.py", "llama.py", "model_trace.py"} <= files


def test_a_lifted_position_limit_traces_contexts_beyond_the_config_and_is_cached_apart(traces):
    # GPT-2 small takes 1024 positions; a study of 2000 lifts the limit (max_positions), and that
    # graph is cached under its own key, never served for the model as published
    from workloads.errors import WorkloadError

    with pytest.raises(WorkloadError, match="exceeds gpt2-small's 1024 positions"):
        load_model_graph("gpt2-small", phase="decode", context=2000)
    lifted = load_model_graph("gpt2-small", phase="decode", context=2000, max_positions=2000)
    assert lifted.context_len == 2000
    assert load_model_graph("gpt2-small", phase="decode", context=20, max_positions=2000).context_len == 20
    traced = len(traces)
    plain = load_model_graph("gpt2-small", phase="decode", context=20)
    assert len(traces) == traced + 1  # not read back from the lifted model's entry
    assert plain.params == lifted.params  # GPT-2's learned position table keeps its trained size
    with pytest.raises(WorkloadError, match="max_positions must be a positive integer, got 0"):
        load_model_graph("gpt2-small", phase="decode", context=20, max_positions=0)
