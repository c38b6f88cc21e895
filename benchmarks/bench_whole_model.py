"""Whole-model steps against published end-to-end figures.

Reads `reference_kernels/data/published_models.csv` (gpt-fast's Llama-2-7B decode on a 330 W
A100-80GB; TensorRT-LLM v0.5's LLaMA-7B first-token latency on the A100, H100 and L40S), simulates
each row's step as the row says the software ran it (`--fusion serving`, CUDA graphs or not, the
preset's overrides) and prints measured vs simulated, the error, and the same step simulated eager
(every traced op its own kernel, launched one by one) to show what the kernel policy is worth.

    .venv/bin/python benchmarks/bench_whole_model.py [--markdown]
"""

from __future__ import annotations

import argparse

import pandas as pd
from bench_gpu_measured import _cell, markdown  # this folder's scripts run with it on sys.path

from reference_kernels.published_models import published_model_steps
from sim.measured.published_models import simulate_step


def whole_model_table() -> pd.DataFrame:
    rows = []
    for _, row in published_model_steps().iterrows():
        simulated = simulate_step(row)
        eager = row.copy()
        eager["fusion"], eager["cuda_graphs"] = "eager", 0
        eager_s = simulate_step(eager)
        decode = row["phase"] == "decode"
        what = row["phase"] + (f" ctx {int(row['context'])}" if decode else f" {int(row['seq'])} tok")
        rows.append(
            {
                "gpu": row["gpu"],
                "source": row["source"].split(" ")[0],
                "step": what,
                "weights": row["weights"]
                + (f" g{row['group_size']:.0f}" if pd.notna(row["group_size"]) else ""),
                "kernels": row["fusion"] + (" + CUDA graphs" if int(row["cuda_graphs"]) else ""),
                "measured_ms": row["measured_s"] * 1e3,
                "simulated_ms": simulated * 1e3,
                "error_%": (simulated / row["measured_s"] - 1) * 100,
                "eager_ms": eager_s * 1e3,
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="a Markdown table, for RESULTS.md")
    args = parser.parse_args()
    table = whole_model_table()
    print(markdown(table) if args.markdown else table.to_string(index=False, float_format=_cell))


if __name__ == "__main__":
    main()
