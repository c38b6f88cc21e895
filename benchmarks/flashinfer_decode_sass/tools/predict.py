#!/usr/bin/env python3
"""What per_key.csv's counts give for two measured FlashInfer decodes on an H20 (no fitting: the counts,
the dispatcher's grid and a plain issue/DRAM bound). Usage: predict.py per_key.csv

H20 (ASSUMED): 78 SMs, 1.98 GHz, 4.0 TB/s, 65,536 registers, 228 KB shared memory (1 KB reserved per
CTA), 2,048 threads and 32 CTAs per SM; 4 warp instructions issued per clock per SM (128 thread-
instructions), FP32 128 lanes. Grid (decode.cuh BatchDecodeWithPagedKVCacheDispatched,
scheduler.cuh DecodePlan, without CUDA graphs): (batch, num_kv_heads) CTAs, no KV split, since
batch·num_kv_heads >= the resident-CTA slots or the page-count search returns batch_size (both cases
below). Each CTA runs all kv_len keys. Compute time = CTAs of the busiest SM (ceil(CTAs / SMs)) ·
kv_len · cycles per key / clock, cycles per key = thread-instructions per key / 128 (and, as
mappers/gpu_attention.py issue_slots_per_key counts them, with each SHFL at SHUFFLE_SLOTS = 4 slots).
DRAM time = the K/V bytes (plus Q, O) / 4.0 TB/s.
"""

import csv
import math
import sys

SMS, CLOCK, DRAM = 78, 1.98e9, 4.0e12
REGS, SMEM, SMEM_RESERVED, THREADS, CTAS = 65536, 228 * 1024, 1024, 2048, 32
with open(sys.argv[1]) as table:
    rows = {r["variant"]: r for r in csv.DictReader(table)}


def resident(r):
    warps = int(r["threads"]) // 32
    regs_per_warp = math.ceil(int(r["registers"]) * 32 / 256) * 256
    return min(
        REGS // (warps * regs_per_warp),
        SMEM // (int(r["smem_bytes"]) + SMEM_RESERVED),
        THREADS // int(r["threads"]),
        CTAS,
    )


for label, variant, batch, qo_heads, kv_heads, d, kv_len, measured in [
    ("batch 128, 32 q / 4 kv heads, d 128, kv_len 4000", "B", 128, 32, 4, 128, 4000, 0.98e-3),
    ("batch 128, 32 q / 32 kv heads, d 128, kv_len 4000", "A", 128, 32, 32, 128, 4000, 2.23e-3),
]:
    r = rows[variant]
    assert int(r["group_size"]) == qo_heads // kv_heads and int(r["head_dim"]) == d
    ctas = batch * kv_heads
    per_sm = resident(r)
    busiest = math.ceil(ctas / SMS)
    per_key = float(r["thread_instructions_per_key"])
    shfl = float(r["shfl_per_key"])
    fp32 = float(r["fp32_per_key"])
    cvt = float(r["cvt_per_key"])
    kv_bytes = batch * kv_heads * kv_len * d * 2 * 2
    qo_bytes = 2 * batch * qo_heads * d * 2
    t_dram = (kv_bytes + qo_bytes) / DRAM
    print(
        f"{label}: variant {variant}, grid ({batch}, {kv_heads}) = {ctas} CTAs of {r['threads']} threads, "
        f"{per_sm} resident per SM ({per_sm * SMS} slots), busiest SM {busiest} CTAs (mean {ctas / SMS:.2f})"
    )
    for name, slots in [("issue", per_key), ("issue, SHFL at 4 slots", per_key + 3 * shfl)]:
        cyc = slots / 128
        t = busiest * kv_len * cyc / CLOCK
        t_mean = ctas / SMS * kv_len * cyc / CLOCK
        print(
            f"   {name}: {slots:g} slots/key = {cyc:.2f} cycles/key/CTA -> {t * 1e3:.3f} ms "
            f"(mean-balanced {t_mean * 1e3:.3f} ms)"
        )
    print(
        f"   FP32 pipe: {fp32:g} FP32 /key = {fp32 / 128:.2f} cycles/key (with the {cvt:g} HADD2.F32 "
        f"conversions on the same pipe {(fp32 + cvt) / 128:.2f})"
    )
    print(
        f"   DRAM: {(kv_bytes + qo_bytes) / 1e9:.3f} GB -> {t_dram * 1e3:.3f} ms; "
        f"measured {measured * 1e3:.2f} ms"
    )
