#!/usr/bin/env python3
"""Analyse `cuobjdump -sass` output of ONE kernel.

  sass_loops.py X.sass                 list every backward branch (candidate loop) with a summary
  sass_loops.py X.sass --range LO HI   opcode breakdown of the straight-line range [LO, HI] (hex, inclusive)
  sass_loops.py X.sass --auto          identify K loop / V loop / softmax loops, print breakdown + listing

Counting rules: every instruction between the loop head (target of the backward branch) and the backward
branch itself (inclusive) is counted once; predicated instructions are counted (they are issued whether or
not the predicate is true). BRA.DIV (warp-convergence check before SHFL) is counted; its out-of-line
divergent fallback is not (not taken when the warp is converged).
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
    (
        "FP32",
        "FP32 arith (FADD/FMUL/FFMA/FMNMX/FSETP/FSEL)",
        lambda o: base(o) in ("FADD", "FMUL", "FFMA", "FMNMX", "FSETP", "FSEL", "FCHK"),
    ),
    *sass_tools.OTHER_CLASSES,
]


def klass(op):
    return sass_tools.klass(op, CLASSES)


def summarize(sel):
    return sass_tools.summarize(sel, CLASSES)


def count(sel, pred):
    return sum(1 for x in sel if pred(x["op"]))


def find_loops(ins):
    cands = []
    for lo, hi, p in back_branches(ins):
        sel = body(ins, lo, hi)
        opcodes = {base(x["op"]) for x in sel}

        def has(b, opcodes=opcodes):
            return b in opcodes

        n_ffma = count(sel, lambda o: base(o) == "FFMA")
        info = dict(lo=lo, hi=hi, n=len(sel), pred=p)
        if has("BAR"):  # out-of-line (divergent-SHFL) fallbacks that jump back into the main body
            continue
        if has("SHFL") and (has("LDG") or has("LD")) and has("STS"):
            cands.append(("K", info))
        elif not has("SHFL") and has("LDS") and (has("LDG") or has("LD")) and n_ffma >= 32:
            cands.append(("V", info))
        elif any(x["op"].startswith("MUFU.EX2") for x in sel) and has("LDS") and has("STS") and len(sel) < 60:
            cands.append(("softmax_exp", info))
        elif has("LDS") and has("STS") and any(base(x["op"]) == "F2FP" for x in sel) and len(sel) < 60:
            cands.append(("softmax_norm", info))
    loops = {}
    for kind, info in cands:
        if kind not in loops or info["n"] < loops[kind]["n"]:
            loops[kind] = info
    return loops, cands


def auto(path):
    ins = parse(path)
    loops, cands = find_loops(ins)
    res = dict(file=path, total_instructions=len(ins), loops={})
    sass_tools.print_header(path, ins)
    for kind in ("K", "V", "softmax_exp", "softmax_norm"):
        if kind not in loops:
            print(f"\n## {kind}: NOT FOUND")
            continue
        L = loops[kind]
        sel = body(ins, L["lo"], L["hi"])
        byk, byop = summarize(sel)
        inner = [x for x in sel if base(x["op"]) == "BRA" and x["addr"] != L["hi"]]
        incr = [
            x["txt"]
            for x in sel
            if re.match(r"(VIADD|IADD3)", x["op"])
            and re.match(r"\S+ (R\d+), \1, (0x40|0x80|0x100)\b", x["txt"])
        ]
        d = dict(
            lo=L["lo"],
            hi=L["hi"],
            n=len(sel),
            by_class=dict(byk),
            by_opcode=dict(byop),
            by_opcode_base=dict(collections.Counter(base(x["op"]) for x in sel)),
            inner_branches=[f"0x{x['addr']:05x} {x['pred']} {x['txt']}" for x in inner],
            predicated=sum(1 for x in sel if x["pred"]),
            increments=incr,
        )
        res["loops"][kind] = d
        print(
            f"\n## {kind} loop: 0x{L['lo']:05x}..0x{L['hi']:05x}  {len(sel)} instructions/iteration/thread "
            f"({d['predicated']} of them predicated)"
        )
        print(f"   induction increment candidates: {incr}")
        sass_tools.print_classes(byk, byop, CLASSES)
        for b in d["inner_branches"]:
            print(f"   inner branch: {b}")
        print("   --- listing ---")
        for x in sel:
            print(f"   /*{x['addr']:05x}*/ {x['pred']:6s} {x['txt']}")
    sass_tools.write_analysis(path, res)


if __name__ == "__main__":
    sass_tools.main(sys.argv[1:], CLASSES, auto)
