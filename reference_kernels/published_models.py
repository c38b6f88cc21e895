"""Published whole-model step times, and the simulator's figure for each.

`reference_kernels/data/published_models.csv` holds end-to-end figures other people measured for a
whole model on one GPU (gpt-fast's decode tokens/s, TensorRT-LLM's first-token latency), one per row
with its source, where in the source it is and a verbatim quote, plus how to simulate it: the
preset (and any ``set`` overrides the source justifies), the model and phase arguments of
`workloads.model_graph.load_model_graph`, the kernel policy the software ran (``fusion``,
``cuda_graphs``). Kernel-level figures live in `published_figures.csv` (`reference_kernels.published`).

`published_model_steps` reads the rows with the measured seconds per step: ``tokens_per_s`` at
batch 1 is one token per step, ``1 / value``; ``latency_ms`` is ``value / 1e3``.
`simulate_step` simulates one row's step.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PUBLISHED_MODELS = Path(__file__).parent / "data" / "published_models.csv"


def published_model_steps(path: Path = PUBLISHED_MODELS) -> pd.DataFrame:
    """The rows, with ``measured_s``: the measured seconds of one step."""
    rows = pd.read_csv(path, dtype={"set": str, "weights": str, "activations": str, "kv": str})
    per_step = {"tokens_per_s": lambda r: r["batch"] / r["value"], "latency_ms": lambda r: r["value"] / 1e3}
    unknown = set(rows["metric"]) - set(per_step)
    if unknown:
        raise ValueError(f"{path.name}: metric {sorted(unknown)}: valid: {sorted(per_step)}")
    rows["measured_s"] = [per_step[row["metric"]](row) for _, row in rows.iterrows()]
    return rows


def graph_arguments(row: pd.Series) -> dict[str, object]:
    """The row's `load_model_graph` keyword arguments: the columns named as a sweep's model entry
    names them (`sim.sweep.workloads.MODEL_KEYS`), blank cells left at their defaults."""
    from sim.sweep.workloads import INTEGER_MODEL_KEYS, MODEL_KEYS

    arguments: dict[str, object] = {}
    for name in MODEL_KEYS:
        value = row.get(name)
        if value is None or pd.isna(value) or value == "":
            continue
        arguments[name] = int(value) if name in INTEGER_MODEL_KEYS else str(value)
    return arguments


def simulate_step(row: pd.Series) -> float:
    """The simulated seconds of the row's step on its preset, with its overrides and launch mode."""
    from hwmodels import load_hardware
    from sim.simulate import simulate, summarize
    from workloads.model_graph import load_model_graph

    overrides = [] if pd.isna(row["set"]) or not row["set"] else str(row["set"]).split(";")
    hardware = load_hardware(row["preset"], overrides)
    if int(row["cuda_graphs"]):
        hardware = hardware.with_cuda_graphs()
    graph = load_model_graph(row["model"], **graph_arguments(row))
    return float(summarize(simulate(graph, hardware), hardware)["latency_s"])
