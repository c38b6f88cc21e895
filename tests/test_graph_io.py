"""Op graphs ↔ CSV: what is written reads back into an identical graph; bad files are named."""

from __future__ import annotations

import pytest

from workloads import (
    CodesignError,
    annotate,
    frame_to_graph,
    graph_to_frame,
    group_ops,
    load_model_graph,
    read_graph_csv,
    write_graph_csv,
)
from workloads.op import Role, SparsityKind


@pytest.fixture(scope="module")
def small_llm():
    return load_model_graph("gpt2-small", phase="decode", context=64)


def test_csv_round_trip_is_identical(small_llm, tmp_path):
    # quantized, sparse weights with their metadata, an int8 KV cache, attrs of all kinds
    graph = annotate(small_llm, weights="int4", sparsity="2:4", kv="int8")
    path = tmp_path / "gpt2.csv"
    write_graph_csv(graph, path)
    assert read_graph_csv(path) == graph


def test_zoo_models_round_trip_through_a_dataframe():
    for graph in (
        load_model_graph("resnet-50", weights="int8"),
        group_ops(load_model_graph("bert-base", seq=32, kv="int8", activations="bf16")),
    ):
        assert frame_to_graph(graph_to_frame(graph)) == graph


def test_annotations_follow_the_weight_and_the_bytes(small_llm):
    graph = annotate(small_llm, weights="int8", sparsity="2:4", activations="fp8")
    op = next(op for op in graph.ops if op.module == "h.0.attn.q_proj")
    weight = op.operand(Role.WEIGHT)
    # 768×768 int8 weight at 2:4: 589,824 · ½ kept · 1 B = 294,912 B
    assert weight.sparsity.kind is SparsityKind.N_OF_M and weight.bytes == 294_912
    metadata = {o.name: o.bytes for o in op.operands if o.role is Role.METADATA}
    # int8: one fp16 scale per output channel (768 · 2 B); 2:4 indices: 4 bits per group of 4
    assert metadata == {"B_scales": 768 * 2, "B_sparse_index": 768 * 768 // 4 * 0.5}
    assert op.operand(Role.INPUT).dtype.value == "fp8"


def test_gemm_activations_quantize_only_what_a_weight_gemm_reads():
    graph = load_model_graph("llama-2-7b", phase="decode", context=64)

    def dtypes(annotated, kind):
        op = next(op for op in annotated.ops if op.kind.value == kind)
        return {o.role.value: o.dtype.value for o in op.operands if o.role in (Role.INPUT, Role.OUTPUT)}

    # W8A8 FP8 as TensorRT-LLM runs it: a weight GEMM reads FP8 and writes fp16, the norms and
    # attention stay fp16 (v0.8 has no FP8 context FMHA; v0.9's is off by default), the KV cache
    # is what --kv says
    w8a8 = annotate(graph, weights="fp8", gemm_activations="fp8", kv="fp8")
    assert dtypes(w8a8, "gemm") == {"input": "fp8", "output": "fp16"}
    assert set(dtypes(w8a8, "attention").values()) == set(dtypes(w8a8, "norm").values()) == {"fp16"}
    attention = next(op for op in w8a8.ops if op.kind.value == "attention")
    assert {o.dtype.value for o in attention.operands if o.role is Role.KV_CACHE} == {"fp8"}
    # --activations is every activation's dtype, attention's too (an 8-bit datapath: FlightLLM),
    # unless --attention-dtype sets attention's
    everywhere = annotate(graph, activations="int8")
    assert set(dtypes(everywhere, "attention").values()) == {"int8"}
    assert set(dtypes(everywhere, "norm").values()) == {"int8"}
    fa3_fp8 = annotate(graph, gemm_activations="fp8", attention_dtype="fp8")
    assert set(dtypes(fa3_fp8, "attention").values()) == {"fp8"}
    assert dtypes(fa3_fp8, "gemm")["output"] == "fp16"
    for field, value in (("attention_dtype", "int4"), ("gemm_activations", "fp64")):
        flag = "--" + field.replace("_", "-")
        with pytest.raises(CodesignError, match=f"{flag} '{value}': must be one of fp16, bf16, fp8, int8"):
            annotate(graph, **{field: value})


def test_a_hand_written_csv_needs_only_five_columns(tmp_path):
    path = tmp_path / "ops.csv"
    path.write_text(
        "op,kind,dims,flops,operands\n"
        "fc,gemm,M=8;N=16;K=32,8192,A/input/M.K/256/fp16 B/weight/K.N/512/int8/2:4 "
        "C/output/M.N/128/fp16\n"
    )
    graph = read_graph_csv(path)
    (op,) = graph.ops
    assert op.dim("K") == 32 and op.operand(Role.WEIGHT).bytes == 256
    assert graph.name == "ops" and op.count == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("op,kind,dims\nfc,gemm,M=1\n", "missing column"),
        ("op,kind,dims,flops,operands\nfc,matmul,M=1,2,A/input/M/1/fp16\n", "unknown kind"),
        ("op,kind,dims,flops,operands\nfc,gemm,M=x,2,A/input/M/1/fp16\n", "row 2: dim 'M'"),
        ("op,kind,dims,flops,operands\nfc,gemm,M=1,2,A/input/M/1\n", "name/role/dims"),
        ("op,kind,dims,flops,operands\nfc,gemm,M=1,2,A/input/M/1/fp12\n", "unknown dtype"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(CodesignError, match=message):
        read_graph_csv(path)
