"""Whole-model steps against published end-to-end figures.

Reads `reference_kernels/data/published_models.csv` (gpt-fast's Llama-2-7B decode on a 330 W
A100-80GB; TensorRT-LLM v0.5's LLaMA-7B first-token latency on the A100, H100 and L40S), simulates
each row's step as the row says the software ran it (`--fusion serving`, CUDA graphs or not, the
weight-only kernel a torch.compile stack runs, the preset's overrides; the one step simulator the
validation table uses, `sim.measured.published_validation.simulate_step`) and prints measured vs
simulated, the error, and the same step simulated eager (every traced op its own kernel, dispatched
one by one from eager PyTorch) to show what the kernel policy is worth.

    .venv/bin/python benchmarks/bench_whole_model.py [--markdown]
"""

from __future__ import annotations

import argparse

import pandas as pd
from bench_gpu_measured import _cell, markdown  # this folder's scripts run with it on sys.path

from reference_kernels.published_validation import published_model_step_rows
from sim.measured.published_validation import simulate_step


def whole_model_table() -> pd.DataFrame:
    rows = []
    for _, step in published_model_step_rows().iterrows():
        simulated = simulate_step(step)
        eager = step.copy()
        eager["fusion"], eager["cuda_graphs"], eager["eager_host"] = "eager", 0, 1
        eager_s = simulate_step(eager)
        tokens = int(step["input_len"])
        what = step["scope"] + (f" ctx {tokens + 1}" if step["scope"] == "decode" else f" {tokens} tok")
        group = step["group_size"]
        rows.append(
            {
                "gpu": step["gpu"],
                "source": step["source_id"],
                "split": step["split"],
                "step": what,
                "weights": step["weights"] + (f" g{group:.0f}" if pd.notna(group) else ""),
                "kernels": step["fusion"] + (" + CUDA graphs" if int(step["cuda_graphs"]) else "")
                + (f", {step['gemm_kernel']}" if step["gemm_kernel"] else ""),
                "measured_ms": step["latency_s"] * 1e3,
                "simulated_ms": simulated * 1e3,
                "error_%": (simulated / step["latency_s"] - 1) * 100,
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
