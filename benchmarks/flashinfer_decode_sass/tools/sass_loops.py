#!/usr/bin/env python3
"""Analyse `cuobjdump -sass` output of ONE FlashInfer v0.2.4 BatchDecodeWithPagedKVCacheKernel instantiation
(adapted from benchmarks/vllm_pa_sass/tools/sass_loops.py: the same parser, benchmarks/sass_tools.py, and
counting rules; loop heuristics for FlashInfer's kernel).

  sass_loops.py X.sass                 list every backward branch (candidate loop) with a summary
  sass_loops.py X.sass --range LO HI   opcode breakdown of the straight-line range [LO, HI] (hex)
  sass_loops.py X.sass --auto          identify the main loop over the keys, print its breakdown and
                                       listing, write <dir>/X.analysis.json

The kernel has ONE loop over the keys (decode.cuh lines 511-574, ``#pragma unroll 2``): per source
iteration wait + BAR, compute_qk (q·k, the bdx-lane SHFL.BFLY reduction, scale, mask, running max, exp2
of the tile's logits, rescale of o), BAR, K cp.async (LDGSTS) of the stage ahead, wait + BAR,
update_local_state (p·v), BAR, V cp.async. The compiler emits it twice per loop body (unroll 2), then a
one-iteration remainder after the loop (not counted: it is the same iteration once more).

Counting rules: every instruction between the loop head (the backward branch's target) and the backward
branch (inclusive) is counted once; predicated instructions are counted (they issue whether or not the
predicate holds). "hot" = the body minus the regions a uniform forward branch skips for the page-offset
refill ``if ((iter + num_stages_smem) % bdx == 0)`` (decode.cuh 513-524: an LDG of the page index and an
STS of the offsets), which the whole CTA runs once every bdx source iterations; the script reports that
region separately and per_key.py amortises it (÷ bdx iterations).

Loop identification: the backward branch whose body holds LDGSTS, SHFL and MUFU.EX2 (the largest such).
Source iterations per body = BAR.SYNC count / 4 (four block.sync per source iteration).
Phases (approximate, ptxas moves ALU instructions across BAR.SYNC): the body is cut at its BAR.SYNCs;
counting from each iteration's first BAR: phase 0 "qk" (compute_qk with its online-softmax update),
phase 1 "k_load" (page offsets from shared memory, K cp.async), phase 2 "pv" (update_local_state),
phase 3 "v_load" (V cp.async, loop control; the instructions before the body's first BAR join it).
"""

import collections
import os
import sys
from pathlib import Path

for _p in (Path(__file__).resolve().parents[2], Path(os.environ.get("SASS_TOOLS_DIR", "/nonexistent"))):
    if (_p / "sass_tools.py").exists():
        sys.path.insert(0, str(_p))  # benchmarks/, for sass_tools
import sass_tools  # noqa: E402
from sass_tools import back_branches, base, body, parse  # noqa: E402

CLASSES = [
    ("LDGSTS", "cp.async global->shared (LDGSTS)", lambda o: base(o) == "LDGSTS"),
    *sass_tools.MEMORY_CLASSES,
    ("FP32", "FP32 arith (FADD/FMUL/FFMA/FMNMX)", lambda o: base(o) in ("FADD", "FMUL", "FFMA", "FMNMX")),
    ("FCMP", "FP32 compare/select (FSETP/FSEL/FCHK)", lambda o: base(o) in ("FSETP", "FSEL", "FCHK")),
    *sass_tools.OTHER_CLASSES[:-1],
    (
        "CTRL",
        "branch/control/barrier (BRA/BSSY/BSYNC/BAR/DEPBAR/LDGDEPBAR/...)",
        lambda o: base(o) in sass_tools.CTRL_OPS or base(o) == "LDGDEPBAR",
    ),
]
CLASS_KEYS = [k for k, _n, _f in CLASSES] + ["OTHER"]
PHASES = ["qk", "k_load", "pv", "v_load"]


def summarize(sel):
    return sass_tools.summarize(sel, CLASSES)


def refill_regions(sel):
    """Forward conditional branches inside the loop body that skip a region holding an LDG and an STS
    (the page-offset refill)."""

    def refill(region):
        ops = collections.Counter(base(y["op"]) for y in region)
        return bool(ops["LDG"] and ops["STS"])

    return sass_tools.forward_skips(sel, refill)


def find_loop(ins):
    best = None
    for lo, hi, p in back_branches(ins):
        sel = body(ins, lo, hi)
        ops = collections.Counter(base(x["op"]) for x in sel)
        hot = ops["LDGSTS"] and ops["SHFL"] and any(x["op"].startswith("MUFU.EX2") for x in sel)
        if hot and (best is None or len(sel) > best[3]):
            best = (lo, hi, p, len(sel))
    return best


def phases(hot):
    """Phase of each hot instruction: cut at the BAR.SYNCs (see the module docstring)."""
    out, nbar = [], 0
    for x in hot:
        if base(x["op"]) == "BAR":
            nbar += 1
        out.append(PHASES[(nbar - 1) % 4] if nbar else "v_load")
    return out


def auto(path):
    ins = parse(path)
    sass_tools.print_header(path, ins)
    lo, hi, _p, _n = find_loop(ins)
    sel = body(ins, lo, hi)
    cold = refill_regions(sel)
    in_cold = lambda x: any(a <= x["addr"] <= b for a, b, _p, _n in cold)  # noqa: E731
    hot = [x for x in sel if not in_cold(x)]
    refill = [x for x in sel if in_cold(x)]
    n_bar = sum(1 for x in hot if base(x["op"]) == "BAR")
    assert n_bar % 4 == 0, f"{n_bar} BAR.SYNC in the loop body, not a multiple of 4"
    ph = phases(hot)
    byk, byop = summarize(hot)
    by_phase = {p: dict(summarize([x for x, q in zip(hot, ph, strict=False) if q == p])[0]) for p in PHASES}
    n_phase = {p: sum(1 for q in ph if q == p) for p in PHASES}
    rk, rop = summarize(refill)
    d = dict(
        lo=lo,
        hi=hi,
        n=len(hot),
        n_full=len(sel),
        source_iterations_per_body=n_bar // 4,
        refill_regions=[f"0x{a:05x}..0x{b:05x} ({n} instr, skipped when {p} holds)" for a, b, p, n in cold],
        n_refill=len(refill),
        refill_by_class=dict(rk),
        by_class=dict(byk),
        by_opcode=dict(byop),
        by_opcode_base=dict(collections.Counter(base(x["op"]) for x in hot)),
        n_by_phase=n_phase,
        by_phase=by_phase,
        predicated=sum(1 for x in hot if x["pred"]),
        n_mufu_ex2=sum(1 for x in hot if x["op"].startswith("MUFU.EX2")),
    )
    res = dict(file=path, total_instructions=len(ins), loops={"main": d})
    print(
        f"\n## main loop: 0x{lo:05x}..0x{hi:05x}  {len(hot)} instructions per body per thread on the hot "
        f"path ({len(sel)} in the body; {d['predicated']} hot ones predicated), "
        f"{d['source_iterations_per_body']} source iterations per body"
    )
    for c in d["refill_regions"]:
        print(f"   page-offset refill region (once every bdx iterations): {c}")
    sass_tools.print_classes(byk, byop, CLASSES)
    print("   by phase: " + ", ".join(f"{p} {n_phase[p]}" for p in PHASES))
    print(
        f"   refill region: {len(refill)} instructions: "
        + ", ".join(f"{k}={v}" for k, v in sorted(rk.items()))
    )
    print("   --- listing (R = refill region, phase) ---")
    phase_of = {x["addr"]: q for x, q in zip(hot, ph, strict=False)}
    for x in sel:
        c = "R" if in_cold(x) else " "
        print(f"   {c} {phase_of.get(x['addr'], ''):6s} /*{x['addr']:05x}*/ {x['pred']:6s} {x['txt']}")
    sass_tools.write_analysis(path, res)


if __name__ == "__main__":
    sass_tools.main(sys.argv[1:], CLASSES, auto)
