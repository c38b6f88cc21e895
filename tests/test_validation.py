"""The validation table (sim/measured/published_validation.py): published figures of sources no fit
has used, simulated as their sources ran and timed them, and tabulated per family and GPU."""

from __future__ import annotations

import dataclasses
import re

import pandas as pd
import pytest

from hwmodels import load_hardware
from reference_kernels.published_validation import PUBLISHED_VALIDATION, validation_kernels, validation_steps
from reference_kernels.sources import harness, source_registry
from sim.measured import published_validation
from sim.measured.compare import L2_FLUSHES, TIMINGS
from sim.measured.published_validation import (
    FAMILIES,
    TARGET_PCT,
    accuracy_table,
    by_source_table,
    kernel_results,
)
from workloads.kernel_ops import op_for_measurement
from workloads.stacks import STACKS, VLLM_STEP_HOST_S


def test_every_kernel_row_with_a_preset_is_simulated():
    rows, skipped = validation_kernels()
    assert skipped.empty  # every GPU of the kernel rows has a preset (the H100 PCIe's since session 8)
    results = kernel_results(rows)
    assert len(results) == len(rows)
    assert results["simulated_s"].gt(0).all() and results["error_pct"].notna().all()
    # no held-out row beats its GPU's roofline floor (`roofline_floor_s`: its FLOPs at the datasheet
    # peak and top boost clock, its bytes at the datasheet HBM rate where they cannot stay in L2): a
    # figure below it was misread (ms for µs, the wrong GPU). The closest, an H100 PCIe decode
    # attention's 4.24 ms for 8.4 GB of K/V, streams 99% of the 2.0 TB/s datasheet rate
    assert results["floor_s"].notna().all()
    ratio = results["measured_s"] / results["floor_s"]
    assert ratio.min() >= 1.0, results.loc[ratio.idxmin()].to_dict()


def test_best_of_sizes_rows_compare_at_the_simulators_best_size():
    # torch-performance-test-data's database keeps only the best bf16 rate over 1024^3..10240^3: the
    # A100's 264.53 TFLOP/s is compared at the size the model runs fastest, latency 2·s³ / 264.53e12
    results = kernel_results().query("source_id == 'torch_perf_test_data_database'")
    a100 = results[results["preset"] == "a100_80gb_sxm"].iloc[0]
    size = int(a100["shape"].split("x")[0])
    assert size in (1024, 2048, 4096, 8192, 10240)
    assert a100["measured_s"] == pytest.approx(2 * size**3 / 264.53e12)


def test_each_source_is_timed_as_it_says():
    rows = pd.read_csv(PUBLISHED_VALIDATION, dtype=str, keep_default_na=False)
    kernels = rows[~rows["family"].str.startswith("model")]
    # every source of a kernel row states its harness in sources.csv, with the evidence
    registry = source_registry().set_index("source_id")
    for source in set(kernels["source"]):
        assert harness(source).timing in TIMINGS and harness(source).l2_flush in L2_FLUSHES, source
        assert registry.loc[source, "harness_note"], source
    timings = {source: harness(source).timing for source in set(kernels["source"])}
    assert timings["torch_perf_test_data_issues"] == "back_to_back"  # 30 torch.mm between two events
    assert timings["tileops_pr2110_gemm_h200"] == "device"  # CUPTI device time
    assert timings["fa_issue1572_decode_h100"] == "graph"  # use_bench_cudagraph=True
    assert timings["humming_pr2_h100"] == timings["torchao_blockwise_fp8_readme"] == "events"  # do_bench
    assert timings["vllm_pr49363_fp8_gemm_h100"] == "graph"  # do_bench_cudagraph
    flushes = {source: harness(source).l2_flush for source in set(kernels["source"])}
    # do_bench zeroes 256 MB before each call; TileOPs says it clears L2 before every iteration
    assert flushes["humming_pr2_h100"] == flushes["torchao_blockwise_fp8_readme"] == "writes"
    assert flushes["tileops_pr2110_gemm_h200"] == "writes"
    # graph replays and back-to-back loops flush nothing
    assert flushes["vllm_pr49363_fp8_gemm_h100"] == flushes["torch_perf_test_data_issues"] == "none"
    # a source whose harness was read is classed by that, not by the words of its row: the text of
    # TileOPs #2148 states no method, its repository's harness times with CUPTI after a write flush
    assert harness("tileops_pr2148_bmm_h200")[:2] == ("device", "writes")
    # TileOPs' H200 runners lock the SM clock at 1500 MHz (its #1588); a source that says nothing
    # of its clock is simulated at the clock the GPU holds
    assert harness("tileops_pr2132_fp8_decode_h200").sm_clock_mhz == "1500"
    assert harness("humming_pr2_h100").sm_clock_mhz == ""
    # each kernel row is simulated as its source's harness says
    rows, _ = validation_kernels()
    for _, row in rows.iterrows():
        as_run = (row["timing"], row["l2_flush"], row["sm_clock_mhz"])
        assert as_run == harness(row["source_id"]), row["source_id"]


def test_a_generation_is_a_prefill_and_the_decode_steps_over_the_new_tokens(monkeypatch):
    # prefill 10 ms; decode 2 ms at the first context (input + 1) rising to 4 ms at the last
    # (input + output - 1): (10 + 127 · (2 + 4) / 2) / 128 = 3.055 ms per generated token
    def step_s(step, hardware, phase, batch=None, seq=None, context=None):
        if phase == "prefill":
            return 10e-3
        return {2: 2e-3, 128: 4e-3}[context]

    monkeypatch.setattr(published_validation, "_step_s", step_s)
    step = pd.Series(
        {
            "preset": "a100_80gb_sxm",
            "cuda_graphs": 0,
            "eager_host": 0,
            "set": "",
            "scope": "generate",
            "batch": 1,
            "input_len": 1,
            "output_len": 128,
        }
    )
    assert published_validation.simulate_step(step) == pytest.approx((10e-3 + 127 * 3e-3) / 128)
    decode = step.copy()
    decode["scope"], decode["input_len"], decode["output_len"] = "decode", 1, 127
    assert published_validation.simulate_step(decode) == pytest.approx(3e-3)


def test_a_prefill_runs_in_the_steps_its_stacks_scheduler_makes_each_with_its_host_wait(monkeypatch):
    # Argonne's 16 x 1024-token vLLM prefill of Llama-2-7B: 4 steps of 4 prompts (a budget of
    # max(4096, 2048) tokens), each step 100 ms of kernels here and 1.88 ms of host work: 407.52 ms
    batches = []

    def step_s(step, hardware, phase, batch=None, seq=None, context=None):
        batches.append((phase, batch, seq))
        return 0.1

    monkeypatch.setattr(published_validation, "_step_s", step_s)
    steps = validation_steps()
    step = steps[
        (steps["source_id"] == "argonne_llm_inference_bench_ttft")
        & (steps["stack"] == "vllm")
        & (steps["model"] == "llama-2-7b")
    ].iloc[0]
    assert step["prefill_batches"] == "4;4;4;4" and step["batch"] == 16
    assert published_validation.simulate_step(step) == pytest.approx(4 * (0.1 + 1.88e-3))
    assert batches == [("prefill", 4, 1024)]  # four identical steps, simulated once
    # TensorRT-LLM 0.11's engines take 8192 tokens a step: 2 of 8; Mistral under vLLM, one of 16
    by_stack = steps[steps["source_id"] == "argonne_llm_inference_bench_ttft"].set_index(["stack", "model"])
    assert set(by_stack.loc["tensorrt_llm_v011", "prefill_batches"]) == {"8;8"}
    assert by_stack.loc[("vllm", "mistral-7b"), "prefill_batches"].iloc[0] == "16"


def test_a_stack_that_decodes_a_models_group_elsewhere_keeps_its_kernel_for_the_prefill(monkeypatch):
    # TensorRT-LLM v0.8's Mistral-7B: the context phase in the stack's kernel (the preset's
    # default), the decode steps in the masked MHA (XQA has no kernel for its group of 4)
    seen: dict[str, set[str]] = {}

    def step_s(step, hardware, phase, batch=None, seq=None, context=None):
        seen.setdefault(phase, set()).add(hardware.attention_kernel)
        return 1e-3

    monkeypatch.setattr(published_validation, "_step_s", step_s)
    step = pd.Series(
        {
            "preset": "h100_sxm", "cuda_graphs": 0, "eager_host": 0, "set": "", "scope": "generate",
            "batch": 1, "input_len": 128, "output_len": 128, "gemm_kernel": "", "attention_kernel": "",
            "decode_attention_kernel": "trtllm_mmha",
        }
    )  # fmt: skip
    published_validation.simulate_step(step)
    assert seen == {"prefill": {""}, "decode": {"trtllm_mmha"}}


def test_the_accuracy_table_is_per_family_and_gpu_on_validation_rows_only():
    results = pd.DataFrame(
        [
            {"family": "gemm_w4a16", "preset": "h100_sxm", "split": "validation", "error_pct": -20.0},
            {"family": "gemm_w8a16", "preset": "h100_sxm", "split": "validation", "error_pct": 4.0},
            {"family": "gemm_w8a16", "preset": "h100_sxm", "split": "validation", "error_pct": -6.0},
            {"family": "gemm", "preset": "h100_sxm", "split": "calibration", "error_pct": 90.0},
        ]
    )
    table = accuracy_table(results)
    assert list(table["family"]) == ["weight-only GEMM"]  # both weight-only kernels, no calibration row
    row = table.iloc[0]
    assert row["n"] == 3 and row["median_abs_error_pct"] == 6.0 and row["within_target"]
    assert TARGET_PCT == 10 and set(FAMILIES.values()) >= {"GEMM", "FP8 GEMM", "whole-model prefill"}


def test_the_by_source_table_breaks_each_cell_down_by_source():
    # one cell (GEMM on the H100) from two sources: a's rows -20 and +4 (median |err| 12, signed -8),
    # b's one row +30; the calibration row is left out
    cell = {"family": "gemm", "preset": "h100_sxm", "split": "validation"}
    results = pd.DataFrame(
        [
            cell | {"source_id": "a", "error_pct": -20.0},
            cell | {"source_id": "a", "error_pct": 4.0},
            cell | {"source_id": "b", "error_pct": 30.0},
            cell | {"split": "calibration", "source_id": "c", "error_pct": 1.0},
        ]
    )
    table = by_source_table(results).set_index("source")
    assert list(table.index) == ["a", "b"] and set(table["family"]) == {"GEMM"}
    a = table.loc["a"]
    assert (a["n"], a["median_abs_error_pct"], a["median_error_pct"]) == (2, 12.0, -8.0)
    assert (table.loc["b", "n"], table.loc["b", "median_abs_error_pct"]) == (1, 30.0)


def test_whole_model_rows_name_their_stack_and_scope():
    steps = validation_steps().set_index("source_id")
    torchao = steps.loc["torchao_quant_readme_llama"].iloc[0]
    assert (torchao["fusion"], torchao["cuda_graphs"], torchao["eager_host"]) == ("serving", 1, 0)
    awq = steps.loc["autoawq_pr320_a100"].iloc[0]
    assert (awq["fusion"], awq["eager_host"], awq["scope"]) == ("eager", 1, "decode")
    trt = steps.loc["trtllm_perf_v061_peak_throughput"]
    assert set(trt[trt["weights"] == "fp8"]["kv"]) == {"fp8"}  # --fp8_kv_cache, stated for the H100
    assert set(trt[trt["weights"] == "fp16"]["kv"]) == {""}
    # TensorRT-LLM v0.5's decode attention: the masked MHA, one CTA per query head
    assert set(trt["attention_kernel"]) == {"trtllm_mmha"}
    assert set(steps.loc[["autoawq_pr320_a100"], "attention_kernel"]) == {""}
    # vLLM replays CUDA graphs for decode batches only: its prefill steps run eagerly from Python
    argonne = steps.loc["argonne_llm_inference_bench_ttft"]
    vllm = argonne[argonne["stack"] == "vllm"]
    assert len(vllm) == 6 and set(vllm["scope"]) == {"prefill"} and set(vllm["eager_prefill"]) == {1}
    assert STACKS["vllm"].cuda_graphs and STACKS["vllm"].eager_prefill
    # its prefill is the same step as an eager stack's (no graphs, each kernel dispatched by PyTorch)
    prefill = vllm.iloc[0]
    eager = pd.Series({**prefill.to_dict(), "cuda_graphs": 0, "eager_host": 1, "eager_prefill": 0})
    assert published_validation.simulate_step(prefill) == published_validation.simulate_step(eager)
    trt011 = argonne[argonne["stack"] == "tensorrt_llm_v011"]
    assert len(trt011) == 6 and set(trt011["cuda_graphs"]) == set(trt011["eager_host"]) == {0}
    # a whole vLLM generation: the decode steps replayed from CUDA graphs, the prefill eager
    generation = steps.loc["argonne_llm_inference_bench_e2e"].iloc[0]
    assert generation["scope"] == "generate"
    assert generation["cuda_graphs"] == 1 and generation["eager_prefill"] == 1


def test_calibration_vllms_host_time_per_step_reproduces_its_ci_latency_tests():
    # A calibration check: VLLM_STEP_HOST_S (1.88 ms) was solved (benchmarks/solve_gpu_presets.py)
    # as the mean of the host time per step at which vLLM's CI latency tests (Llama-3.1-8B, batch 8,
    # 32 + 128 tokens) take their measured 1579.27 ms on an A100 80GB (2.03 ms) and 997.542 ms on an
    # H100 (1.73 ms); each still comes within 3% with it, and 16.5% and 22.2% fast without it
    steps = validation_steps()
    ci = steps[steps["source_id"] == "vllm_ci_latency_tests"]
    assert len(ci) == 2 and set(ci["split"]) == {"calibration"} and VLLM_STEP_HOST_S == 1.88e-3
    for _, step in ci.iterrows():
        assert step["step_host_s"] == VLLM_STEP_HOST_S
        assert published_validation.simulate_step(step) == pytest.approx(step["latency_s"], rel=0.03)
        bare = published_validation.simulate_step(pd.Series({**step.to_dict(), "step_host_s": 0.0}))
        assert 0.16 < 1 - bare / step["latency_s"] < 0.23


def test_an_engines_host_time_is_paid_once_per_step():
    # a whole generation is a prefill and output_len - 1 decode steps, each waiting for the
    # engine's host work once: over output_len, the host time per step adds to the mean exactly
    steps = validation_steps().set_index("source_id")
    step = steps.loc["argonne_llm_inference_bench_e2e"].iloc[0]
    without = published_validation.simulate_step(pd.Series({**step.to_dict(), "step_host_s": 0.0}))
    with_host = published_validation.simulate_step(pd.Series({**step.to_dict(), "step_host_s": 2e-3}))
    assert with_host == pytest.approx(without + 2e-3, rel=1e-12)
    # stacks that launch from C++ or replay whole steps carry none
    assert STACKS["tensorrt_llm_xqa"].step_host_s == STACKS["torchao"].step_host_s == 0.0


def test_an_eager_prefill_costs_a_generation_its_host_dispatch():
    # vLLM's 128 + 128-token generation of Llama-2-7B on the A100: the prefill's kernels are each
    # dispatched from Python (4.8 us a kernel at least), the 127 decode steps replayed from graphs;
    # the same generation with its prefill in the graph too is faster, by at most the prefill's share
    steps = validation_steps().set_index("source_id")
    step = steps.loc["argonne_llm_inference_bench_e2e"].iloc[0]
    assert (step["model"], step["input_len"], step["output_len"]) == ("llama-2-7b", 128, 128)
    in_graph = step.copy()
    in_graph["eager_prefill"] = 0
    eager = published_validation.simulate_step(step)
    graphed = published_validation.simulate_step(in_graph)
    assert graphed < eager < graphed * 1.05


def test_tensorrt_llm_v08_v09_rows_run_their_decode_kernel_and_fp8_engines_with_fp8_kv():
    steps = validation_steps()
    later = steps[steps["source_id"].str.startswith(("trtllm_perf_v080", "trtllm_perf_v090"))]
    assert len(later) == 192
    # v0.9's GPT-J and Llama-2 engines keep K/V contiguous (--paged_kv_cache disable), the rest the
    # paged default; either way XQA's cubins decode only a group of 8 query heads per K/V head
    # (nqpkv_8): Llama-2-70B (64 / 8) decodes in XQA, the MHA models (1) and Mistral-7B and Mixtral
    # (32 / 8 = 4) in the masked MHA on their cache; the prefill keeps the stack's kernel
    contiguous = later["source_id"].str.startswith("trtllm_perf_v090") & later["model"].isin(
        ["gpt-j-6b", "llama-2-7b", "llama-2-70b"])
    assert set(later[contiguous]["stack"]) == {"tensorrt_llm_contiguous_kv"} and contiguous.sum() == 60
    assert set(later[contiguous]["attention_kernel"]) == {"trtllm_mmha"}
    assert set(later[~contiguous]["stack"]) == {"tensorrt_llm_xqa"}
    assert set(later[~contiguous]["attention_kernel"]) == {""}
    group_of_8 = later["model"] == "llama-2-70b"
    assert group_of_8.sum() > 0 and set(later[group_of_8]["decode_attention_kernel"]) == {"trtllm_xqa"}
    assert set(later[~group_of_8 & contiguous]["decode_attention_kernel"]) == {"trtllm_mmha"}
    assert set(later[~group_of_8 & ~contiguous]["decode_attention_kernel"]) == {"trtllm_mmha_paged"}
    fp8 = later[later["weights"] == "fp8"]
    assert set(fp8["kv"]) == {"fp8"} and set(later[later["weights"] == "fp16"]["kv"]) == {""}
    assert set(later.loc[later["preset"] == "a100_80gb_sxm", "weights"]) == {"fp16"}


def test_the_h200_launch_blogs_batches_leave_no_room_for_a_16_bit_kv_cache():
    # "Largest batch supported on given TP configuration by power of 2", one 141 GB H200: Llama-2-13B
    # holds 2 x 40 layers x 5120 x 2 B = 819,200 B of fp16 K/V per token; batch 1024 at 128 + 128
    # tokens needs 1024 x 256 x 819,200 B = 214.7 GB, batch 128 at 128 + 2048 needs 228.2 GB
    from hwmodels import load_hardware
    from workloads.zoo.configs import LLAMA_CONFIGS

    config = LLAMA_CONFIGS["llama-2-13b"]
    per_token = 2 * config.layers * config.kv_heads * (config.dim // config.heads) * 2
    assert per_token == 819_200
    memory = load_hardware("h200").dram_capacity_bytes
    assert 1024 * 256 * per_token > memory and 128 * 2176 * per_token > memory
    assert 1024 * 256 * per_token / 2 + 13e9 < memory  # in 8 bits, beside 13 GB of FP8 weights
    steps = validation_steps().set_index("source_id").loc["trtllm_h200_launch_blog"]
    assert set(steps["kv"]) == {"fp8"}


def test_a_tensor_parallel_figure_runs_on_its_gpus_node_as_the_cli_runs_it():
    # lmdeploy's LLaMA-2-70B over 4 A100s: the row's steps run on the node preset with 4 of its GPUs
    # in the row's launch mode (TurboMind launches from C++: the native runtime), the same steps
    # `codesign simulate --system system_8xa100_nvlink --set gpus.count=4` runs: TurboMind v0.1's
    # first token is the prefill of the prompt but its last token, then a decode step over all
    # 2048 (`Stack.decodes_last_prompt_token`)
    from hwmodels import load_hardware
    from hwmodels.system_loader import load_system
    from mappers.placement import place
    from sim.system_run import run_system
    from workloads.model_graph import load_model_graph

    steps = validation_steps()
    tp = steps[(steps["tp"] == 4) & (steps["scope"] == "prefill") & (steps["input_len"] == 2048)].iloc[0]
    assert tp["reason"] == "" and tp["preset"] == "a100_80gb_sxm" and not tp["eager_host"]
    system = load_system("system_8xa100_nvlink", ["gpus.count=4"])
    group = system.groups["gpus"]
    native = dataclasses.replace(group, device=load_hardware("a100_80gb_sxm").with_native_runtime())
    system = dataclasses.replace(system, groups={"gpus": native})
    precision = dict(weights="fp16", activations="fp16", fusion="serving", batch=1)
    assert tp["decodes_last_prompt_token"] == 1
    prefill = load_model_graph("llama-2-70b", phase="prefill", seq=2047, **precision)
    decode = load_model_graph("llama-2-70b", phase="decode", context=2048, **precision)
    expected = sum(run_system(place(graph, system), system).latency_s for graph in (prefill, decode))
    assert published_validation.simulate_step(tp) == pytest.approx(expected)
    # four GPUs share the work but pay the all-reduces: between a quarter of one GPU's step and it
    one = tp.copy()
    one["tp"] = 1
    single = published_validation.simulate_step(one)
    assert single / 4 < expected < single


def test_sglangs_fp8_gemm_files_are_copied_whole_and_their_rows_are_their_lines(monkeypatch):
    # source 46: each GPU's results file copied from the code index page by page. Its own redundancy
    # checks the copy: each kernel's TFLOP/s is 2·M·N·K over its time, e.g. the H20's last line's
    # DeepGEMM 2 · 8192 · 17408 · 5120 / 6.0789e-3 s (M = 8192, N = 17408, K = 5120) = 240.2 TFLOP/s
    monkeypatch.syspath_prepend(str(PUBLISHED_VALIDATION.parents[2] / "benchmarks" / "sglang_fp8_gemm"))
    import make_rows

    rows = pd.read_csv(PUBLISHED_VALIDATION, dtype=str, keep_default_na=False)
    for run in make_rows.RUNS:
        published = pd.read_csv(make_rows.HERE / run.folder / make_rows.RESULTS)
        assert len(published) == 575 == 25 * 23, run.folder  # 25 (N, K) pairs at 23 values of M
        assert not published.duplicated(["M", "N", "K"]).any()
        flops = 2 * published["M"] * published["N"] * published["K"]
        for column in ("tilelang_ms", *run.kernels):
            kernel = column.removesuffix("_ms")
            rate = flops / (published[column] * 1e-3) / 1e12
            assert rate.to_numpy() == pytest.approx(published[f"{kernel}_tflops"].to_numpy(), rel=1e-9)
        # the validation file holds exactly the script's rows: each kept kernel's time of each line
        ours = rows[rows["source"] == run.source_id].reset_index(drop=True)
        made = pd.DataFrame(make_rows.rows(run)).reindex(columns=rows.columns, fill_value="")
        pd.testing.assert_frame_equal(ours, made)
        assert len(ours) == len(run.kernels) * 575 and harness(run.source_id)[:2] == ("graph", "none")


def test_sglang_launches_its_tuned_h20_files_and_elsewhere_its_default(monkeypatch):
    # the model's table of sglang's tuned configurations is the copied JSON files, entry for entry
    # (25 (N, K) pairs x 23 values of M), and the RTX 4090 run's log warns of the default for each of
    # its 25 pairs: "Using default W8A8 Block FP8 kernel config" (benchmark_log_notices.txt)
    monkeypatch.syspath_prepend(str(PUBLISHED_VALIDATION.parents[2] / "benchmarks" / "sglang_fp8_gemm"))
    import make_rows

    from mappers.gpu_gemm import SGLANG_BLOCK_FP8_CONFIGS, gemm_problem, sglang_block_fp8_launch

    shipped = pd.read_csv(SGLANG_BLOCK_FP8_CONFIGS)
    pd.testing.assert_frame_equal(shipped, make_rows.tuned_configs().reset_index(drop=True))
    assert len(shipped) == 575 and shipped["file"].nunique() == 25
    notices = (make_rows.HERE / "rtx4090" / "benchmark_log_notices.txt").read_text()
    warned = set(re.findall(r"N=(\d+),K=(\d+),device_name=NVIDIA_GeForce_RTX_4090", notices))
    ran = pd.read_csv(make_rows.HERE / "rtx4090" / make_rows.RESULTS)
    assert warned == {(str(n), str(k)) for n, k in zip(ran["N"], ran["K"], strict=True)} and len(warned) == 25
    # M = 1 of 512 x 1024: the H20's file says 64 x 128, 3 stages, 4 warps; M = 2 16 x 32, 2 stages;
    # M = 10 takes the entry of the nearest M key, 8 or 12 (the smaller on the tie: 8)
    row = dict(a_dtype="fp8", b_dtype="fp8", group_size=128, kernel="w8a8_block_fp8_triton_sglang")
    h20, ada = load_hardware("h20"), load_hardware("rtx_4090")

    def launched(m, n, k, spec):
        tile = sglang_block_fp8_launch(gemm_problem(op_for_measurement(dict(family="gemm_fp8", M=m, N=n, K=k,
                                                                            **row))), spec)
        return tile.block_m, tile.block_n, tile.block_k, tile.stages, tile.warps

    h20_512 = shipped[(shipped["n"] == 512) & (shipped["k"] == 1024)].set_index("m")
    for m in (1, 2, 8):
        entry = h20_512.loc[m, ["block_m", "block_n", "block_k", "stages", "warps"]]
        assert launched(m, 512, 1024, h20) == tuple(entry)
    assert launched(10, 512, 1024, h20) == launched(8, 512, 1024, h20)
    # no file for the card, or none for the shape: sglang's default, 64 x 128 x 128, 3 stages, 4 warps
    assert launched(2, 512, 1024, ada) == (64, 128, 128, 3, 4) == launched(2, 1000, 1024, h20)


def test_vllm_launches_its_tuned_h100_file_and_elsewhere_its_default(monkeypatch):
    # vLLM's w8a8_block_fp8_matmul reads the tuned file for the GPU and (N, K) and takes the entry of
    # the M key nearest the call's (fp8_utils.py); the model's table is the copied file, entry for
    # entry: vLLM PR #23280's DeepSeek-V3 shape N = 2112, K = 7168 on an H100 SXM, 18 values of M,
    # and the file is the code index's whole text (3251 characters, tuned_configs/SOURCES.txt)
    monkeypatch.syspath_prepend(str(PUBLISHED_VALIDATION.parents[2] / "benchmarks" / "vllm_block_fp8"))
    import make_configs

    from mappers.gpu_gemm import VLLM_BLOCK_FP8_CONFIGS, gemm_problem, vllm_block_fp8_launch

    shipped = pd.read_csv(VLLM_BLOCK_FP8_CONFIGS)
    pd.testing.assert_frame_equal(shipped, make_configs.tuned_configs().reset_index(drop=True))
    (path,) = make_configs.TUNED.glob("N=*.json")
    assert len(path.read_text()) == 3251 and len(shipped) == 18
    row = dict(a_dtype="fp8", b_dtype="fp8", group_size=128, kernel="w8a8_block_fp8_triton_vllm")
    h100, h200 = load_hardware("h100_sxm"), load_hardware("h200")

    def launched(m, n, k, spec):
        problem = gemm_problem(op_for_measurement(dict(family="gemm_fp8", M=m, N=n, K=k, **row)))
        tile = vllm_block_fp8_launch(problem, spec)
        return tile.block_m, tile.block_n, tile.block_k, tile.stages, tile.warps, tile.split_k

    # the file's "512": 128 x 64 x 128, 5 stages, 4 warps; "1024": 256 x 64, 5 stages, 8 warps;
    # M = 8192 is nearest the last key, 4096 (128 x 64, 4 stages); M = 1280 is as near 1024 as 1536
    # and takes the smaller; never a split of K
    assert launched(512, 2112, 7168, h100) == (128, 64, 128, 5, 4, 1)
    assert launched(1024, 2112, 7168, h100) == (256, 64, 128, 5, 8, 1) == launched(1280, 2112, 7168, h100)
    assert launched(8192, 2112, 7168, h100) == (128, 64, 128, 4, 4, 1) == launched(4096, 2112, 7168, h100)
    # no file for the shape or for the card: vLLM's default, 64 x 128 x 128, 2 stages, 4 warps
    assert launched(512, 4096, 4096, h100) == (64, 128, 128, 2, 4, 1) == launched(512, 2112, 7168, h200)
    # the validation rows run it: their kernel cell names vLLM's launch
    rows = pd.read_csv(PUBLISHED_VALIDATION, dtype=str, keep_default_na=False)
    vllm = rows[rows["kernel"].str.startswith("w8a8_block_fp8_triton_vllm ")]
    assert len(vllm) == 10 and set(vllm["source"]) == {"vllm_pr23280_block_fp8_h100"}
