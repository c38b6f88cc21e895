"""`codesign simulate` and `codesign presets` as a user runs them: output, formats, errors."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from hwmodels import load_hardware
from hwmodels.errors import HardwareSpecError
from sim.cli import main
from sim.simulate import simulate_op_latency
from workloads.kernel_ops import op_for_measurement

EXAMPLES = Path(__file__).parent.parent / "examples"

REQUIRED_COLUMNS = (
    "layer",
    "compute_cycles",
    "stall_cycles",
    "total_cycles",
    "utilization",
    "mapping_efficiency",
    "sram_reads",
    "sram_writes",
    "dram_read_bytes",
    "dram_write_bytes",
    "latency_s",
    "dram_ifmap_read_bytes",
    "dram_filter_read_bytes",
    "ifmap_sram_reads",
    "filter_sram_reads",
)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_table_has_a_row_per_layer_and_a_total(capsys):
    code, out, err = run(
        capsys, "simulate", "--hw", "scalesim_32x32", "--gemm", "100,37,250", "--gemm", "8,8,8"
    )
    assert code == 0 and err == ""
    table, summary = out.strip().split("\n\n")
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["layer", "compute_cycles", "stall_cycles", "total_cycles"]
    assert [line.split()[0] for line in lines[1:]] == ["gemm0", "gemm1", "total"]
    assert "2,495" in lines[1]  # see test_systolic_formulas: 8 folds x 312 - 1
    assert summary.startswith("gemm on scalesim_32x32:") and " ms; " in summary and summary.endswith(" J")


def test_csv_has_every_column_and_total_is_sum(capsys):
    code, out, _ = run(
        capsys, "simulate", "--hw", "scalesim_32x32", "--topology", str(EXAMPLES / "resnet_head.csv"),
        "--format", "csv",
    )
    assert code == 0
    frame = pd.read_csv(io.StringIO(out))
    for column in REQUIRED_COLUMNS:
        assert column in frame.columns
    layers, total = frame.iloc[:-1], frame.iloc[-1]
    assert total["layer"] == "total"
    assert total["total_cycles"] == pytest.approx(layers["total_cycles"].sum())
    # the depthwise layer (name contains DP) runs once per channel, as SCALE-Sim splits it
    assert frame.set_index("layer").loc["DP_example", "count"] == 32


def test_json_and_overrides(capsys):
    code, out, _ = run(
        capsys, "simulate", "--hw", "scalesim_32x32", "--set", "dataflow=ws", "--set", "rows=64",
        "--gemm", "64,64,64", "--format", "json",
    )
    assert code == 0
    records = json.loads(out)
    # ws on 64x32: folds 1 x 2; per fold 2*64 + 32 + 64 - 2 = 222 -> 2*222 - 1
    assert records[0]["dataflow"] == "ws" and records[0]["compute_cycles"] == 443


def test_presets_lists_sources(capsys):
    code, out, _ = run(capsys, "presets")
    assert code == 0
    assert "tpu_v1_256x256" in out and "source: Jouppi" in out
    assert "llama-2-7b" in out and "Llama-2-7b-hf config.json" in out
    # the named kernels --attention-kernel / --gemm-kernel take, with their fractions
    # the kernel fractions bench_gpu_published --calibrate solved from calibration sources (issue 16)
    assert "kernel tensor fractions: cutlass_fp8_blockscaled 0.4951, deepgemm_fp8_blockscaled 0.8466" in out
    assert "kernel bandwidth fractions: inductor_int8_weight_only 0.7186" in out
    # the serving stacks --stack takes, with their host time and prefill budget (workloads/stacks.py)
    assert "vllm " in out and "host time 1.88 ms a step" in out
    assert "prefill steps of whole prompts up to 8,192 tokens" in out  # TensorRT-LLM 0.11


def test_a_named_kernel_runs_at_its_calibrated_fraction(capsys):
    # flash_attention_3 runs at its entry's fraction (0.9018; FA2's spec-wide one 0.6314) of wgmma's rate
    # with 60% of its softmax hidden, where FA2 issues mma.sync (2/3 of it) with its softmax half in
    # series: a non-causal attention takes ~0.6 as long (test_gpu_mechanisms); a causal one less
    # still, as FA3 hands the SMs the longest query blocks first where FA2's grid leaves each head's
    # longest for last (about 0.8 of FA2's makespan at 32 heads x 4096 tokens). The GEMMs (at the
    # spec-wide fraction either way) do not change
    argv = ["--hw", "h100_sxm", "--model", "llama-2-7b", "--phase", "prefill", "--seq", "4096",
            "--format", "csv"]
    base = pd.read_csv(io.StringIO(run(capsys, "simulate", *argv)[1]))
    fa3_argv = [*argv, "--attention-kernel", "flash_attention_3"]
    fa3 = pd.read_csv(io.StringIO(run(capsys, "simulate", *fa3_argv)[1]))
    attention = base["kind"] == "attention"
    assert attention.any()
    ratio = fa3.loc[attention, "latency_s"].sum() / base.loc[attention, "latency_s"].sum()
    assert 0.42 < ratio < 0.55
    gemms = base["kind"] == "gemm"
    assert fa3.loc[gemms, "latency_s"].tolist() == base.loc[gemms, "latency_s"].tolist()


def test_a_kernel_the_model_has_traits_for_runs_without_an_entry(capsys):
    # --attention-kernel flash_attention_3 on the H20 takes FA3's traits (wgmma, 60% of its softmax
    # hidden) at its entry (the H100's 0.9018 carried to the H20's rate: 0.975): its
    # prefill attention is faster than FA2's (mma.sync, softmax partly in series), the GEMMs unchanged
    argv = ["--hw", "h20", "--model", "llama-2-7b", "--phase", "prefill", "--seq", "2048", "--format", "csv"]
    base = pd.read_csv(io.StringIO(run(capsys, "simulate", *argv)[1]))
    code, out, _ = run(capsys, "simulate", *argv, "--attention-kernel", "flash_attention_3")
    assert code == 0
    fa3 = pd.read_csv(io.StringIO(out))
    attention = base["kind"] == "attention"
    ratio = fa3.loc[attention, "latency_s"].sum() / base.loc[attention, "latency_s"].sum()
    assert ratio < 0.95
    assert fa3.loc[attention, "mapping"].str.startswith("flash_attention_3 as").all()
    gemms = base["kind"] == "gemm"
    assert fa3.loc[gemms, "latency_s"].tolist() == base.loc[gemms, "latency_s"].tolist()


def test_a_preset_naming_a_kernel_nobody_models_is_refused_when_it_runs():
    # so is one naming a Hopper-only kernel on another GPU
    a100 = dataclasses.replace(load_hardware("a100_80gb_sxm"), attention_kernel="tlx_fa")
    with pytest.raises(HardwareSpecError, match="'tlx_fa': tlx_fa runs on compute capability 9.0"):
        simulate_op_latency(op_for_measurement({"family": "attention_prefill", "batch": 1, "heads": 8,
                                                "kv_heads": 8, "seq_q": 512, "seq_kv": 512,
                                                "head_dim": 128, "a_dtype": "bf16"}), a100)
    h100 = load_hardware("h100_sxm")
    typo = dataclasses.replace(h100, attention_kernel="flash_atention_3")
    with pytest.raises(HardwareSpecError, match="field 'attention_kernel' = 'flash_atention_3': no kernel_"):
        simulate_op_latency(op_for_measurement({"family": "attention_prefill", "batch": 1, "heads": 8,
                                                "kv_heads": 8, "seq_q": 512, "seq_kv": 512,
                                                "head_dim": 128, "a_dtype": "bf16"}), typo)


def test_a_gpu_step_says_how_much_of_it_is_launch_overhead(capsys):
    # LLaMA-2-7B decode, eager: one kernel per traced op, 848 (no split-K or split-KV reduction in
    # this step), x 3 us = 2.544 ms
    code, out, _ = run(capsys, "simulate", "--hw", "h100_sxm", "--model", "llama-2-7b", "--phase", "decode",
                       "--context", "4096")
    assert code == 0
    # 848 kernels, 64 of them with a second launch for a split-K or split-KV reduction (FlashAttention's
    # own num_splits heuristic, issue 16): 912 launches x 3 us = 2.736 ms
    assert "912 kernel launches: 2.736 ms of the total is launch overhead at launch_overhead_s = 3 us" in out
    code, out, _ = run(capsys, "simulate", "--hw", "h100_sxm", "--gemm", "64,4096,4096")
    assert "1 kernel launch: 0.003 ms" in out


def test_a_model_that_does_not_fit_the_gpu_memory_is_warned_about(capsys):
    # LLaMA-2-70B fp16: 2 B x 68.98e9 params = 138 GB of weights, more than the H100's 80 GB; int4
    # weights (~0.56 B per param with scales and zeros, 38 GB) plus a 1 GB KV cache fit
    code, _, err = run(capsys, "simulate", "--hw", "h100_sxm", "--model", "llama-2-70b", "--phase", "decode",
                       "--context", "512")
    assert code == 0
    assert "warning: weights (138.0 GB) and KV cache" in err
    assert "more than h100_sxm's dram_capacity_bytes (80 GB)" in err
    code, _, err = run(capsys, "simulate", "--hw", "h100_sxm", "--model", "llama-2-70b", "--phase", "decode",
                       "--context", "512", "--weights", "int4")
    assert code == 0 and "dram_capacity_bytes" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--hw", "tpu9", "--gemm", "1,2,3"],
            "unknown preset 'tpu9'; known presets: a10, a100_40gb_sxm, a100_80gb_pcie, a100_80gb_sxm, cpu_ci",
        ),
        (["--hw", "scalesim_32x32", "--set", "rows=0", "--gemm", "1,2,3"], "'rows' = 0"),
        (["--hw", "scalesim_32x32", "--set", "rows=-3", "--gemm", "1,2,3"], "'rows' = -3"),
        (["--hw", "scalesim_32x32", "--set", "dataflow=xy", "--gemm", "1,2,3"], "unknown dataflow"),
        (["--hw", "scalesim_32x32", "--gemm", "1,2"], "expected three sizes M,N,K"),
        (["--hw", "scalesim_32x32", "--gemm", "0,2,3"], "GEMM M must be a positive integer"),
        (
            ["--hw", "scalesim_32x32", "--set", "ofmap_sram_bytes=1024", "--gemm", "64,64,64"],
            "'ofmap_sram_bytes' = 1024 B is too small to hold one fold's output tile",
        ),
        (["--hw", "scalesim_32x32", "--topology", "nope.csv"], "no such file"),
        (["--hw", "nope.cfg", "--gemm", "1,2,3"], "no such SCALE-Sim config file"),
        (["--hw", "scalesim_32x32", "--gemm", "1,2,3", "--dtype", "int3"], "unknown dtype 'int3'"),
        (
            ["--hw", "h100_sxm", "--gemm", "64,64,64", "--attention-kernel", "fa3"],
            "--attention-kernel 'fa3': hardware 'h100_sxm' has no kernel_fractions or "
            "kernel_bandwidth_fractions entry for it (known: cutlass_fp8_blockscaled, "
            "deepgemm_fp8_blockscaled, flash_attention_2, flash_attention_3, flash_attention_3_fp8, "
            "inductor_int8_weight_only, tinygemm_int4, triton_tutorial_fa2",
        ),
        (
            ["--hw", "a100_80gb_sxm", "--gemm", "64,64,64", "--attention-kernel", "flash_attention_3"],
            "--attention-kernel 'flash_attention_3': flash_attention_3 runs on compute capability 9.0 "
            "(Hopper) only; hardware 'a100_80gb_sxm' has compute capability 8.0",
        ),
        (
            ["--hw", "cpu_ci", "--gemm", "64,64,64", "--gemm-kernel", "x"],
            "--gemm-kernel: GPU options; hardware 'cpu_ci' is a CPUSpec",
        ),
        # model arguments a workload without a model has no use for are refused, not ignored
        (
            ["--hw", "h100_sxm", "--gemm", "1,4096,4096", "--kv", "int8"],
            "--kv 'int8': applies to --model; of the model arguments --gemm takes --weights, "
            "--group-size, --activations, --gemm-activations, --sparsity",
        ),
        (
            ["--hw", "h100_sxm", "--gemm", "1,4096,4096", "--phase", "decode"],
            "--phase 'decode': applies to --model",
        ),
        # --moe, like --fusion, is given or not (a --stack's when not): any value is a model's
        (
            ["--hw", "h100_sxm", "--gemm", "1,4096,4096", "--moe", "eager"],
            "--moe 'eager': applies to --model",
        ),
        (
            ["--hw", "h100_sxm", "--model", "llama-2-7b", "--seq", "16", "--dtype", "fp8"],
            "--dtype 'fp8': sets a --gemm's or a --topology's operands; with --model give --weights, "
            "--activations, --gemm-activations or --kv",
        ),
        # a step's --context counts the cache and its --seq new tokens: at least --seq
        (
            ["--hw", "h100_sxm", "--model", "llama-2-7b", "--seq", "512", "--context", "100"],
            "--context 100 < --seq 512: --context counts the cached tokens and the step's --seq new ones",
        ),
        (
            ["--hw", "h100_sxm", "--model", "mistral-7b", "--seq", "512", "--context", "8000"],
            "512 new tokens after 7488 cached ones pass the 4096-token sliding window",
        ),
        (
            ["--hw", "h100_sxm", "--model", "bert-base", "--seq", "128", "--context", "256"],
            "bert-base (encoder model) has no KV cache: --context is for causal LMs",
        ),
        (
            ["--hw", "scalesim_32x32", "--topology", str(EXAMPLES / "resnet_head.csv"), "--weights", "int4"],
            "--weights 'int4': applies to --model; of the model arguments --topology takes none of them "
            "(a topology's layers take --dtype)",
        ),
    ],
)
def test_bad_input_is_one_line_and_nonzero_exit(capsys, argv, message):
    code, out, err = run(capsys, "simulate", *argv)
    assert code != 0
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Layer, M, N, K,\nfc, 10, 20,\n", "topo.csv:2: a GEMM row needs Layer, M, N, K"),
        ("Layer, M, N, K,\nfc, 10, x, 5,\n", "topo.csv:2: N must be a positive integer, got 'x'"),
        (
            "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
            "Num Filter, Strides,\nc1, 8, 8, 3, 3, 4, 4, 1,\nc2, 4, 4, 5, 5, 4, 4, 1,\n",
            "topo.csv:3: filter 5x5 is larger than the ifmap 4x4",
        ),
        ("Layer, M, N, K,\nfc, 10, 20, 30, 2:4,\n", "topo.csv:2: sparsity '2:4' is not modeled"),
        ("a,b\n", "topo.csv:1: header 'a,b' is neither the GEMM form"),
    ],
)
def test_malformed_topology_names_the_line(capsys, tmp_path, content, message):
    path = tmp_path / "topo.csv"
    path.write_text(content)
    code, _, err = run(capsys, "simulate", "--hw", "scalesim_32x32", "--topology", str(path))
    assert code != 0 and message in err


def test_exit_code_for_console_script(tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "simulate", "--hw", "nope", "--gemm", "1,1,1"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("codesign simulate: error: hardware: unknown preset 'nope'")


def test_a_gemm_takes_the_weight_and_activation_arguments_a_model_would(capsys):
    # --gemm 1,8192,8192 on an H100, fp16: a GEMV streaming its 134 MB weight. With --weights int4
    # the weight is 8192 · 8192 / 2 = 33.5 MB, plus an fp16 scale and an int4 zero point for each of
    # the 8192 / 128 · 8192 = 524,288 groups of 128 along K (1 MiB + 256 KiB): about a quarter of
    # the bytes, and well under half the time
    def latency(*extra):
        argv = ("simulate", "--hw", "h100_sxm", "--gemm", "1,8192,8192", "--format", "csv", *extra)
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        rows = pd.read_csv(io.StringIO(out))
        return rows.set_index("layer").loc["gemm0"]

    fp16 = latency("--dtype", "fp16")
    int4 = latency("--dtype", "fp16", "--weights", "int4")
    weight_bytes = 8192 * 8192 // 2 + 8192 // 128 * 8192 * (2 + 0.5)
    assert fp16["dram_read_bytes"] >= 8192 * 8192 * 2
    assert weight_bytes <= int4["dram_read_bytes"] < 1.02 * weight_bytes  # the weight, its scales and A
    assert int4["latency_s"] < 0.5 * fp16["latency_s"]
    # the accuracy line quotes the weight-only cell and says that no row of it times the default tiling
    code, out, _ = run(capsys, "simulate", "--hw", "h100_sxm", "--gemm", "1,8192,8192", "--weights", "int4")
    assert code == 0
    assert "Validated accuracy of a weight-only GEMM on h100_sxm" in out
    assert "None of them times the model's default weight-only GEMM" in out



def test_a_moe_models_result_states_the_routing_it_assumes(capsys):
    # one decode token picks 2 of Mixtral's 8 experts: the step reads those 2 experts' weights a
    # layer; a 64-token prefill touches all 8 (workloads.zoo.layers.experts_touched: 8·(1 − (3/4)^64))
    code, out, _ = run(capsys, "simulate", "--hw", "h200", "--model", "mixtral-8x7b", "--phase", "decode",
                       "--context", "512")
    assert code == 0 and "MoE routing: each layer's tokens go evenly to the 2 experts" in out
    code, out, _ = run(capsys, "simulate", "--hw", "h200", "--model", "mixtral-8x7b", "--seq", "64",
                       "--moe", "grouped")
    assert code == 0 and "to the 8 experts" in out
    code, out, _ = run(capsys, "simulate", "--hw", "h200", "--model", "llama-2-7b", "--seq", "64")
    assert code == 0 and "MoE routing" not in out
