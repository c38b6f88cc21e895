"""Systems of devices against Lamina's figures and published tensor-parallel runs, and their speed.

    .venv/bin/python benchmarks/bench_systems.py [--only speed,lamina,bandwidth,eager,tp] [--markdown]

* ``speed``: a LLaMA3-70B decode step (batch 64, context 4096) on 8 H100s (TP8), placed, costed
  and scheduled, cold (first engine calls) and warm (trace cached); a 1,000-config system sweep
  at roofline fidelity.
* ``lamina``: Lamina's equal-cost pairs (its Table 5: DOP (1, 2) at $20.32/h against 2 H100 at
  $22.12/h for LLaMA-33B; DOP (2, 4) at $40.64/h against 4 H100 at $44.24/h for LLaMA-65B and
  LLaMA3-70B), for each of its traces' mean lengths (its Table 4): the largest batch each fits,
  its time between tokens and its throughput; against "2.39x larger batches on average",
  "16.1-90.1% higher throughput" and "batch 800 for LLaMA3-70B at DOP (2, 4)".
* ``bandwidth``: Lamina's minimum network bandwidth, (2 + 2/G)·e·d·B·L / (α·(MTIME(B) +
  ATIME(B, l))), with MTIME and ATIME our simulated model-device and attention-device times
  (LLaMA3-70B, H100 + H20 at DOP (2, 4), α = 0.2), against "at most 30 GB/s at batch 300".
* ``eager``: time between tokens with and without the eager q send (LLaMA-65B and LLaMA3-70B,
  DOP (2, 4), context 4096, rotation off), against "up to 13.2%" and "up to 3.5%".
* ``tp``: every row of reference_kernels/data/published_systems.csv (LLaMA-2/3-70B at TP 1-8 on
  A100/H100/H200), simulated as the row says it ran, with the error per row. Nothing is
  calibrated on these rows.

Models run as serving engines run them (``--fusion serving``, decode kernels from CUDA graphs).
LLaMA-1's 2,048 positions are lifted where a trace's context is longer (Lamina ran LLaMA-65B on
the Kimi traces' 12k-token prompts); positions change no cost.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from hwmodels.system import Overlap
from hwmodels.system_loader import load_system, nvlink_node
from mappers.placement import place, plan_batch, prefill_system
from sim.serving import LAMINA_TRACES, max_batch, memory_check
from sim.system_run import roofline_cost, run_system
from workloads.model_graph import load_model_graph
from workloads.op import OpGraph

ROOT = Path(__file__).resolve().parent.parent
#: Lamina Table 1 price of an H100 per hour (its Table 5's 2 × H100 = $22.12/h).
LAMINA_H100_USD_PER_HOUR = 11.06
#: Lamina section 3.1: the latency overhead the network may add (α) for its Figure 4.
LAMINA_ALPHA = 0.2
#: Lamina's pairs (Table 5): model, DOP (a, b), and the H100 count of the vLLM (TP) baseline.
LAMINA_PAIRS = (("llama-33b", 1, 2, 2), ("llama-65b", 2, 4, 4), ("llama-3-70b", 2, 4, 4))


def trace(model: str, phase: str, batch: int, length: int, **annotations) -> OpGraph:
    """A zoo model's step as `load_model_graph` gives it (serving fusion), positions lifted to
    `length` where the config has fewer (module docstring)."""
    from workloads.zoo import ZOO

    decode = phase == "decode"
    lifted = length if length > ZOO[model].max_positions else None
    return load_model_graph(
        model,
        phase=phase,
        batch=batch,
        seq=None if decode else length,
        context=length if decode else None,
        fusion="serving",
        max_positions=lifted,
        **annotations,
    )


def graphed(system):
    """Every GPU of `system` replaying its kernels from a CUDA graph, as serving engines decode."""
    return system.with_devices(lambda device: getattr(device, "with_cuda_graphs", lambda: device)())


def step(system, model: str, batch: int, context: int, coster=None, **annotations):
    """A decode step of `batch` sequences at `context`, costed by the devices' engines (or by
    `coster`, e.g. `sim.system_run.roofline_cost`)."""
    micro = plan_batch(system, batch)
    placement = place(trace(model, "decode", micro, context, **annotations), system)
    return run_system(placement, system, **({"coster": coster} if coster else {}))


def attention_bandwidth_use(run) -> float:
    """The attention devices' KV-cache bytes per busy second over their datasheet bandwidth
    (Lamina's "MBU" of attention, its section 2.2.2)."""
    memory = run.placement.memory["memory"]
    device = run.system.groups["memory"].device
    return memory.kv_bytes / run.timeline.busy_s["memory"] / device.dram_bytes_per_s


# speed ------------------------------------------------------------------------------------------


def speed() -> list[str]:
    """The step's parts timed apart: reading its graph (the trace cache), placing it, costing and
    scheduling it; the first time in this process (engines' first calls) and again."""
    system = graphed(load_system("system_8xh100_nvlink"))
    trace("llama-3-70b", "decode", 64, 4096)  # in the trace cache: reading it back is what is timed
    lines = []
    for label in ("first", "again"):
        started = time.perf_counter()
        graph = trace("llama-3-70b", "decode", 64, 4096)
        loaded = time.perf_counter()
        placement = place(graph, system)
        placed = time.perf_counter()
        run = run_system(placement, system)
        done = time.perf_counter()
        lines.append(
            f"LLaMA3-70B decode step (batch 64, context 4096) on 8x H100 TP8, {label}: graph from the trace "
            f"cache {loaded - started:.3f} s, place {placed - loaded:.3f} s, cost + schedule "
            f"{done - placed:.3f} s; in all {done - started:.3f} s (target < 0.5 s); "
            f"{len(placement.tasks)} tasks, step {run.latency_s * 1e3:.2f} ms"
        )
    lines.append(sweep_speed())
    return lines


def sweep_speed() -> str:
    from sim.sweep.system_sweep import load_system_sweep, sweep_system

    text = (
        "name: speed\nsystem: lamina_h100_h20\naxes:\n"
        "  memory.count: [2, 4, 8, 16]\n"
        "  links.nic.bytes_per_s: {logrange: [6.25e9, 5.0e10, 10]}\n"
        "  links.nic.latency_s: [5.0e-6, 1.0e-5, 2.0e-5, 4.0e-5, 8.0e-5]\n"
        "  links.nic.efficiency: [0.71, 0.914]\n"
        "  parallel.overlap: [none, eager_q, rotational]\n"
        "workloads: [{model: llama-3-70b, phase: decode, context: 1260, batch: 256}]\n"
        "fidelity: roofline\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        spec_path = Path(folder) / "speed.yaml"
        spec_path.write_text(text)
        spec = load_system_sweep(spec_path)
        for batch in (128, 256):  # traced before the clock starts, as a sweep's workloads are
            load_model_graph("llama-3-70b", phase="decode", context=1260, batch=batch)
        result = sweep_system(spec, Path(folder) / "out")
    failed = f", {result.failed_rows} failed" if result.failed_rows else ""
    return (
        f"system sweep at roofline fidelity: {result.configs:,} configs in {result.seconds:.1f} s "
        f"({result.configs / result.seconds:,.0f} configs/s{failed}; target 1,000 in < 60 s)"
    )


# Lamina -----------------------------------------------------------------------------------------


def lamina_systems(model: str, a: int, b: int, tp: int):
    lamina = graphed(load_system("lamina_h100_h20", [f"compute.count={a}", f"memory.count={b}"]))
    vllm = graphed(
        load_system(
            "system_8xh100_nvlink",
            [f"gpus.count={tp}", f"gpus.device.price_usd_per_hour={LAMINA_H100_USD_PER_HOUR}"],
        )
    )
    return lamina, vllm


def lamina() -> pd.DataFrame:
    rows = []
    for model, a, b, tp in LAMINA_PAIRS:
        for name, (prompt, generated) in LAMINA_TRACES.items():
            context = max(1, round(prompt + generated / 2))
            row = {"model": model, "trace": name, "context": context}
            for label, system in zip(("lamina", "vllm"), lamina_systems(model, a, b, tp), strict=True):
                batch = max_batch(lambda micro, m=model, c=context: trace(m, "decode", micro, c), system)
                run = step(system, model, batch, context)
                row |= {
                    f"{label}_batch": batch,
                    f"{label}_tbt_ms": run.latency_s * 1e3,
                    f"{label}_tokens_per_s": batch / run.latency_s,
                    f"{label}_usd_per_hour": system.price_usd_per_hour,
                }
                roofline = step(system, model, batch, context, coster=roofline_cost)
                row[f"{label}_roofline_tokens_per_s"] = batch / roofline.latency_s
                if label == "lamina":  # the same batch with the eager q send alone (no rotation)
                    eager = dataclasses.replace(
                        system, parallel=dataclasses.replace(system.parallel, overlap=Overlap.EAGER_Q)
                    )
                    row["lamina_eager_q_tokens_per_s"] = batch / step(eager, model, batch, context).latency_s
                    row["lamina_attention_mbu"] = attention_bandwidth_use(run)
            row["batch_ratio"] = row["lamina_batch"] / row["vllm_batch"]
            row["throughput_gain_%"] = (row["lamina_tokens_per_s"] / row["vllm_tokens_per_s"] - 1) * 100
            best = max(row["lamina_tokens_per_s"], row["lamina_eager_q_tokens_per_s"])
            row["best_overlap_gain_%"] = (best / row["vllm_tokens_per_s"] - 1) * 100
            row["roofline_gain_%"] = (
                row["lamina_roofline_tokens_per_s"] / row["vllm_roofline_tokens_per_s"] - 1
            ) * 100
            rows.append(row)
            print(f"  {model} {name}: batch {row['lamina_batch']} vs {row['vllm_batch']}", file=sys.stderr)
    return pd.DataFrame(rows)


# bandwidth --------------------------------------------------------------------------------------


def bandwidth(batches=(50, 100, 200, 300), contexts=(1260, 4096, 8192)) -> pd.DataFrame:
    """Lamina's formula on our simulated times: MTIME = the model devices' busy time (their ops and
    all-reduces), ATIME = the attention devices' (no overlap, so each is its own time)."""
    system = graphed(load_system("lamina_h100_h20", ["parallel.overlap=none"]))
    d, layers, group, element = 8192, 80, 8, 2  # LLaMA3-70B (Lamina Table 2 / zoo config), FP16
    rows = []
    for context in contexts:
        for batch in batches:
            run = step(system, "llama-3-70b", batch, context)
            busy = run.timeline.busy_s
            model_s = busy["compute"] + busy.get("nvlink:compute", 0.0)
            attention_s = busy["memory"]
            data = (2 + 2 / group) * element * d * batch * layers
            rows.append(
                {
                    "context": context,
                    "batch": batch,
                    "mtime_ms": model_s * 1e3,
                    "atime_ms": attention_s * 1e3,
                    "bytes_per_step_MB": data / 1e6,
                    "min_bandwidth_GB_per_s": data / (LAMINA_ALPHA * (model_s + attention_s)) / 1e9,
                    "per_model_device_GB_per_s": data / (LAMINA_ALPHA * (model_s + attention_s)) / 1e9 / 2,
                }
            )
    return pd.DataFrame(rows)


# eager q send -----------------------------------------------------------------------------------


def eager(context: int = 4096, batches=(16, 32, 64, 128, 256)) -> pd.DataFrame:
    rows = []
    for model in ("llama-65b", "llama-3-70b"):
        base = graphed(load_system("lamina_h100_h20", ["parallel.overlap=none"]))
        fits = max_batch(lambda micro, m=model: trace(m, "decode", micro, context), base)
        for batch in [b for b in batches if b <= fits] or [fits]:
            none = step(base, model, batch, context)
            overlapped = step(
                dataclasses.replace(
                    base, parallel=dataclasses.replace(base.parallel, overlap=Overlap.EAGER_Q)
                ),
                model,
                batch,
                context,
            )
            rows.append(
                {
                    "model": model,
                    "batch": batch,
                    "tbt_none_ms": none.latency_s * 1e3,
                    "tbt_eager_q_ms": overlapped.latency_s * 1e3,
                    "cut_%": (1 - overlapped.latency_s / none.latency_s) * 100,
                }
            )
    return pd.DataFrame(rows)


# tensor parallel against published runs ---------------------------------------------------------


def tp_system(gpu: str, tp: int):
    """`tp` GPUs of preset `gpu` on the NVLink node of their generation
    (`hwmodels.system_loader.nvlink_node`), from CUDA graphs."""
    from hwmodels.loader import load_hardware

    return graphed(nvlink_node(gpu, load_hardware(gpu), tp))


def annotations_of(dtype: str) -> dict[str, str]:
    """FP8 rows ran FP8 weights, each GEMM's input quantized to FP8 (the rest in 16 bits:
    `workloads.annotate`, ``gemm_activations``) and an FP8 KV cache (TensorRT-LLM's --enable_fp8
    --fp8_kv_cache, ModelOpt FP8)."""
    return {"weights": "fp8", "gemm_activations": "fp8", "kv": "fp8"} if dtype == "fp8" else {}


def generation(system, model: str, batch: int, prompt: int, output: int, annotations) -> dict[str, float]:
    """A static batch's generation: its prefill, then output − 1 decode steps at contexts from
    prompt + 1 to prompt + output − 1 (trapezoid over the two ends: a step's time is near linear
    in its context)."""
    prefill_system_, _ = prefill_system(system)
    ttft = run_system(
        place(trace(model, "prefill", batch, prompt, **annotations), prefill_system_), prefill_system_
    ).latency_s
    decode = 0.0
    steps = output - 1
    if steps > 0:
        first = step(system, model, batch, prompt + 1, **annotations).latency_s
        last = (
            step(system, model, batch, prompt + output - 1, **annotations).latency_s if steps > 1 else first
        )
        decode = steps * (first + last) / 2
    return {"ttft_s": ttft, "decode_s": decode, "e2e_s": ttft + decode}


def simulate_published(row: pd.Series, cache: dict) -> tuple[float, str]:
    system = tp_system(row["gpu"], int(row["tp"]))
    model, prompt, output = row["model"], int(row["input_tokens"]), int(row["output_tokens"])
    annotations = annotations_of(row["dtype"])
    note = ""
    if pd.isna(row["batch"]):  # maximum load, in-flight batching: the largest batch that fits
        key = ("max", row["gpu"], row["tp"], model, prompt, output, row["dtype"])
        if key not in cache:
            cache[key] = max_batch(
                lambda b: trace(model, "decode", b, prompt + output, **annotations), system
            )
        batch, note = cache[key], f"batch max {cache[key]}"
    else:
        batch = int(row["batch"])
    metric = row["metric"]
    if metric in ("tbt_s", "tbt_s_p50"):
        value = step(system, model, batch, prompt + max(1, output // 2), **annotations).latency_s
    else:
        key = ("gen", row["gpu"], row["tp"], model, batch, prompt, output, row["dtype"])
        if key not in cache:
            cache[key] = generation(system, model, batch, prompt, output, annotations)
        run = cache[key]
        value = {
            "ttft_s": run["ttft_s"],
            "e2e_s": run["e2e_s"],
            "tokens_per_s": batch * output / run["e2e_s"],
            "tokens_per_s_per_gpu": batch * output / run["e2e_s"] / int(row["tp"]),
        }[metric]
    decode_micro = trace(model, "decode", batch, prompt + output, **annotations)
    if not all(use.fits for use in memory_check(place(decode_micro, system), system)):
        note = (note + "; " if note else "") + "does not fit our memory model"
    return value, note


def tp(limit: int = 0) -> pd.DataFrame:
    data = pd.read_csv(ROOT / "reference_kernels" / "data" / "published_systems.csv")
    if limit:
        data = data.head(limit)
    cache: dict = {}
    rows = []
    for _, row in data.iterrows():
        lengths = not (pd.isna(row["input_tokens"]) or pd.isna(row["output_tokens"]))
        try:
            value, note = simulate_published(row, cache) if lengths else (math.nan, "lengths not stated")
        except Exception as error:  # noqa: BLE001 — a row we cannot run is reported, not fatal
            value, note = math.nan, f"{type(error).__name__}: {error}"
        rows.append(
            {
                "source": row["source"],
                "gpu": row["gpu"],
                "tp": int(row["tp"]),
                "batch": "" if pd.isna(row["batch"]) else int(row["batch"]),
                "in/out": f"{row['input_tokens']:.0f}/{row['output_tokens']:.0f}" if lengths else "",
                "dtype": row["dtype"],
                "metric": row["metric"],
                "published": row["value"],
                "simulated": value,
                "error_%": (value / row["value"] - 1) * 100 if value == value else math.nan,
                "note": note,
            }
        )
        print(f"  {rows[-1]['source']} {rows[-1]['metric']}: {rows[-1]['error_%']:+.1f}%", file=sys.stderr)
        pd.DataFrame(rows).to_csv(Path(tempfile.gettempdir()) / "bench_systems_tp.csv", index=False)
    return pd.DataFrame(rows)


def _print(frame: pd.DataFrame, markdown: bool) -> None:
    from bench_gpu_measured import markdown as as_markdown  # this folder's scripts run with it on sys.path

    print(as_markdown(frame) if markdown else frame.to_string(index=False), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="speed,lamina,bandwidth,eager,tp")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--tp-rows", type=int, default=0, help="the first N published rows only")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if "speed" in parts:
        print("\n".join(speed()))
    if "lamina" in parts:
        table = lamina()
        table.to_csv(Path(tempfile.gettempdir()) / "bench_systems_lamina.csv", index=False)
        _print(table, args.markdown)
        print(
            f"mean batch ratio {table['batch_ratio'].mean():.2f}x (Lamina: 2.39x); throughput gain "
            f"{table['throughput_gain_%'].min():+.1f}% to {table['throughput_gain_%'].max():+.1f}% "
            f"(the better overlap: {table['best_overlap_gain_%'].min():+.1f}% to "
            f"{table['best_overlap_gain_%'].max():+.1f}%; at roofline fidelity "
            f"{table['roofline_gain_%'].min():+.1f}% to {table['roofline_gain_%'].max():+.1f}%; "
            "Lamina: +16.1% to +90.1%)"
        )
    if "bandwidth" in parts:
        _print(bandwidth(), args.markdown)
    if "eager" in parts:
        table = eager()
        _print(table, args.markdown)
        for model, group in table.groupby("model"):
            print(f"{model}: largest TBT cut of the eager q send {group['cut_%'].max():.1f}%")
    if "tp" in parts:
        table = tp(args.tp_rows)
        _print(table, args.markdown)
        errors = table["error_%"].dropna().abs()
        if len(errors):
            print(
                f"{len(errors)} rows: median |error| {statistics.median(errors):.1f}%, "
                f"p90 {errors.quantile(0.9):.1f}%, within 20%: {(errors <= 20).mean():.0%}"
            )


if __name__ == "__main__":
    main()
