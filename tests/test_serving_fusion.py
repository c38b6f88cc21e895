"""`--fusion serving` and `--cuda-graphs`: the tracer's dataflow, the two rewrites, their totals,
their bytes (arithmetic shown) and what they change on a GPU."""

from __future__ import annotations

import pytest

from hwmodels import load_hardware
from sim.cli import main
from sim.simulate import simulate, summarize
from workloads.model_graph import load_model_graph
from workloads.op import OpGraph, OpKind, Role, gemm_op
from workloads.serving import fuse_for_serving

CONTEXT = 512
#: LLaMA-2-7B (meta-llama/Llama-2-7b-hf config.json): 32 layers, 4096 wide, FFN 11008.
LAYERS, DIM, FFN = 32, 4096, 11008
FP16 = 2  # bytes


@pytest.fixture(scope="module")
def llama():
    eager = load_model_graph("llama-2-7b", phase="decode", context=CONTEXT)
    return eager, fuse_for_serving(eager)


def _layer(graph, index: int):
    return [
        op for op in graph.ops if op.module.startswith(f"layers.{index}.") or op.module == f"layers.{index}"
    ]


def test_the_kv_cache_write_is_the_tensor_attention_reads(llama):
    eager, _ = llama
    layer = _layer(eager, 1)
    writes = [u.tensor for op in layer for u in op.dataflow if u.role is Role.KV_CACHE_WRITE]
    attention = next(op for op in layer if op.kind is OpKind.ATTENTION)
    reads = [u.tensor for u in attention.dataflow if u.role is Role.KV_CACHE]
    assert len(writes) == 2 and sorted(reads) == sorted(writes)  # the new versions of the K and V caches


def test_a_decoder_layer_runs_as_vllms_nine_kernels(llama):
    # vLLM's LlamaDecoderLayer: [fused add+RMSNorm], QKV GEMM, rotary (+ cache write), attention,
    # o_proj, fused add+RMSNorm, gate_up GEMM, SiLU-and-mul, down; the layer's last residual add
    # fuses into the next layer's input norm (module "layers", both layers').
    _, fused = llama
    layer = [(op.kind, op.aten) for op in _layer(fused, 1)]
    assert layer == [
        (OpKind.GEMM, "aten.linear.default"),
        (OpKind.ELEMENTWISE, "fused:neg+cat+mul+mul+add+neg+cat+mul+mul+add+copy_+copy_"),
        (OpKind.ATTENTION, "aten.scaled_dot_product_attention.default"),
        (OpKind.GEMM, "aten.linear.default"),
        (OpKind.NORM, "fused:add+rms_norm"),
        (OpKind.GEMM, "aten.linear.default"),
        (OpKind.ELEMENTWISE, "fused:silu+mul"),
        (OpKind.GEMM, "aten.linear.default"),
    ]
    between_layers = [op for op in fused.ops if op.module == "layers"]
    assert len(between_layers) == LAYERS - 1 and all(op.aten == "fused:add+rms_norm" for op in between_layers)


def test_shared_input_gemms_merge_into_one_of_the_summed_n(llama):
    _, fused = llama
    qkv = next(op for op in fused.ops if op.module == "layers.3.self_attn.q_proj+k_proj+v_proj")
    gate_up = next(op for op in fused.ops if op.module == "layers.3.mlp.gate_proj+up_proj")
    assert qkv.dims == (("M", 1), ("N", 3 * DIM), ("K", DIM))  # N = 4096 + 4096 + 4096
    assert qkv.operand(Role.WEIGHT).elements == DIM * 3 * DIM
    assert qkv.operand(Role.INPUT).elements == DIM  # the shared input, read once
    assert qkv.flops == 3 * (2 * DIM * DIM)
    assert gate_up.dims == (("M", 1), ("N", 2 * FFN), ("K", DIM))


def test_silu_and_mul_keep_the_silu_output_on_chip(llama):
    # eager: silu reads gate and writes s (2 x 11008 x 2 B = 44,032 B); mul reads s and up and
    # writes h (3 x 22,016 = 66,048 B): 110,080 B. fused: reads gate and up, writes h: 66,048 B.
    eager, fused = llama
    op = next(op for op in _layer(fused, 2) if op.aten == "fused:silu+mul")
    assert sum(o.bytes for o in op.operands) == 3 * FFN * FP16 == 66_048
    traced = [
        op
        for op in _layer(eager, 2)
        if op.aten in ("aten.silu.default", "aten.mul.Tensor") and "mlp" in op.module
    ]
    assert sum(o.bytes for op in traced for o in op.operands) == 110_080


def test_add_and_rms_norm_read_the_sum_once(llama):
    # eager: add reads x and attn (2 x 8,192 B) and writes r (8,192 B); rms_norm reads r and the
    # gain and writes y: 49,152 B. fused: reads x, attn, gain; writes r (the next residual add
    # reads it) and y: 5 x 8,192 = 40,960 B.
    _, fused = llama
    op = next(op for op in fused.ops if op.module == "layers.2" and op.aten == "fused:add+rms_norm")
    assert sum(o.bytes for o in op.operands) == 5 * DIM * FP16 == 40_960
    assert sum(o.bytes for o in op.operands if o.role.is_written) == 2 * DIM * FP16


def test_totals_flops_and_weights_are_kept_activation_bytes_only_drop(llama):
    eager, fused = llama

    def weights(graph):
        return sum(o.bytes for op in graph.ops for o in op.operands if o.role is Role.WEIGHT)

    def other(graph):
        return sum(o.bytes for op in graph.ops for o in op.operands if o.role is not Role.WEIGHT)

    assert sum(op.flops for op in fused.ops) == sum(op.flops for op in eager.ops)
    assert weights(fused) == weights(eager)
    assert other(fused) < other(eager)
    assert len(fused.ops) < len(eager.ops) / 2


def test_graphs_without_dataflow_are_left_as_they_are():
    graph = OpGraph(name="g", ops=(gemm_op(8, 16, 32, name="a"), gemm_op(8, 16, 32, name="b")))
    assert fuse_for_serving(graph) is graph


def test_annotations_apply_to_the_merged_ops():
    # int4 in groups of 128 along K: the merged QKV weight (K = 4096, N = 12288) has 4096/128 = 32
    # fp16 scales per column: 32 x 12288 of them.
    graph = load_model_graph("llama-2-7b", phase="decode", context=64, weights="int4", fusion="serving")
    qkv = next(op for op in graph.ops if op.module == "layers.0.self_attn.q_proj+k_proj+v_proj")
    assert qkv.operand(Role.WEIGHT).dtype.value == "int4"
    scales = [o for o in qkv.operands if o.role is Role.METADATA and o.dtype.value == "fp16"]
    assert [o.elements for o in scales] == [32 * 3 * DIM]


@pytest.mark.parametrize("phase", ["decode", "prefill"])
def test_serving_kernels_are_faster_on_a_gpu(phase):
    kwargs = {"context": CONTEXT} if phase == "decode" else {"seq": 256}
    h100 = load_hardware("h100_sxm")
    eager = load_model_graph("llama-2-7b", phase=phase, **kwargs)
    fused = fuse_for_serving(eager)
    assert (
        summarize(simulate(fused, h100), h100)["latency_s"]
        < summarize(simulate(eager, h100), h100)["latency_s"]
    )


def test_cuda_graphs_save_the_launch_difference_on_every_kernel(llama):
    # every kernel's time carries one launch overhead (split-K/KV reductions a second): a kernel
    # timed the same way in both modes is shorter under a graph by launches x (3 us - 0.6 us)
    # exactly; without the eager host-dispatch floor (host_dispatch_s = 0). A kernel may also pick
    # another split once launches are cheap (the split's second launch costs 0.6 us, not 3): then
    # it is only never slower than eagerly
    _, fused = llama
    h100 = load_hardware("h100_sxm", ["host_dispatch_s=0"])
    eager = simulate(fused, h100)
    graph = simulate(fused, h100.with_cuda_graphs())
    same = eager["mapping"] == graph["mapping"]
    assert same.sum() > len(eager) / 2
    saved = eager["latency_s"] - graph["latency_s"]
    assert saved[same].to_numpy() == pytest.approx((eager["launches"][same] * (3.0e-6 - 0.875e-6)).to_numpy(),
                                                   rel=1e-9)
    assert (saved[~same] >= 0).all()


def test_cli_simulate_with_serving_kernels_and_cuda_graphs(capsys):
    argv = ["simulate", "--hw", "h100_sxm", "--model", "llama-2-7b", "--phase", "decode", "--context", "512"]
    assert main([*argv, "--fusion", "serving", "--cuda-graphs"]) == 0
    out = capsys.readouterr().out
    # 294 kernels; with the graph's 0.875 us launches split-K/KV reductions pay, adding 128 launches
    assert "422 kernel launches" in out and "graph_launch_overhead_s = 0.875 us (CUDA graphs)" in out
    assert main(["simulate", "--hw", "scalesim_32x32", "--gemm", "8,8,8", "--cuda-graphs"]) == 2
    assert (
        "--cuda-graphs: GPU options; hardware 'scalesim_32x32' is a SystolicArraySpec"
        in capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        main([*argv, "--fusion", "inductor"])
    assert "invalid choice: 'inductor'" in capsys.readouterr().err


def test_cli_plot_breakdown_with_serving_kernels_and_cuda_graphs(tmp_path, capsys):
    out = tmp_path / "breakdown.html"
    argv = ["plot", "--breakdown", "--hw", "h100_sxm", "--model", "llama-2-7b", "--phase", "decode"]
    assert main([*argv, "--context", "128", "--fusion", "serving", "--cuda-graphs", "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    assert main([*argv, "--context", "128", "--hw", "cpu_ci", "--cuda-graphs", "--out", str(out)]) == 2
    assert "--cuda-graphs: GPU options; hardware 'cpu_ci' is a CPUSpec" in capsys.readouterr().err
