#!/usr/bin/env python3
"""Analyse `cuobjdump -sass` output of ONE vLLM paged_attention_v1_kernel instantiation (adapted from
benchmarks/mmha_sass/tools/sass_loops.py: the same parser and counting rules, loop heuristics for vLLM's
kernel).

  sass_loops.py X.sass                 list every backward branch (candidate loop) with a summary
  sass_loops.py X.sass --range LO HI   opcode breakdown of the straight-line range [LO, HI] (hex)
  sass_loops.py X.sass --auto          identify the QK, PV and softmax loops, print their breakdown and
                                       listing, write <dir>/X.analysis.json

Counting rules: every instruction between the loop head (the backward branch's target) and the backward
branch (inclusive) is counted once; predicated instructions are counted (they issue whether or not the
predicate holds); a branch around code only part of a warp runs (QK: the `if (thread_group_offset == 0)`
store) is counted as if the warp issued both paths (it does). BRA.DIV (the warp-convergence check before
SHFL) is counted, its out-of-line divergent fallback not. "hot" = the body minus the regions a forward
branch skips for the PV loop's last-block NaN zeroing (`if (block_idx == num_seq_blocks - 1)`: >= 8
`SEL ..., RZ` per region), which a warp runs only for the sequence's last block.

Loop identification (checked by reading the listings):
  QK           SHFL, LDG and STS in the body, no BAR (the BAR "loops" are BRA.DIV fallbacks jumping back)
  PV           LDG and LDS, no SHFL, no STS, >= 100 instructions
  softmax_exp  MUFU.EX2, LDS, STS (an unrolled main loop and a 1-logit remainder loop)
  softmax_norm LDS, STS, FMUL, no MUFU, no LDG (likewise)
"""

import collections
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/, for sass_tools
import sass_tools  # noqa: E402
from sass_tools import back_branches, base, body, parse  # noqa: E402

CLASSES = [
    *sass_tools.MEMORY_CLASSES,
    ("FP32", "FP32 arith (FADD/FMUL/FFMA/FMNMX)", lambda o: base(o) in ("FADD", "FMUL", "FFMA", "FMNMX")),
    ("FCMP", "FP32 compare/select (FSETP/FSEL/FCHK)", lambda o: base(o) in ("FSETP", "FSEL", "FCHK")),
    *sass_tools.OTHER_CLASSES,
]
CLASS_KEYS = [k for k, _n, _f in CLASSES] + ["OTHER"]


def klass(op):
    return sass_tools.klass(op, CLASSES)


def summarize(sel):
    return sass_tools.summarize(sel, CLASSES)


def cold_regions(sel):
    """Forward conditional branches inside a loop body that skip the last-block zeroing (>= 8 SEL ..., RZ)."""

    def zeroing(region):
        return sum(1 for y in region if base(y["op"]) == "SEL" and ", RZ," in y["txt"]) >= 8

    return sass_tools.forward_skips(sel, zeroing)


def self_increments(sel):
    incs = []
    for x in sel:
        m = re.match(r"(?:VIADD|IADD3) (R\d+), (?:P\d, )?(R\d+), (-?0x[0-9a-f]+)(?:, RZ)?$", x["txt"])
        if m and m.group(1) == m.group(2):
            incs.append((m.group(1), int(m.group(3), 16)))
    return incs


def find_loops(ins):
    cands = []
    for lo, hi, p in back_branches(ins):
        sel = body(ins, lo, hi)
        ops = collections.Counter(base(x["op"]) for x in sel)
        info = dict(lo=lo, hi=hi, n=len(sel), pred=p)
        if ops["BAR"]:  # out-of-line divergent-SHFL fallbacks that jump back into the main body
            continue
        n_ex2 = sum(1 for x in sel if x["op"].startswith("MUFU.EX2"))
        if ops["SHFL"] and ops["LDG"] and ops["STS"]:
            cands.append(("QK", info))
        elif not ops["SHFL"] and ops["LDG"] and ops["LDS"] and not ops["STS"] and len(sel) >= 100:
            cands.append(("PV", info))
        elif n_ex2 and ops["LDS"] and ops["STS"]:
            cands.append(("softmax_exp", info))
        elif ops["LDS"] and ops["STS"] and ops["FMUL"] and not ops["MUFU"] and not ops["LDG"]:
            cands.append(("softmax_norm", info))
    loops = {}
    for kind, info in cands:
        # QK/PV: one loop each. softmax: the main (most-unrolled) loop = most STS; the remainder
        # loop is kept too.
        info["n_sts"] = sum(1 for x in body(ins, info["lo"], info["hi"]) if base(x["op"]) == "STS")
        if kind.startswith("softmax"):
            if kind not in loops or info["n_sts"] > loops[kind]["n_sts"]:
                if kind in loops:
                    loops[kind + "_remainder"] = loops[kind]
                loops[kind] = info
            else:
                loops[kind + "_remainder"] = info
        elif kind not in loops or info["n"] < loops[kind]["n"]:
            loops[kind] = info
    return loops, cands


def auto(path):
    ins = parse(path)
    loops, _cands = find_loops(ins)
    res = dict(file=path, total_instructions=len(ins), loops={})
    sass_tools.print_header(path, ins)
    for kind in (
        "QK",
        "PV",
        "softmax_exp",
        "softmax_exp_remainder",
        "softmax_norm",
        "softmax_norm_remainder",
    ):
        if kind not in loops:
            print(f"\n## {kind}: NOT FOUND")
            continue
        L = loops[kind]
        sel = body(ins, L["lo"], L["hi"])
        cold = cold_regions(sel)
        hot = [x for x in sel if not any(a <= x["addr"] <= b for a, b, _p, _n in cold)]
        byk, byop = summarize(hot)
        bykf, _ = summarize(sel)
        incs = self_increments(sel)
        inc_vals = {v for _r, v in incs}
        # blocks per warp per iteration: block counter += NUM_WARPS(4) * U while the token index += 64 * U
        unroll = None
        for u in (1, 2, 4, 8):
            if 4 * u in inc_vals and 64 * u in inc_vals:
                unroll = u
                break
        inner = [x for x in sel if base(x["op"]) == "BRA" and x["addr"] != L["hi"]]
        d = dict(
            lo=L["lo"],
            hi=L["hi"],
            n=len(hot),
            n_full=len(sel),
            cold_regions=[f"0x{a:05x}..0x{b:05x} ({n} instr, skipped when {p} holds)" for a, b, p, n in cold],
            by_class=dict(byk),
            by_class_full=dict(bykf),
            by_opcode=dict(byop),
            by_opcode_base=dict(collections.Counter(base(x["op"]) for x in hot)),
            inner_branches=[f"0x{x['addr']:05x} {x['pred']} {x['txt']}" for x in inner],
            predicated=sum(1 for x in hot if x["pred"]),
            increments=[f"{r} += {v:#x}" for r, v in incs],
            blocks_per_warp_per_iteration=unroll,
            n_sts=sum(1 for x in sel if base(x["op"]) == "STS"),
            n_mufu_ex2=sum(1 for x in sel if x["op"].startswith("MUFU.EX2")),
        )
        res["loops"][kind] = d
        print(
            f"\n## {kind} loop: 0x{L['lo']:05x}..0x{L['hi']:05x}  "
            f"{len(hot)} instructions/iteration/thread on the hot path "
            f"({len(sel)} in the body; {d['predicated']} hot ones predicated)"
        )
        print(f"   self-increments: {d['increments']}  -> blocks per warp per iteration: {unroll}")
        print(f"   STS in body: {d['n_sts']}, MUFU.EX2 in body: {d['n_mufu_ex2']}")
        for c in d["cold_regions"]:
            print(f"   cold region (last block only): {c}")
        sass_tools.print_classes(byk, byop, CLASSES)
        for b in d["inner_branches"]:
            print(f"   inner branch: {b}")
        print("   --- listing (C = cold, last block only) ---")
        for x in sel:
            c = "C" if x not in hot else " "
            print(f"   {c} /*{x['addr']:05x}*/ {x['pred']:6s} {x['txt']}")
    sass_tools.write_analysis(path, res)


if __name__ == "__main__":
    sass_tools.main(sys.argv[1:], CLASSES, auto)
