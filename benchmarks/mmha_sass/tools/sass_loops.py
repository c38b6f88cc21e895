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
import json
import os
import re
import sys

LINE = re.compile(r"^\s*/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;\s*(/\*.*)?$")


def parse(path):
    ins = []
    with open(path) as sass:
        lines = sass.readlines()
    for line in lines:
        m = LINE.match(line)
        if not m:
            continue
        addr = int(m.group(1), 16)
        txt = m.group(2).strip()
        pred = ""
        mm = re.match(r"^(@!?U?P[T0-9]+)\s+(.*)$", txt)
        if mm:
            pred, txt = mm.group(1), mm.group(2)
        op = txt.split()[0]
        ins.append(dict(addr=addr, pred=pred, op=op, txt=txt))
    return ins


def base(op):
    return op.split(".")[0]


def is_conv(op):
    b = base(op)
    if b in ("F2F", "F2FP", "I2F", "F2I", "I2FP", "F2IP", "I2I", "I2IP", "PRMT"):
        return True
    return b in ("HADD2", "HMUL2", "HFMA2") and ".F32" in op


CLASSES = [
    ("LDG", "global loads (LDG)", lambda o: base(o) == "LDG"),
    ("LD", "generic loads (LD)", lambda o: base(o) == "LD"),
    ("LDS", "shared loads (LDS)", lambda o: base(o) in ("LDS", "LDSM")),
    ("LDC", "constant loads (LDC/ULDC)", lambda o: base(o) in ("LDC", "ULDC")),
    ("ST", "stores (STS/STG/ST)", lambda o: base(o) in ("STS", "STG", "ST", "STL")),
    ("SHFL", "SHFL", lambda o: base(o) == "SHFL"),
    (
        "FP32",
        "FP32 arith (FADD/FMUL/FFMA/FMNMX/FSETP/FSEL)",
        lambda o: base(o) in ("FADD", "FMUL", "FFMA", "FMNMX", "FSETP", "FSEL", "FCHK"),
    ),
    ("MUFU", "MUFU (EX2/RCP)", lambda o: base(o) == "MUFU"),
    ("CVT", "conversions (F2FP/F2F/I2F(P)/HADD2.F32/PRMT)", is_conv),
    (
        "H2",
        "packed fp16 arith (HADD2/HMUL2/HFMA2 incl. HFMA2.MMA zero-moves)",
        lambda o: base(o) in ("HADD2", "HMUL2", "HFMA2", "HMNMX2", "HSETP2"),
    ),
    (
        "INT",
        "integer/address/move (IMAD/IADD3/VIADD/LEA/SHF/LOP3/ISETP/SEL/(V)IMNMX/MOV/uniform ops)",
        lambda o: (
            base(o)
            in (
                "IMAD",
                "IADD3",
                "VIADD",
                "LEA",
                "SHF",
                "LOP3",
                "ISETP",
                "SEL",
                "IMNMX",
                "VIMNMX",
                "VIADDMNMX",
                "MOV",
                "IABS",
                "IMUL",
                "UIADD3",
                "UIMAD",
                "ULEA",
                "USHF",
                "ULOP3",
                "UISETP",
                "USEL",
                "UMOV",
                "PLOP3",
                "P2R",
                "R2P",
                "S2R",
                "S2UR",
                "CS2R",
                "R2UR",
                "FLO",
                "POPC",
                "BREV",
                "IDP",
                "UPRMT",
                "UIMNMX",
                "SGXT",
                "BMSK",
                "IADD",
                "UVIADD",
            )
        ),
    ),
    (
        "CTRL",
        "branch/control (BRA/BRA.DIV/BSSY/BSYNC/WARPSYNC/BAR/NOP)",
        lambda o: (
            base(o)
            in (
                "BRA",
                "BSSY",
                "BSYNC",
                "BAR",
                "WARPSYNC",
                "EXIT",
                "NOP",
                "BMOV",
                "CALL",
                "RET",
                "DEPBAR",
                "YIELD",
                "JMP",
                "BRX",
                "VOTE",
                "VOTEU",
            )
        ),
    ),
]


def klass(op):
    for k, _name, f in CLASSES:
        if f(op):
            return k
    return "OTHER"


def back_branches(ins):
    out = []
    for x in ins:
        if base(x["op"]) == "BRA" and ".DIV" not in x["op"]:
            m = re.search(r"\b(0x[0-9a-f]+)\b", x["txt"])
            if m and int(m.group(1), 16) <= x["addr"]:
                out.append((int(m.group(1), 16), x["addr"], x["pred"]))
    return out


def body(ins, lo, hi):
    return [x for x in ins if lo <= x["addr"] <= hi]


def summarize(sel):
    byk = collections.Counter(klass(x["op"]) for x in sel)
    byop = collections.Counter(x["op"] for x in sel)
    return byk, byop


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
    print(f"# {path}: {len(ins)} SASS instructions in the kernel")
    print("# backward branches (lo..hi, pred, n):")
    for lo, hi, p in back_branches(ins):
        print(f"#   0x{lo:05x}..0x{hi:05x} {p or '(uncond)':6s} n={len(body(ins, lo, hi))}")
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
        for k, name, _ in CLASSES + [("OTHER", "other", None)]:
            if byk.get(k):
                ops = sorted(((o, c) for o, c in byop.items() if klass(o) == k), key=lambda t: (-t[1], t[0]))
                print(f"   {byk[k]:4d}  {name}: " + ", ".join(f"{o} x{c}" for o, c in ops))
        for b in d["inner_branches"]:
            print(f"   inner branch: {b}")
        print("   --- listing ---")
        for x in sel:
            print(f"   /*{x['addr']:05x}*/ {x['pred']:6s} {x['txt']}")
    jd = os.path.dirname(os.path.abspath(path))
    if os.path.basename(jd) != "build":
        jd = os.path.join(jd, "build")
    if os.path.isdir(jd):
        with open(os.path.join(jd, os.path.basename(path).replace(".sass", ".analysis.json")), "w") as out:
            json.dump(res, out, indent=1)


def main():
    a = sys.argv[1:]
    path = a[0]
    ins = parse(path)
    if "--auto" in a:
        return auto(path)
    if "--range" in a:
        i = a.index("--range")
        lo, hi = int(a[i + 1], 16), int(a[i + 2], 16)
        sel = body(ins, lo, hi)
        byk, byop = summarize(sel)
        print(f"range 0x{lo:05x}-0x{hi:05x}: {len(sel)} instructions")
        for k, name, _ in CLASSES + [("OTHER", "other", None)]:
            if byk.get(k):
                ops = sorted(((o, c) for o, c in byop.items() if klass(o) == k), key=lambda t: -t[1])
                print(f"  {byk[k]:4d}  {name}: " + ", ".join(f"{o} x{c}" for o, c in ops))
        return
    print(f"{len(ins)} instructions")
    for lo, hi, p in back_branches(ins):
        sel = body(ins, lo, hi)
        byk, _ = summarize(sel)
        print(
            f"0x{lo:05x}..0x{hi:05x} {p or '(uncond)':7s} n={len(sel):4d} "
            + " ".join(f"{k}={v}" for k, v in sorted(byk.items()))
        )


main()
