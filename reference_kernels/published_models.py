"""Published whole-model step times.

`reference_kernels/data/published_models.csv` holds end-to-end figures other people measured for a
whole model on one GPU (gpt-fast's decode tokens/s, TensorRT-LLM's first-token latency), one per row
with its source, where in the source it is and a verbatim quote, plus how to simulate it: the
preset (and any ``set`` overrides the source justifies), the model and phase arguments of
`workloads.model_graph.load_model_graph`, the kernel policy the software ran (``fusion``,
``cuda_graphs``). Kernel-level figures live in `published_figures.csv` (`reference_kernels.published`).

`published_model_steps` reads the rows with the measured seconds per step: ``tokens_per_s`` at
batch 1 is one token per step, ``1 / value``; ``latency_ms`` is ``value / 1e3``.
`reference_kernels.published_validation.published_model_step_rows` turns each into the step
description every whole-model figure shares, and `sim.measured.published_validation.simulate_step`
simulates it (one simulator for calibration and validation rows).
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
