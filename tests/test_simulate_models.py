"""Whole models on the systolic array: attention placement, mixed precision, side operands, and
`codesign simulate --model` / `--ops` as a user runs them."""

from __future__ import annotations

import pytest
from conftest import make_array

from mappers.attention import SOFTMAX_FLOPS_PER_ELEMENT, lower_attention
from mappers.systolic import compute_dtype
from sim.cli import main
from sim.simulate import simulate, summarize
from workloads.dtypes import DType
from workloads.op import Op, Operand, OpKind, Role, gemm_op


def decode_attention(b=1, h=32, hkv=8, skv=1024, d=128, kv_dtype=DType.FP16) -> Op:
    q_elems, kv_elems = b * h * d, b * hkv * skv * d
    return Op(
        name="attention",
        kind=OpKind.ATTENTION,
        dims=(("B", b), ("H", h), ("Hkv", hkv), ("Sq", 1), ("Skv", skv), ("D", d), ("Dv", d)),
        operands=(
            Operand(name="Q", role=Role.INPUT, dims=("B", "H", "Sq", "D"), elements=q_elems,
                    dtype=DType.FP16),
            Operand(name="K", role=Role.KV_CACHE, dims=("B", "Hkv", "Skv", "D"), elements=kv_elems,
                    dtype=kv_dtype),
            Operand(name="V", role=Role.KV_CACHE, dims=("B", "Hkv", "Skv", "Dv"), elements=kv_elems,
                    dtype=kv_dtype),
            Operand(name="O", role=Role.OUTPUT, dims=("B", "H", "Sq", "Dv"), elements=q_elems,
                    dtype=DType.FP16),
        ),
        flops=2 * 2 * b * h * skv * d,
    )


def test_gqa_decode_attention_becomes_two_gemms_and_a_softmax():
    # LLaMA-3-8B-like: 32 query heads share 8 KV heads (groups of 4), context 1024, head dim 128
    qk, softmax, pv = lower_attention(decode_attention())
    # QK^T: the group's 4 queries stacked into M; one GEMM per (batch, KV head): 8 instances
    assert (qk.dim("B"), qk.dim("M"), qk.dim("N"), qk.dim("K")) == (8, 4, 1024, 128)
    assert (pv.dim("B"), pv.dim("M"), pv.dim("N"), pv.dim("K")) == (8, 4, 128, 1024)
    # each K and V head is read once: 8 heads x 1024 positions x 128 x 2 B = 2 MiB each
    assert qk.operand(Role.WEIGHT).bytes == 8 * 1024 * 128 * 2
    assert pv.operand(Role.WEIGHT).bytes == 8 * 1024 * 128 * 2
    # softmax over 8 x 4 x 1024 scores at the stated 5 FLOPs each
    assert softmax.flops == SOFTMAX_FLOPS_PER_ELEMENT * 8 * 4 * 1024
    # the GEMMs' MACs equal the op's FLOPs / 2 (no causal mask in decode)
    assert qk.macs + pv.macs == decode_attention().flops // 2


def test_kv_cache_dtype_changes_the_bytes_moved():
    hw = make_array(dram_bytes_per_cycle=64, sram_bytes=1 << 20)
    fp16 = simulate(decode_attention(kv_dtype=DType.FP16), hw)
    int8 = simulate(decode_attention(kv_dtype=DType.INT8), hw)
    # K and V are the GEMMs' weight operands: halving their width halves those bytes
    assert int8["dram_filter_read_bytes"].sum() == fp16["dram_filter_read_bytes"].sum() / 2
    assert summarize(int8, hw)["latency_s"] < summarize(fp16, hw)["latency_s"]


def test_w4a16_runs_at_the_fp16_rate_and_reads_its_scales():
    w4 = gemm_op(1, 4096, 4096, input_dtype=DType.FP16, weight_dtype=DType.INT4,
                 output_dtype=DType.FP16)
    assert compute_dtype(w4) is DType.FP16
    # group-128 fp16 scales: 4096/128 groups x 4096 columns x 2 B = 262,144 B
    scales = Operand(name="scales", role=Role.METADATA, dims=("K", "N"),
                     elements=4096 // 128 * 4096, dtype=DType.FP16)
    with_scales = Op(**{**w4.__dict__, "operands": (*w4.operands, scales)})
    hw = make_array(macs_per_pe_per_cycle={DType.FP16: 1, DType.INT4: 4}, default_dtype=DType.FP16,
                    sram_bytes=1 << 20)
    plain, scaled = simulate(w4, hw).iloc[0], simulate(with_scales, hw).iloc[0]
    assert scaled["dram_side_read_bytes"] == 262144
    assert scaled["dram_read_bytes"] == plain["dram_read_bytes"] + 262144
    # int4 weights: 4096 x 4096 / 2 B
    assert plain["dram_filter_read_bytes"] == 4096 * 4096 / 2


def test_simulate_a_zoo_model_decode_step(capsys):
    code = main(["simulate", "--hw", "systolic_128x128", "--model", "gpt2-small", "--phase", "decode",
                 "--context", "64"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "gpt2-small on systolic_128x128:" in out and "tokens/s (batch 1)" in out


def test_simulate_reads_a_traced_op_graph(capsys, tmp_path):
    path = tmp_path / "ops.csv"
    assert main(["trace", "gpt2-small", "--phase", "decode", "--context", "32", "--format", "csv",
                 "--out", str(path)]) == 0
    capsys.readouterr()
    assert main(["simulate", "--hw", "scalesim_32x32", "--ops", str(path), "--format", "csv"]) == 0
    out, _ = capsys.readouterr()
    assert out.strip().splitlines()[-1].startswith("total,")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "llama-9b"], "unknown model 'llama-9b'; the zoo has: llama-2-7b"),
        (["--model", "llama-2-7b", "--phase", "decode"], "--phase decode needs --context"),
    ],
)
def test_model_errors_are_one_line(capsys, argv, message):
    code = main(["simulate", "--hw", "scalesim_32x32", *argv])
    _, err = capsys.readouterr()
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
