"""The simulator's figure for each published whole-model step
(`reference_kernels/data/published_models.csv`, read by `reference_kernels.published_models`)."""

from __future__ import annotations

import pandas as pd

from workloads.model_graph import INTEGER_MODEL_KEYS, MODEL_KEYS


def graph_arguments(row: pd.Series) -> dict[str, object]:
    """The row's `load_model_graph` keyword arguments: the columns named as a sweep's model entry
    names them (`workloads.model_graph.MODEL_KEYS`), blank cells left at their defaults."""
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
    elif row["fusion"] == "serving":  # a serving engine's native runtime: no eager torch dispatch
        hardware = hardware.with_native_runtime()
    graph = load_model_graph(row["model"], **graph_arguments(row))
    return float(summarize(simulate(graph, hardware), hardware)["latency_s"])
