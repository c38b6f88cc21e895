"""The simulator against published measurements held out of every fit: one error per row, and the
accuracy table per family and GPU (`reference_kernels.published_validation` reads the rows).

Kernel rows run through `compare` on their preset, as `codesign compare` runs a measured file. A
row that gives only the best rate over several square sizes is compared at the size where the
simulator's rate is best (its error is then ``published rate / best simulated rate − 1``, in
latency terms). Whole-model rows are simulated as their `scope` says (`simulate_step`):

* ``prefill``: the prefill of `input_len` tokens per sequence, in the steps the stack's scheduler
  makes of the batch (`prefill_batches`: vLLM's token budget of ``max(max_model_len, 2048)``,
  TensorRT-LLM 0.11's ``max_num_tokens`` of 8192; one step for the others), each step its own;
* ``decode``: the mean of `output_len` decode steps after `input_len` tokens;
* ``generate``: a prefill of `input_len` tokens, then ``output_len − 1`` decode steps (the prefill
  gives the first token), divided by `output_len` (the published throughput is
  ``batch · output_len / total time``).

A stack that decodes a prompt's last token (`decodes_last_prompt_token`, TurboMind v0.1) prefills
``input_len − 1`` tokens and gets the first token from a decode step over the whole prompt
(`Stack.first_token_steps`): its first-token figure is that prefill and that decode step, and a
generation runs `output_len` decode steps after the prefill.

Each step's kernels are launched as the row's stack launches them (CUDA graphs, an eager framework,
a native runtime; a stack that replays graphs for decode only runs its prefill eagerly:
`eager_prefill`), and each step also waits once for the stack's own host work (`step_host_s`:
vLLM's engine loop, `workloads.stacks.VLLM_STEP_HOST_S`).

A row run tensor parallel over `tp` GPUs runs on a system: the NVLink node of its GPU's
generation (`hwmodels.system_loader.nvlink_node`) with `tp` of its GPUs, each in the row's launch
mode, the model split as Megatron-LM splits it and each all-reduce costed on the node's links
(`mappers.placement`, `sim.system_run`, docs/systems.md).

A decode step's time is affine in its context (the K/V read grows linearly; everything else is
fixed), so the mean over the contexts ``c0 … c1`` is the mean of the steps at ``c0`` and ``c1``
(the trapezoid rule, exact for an affine function; a change of attention partition between them
bends it slightly).

The accuracy table's families are `FAMILIES`; each is reported per preset with the row count, the
median and p90 of the absolute error and whether the median is within `TARGET_PCT`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from hwmodels import load_hardware
from hwmodels.loader import apply_overrides
from reference_kernels.published_validation import validation_kernels, validation_steps
from reference_kernels.sources import Split
from sim.engines.gpu.engine import modeled_kernels
from sim.measured.accuracy import TARGET_PCT
from sim.measured.compare import compare, timed_as
from sim.simulate import simulate, summarize
from sim.stack_step import with_stack_module_kernels
from workloads.fusion import MoeMode
from workloads.model_graph import load_model_graph
from workloads.stacks import STACKS, first_token_steps, launch_timing

#: Families of the accuracy table, in print order: the measured format's kernel families, with
#: both weight-only GEMMs as one, and the two whole-model figures.
FAMILIES = {
    "gemm": "GEMM",
    "gemm_fp8": "FP8 GEMM",
    "gemm_w4a16": "weight-only GEMM",
    "gemm_w8a16": "weight-only GEMM",
    "attention_prefill": "attention prefill",
    "attention_decode": "attention decode",
    "model_decode": "whole-model decode",
    "model_prefill": "whole-model prefill",
}
#: Columns of one validated row.
RESULT_COLUMNS = (
    "family", "preset", "source_id", "split", "kernel", "shape", "measured_s", "simulated_s", "error_pct",
    "floor_s",
)  # fmt: skip


def kernel_results(rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every simulable kernel row (`validation_kernels`) beside its simulation (`RESULT_COLUMNS`)."""
    if rows is None:
        rows, _ = validation_kernels()
    rows = _at_best_sizes(rows)
    frames = []
    for preset, group in rows.groupby("preset", sort=True):
        result = compare(group.reset_index(drop=True), load_hardware(preset)).rows
        frames.append(
            pd.DataFrame(
                {
                    "family": result["family"],
                    "preset": preset,
                    "source_id": result["source_id"],
                    "split": result["split"],
                    "kernel": result["kernel"],
                    "shape": result["shape"],
                    "measured_s": result["latency_s"],
                    "simulated_s": result["simulated_latency_s"],
                    "error_pct": result["error_pct"],
                    "floor_s": result["floor_s"],  # `roofline_floor_s`: no row may beat it
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _at_best_sizes(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows giving the best rate over several square sizes, set at the size the simulator runs
    fastest (in FLOP/s), with the latency the published rate gives there."""
    if "best_of_sizes" not in rows:
        return rows
    rows = rows.copy()
    for index, row in rows[rows["best_of_sizes"].notna()].iterrows():
        spec = load_hardware(row["preset"])
        rates = {}
        for size in (int(s) for s in str(row["best_of_sizes"]).split(",")):
            probe = row.copy()
            probe[["M", "N", "K"]] = size
            probe["latency_s"] = 1.0
            simulated = compare(pd.DataFrame([probe]), spec).rows
            rates[size] = 2 * size**3 / float(simulated["simulated_latency_s"].iloc[0])
        best = max(rates, key=rates.__getitem__)
        rows.loc[index, ["M", "N", "K"]] = best
        rows.loc[index, "latency_s"] = 2 * best**3 / (row["best_tflops"] * 1e12)
    return rows


def simulate_step(step: pd.Series, base: object | None = None) -> float:
    """Simulated seconds of one whole-model figure, by its `scope` (module docstring), on its preset
    (or `base`, a variant of it) with the row's overrides."""
    overrides = [o for o in str(step.get("set") or "").split(";") if o]
    spec = apply_overrides(base if base is not None else load_hardware(step["preset"]), overrides)
    launched = _launched(spec, int(step["cuda_graphs"]), int(step["eager_host"]))
    # a stack whose prefill runs eagerly from Python (vLLM: CUDA graphs for decode batches only)
    prefilling = _launched(spec, 0, 1) if int(step.get("eager_prefill") or 0) else launched
    # a stack's weight-only GEMM and attention kernels (the decode's, where the stack picks it by
    # the model's GQA group): their traits, their preset entries if any
    names = ("gemm_kernel", "attention_kernel", "decode_attention_kernel")
    gemm, attention, decode_attention = (str(step.get(name) or "") or None for name in names)
    known = modeled_kernels()
    decoding = launched.with_kernels(gemm=gemm, attention=decode_attention or attention, known=known)
    hardware = prefilling.with_kernels(gemm=gemm, attention=attention, known=known)
    first, steps = int(step["input_len"]) + 1, int(step["output_len"])
    host = float(step.get("step_host_s") or 0.0)  # the engine's own work each step waits for
    if step["scope"] == "decode":
        return _mean_decode_s(step, decoding, first, first + steps - 1) + host
    # the prompt tokens the prefill runs and the decode steps that give the first token: all and
    # none, or all but the last and one for a stack that decodes the last (`first_token_steps`)
    last_decoded = bool(int(step.get("decodes_last_prompt_token") or 0))
    prompt, first_decodes = first_token_steps(int(step["input_len"]), decodes_last_prompt_token=last_decoded)
    first -= first_decodes  # the first decode step's context: the prompt itself where it decodes one
    # the prompts in the prefill steps the stack's scheduler makes of them, each step its own wait
    batches = [int(n) for n in str(step.get("prefill_batches") or step["batch"]).split(";")]
    prefill = 0.0
    if prompt:
        prefill = sum(  # each distinct step simulated once
            batches.count(n) * (_step_s(step, hardware, "prefill", batch=n, seq=prompt) + host)
            for n in sorted(set(batches), reverse=True)
        )
    first_token = step["scope"] == "prefill"
    # the decode steps after the prefill: to the first token, or to the last
    decodes = first_decodes if first_token else steps - 1 + first_decodes
    decode = 0.0
    if decodes:
        decode = decodes * (_mean_decode_s(step, decoding, first, first + decodes - 1) + host)
    return prefill + decode if first_token else (prefill + decode) / steps


def _launched(spec: object, cuda_graphs: int, eager_host: int) -> object:
    """`spec` as a step's kernels are launched, as a measured row's `timing` puts it (`timed_as`):
    replayed from a CUDA graph (``graph``), dispatched one by one by an eager framework on the host
    (``back_to_back``: the spec as it is), or by a native runtime (``events``)."""
    return timed_as(spec, launch_timing(bool(cuda_graphs), bool(eager_host)))


def _mean_decode_s(step: pd.Series, hardware: object, first: int, last: int) -> float:
    """Mean seconds of the decode steps at contexts ``first … last`` (trapezoid rule)."""
    ends = {first, last}
    return float(np.mean([_step_s(step, hardware, "decode", context=c) for c in sorted(ends)]))


def _step_s(
    step: pd.Series, hardware: object, phase: str, batch: int | None = None, **lengths: int
) -> float:
    """Seconds of one step of the row's model (`batch` sequences: the row's unless given)."""
    batch = int(step["batch"]) if batch is None else batch
    tp = int(step.get("tp") or 1)
    if tp > 1:
        return _tensor_parallel_s(step, hardware, tp, phase, batch, lengths)
    graph = _graph(step, phase, batch=batch, **lengths)
    return float(summarize(simulate(graph, hardware), hardware)["latency_s"])


def _tensor_parallel_s(
    step: pd.Series, hardware: object, tp: int, phase: str, batch: int, lengths: dict
) -> float:
    """Seconds of the step on `tp` of the row's GPUs in one NVLink node (`nvlink_node`)."""
    from hwmodels.system_loader import nvlink_node
    from mappers.placement import place, plan_batch, prefill_system
    from sim.system_run import run_system

    system, kv_to = nvlink_node(str(step["preset"]), hardware, tp), ""
    if phase == "prefill":
        system, kv_to = prefill_system(system)
    graph = _graph(step, phase, batch=plan_batch(system, batch), **lengths)
    return float(run_system(place(graph, system, kv_to=kv_to), system).latency_s)


#: Activation dtypes the published stacks run as W8A8, each weight GEMM's input quantized on the
#: way in and the rest in 16 bits (`workloads.annotate`, ``gemm_activations``): the FP8 rows'
#: TensorRT-LLM engines and torchao's float8 dynamic-activation linears (no row has INT8
#: activations).
W8A8_ACTIVATIONS = frozenset({"fp8"})


def _graph(step: pd.Series, phase: str, *, batch: int | None = None, **lengths: int):
    activations = step["activations"] or None
    quantized = activations in W8A8_ACTIVATIONS
    stack_name = "" if _blank(step.get("stack")) else str(step["stack"])
    stack = STACKS.get(stack_name)
    graph = load_model_graph(
        step["model"],
        phase=phase,
        batch=int(step["batch"]) if batch is None else batch,
        weights=step["weights"] or None,
        group_size=None if _blank(step["group_size"]) else int(step["group_size"]),
        activations=None if quantized else activations,
        gemm_activations=activations if quantized else None,
        kv=step["kv"] or None,
        moe=stack.moe if stack else MoeMode.EAGER,
        fusion=step["fusion"],
        **lengths,
    )
    return with_stack_module_kernels(graph, stack_name, step["weights"] or "")


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def step_results(steps: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every simulable whole-model row (`validation_steps`, `reason` empty) beside its simulation."""
    if steps is None:
        steps = validation_steps()
    steps = steps[steps["reason"] == ""]
    records = []
    for _, step in steps.iterrows():
        simulated = simulate_step(step)
        records.append(
            {
                "family": step["family"],
                "preset": step["preset"],
                "source_id": step["source_id"],
                "split": step["split"],
                "kernel": step["stack"],
                "shape": _step_label(step),
                "measured_s": step["latency_s"],
                "simulated_s": simulated,
                "error_pct": 100.0 * (simulated / step["latency_s"] - 1),
                "floor_s": math.nan,  # a kernel row's check (`roofline_floor_s`), not a whole model's
            }
        )
    return pd.DataFrame(records, columns=list(RESULT_COLUMNS))


def _step_label(step: pd.Series) -> str:
    precision = step["weights"] + (f" g{int(step['group_size'])}" if not _blank(step["group_size"]) else "")
    if step["activations"] and step["activations"] != step["weights"]:
        precision += f"/{step['activations']}"
    lengths = f"{int(step['input_len'])}+{int(step['output_len'])}"
    tp = int(step.get("tp") or 1)
    parallel = f" tp{tp}" if tp > 1 else ""
    return f"{step['model']} {step['scope']} b{int(step['batch'])} {lengths} {precision}{parallel}"


def validation_results(*, kernels_only: bool = False) -> pd.DataFrame:
    """Kernel and (unless `kernels_only`) whole-model rows of every split, simulated
    (`RESULT_COLUMNS`)."""
    frames = [kernel_results()] if kernels_only else [kernel_results(), step_results()]
    return pd.concat(frames, ignore_index=True)


def by_source_table(results: pd.DataFrame, split: Split = Split.VALIDATION) -> pd.DataFrame:
    """`accuracy_table`'s cells broken down by source: per family, preset and source, its rows'
    n, median |error| % and median signed error %, so a reader sees which source sets a cell."""
    table = (
        _grouped_rows(results, split)
        .groupby(["group", "preset", "source_id"], sort=False)
        .agg(n=("error_pct", "size"), median_abs_error_pct=("abs_error_pct", "median"),
             median_error_pct=("error_pct", "median"))
        .reset_index()
        .rename(columns={"group": "family", "source_id": "source"})
    )
    return _in_family_order(table, ["preset", "source"])


def kernels_table(results: pd.DataFrame, split: Split = Split.VALIDATION) -> pd.DataFrame:
    """`accuracy_table`'s cells with the kernels (stacks, for whole models) their rows time: per
    family and preset, the names ``;``-joined in sorted order (`kernels`)."""
    kernels = _grouped_rows(results, split).groupby(["group", "preset"])["kernel"]
    joined = kernels.agg(lambda names: ";".join(sorted(set(names)))).rename("kernels").reset_index()
    return joined.rename(columns={"group": "family"})


def _grouped_rows(results: pd.DataFrame, split: Split) -> pd.DataFrame:
    """The rows of `split`, each with its accuracy family (`FAMILIES`: `group`) and |error| %."""
    rows = results[results["split"] == split.value]
    return rows.assign(group=rows["family"].map(FAMILIES), abs_error_pct=rows["error_pct"].abs())


def _in_family_order(table: pd.DataFrame, then: list[str]) -> pd.DataFrame:
    """`table` sorted by family in `FAMILIES`' order, then by `then`."""
    if table.empty:
        return table
    order = list(dict.fromkeys(FAMILIES.values()))
    table = table.assign(order=table["family"].map(order.index))
    return table.sort_values(["order", *then]).drop(columns="order").reset_index(drop=True)


def accuracy_table(results: pd.DataFrame, split: Split = Split.VALIDATION) -> pd.DataFrame:
    """Per family (`FAMILIES`) and preset, over the rows of `split`: n, the median and p90 of
    |error| %, the median signed error %, and whether the median |error| is within `TARGET_PCT`."""
    records = []
    for (group, preset), part in _grouped_rows(results, split).groupby(["group", "preset"], sort=False):
        median = float(part["abs_error_pct"].median())
        records.append(
            {
                "family": group,
                "preset": preset,
                "n": len(part),
                "median_abs_error_pct": median,
                "p90_abs_error_pct": float(part["abs_error_pct"].quantile(0.9)),
                "median_error_pct": float(part["error_pct"].median()),
                "within_target": median <= TARGET_PCT,
            }
        )
    return _in_family_order(pd.DataFrame(records), ["preset"])
