"""`codesign simulate --stack` / `--step-host-s`: a model's step as a serving stack runs it
(`workloads.stacks`, `sim.stack_step`): its launch mode per phase, its kernels, the host time each
step waits for as a row of its own, and the same number the validation harness gives."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from reference_kernels.published_validation import validation_steps
from sim.cli import main
from sim.measured.published_validation import simulate_step
from workloads.stacks import STACKS, VLLM_STEP_HOST_S, describe_steps, launch_timing

DECODE = ["--hw", "h100_sxm", "--model", "llama-2-7b", "--phase", "decode", "--context", "512"]
PREFILL = ["--hw", "h100_sxm", "--model", "llama-2-7b", "--phase", "prefill", "--seq", "128"]


def _rows(*argv: str) -> pd.DataFrame:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["simulate", *argv, "--format", "csv"]) == 0
    return pd.read_csv(io.StringIO(out.getvalue()))


def _total_s(rows: pd.DataFrame) -> float:
    return float(rows.loc[rows["layer"] == "total", "latency_s"].iloc[0])


def test_each_stack_launches_each_phase_as_it_runs_it():
    # vLLM replays CUDA graphs for decode batches only; its prefill is eager PyTorch. TensorRT-LLM's
    # C++ runtime launches both natively; HF transformers dispatches every kernel from Python
    assert (STACKS["vllm"].timing("decode"), STACKS["vllm"].timing("prefill")) == ("graph", "back_to_back")
    trt = STACKS["tensorrt_llm_xqa"]
    assert trt.timing("decode") == trt.timing("prefill") == "events"
    assert STACKS["autoawq_gemm"].timing("decode") == "back_to_back"
    assert STACKS["torchao"].timing("prefill") == "graph"
    assert [launch_timing(g, e) for g, e in ((1, 0), (1, 1), (0, 1), (0, 0))] == [
        "graph", "graph", "back_to_back", "events"
    ]  # fmt: skip


def test_vllm_decode_is_the_graph_replayed_step_plus_its_host_time():
    # the kernels are --fusion serving --cuda-graphs' exactly; one more row, 1.88 ms, the engine loop
    stacked = _rows(*DECODE, "--stack", "vllm")
    kernels = _rows(*DECODE, "--fusion", "serving", "--cuda-graphs")
    host = stacked[stacked["kind"] == "host"]
    assert len(host) == 1 and host["latency_s"].iloc[0] == VLLM_STEP_HOST_S
    assert host["compute_cycles"].iloc[0] == 0 and host["launches"].iloc[0] == 0
    body = stacked[(stacked["kind"] != "host") & (stacked["layer"] != "total")].reset_index(drop=True)
    same = kernels[kernels["layer"] != "total"].reset_index(drop=True)
    assert body["latency_s"].tolist() == same["latency_s"].tolist()
    assert _total_s(stacked) == pytest.approx(_total_s(kernels) + VLLM_STEP_HOST_S, rel=1e-12)
    # totals are sums of rows, the host row included; utilization falls by the idle time
    assert _total_s(stacked) == pytest.approx(stacked.loc[stacked["layer"] != "total", "latency_s"].sum())
    total = stacked[stacked["layer"] == "total"].iloc[0]
    assert total["utilization"] < kernels.loc[kernels["layer"] == "total", "utilization"].iloc[0]


def test_vllm_prefill_is_eager_and_tensorrt_llm_native():
    # eager: each kernel at least the host's dispatch (host_dispatch_s); natively none of that
    eager = _rows(*PREFILL, "--fusion", "serving")
    vllm = _rows(*PREFILL, "--stack", "vllm")
    assert _total_s(vllm) == pytest.approx(_total_s(eager) + VLLM_STEP_HOST_S, rel=1e-12)
    trt = _rows(*PREFILL, "--stack", "tensorrt_llm_xqa")
    assert (trt["kind"] != "host").all()  # TensorRT-LLM's C++ runtime: no host time modeled
    assert _total_s(trt) <= _total_s(eager)


def test_a_stack_picks_its_decode_kernel_by_the_models_group():
    # TensorRT-LLM v0.8's XQA cubins exist for 8 query heads per K/V head only: Llama-2-70B (64/8)
    # decodes in XQA, Mistral-7B (32/8 = 4) in the masked MHA on the paged cache
    argv = ["--hw", "h100_sxm", "--phase", "decode", "--context", "512", "--stack", "tensorrt_llm_xqa"]
    llama = _rows(*argv, "--model", "llama-2-70b")
    mistral = _rows(*argv, "--model", "mistral-7b")
    assert llama.loc[llama["kind"] == "attention", "mapping"].str.startswith("trtllm_xqa as").all()
    assert mistral.loc[mistral["kind"] == "attention", "mapping"].str.startswith("trtllm_mmha_paged as").all()
    # an option given on the command line wins over the stack's
    chosen = _rows(*argv, "--model", "mistral-7b", "--attention-kernel", "flash_attention_2")
    assert chosen.loc[chosen["kind"] == "attention", "mapping"].str.startswith("flash_attention_2 as").all()


def test_a_schedulers_token_budget_splits_a_prefill_into_whole_prompts():
    # vLLM (chunked prefill off): max(max_model_len, 2048) tokens and 256 sequences a step;
    # TensorRT-LLM 0.11: its engine's max_num_tokens, 8192; the others one step for the batch
    vllm, trt = STACKS["vllm"], STACKS["tensorrt_llm_v011"]
    assert vllm.prefill_steps(16, 1024, 4096) == (4, 4, 4, 4)  # Llama-2-7B: 4096 // 1024 = 4
    assert vllm.prefill_steps(16, 1024, 8192) == (8, 8)  # Llama-3-8B
    assert vllm.prefill_steps(16, 1024, 32768) == (16,)  # Mistral-7B-v0.1
    assert vllm.prefill_steps(3, 1000, 1024) == (2, 1)  # max(1024, 2048) = 2048: 2 prompts a step
    assert vllm.prefill_steps(300, 8, 4096) == (256, 44)  # 512 fit the budget, 256 the step
    assert trt.prefill_steps(16, 1024, 4096) == (8, 8) and trt.prefill_steps(10, 1024, 0) == (8, 2)
    assert STACKS["tensorrt_llm_xqa"].prefill_steps(64, 2048, 4096) == (64,)
    # how the command line counts them
    assert describe_steps(vllm.prefill_steps(15, 1024, 4096)) == "4 prefill steps: 3 of 4, 1 of 3 prompts"


def test_the_command_line_runs_the_prefill_steps_the_stack_would():
    # 16 x 1024 tokens of Llama-2-7B under vLLM: 4 steps of 4 prompts, each its own 1.88 ms wait
    argv = ["--hw", "a100_40gb_sxm", "--model", "llama-2-7b", "--phase", "prefill", "--seq", "1024"]
    split = _rows(*argv, "--batch", "16", "--stack", "vllm")
    one = _rows(*argv, "--batch", "4", "--stack", "vllm")
    assert _total_s(split) == pytest.approx(4 * _total_s(one), rel=1e-9)
    body = split[split["layer"] != "total"]
    assert body["layer"].str.startswith("4x ").all()
    host = split[split["kind"] == "host"]
    assert host["latency_s"].iloc[0] == pytest.approx(4 * VLLM_STEP_HOST_S) and host["count"].iloc[0] == 4
    assert _total_s(split) == pytest.approx(body["latency_s"].sum())


def test_step_host_s_sets_or_overrides_the_host_time():
    alone = _rows(*DECODE, "--step-host-s", "0.004")
    plain = _rows(*DECODE)
    assert _total_s(alone) == pytest.approx(_total_s(plain) + 0.004, rel=1e-12)
    overridden = _rows(*DECODE, "--stack", "vllm", "--step-host-s", "0")
    assert (overridden["kind"] != "host").all()


def _validation_step(**columns: object) -> pd.Series:
    """The first validation step whose columns equal `columns`."""
    steps = validation_steps()
    chosen = steps[np.logical_and.reduce([steps[name] == value for name, value in columns.items()])]
    return chosen.iloc[0]


def test_the_command_line_gives_the_validation_harness_number():
    # same input, same output: Argonne's 16 x 1024-token vLLM prefill on the H100 (a validation
    # row) as `simulate_step` runs it and as `codesign simulate --stack vllm` does
    step = _validation_step(
        source_id="argonne_llm_inference_bench_ttft", stack="vllm", preset="h100_sxm", model="llama-2-7b"
    )
    argv = ["--hw", "h100_sxm", "--model", "llama-2-7b", "--phase", "prefill", "--seq", "1024"]
    rows = _rows(*argv, "--batch", str(int(step["batch"])), "--stack", "vllm")
    assert _total_s(rows) == pytest.approx(simulate_step(step), rel=1e-9)


def test_turbomind_gives_the_first_token_from_a_decode_step_over_the_prompt(capsys):
    # TurboMind v0.1 (LlamaBatch::ContextDecode) prefills a prompt without its last token and runs
    # a decode step over the whole prompt for it: 128 tokens are 127 prefilled and 1 decoded; a
    # one-token prompt has no prefill at all. The other stacks prefill the whole prompt
    turbomind = STACKS["lmdeploy_turbomind"]
    assert (turbomind.first_token_steps(128), turbomind.first_token_steps(1)) == ((127, 1), (0, 1))
    assert STACKS["tensorrt_llm_xqa"].first_token_steps(128) == (128, 0)
    # LMDeploy's A100 first-token latency at 128 tokens (a validation row) is that prefill plus that
    # decode step, each as `codesign simulate --stack lmdeploy_turbomind` runs it
    step = _validation_step(
        source_id="lmdeploy_a100_fp16_static", model="llama-2-7b", scope="prefill", input_len=128
    )
    model = ["--hw", "a100_80gb_sxm", "--model", "llama-2-7b", "--weights", "fp16", "--activations", "fp16"]
    stacked = [*model, "--stack", "lmdeploy_turbomind"]
    prefill = _total_s(_rows(*stacked, "--phase", "prefill", "--seq", "127"))
    decode = _total_s(_rows(*stacked, "--phase", "decode", "--context", "128"))
    assert simulate_step(step) == pytest.approx(prefill + decode, rel=1e-9)
    # the command line says so beside a TurboMind prefill
    assert "a decode step over the whole prompt" in capsys.readouterr().err
    # without the trait the figure is the whole prompt's prefill
    whole = _total_s(_rows(*stacked, "--phase", "prefill", "--seq", "128"))
    plain = step.copy()
    plain["decodes_last_prompt_token"] = 0
    assert simulate_step(plain) == pytest.approx(whole, rel=1e-9)
    # a generation from a one-token prompt is 128 decode steps at contexts 1..128, no prefill: their
    # mean, the affine step's trapezoid over the two ends
    generation = _validation_step(
        source_id="lmdeploy_a100_fp16_static", model="llama-2-7b", scope="generate", batch=1, input_len=1
    )
    ends = [_total_s(_rows(*stacked, "--phase", "decode", "--context", str(c))) for c in (1, 128)]
    assert simulate_step(generation) == pytest.approx(sum(ends) / 2, rel=1e-9)


def _serving(*argv: str) -> dict:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["simulate", *argv, "--format", "json"]) == 0
    return json.loads(out.getvalue())["serving"]


def test_on_a_system_each_step_and_the_first_token_wait_for_the_host_once():
    # Llama-3-70B on 4 NVLinked H100s (TP 4), batch 8: vLLM's decode step is the graph-replayed
    # step of its kernels on every GPU plus 1.88 ms of host time on the critical path; its first
    # token an eager prefill of 1024 tokens plus the same host time
    argv = ["--system", "system_8xh100_nvlink", "--set", "gpus.count=4", "--model", "llama-3-70b",
            "--phase", "decode", "--context", "4096", "--batch", "8", "--seq", "1024"]  # fmt: skip
    vllm = _serving(*argv, "--stack", "vllm")
    graphs = _serving(*argv, "--fusion", "serving", "--cuda-graphs")
    eager = _serving(*argv, "--fusion", "serving")
    assert vllm["tbt_s"] == pytest.approx(graphs["tbt_s"] + VLLM_STEP_HOST_S, rel=1e-12)
    assert vllm["ttft_s"] == pytest.approx(eager["ttft_s"] + VLLM_STEP_HOST_S, rel=1e-12)
    assert vllm["tokens_per_s"] == pytest.approx(8 / vllm["tbt_s"])


def test_on_a_system_turbominds_first_token_is_the_validation_harness_number():
    # LMDeploy's LLaMA-2-70B first token on 4 A100s at 2048 tokens (a validation row): on the
    # node, TurboMind's prefill of 2047 tokens and a decode step over 2048, as the harness runs it
    step = _validation_step(
        source_id="lmdeploy_a100_fp16_static", model="llama-2-70b", scope="prefill", input_len=2048
    )
    argv = ["--system", "system_8xa100_nvlink", "--set", "gpus.count=4", "--model", "llama-2-70b",
            "--weights", "fp16", "--activations", "fp16", "--phase", "decode", "--seq", "2048"]  # fmt: skip
    turbomind = _serving(*argv, "--context", "2176", "--stack", "lmdeploy_turbomind")
    assert turbomind["ttft_s"] == pytest.approx(simulate_step(step), rel=1e-9)
    # the first token's prefill starts from an empty cache whatever the decode step's context
    longer = _serving(*argv, "--context", "4096", "--stack", "lmdeploy_turbomind")
    assert longer["ttft_s"] == pytest.approx(turbomind["ttft_s"], rel=1e-12)
    # one request's decode step is one micro-batch, however many the plan pipelines a batch in
    piped = ["--system", "system_8xa100_nvlink", "--set", "parallel.pp=2", "--model", "llama-2-13b",
             "--phase", "decode", "--context", "1024", "--seq", "512", "--batch", "8",
             "--stack", "lmdeploy_turbomind"]  # fmt: skip
    one, four = (_serving(*piped, "--set", f"parallel.micro_batches={n}")["ttft_s"] for n in (1, 4))
    assert four == pytest.approx(one, rel=1e-12)


def test_tokens_per_s_with_prefill_counts_turbominds_first_decode_step_once(tmp_path):
    # 4 requests of a 512-token prompt and 21 generated tokens each (an Azure-format trace: mean
    # context 512 + 21/2 = 522), LLaMA-2-13B on one A100 at batch 4. A plain stack's prefill gives
    # the first token and 20 batched decode steps the rest: 4·21 / (4·TTFT + 20·step). TurboMind's
    # first token is a prefill of 511 tokens and a decode step over the prompt; that step is one of
    # the request's 21 decode steps, so the devices spend 4·prefill + 21·step, not the TTFT on top
    # of the 21 steps (until session 30 it was counted twice)
    trace = tmp_path / "trace.csv"
    trace.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n" + "".join(f"{i},512,21\n" for i in range(4)))
    argv = ["--system", "system_8xa100_nvlink", "--set", "gpus.count=1", "--model", "llama-2-13b",
            "--phase", "decode", "--requests", str(trace), "--batch", "4"]  # fmt: skip
    plain = _serving(*argv, "--stack", "tensorrt_llm_xqa")
    assert plain["tokens_per_s_with_prefill"] == pytest.approx(
        4 * 21 / (4 * plain["ttft_s"] + 20 * plain["tbt_s"]), rel=1e-12
    )
    turbomind = _serving(*argv, "--stack", "lmdeploy_turbomind")
    first_step = _serving(  # a decode step of one request over the whole prompt
        "--system", "system_8xa100_nvlink", "--set", "gpus.count=1", "--model", "llama-2-13b",
        "--phase", "decode", "--context", "512", "--batch", "1", "--stack", "lmdeploy_turbomind",
    )["tbt_s"]
    prefill = turbomind["ttft_s"] - first_step
    assert 0 < prefill < turbomind["ttft_s"]
    assert turbomind["tokens_per_s_with_prefill"] == pytest.approx(
        4 * 21 / (4 * prefill + 21 * turbomind["tbt_s"]), rel=1e-9
    )
    # the decode step inside the first token is not paid twice: above the old double count
    double_counted = 4 * 21 / (4 * turbomind["ttft_s"] + 21 * turbomind["tbt_s"])
    assert turbomind["tokens_per_s_with_prefill"] > double_counted


def test_on_a_system_the_stack_runs_its_module_kernels_as_on_one_gpu():
    # AutoAWQ's fused MLP runs gate_proj and up_proj through its own GEMM kernel at every length
    # (MODULE_GEMM_KERNELS), the rest from 1024 tokens as a dequantization and cuBLAS: a one-GPU
    # system gives the --hw figure
    step = ["--model", "llama-2-7b", "--phase", "prefill", "--seq", "1024", "--weights", "int4"]
    system = ["--system", "system_8xa100_nvlink", "--set", "gpus.count=1"]
    one_gpu = _serving(*system, *step, "--stack", "autoawq_gemm")
    hw = _total_s(_rows("--hw", "a100_80gb_sxm", *step, "--stack", "autoawq_gemm"))
    assert one_gpu["tbt_s"] == pytest.approx(hw, rel=1e-9)


def test_a_tensor_parallel_step_from_the_command_line_is_the_validation_harness_number():
    # TensorRT-LLM v0.8's 128-token first token of Llama-2-70B in FP8 on 8 H100s (a validation
    # row, performance.md) as `simulate_step` runs it (`nvlink_node`) and as the command line does
    step = _validation_step(
        source_id="trtllm_perf_v080_low_latency", model="llama-2-70b", preset="h100_sxm", scope="prefill",
        input_len=128,
    )
    assert (step["tp"], step["stack"]) == (8, "tensorrt_llm_xqa")
    argv = ["--system", "system_8xh100_nvlink", "--model", "llama-2-70b", "--phase", "prefill", "--seq",
            "128", "--weights", "fp8", "--gemm-activations", "fp8", "--kv", "fp8"]  # fmt: skip
    figures = _serving(*argv, "--stack", "tensorrt_llm_xqa")
    assert figures["tbt_s"] == pytest.approx(simulate_step(step), rel=1e-9)


def test_on_a_system_the_schedulers_prefill_steps_run_one_after_another(tmp_path):
    # 3 prompts of 2000 tokens under vLLM (Llama-2-7B: a budget of max(4096, 2048) tokens): steps
    # of 2 and 1 prompts, each waiting for its host time; on a one-GPU system the prefill is the
    # --hw figure, and in the timeline the second step starts when the first has ended
    common = ["--model", "llama-2-7b", "--phase", "prefill", "--batch", "3", "--seq", "2000"]
    common += ["--stack", "vllm"]
    timeline = tmp_path / "steps.csv"
    system = ["--system", "system_8xh100_nvlink", "--set", "gpus.count=1", *common]
    system += ["--timeline", str(timeline)]
    figures = _serving(*system)
    assert figures["tbt_s"] == pytest.approx(_total_s(_rows("--hw", "h100_sxm", *common)), rel=1e-9)
    tasks = pd.read_csv(timeline)
    first = tasks[tasks["name"].str.startswith("step 1 b2: ")]
    second = tasks[tasks["name"].str.startswith("step 2 b1: ")]
    assert len(first) + len(second) == len(tasks) and len(first) == len(second) > 0
    assert second["start_s"].min() == pytest.approx(first["end_s"].max(), rel=1e-12)
    assert figures["tbt_s"] == pytest.approx(second["end_s"].max() + 2 * VLLM_STEP_HOST_S, rel=1e-12)


SWEEP = """
name: stacks
hardware: h100_sxm
axes:
  achievable_dram_bytes_per_s: [2.0e12, 3.0e12]
workloads:
  - {name: decode, model: llama-2-7b, phase: decode, context: 512, batch: 8, stack: vllm}
  - {name: prefill, model: llama-2-7b, phase: prefill, seq: 2000, batch: 3, stack: vllm}
fidelity: cycle
"""


def _sweep_step(workload: str, context: int) -> list[str]:
    """The command line of one workload of `SWEEP` or `SYSTEM_SWEEP` (their decode at `context`)."""
    phase = {
        "decode": ["--phase", "decode", "--context", str(context), "--batch", "8"],
        "prefill": ["--phase", "prefill", "--seq", "2000", "--batch", "3"],
    }[workload]
    return ["--model", "llama-2-7b", *phase, "--stack", "vllm"]


def _swept(tmp_path, text: str) -> pd.DataFrame:
    """The rows of the sweep spec `text` (a device or a system sweep), run as `codesign sweep` runs it."""
    from sim.sweep import sweep
    from sim.sweep.store import read_sweep
    from sim.sweep.system_sweep import SystemSweepSpec, load_any_sweep_spec, sweep_system

    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    loaded = load_any_sweep_spec(spec)
    if isinstance(loaded, SystemSweepSpec):
        return read_sweep(sweep_system(loaded, tmp_path / "out").path)
    return read_sweep(sweep(loaded, tmp_path / "out", workers=1).path)


def test_a_sweeps_stack_workloads_give_the_command_lines_numbers(tmp_path):
    # same input, same output: each row of a sweep over the H100's DRAM rate is what
    # `codesign simulate --stack vllm` gives with that rate (the prefill in its 2 + 1 steps); a
    # slower memory is never faster
    frame = _swept(tmp_path, SWEEP)
    assert frame["error"].isna().all() and len(frame) == 4
    for _, row in frame.iterrows():
        rate = f"achievable_dram_bytes_per_s={row['achievable_dram_bytes_per_s']}"
        cli = _rows("--hw", "h100_sxm", "--set", rate, *_sweep_step(row["workload"], 512))
        assert row["latency_s"] == pytest.approx(_total_s(cli), rel=1e-9)
    by = frame.pivot(index="achievable_dram_bytes_per_s", columns="workload", values="latency_s")
    assert (by.loc[2.0e12] >= by.loc[3.0e12]).all()


SYSTEM_SWEEP = """
name: system_stacks
system: system_8xh100_nvlink
axes:
  gpus.count: [1, 4]
workloads:
  - {name: decode, model: llama-2-7b, phase: decode, context: 4096, batch: 8, stack: vllm}
  - {name: prefill, model: llama-2-7b, phase: prefill, seq: 2000, batch: 3, stack: vllm}
fidelity: cycle
"""


def test_a_system_sweeps_stack_workloads_give_the_command_lines_numbers(tmp_path):
    # vLLM's decode on 1 and 4 NVLinked H100s (TP 1 and 4) and its 2 + 1-step prefill on one, as
    # `codesign simulate --system ... --stack vllm` gives them
    frame = _swept(tmp_path, SYSTEM_SWEEP)
    assert frame["error"].isna().all() and len(frame) == 4
    for _, row in frame[(frame["gpus.count"] == 1) | (frame["workload"] == "decode")].iterrows():
        argv = ["--system", "system_8xh100_nvlink", "--set", f"gpus.count={row['gpus.count']}"]
        cli = _serving(*argv, *_sweep_step(row["workload"], 4096))
        assert row["tbt_s"] == pytest.approx(cli["tbt_s"], rel=1e-9)


def test_a_stack_is_part_of_a_sweeps_hash_and_a_spec_without_one_hashes_as_before():
    # --resume must not take a vLLM sweep's folder for a plain one, and folders written before
    # sweeps had stacks must still resume: the key is in the hash only when given
    from sim.sweep.spec import parse_sweep_spec

    with_stack = parse_sweep_spec(SWEEP)
    plain = parse_sweep_spec(SWEEP.replace(", stack: vllm}", "}"))
    assert with_stack.hash != plain.hash
    assert all("stack" not in workload.normalized() for workload in plain.workloads)
    assert with_stack.workloads[0].normalized()["stack"] == "vllm"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("stack: vllm}", "stack: sglang}"), "workloads[0].stack = 'sglang': valid: torchao"),
        (("fidelity: cycle", "fidelity: roofline"), "runs the stack's kernels; needs fidelity: cycle"),
        (("hardware: h100_sxm", "hardware: systolic_128x128"), "stack 'vllm': a GPU's serving stack"),
    ],
)
def test_a_sweeps_bad_stack_is_refused_naming_the_workload(change, message):
    from sim.sweep.expr import SweepSpecError
    from sim.sweep.spec import parse_sweep_spec

    text = SWEEP.replace(*change)
    if "systolic" in text:
        text = text.replace("achievable_dram_bytes_per_s: [2.0e12, 3.0e12]", "rows: [64, 128]")
    with pytest.raises(SweepSpecError) as caught:
        parse_sweep_spec(text)
    assert message in str(caught.value)


def test_a_system_sweep_without_gpus_gives_a_stack_an_error_row(tmp_path):
    # two FlightLLM U280 boards: the serving stack has no GPU to run on, so each row says so
    boards = tmp_path / "boards.yaml"
    boards.write_text(
        "kind: system\nname: boards\ngroups:\n  fpgas: {device: u280_flightllm, count: 2}\n"
        "links:\n  pcie: {kind: pcie, between: [fpgas], bytes_per_s: 1.575e10, latency_s: 2.0e-6}\n"
        "parallel: {model_group: fpgas}\n"
    )
    text = SYSTEM_SWEEP.replace("system_8xh100_nvlink", "boards.yaml")
    frame = _swept(tmp_path, text.replace("gpus.count: [1, 4]", "fpgas.count: [2]"))
    assert frame["error"].str.contains("stack 'vllm': a GPU's serving stack; the system has no GPU").all()


def test_a_system_sweeps_stack_needs_cycle_fidelity():
    from sim.sweep.expr import SweepSpecError
    from sim.sweep.system_sweep import system_sweep_from_yaml

    text = SYSTEM_SWEEP.replace("fidelity: cycle", "fidelity: roofline")
    with pytest.raises(SweepSpecError, match="stack 'vllm': runs the stack's kernels; needs fidelity: cycle"):
        system_sweep_from_yaml(text, yaml.safe_load(text), base_dir=Path("."), default_name="s")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([*DECODE, "--stack", "sglang"], "--stack 'sglang': valid: torchao, lmdeploy_turbomind"),
        (["--hw", "h100_sxm", "--gemm", "1,2,3", "--stack", "vllm"], "--stack: a stack runs a model's step"),
        (
            ["--hw", "scalesim_32x32", "--model", "llama-2-7b", "--seq", "8", "--stack", "vllm"],
            "--stack: GPU options; hardware 'scalesim_32x32' is a SystolicArraySpec",
        ),
        ([*DECODE, "--step-host-s", "-1"], "--step-host-s -1.0: seconds per step, at least 0 and below 10"),
        ([*DECODE, "--step-host-s", "nan"], "--step-host-s nan: seconds per step"),
        (
            ["--hw", "scalesim_32x32", "--model", "llama-2-7b", "--seq", "8", "--step-host-s", "0.001"],
            "--step-host-s: GPU options; hardware 'scalesim_32x32' is a SystolicArraySpec",
        ),
        (
            ["--system", "system_8xh100_nvlink", "--model", "llama-2-7b", "--stack", "vllm_v9"],
            "--stack 'vllm_v9': valid: torchao",
        ),
    ],
)
def test_bad_stack_options_name_the_field_and_what_is_valid(argv, message, capsys):
    assert main(["simulate", *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_workloads_step_host_s_replaces_the_stacks_host_time_in_device_and_system_sweeps(tmp_path):
    # vLLM's 2 + 1-step prefill with the engine loop at 0.5 ms a step instead of its 1.88: each row
    # is the stack's number less 2 x (1.88 - 0.5) ms, and the command line's with --step-host-s 0.0005
    faster = "seq: 2000, batch: 3, stack: vllm, step_host_s: 0.0005}"
    for folder in ("device", "system", "stack"):
        (tmp_path / folder).mkdir()
    device = _swept(tmp_path / "device", SWEEP.replace("seq: 2000, batch: 3, stack: vllm}", faster))
    system = _swept(tmp_path / "system", SYSTEM_SWEEP.replace("seq: 2000, batch: 3, stack: vllm}", faster))
    as_stack = _swept(tmp_path / "stack", SWEEP)
    for frame in (device, system):
        assert frame["error"].isna().all()
    prefill = device[device["workload"] == "prefill"].set_index("achievable_dram_bytes_per_s")["latency_s"]
    stack = as_stack[as_stack["workload"] == "prefill"].set_index("achievable_dram_bytes_per_s")["latency_s"]
    expected = stack - 2 * (VLLM_STEP_HOST_S - 0.0005)
    assert prefill.sort_index().to_numpy() == pytest.approx(expected.sort_index().to_numpy(), rel=1e-9)
    step = [*_sweep_step("prefill", 0), "--step-host-s", "0.0005"]
    assert prefill[3.0e12] == pytest.approx(_total_s(_rows("--hw", "h100_sxm", *step)), rel=1e-9)
    one_gpu = system[(system["workload"] == "prefill") & (system["gpus.count"] == 1)]["tbt_s"].item()
    cli = _serving("--system", "system_8xh100_nvlink", "--set", "gpus.count=1", *step)
    assert one_gpu == pytest.approx(cli["tbt_s"], rel=1e-9)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("stack: vllm, step_host_s: -0.001}", "step_host_s = -0.001: seconds per step, at least 0"),
        ("stack: vllm, step_host_s: true}", "workloads[0].step_host_s = True: seconds per step"),
        ("step_host_s: 0.001}", "step_host_s = 0.001: a stack's host time per step; give 'stack'"),
    ],
)
def test_a_bad_step_host_s_is_refused_naming_the_workload(entry, message):
    from sim.sweep.expr import SweepSpecError
    from sim.sweep.spec import parse_sweep_spec

    with pytest.raises(SweepSpecError) as caught:
        parse_sweep_spec(SWEEP.replace("stack: vllm}", entry, 1))
    assert message in str(caught.value)


def test_step_host_s_enters_the_hash_only_when_given():
    from sim.sweep.spec import parse_sweep_spec

    plain = parse_sweep_spec(SWEEP)
    faster = parse_sweep_spec(SWEEP.replace("stack: vllm}", "stack: vllm, step_host_s: 0.0005}", 1))
    assert faster.hash != plain.hash
    assert all("step_host_s" not in workload.normalized() for workload in plain.workloads)
    assert faster.workloads[0].normalized()["step_host_s"] == 0.0005


def test_tensorrt_llm_09_runs_a_mixtrals_fp8_engine_with_16_bit_experts_in_grouped_ampere_gemms():
    # TensorRT-LLM 0.8-0.9's FP8 quantization swaps linear layers for FP8 ones and leaves the MoE
    # layer's own expert weights in fp16 (quantize.py, moe.py at 71d8d4d3); its MoE plugin runs the
    # 8 experts' gate and up projections as one CUTLASS sm80 grouped GEMM and their down projection
    # as another. A 128-token prefill on the H100: the grouped gate+up reads 2 x 8 x 4096 x 14336
    # fp16 weights (1879 MB) and the experts' 32 rows each of fp16 input (2.1 MB); q/k/v stay fp8
    # (4096 x 6144 bytes = 25.2 MB)
    fp8 = ["--hw", "h100_sxm", "--model", "mixtral-8x7b", "--seq", "128", "--weights", "fp8",
           "--gemm-activations", "fp8", "--kv", "fp8"]
    rows = _rows(*fp8, "--stack", "tensorrt_llm_xqa").set_index("layer")
    experts = rows[rows["mapping"].fillna("").str.startswith("trtllm_moe_sm80")]
    assert experts["count"].sum() == 2 * 32  # gate+up and down, grouped, in each of the 32 layers
    weights = 2 * 8 * 4096 * 14336 * 2
    assert weights <= rows.loc["linear_43_x8_x2", "dram_read_bytes"] <= weights + 8 * 32 * 4096 * 2 + 2**20
    assert rows.loc["linear_15_x3", "dram_read_bytes"] == pytest.approx(4096 * 6144, rel=0.05)
    # without the stack the same command quantizes the experts and runs them as traced, one GEMM
    # per expert and projection, on the preset's kernel: expert 0's gate reads 4096 x 14336 bytes
    plain = _rows(*fp8).set_index("layer")
    assert not plain["mapping"].fillna("").str.startswith("trtllm_moe_sm80").any()
    assert plain.loc["linear_43", "dram_read_bytes"] == pytest.approx(4096 * 14336, rel=0.01)
    # --moe given beats the stack's: each expert's GEMMs of its own, still the stack's kernel
    eager = _rows(*fp8, "--stack", "tensorrt_llm_xqa", "--moe", "eager").set_index("layer")
    per_expert = eager[eager["mapping"].fillna("").str.startswith("trtllm_moe_sm80")]
    assert per_expert["count"].sum() == 2 * 8 * 32
    # its weight-only modes do quantize the experts, and run them on their own mixed-input kernel
    # (the preset's here), not the fp16 one: int4 weights and their group scales, 4x fewer bytes
    int4 = _rows(*fp8[:6], "--weights", "int4", "--stack", "tensorrt_llm_xqa").set_index("layer")
    assert not int4["mapping"].fillna("").str.startswith("trtllm_moe_sm80").any()
    assert int4.loc["linear_43_x8_x2", "dram_read_bytes"] < weights / 3
    # vLLM's fused_experts groups them too (w13 and w2), in the weights' own dtype, on the preset's kernel
    vllm = _rows(*fp8, "--stack", "vllm").set_index("layer")
    assert vllm.loc["linear_43_x8_x2", "dram_read_bytes"] == pytest.approx(weights / 2, rel=0.01)
    assert not vllm["mapping"].fillna("").str.startswith("trtllm_moe_sm80").any()


def test_an_8_bit_datapath_keeps_the_unquantized_experts_in_16_bits():
    # --activations fp8 makes every activation 8-bit; experts left unquantized still multiply in
    # fp16 (their output's dtype is fp8 here, which no 16-bit engine's experts run in)
    from workloads.annotate import with_unquantized_experts
    from workloads.model_graph import load_model_graph
    from workloads.op import Role

    graph = load_model_graph("mixtral-8x7b", phase="prefill", seq=16, weights="fp8", activations="fp8",
                             moe="grouped")
    experts = [op for op in with_unquantized_experts(graph).ops if ".experts.*." in op.module]
    assert experts and all(
        op.operand(Role.WEIGHT).dtype.value == "fp16" and op.operand(Role.INPUT).dtype.value == "fp16"
        for op in experts if op.kind.name == "GEMM"
    )


def test_a_stack_runs_its_moe_in_a_sweep_as_on_the_command_line_and_a_dense_models_hash_keeps():
    # a sweep's stack workload traces a Mixtral with the stack's grouped MoE (unless it gives moe),
    # and leaves the spec's hash alone: a dense model's results do not depend on it
    from sim.sweep.spec import parse_sweep_spec

    spec = """
name: moe_stack
hardware: h100_sxm
axes: {achievable_dram_bytes_per_s: [3.0e12]}
workloads:
  - {name: mixtral, model: mixtral-8x7b, phase: prefill, seq: 64, stack: tensorrt_llm_xqa}
  - {name: eager, model: mixtral-8x7b, phase: prefill, seq: 64, stack: tensorrt_llm_xqa, moe: eager}
fidelity: cycle
"""
    grouped, eager = parse_sweep_spec(spec).workloads
    assert "moe" not in dict(grouped.args)
    assert any(".experts.*." in op.module for op in grouped.trace().ops)
    assert not any(".experts.*." in op.module for op in eager.trace().ops)
