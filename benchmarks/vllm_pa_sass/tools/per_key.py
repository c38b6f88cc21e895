#!/usr/bin/env python3
"""Per-key SASS counts of vLLM 0.6.4's paged_attention_v1_kernel loops, as CSV, from
<build>/<variant>.analysis.json (written by sass_loops.py --auto). Usage: per_key.py BUILD_DIR A B C

A CTA is NUM_THREADS 128 = 4 warps. In the QK and PV loops each warp takes U blocks of BLOCK_SIZE 16
tokens per iteration (U read from the loop-counter increments: block_idx += 4·U, the token index +=
64·U), so one iteration of the CTA's 128 threads covers 64·U keys and thread-instructions per key =
n · 128 / (64·U). Counts are the hot path (a non-last block: the PV loop's last-block NaN-zeroing
regions left out). The softmax passes over shared memory take one logit per thread per source
iteration; the compiler emits an unrolled main loop (its STS count = logits per thread-iteration) and
a 1-logit remainder loop, so thread-instructions per key = n / STS.
"""

import csv
import json
import sys

VARIANTS = {
    "A": ("sm_90", "fp16", "fp16 (auto)"),
    "B": ("sm_90", "fp16", "fp8 e4m3"),
    "C": ("sm_80", "fp16", "fp16 (auto)"),
}
THREADS, BLOCK_SIZE, NUM_WARPS = 128, 16, 4
CLASSES = [
    "LDG",
    "LD",
    "LDS",
    "LDC",
    "ST",
    "SHFL",
    "FP32",
    "FCMP",
    "MUFU",
    "CVT",
    "H2",
    "INT",
    "CTRL",
    "OTHER",
]
LOOPS = ["QK", "PV", "softmax_exp", "softmax_exp_remainder", "softmax_norm", "softmax_norm_remainder"]

build, names = sys.argv[1], sys.argv[2:]
out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(
    [
        "variant",
        "arch",
        "q_dtype",
        "kv_cache",
        "loop",
        "instructions_per_iteration",
        "instructions_incl_last_block_code",
        "keys_per_iteration_cta",
        "thread_instructions_per_key",
    ]
    + [c.lower() + "_per_key" for c in CLASSES]
)
for name in names:
    with open(f"{build}/{name}.analysis.json") as analysis:
        loops = json.load(analysis)["loops"]
    for loop in LOOPS:
        body = loops[loop]
        if loop in ("QK", "PV"):
            u = body["blocks_per_warp_per_iteration"]
            assert u, f"{name} {loop}: loop-counter increments not recognised"
            keys = NUM_WARPS * BLOCK_SIZE * u  # per CTA iteration
            scale = THREADS / keys
        else:
            keys = THREADS * body["n_sts"]  # logits per CTA iteration
            scale = 1 / body["n_sts"]
        out.writerow(
            [name, *VARIANTS[name], loop, body["n"], body["n_full"], keys, f"{body['n'] * scale:g}"]
            + [f"{body['by_class'].get(c, 0) * scale:g}" for c in CLASSES]
        )
