"""Speed of whole-model simulation: one LLM decode step (or prefill) traced once, then simulated on
each systolic preset. Target (issue 3): a whole LLaMA-2-7B decode step in under 1 s.

    python benchmarks/bench_simulate_model.py [--model llama-2-7b] [--context 1024]
"""

from __future__ import annotations

import argparse
import statistics
import time

from hwmodels import list_presets, load_hardware
from sim.simulate import simulate, summarize
from workloads import CodesignError, load_model_graph

REPEATS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="llama-2-7b")
    parser.add_argument("--context", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()

    start = time.perf_counter()
    graph = load_model_graph(args.model, phase="decode", context=args.context, batch=args.batch)
    trace_s = time.perf_counter() - start
    print(f"{args.model} decode, context {args.context}, batch {args.batch}: {len(graph.ops)} ops, "
          f"traced in {trace_s:.2f} s")
    print(f"{'preset':<20}{'first_s':>9}{'median_s':>10}{'rows':>6}{'latency_ms':>12}{'tokens/s':>10}")
    for name in list_presets():
        hardware = load_hardware(name)
        start = time.perf_counter()
        try:
            results = simulate(graph, hardware)
        except CodesignError as error:  # e.g. an int8-only array given fp16 weights
            print(f"{name:<20} skipped: {error}")
            continue
        first = time.perf_counter() - start
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            results = simulate(graph, hardware)
            times.append(time.perf_counter() - start)
        latency = summarize(results, hardware)["latency_s"]
        print(f"{name:<20}{first:>9.3f}{statistics.median(times):>10.3f}{len(results):>6}"
              f"{latency * 1e3:>12.2f}{args.batch / latency:>10.1f}")


if __name__ == "__main__":
    main()
