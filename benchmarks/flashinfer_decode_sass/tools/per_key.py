#!/usr/bin/env python3
"""Per-key SASS counts of FlashInfer v0.2.4's BatchDecodeWithPagedKVCacheKernel main loop, as CSV, from
<build>/<variant>.analysis.json (sass_loops.py --auto), <variant>.sass (the mangled name: the template
arguments) and <variant>.ptxas.log (registers). Usage: per_key.py BUILD_DIR A B C D E F

Template arguments <pos_encoding_mode, num_stages_smem, tile_size_per_bdx, vec_size, bdx, bdy, bdz, ...>
are read back from the mangled kernel name. A CTA is bdx·bdy·bdz threads; one source iteration of the
loop covers tile_size_per_bdx·bdy·bdz keys of ONE K/V head for all bdy = GROUP_SIZE query heads of its
group (every (ty, tz) thread group cp.asyncs tile_size_per_bdx keys, and each query head ty scores all
bdy·tile_size_per_bdx keys of its tz slice). The loop body holds U source iterations (``#pragma unroll
2``: U = 2), so thread-instructions per key of the CTA =
    (hot body + refill region · U / bdx) · threads / (U · keys per source iteration),
the refill region (the page-offset refill, once every bdx source iterations) amortised. The phase
columns (qk, k_load, pv, v_load) cut the body at its BAR.SYNCs and are approximate (ptxas moves ALU
instructions across the barriers); k_loop = qk + k_load, v_loop = the rest, for mappers' SassCounts,
whose issue_slots_per_key only uses their sum. Shared memory
per CTA is the dispatcher's formula (decode.cuh 743-746), 2·stages·tile·bdy·bdz·D·2 + max(tile·threads·8,
2·bdy·bdz·4) bytes.
"""

import csv
import json
import re
import sys
from pathlib import Path

VARIANTS = {  # name: (arch, head_dim, GROUP_SIZE)
    "A": ("sm_90", 128, 1),
    "B": ("sm_90", 128, 8),
    "C": ("sm_90", 256, 1),
    "D": ("sm_90", 256, 8),
    "E": ("sm_90", 128, 4),
    "F": ("sm_90", 128, 2),
}
CLASSES = [
    "LDGSTS",
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
FP32_OPS = ["FFMA", "FADD", "FMUL", "FMNMX"]
PHASES = ["qk", "k_load", "pv", "v_load"]
ISSUE_SLOTS_PER_CYCLE_PER_SM = 4 * 32  # mappers/gpu_attention.py
SHUFFLE_SLOTS = 4  # mappers/gpu_gemm.py

build, names = sys.argv[1], sys.argv[2:]
out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(
    [
        "variant",
        "arch",
        "head_dim",
        "group_size",
        "vec_size",
        "bdx",
        "bdy",
        "bdz",
        "threads",
        "tile_size_per_bdx",
        "num_stages_smem",
        "smem_bytes",
        "registers",
        "keys_per_iteration_cta",
        "iterations_per_body",
        "instructions_per_body",
        "refill_instructions",
        "thread_instructions_per_key",
    ]
    + [c.lower() + "_per_key" for c in CLASSES]
    + [o.lower() + "_per_key" for o in FP32_OPS]
    + [p + "_per_key" for p in PHASES]
    + [
        "refill_per_key",
        "k_loop_per_key",
        "v_loop_per_key",
        "issue_cycles_per_key",
        "issue_cycles_per_key_shfl4",
    ]
)
for name in names:
    arch, head_dim, group = VARIANTS[name]
    loop = json.loads(Path(f"{build}/{name}.analysis.json").read_text())["loops"]["main"]
    sass = Path(f"{build}/{name}.sass").read_text()
    m = re.search(r"BatchDecodeWithPagedKVCacheKernelILNS_15PosEncodingModeE0E((?:Lj\d+E){6})", sass)
    stages, tile, vec, bdx, bdy, bdz = map(int, re.findall(r"Lj(\d+)E", m.group(1)))
    assert bdx * vec == head_dim and bdy == group, (name, bdx, vec, bdy)
    log = Path(f"{build}/{name}.ptxas.log").read_text()
    regs = int(re.search(r"Used (\d+) registers", log).group(1))
    threads = bdx * bdy * bdz
    smem = 2 * stages * tile * bdy * bdz * head_dim * 2 + max(tile * threads * 8, 2 * bdy * bdz * 4)
    keys = tile * bdy * bdz
    u = loop["source_iterations_per_body"]
    scale = threads / (u * keys)  # thread-instructions per key per instruction of the body
    rscale = scale * u / bdx  # the refill region, once every bdx source iterations
    total = loop["n"] * scale + loop["n_refill"] * rscale
    cls = {
        c: loop["by_class"].get(c, 0) * scale + loop["refill_by_class"].get(c, 0) * rscale for c in CLASSES
    }
    ops = {o: sum(v for k, v in loop["by_opcode"].items() if k.split(".")[0] == o) * scale for o in FP32_OPS}
    shfl = cls["SHFL"]
    # SassCounts' k_loop / v_loop: the qk and k_load barrier segments / the rest (pv, v_load, refill)
    k_loop = (loop["n_by_phase"]["qk"] + loop["n_by_phase"]["k_load"]) * scale
    out.writerow(
        [
            name,
            arch,
            head_dim,
            group,
            vec,
            bdx,
            bdy,
            bdz,
            threads,
            tile,
            stages,
            smem,
            regs,
            keys,
            u,
            loop["n"],
            loop["n_refill"],
            f"{total:g}",
        ]
        + [f"{cls[c]:g}" for c in CLASSES]
        + [f"{ops[o]:g}" for o in FP32_OPS]
        + [f"{loop['n_by_phase'][p] * scale:g}" for p in PHASES]
        + [
            f"{loop['n_refill'] * rscale:g}",
            f"{k_loop:g}",
            f"{total - k_loop:g}",
            f"{total / ISSUE_SLOTS_PER_CYCLE_PER_SM:g}",
            f"{(total + (SHUFFLE_SLOTS - 1) * shfl) / ISSUE_SLOTS_PER_CYCLE_PER_SM:g}",
        ]
    )
