#!/usr/bin/env python3
"""Per-key SASS counts of the MMHA decode kernel's loops, as CSV, from <build>/<variant>.analysis.json
(written by sass_loops.py --auto). Usage: per_key.py BUILD_DIR A B C D E > per_key.csv

A loop body is executed by each of the CTA's 256 threads once per iteration: the K loop covers 64 keys
per iteration (K_LOOP_UNROLL 4 x 256 threads / 16 threads per key), the V loop 128 (V_LOOP_UNROLL 8 x
256 / 16), so thread-instructions per key = instructions per iteration x 256 / keys per iteration. The
softmax passes over shared memory take one logit per thread per iteration: their counts are per key.
"""

import csv
import json
import sys

VARIANTS = {
    "A": ("sm_90", "fp8_e4m3", "paged"),
    "B": ("sm_90", "fp8_e4m3", "contiguous"),
    "C": ("sm_80", "fp16", "paged"),
    "D": ("sm_80", "fp16", "contiguous"),
    "E": ("sm_89", "fp8_e4m3", "paged"),
}
THREADS = 256
KEYS_PER_ITERATION = {"K": 64, "V": 128, "softmax_exp": THREADS, "softmax_norm": THREADS}
CLASSES = ["LDG", "LD", "LDS", "LDC", "ST", "SHFL", "FP32", "MUFU", "CVT", "H2", "INT", "CTRL", "OTHER"]

build, names = sys.argv[1], sys.argv[2:]
out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(
    [
        "variant",
        "arch",
        "kv_cache",
        "kv_layout",
        "loop",
        "instructions_per_iteration",
        "keys_per_iteration",
        "thread_instructions_per_key",
    ]
    + [c.lower() + "_per_key" for c in CLASSES]
)
for name in names:
    with open(f"{build}/{name}.analysis.json") as analysis:
        loops = json.load(analysis)["loops"]
    for loop, keys in KEYS_PER_ITERATION.items():
        body = loops[loop]
        scale = THREADS / keys
        out.writerow(
            [name, *VARIANTS[name], loop, body["n"], keys, f"{body['n'] * scale:g}"]
            + [f"{body['by_class'].get(c, 0) * scale:g}" for c in CLASSES]
        )
