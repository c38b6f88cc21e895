#!/usr/bin/env python3
"""Per-k-tile SASS counts of one MLX quantized-matmul kernel (`cuobjdump -sass` of a cubin/executable
holding it). Uses benchmarks/sass_tools.py's parser and backward-branch loop finder.

  qmm_loops.py X.sass --kernel SUBSTR --variant NAME --mma-per-tile N [--tiles-by-ldg-width W] [--json OUT]

The main loop = the innermost conditional backward branch whose body holds MMA instructions (HMMA /
HGMMA; for the qmv kernel, which has none, the body with the most LDG). For sm90 the TMA
producer warp's loop (innermost conditional loop with UTMALDG) is reported too. k-tiles per body =
MMA in the body / N, the
MMA instructions one thread (warp) issues per k-tile, worked out from the tile shapes (README); for
qmv (N = 0) one source iteration per LDG of width W bits (the 8 weights a lane loads per iteration).
Counting rules as in the earlier studies: every instruction between the loop head and the backward
branch, inclusive, counted once; predicated ones counted (they issue whatever the predicate).

Control bits (sm_70+ encoding: the high 64-bit word's bits 41..63 = stall[4] yield[1] wrbar[3]
rdbar[3] waitmask[6] reuse[4]) are decoded to follow each global load (LDG) in the loop: the
scoreboard it sets, the first instruction in loop order that reads its destination register(s), and
whether that reader waits on the LDG's scoreboard (i.e. the value is consumed in the same trip of
the loop, an exposed latency unless enough independent work sits between).
"""
import collections
import json
import os
import re
import sys
from pathlib import Path

for _p in (Path(__file__).resolve().parents[2], Path(os.environ.get("SASS_TOOLS_DIR", "/nonexistent"))):
    if (_p / "sass_tools.py").exists():
        sys.path.insert(0, str(_p))
from sass_tools import back_branches, base  # noqa: E402

INS = re.compile(r"^\s*/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;\s*/\*\s*(0x[0-9a-f]{16})\s*\*/\s*$")
HI = re.compile(r"^\s*/\*\s*(0x[0-9a-f]{16})\s*\*/\s*$")
FUNC = re.compile(r"^\s*Function : (\S+)")


def parse_functions(path):
    """{mangled name: [instr]} with control bits."""
    funcs, cur, pending = {}, None, None
    for line in Path(path).read_text().splitlines(keepends=True):
        m = FUNC.match(line)
        if m:
            cur = funcs.setdefault(m.group(1), [])
            pending = None
            continue
        m = INS.match(line)
        if m and cur is not None:
            addr, txt = int(m.group(1), 16), m.group(2).strip()
            pred = ""
            mm = re.match(r"^(@!?U?P[T0-9]+)\s+(.*)$", txt)
            if mm:
                pred, txt = mm.group(1), mm.group(2)
            pending = dict(addr=addr, pred=pred, op=txt.split()[0], txt=txt)
            cur.append(pending)
            continue
        m = HI.match(line)
        if m and pending is not None:
            c = int(m.group(1), 16) >> 41
            pending.update(stall=c & 0xF, yld=(c >> 4) & 1, wrbar=(c >> 5) & 7, rdbar=(c >> 8) & 7,
                           wait=(c >> 11) & 0x3F)
            pending = None
    return funcs


def classify(op):
    b = base(op)
    if b in ("HMMA", "HGMMA", "IMMA"):
        return b
    if b == "LDGSTS":
        return "LDGSTS"
    if b in ("LDG", "LDS", "LDSM", "STS", "STG", "LDC", "ULDC", "UTMALDG", "SYNCS", "LDGDEPBAR", "DEPBAR",
             "BAR", "WARPGROUP", "SHFL", "I2F", "I2FP", "F2F", "F2FP", "PRMT", "LOP3", "SHF", "IMAD",
             "IADD3", "LEA", "HFMA2", "HADD2", "HMUL2", "FFMA", "FADD", "FMUL", "MOV", "ISETP", "BRA",
             "SEL", "R2UR", "UIADD3", "UMOV", "ULOP3", "USHF", "UISETP", "ULEA", "UIMAD", "R2P", "IABS"):
        return b
    return "OTHER"


def width(op):
    m = re.search(r"\.(U8|S8|U16|S16|32|64|128)\b", op)
    if not m:
        return 32
    return {"U8": 8, "S8": 8, "U16": 16, "S16": 16}.get(m.group(1)) or int(m.group(1))


def regs_of(txt):
    """Destination register(s) and sources of an instruction (R registers; vector loads expand)."""
    ops = txt.split(None, 1)[1] if " " in txt else ""
    parts = [p.strip() for p in ops.split(",")]
    return parts


def dst_regs(x):
    parts = regs_of(x["txt"])
    m = re.match(r"R(\d+)", parts[0]) if parts else None
    if not m:
        return []
    r0 = int(m.group(1))
    n = max(1, width(x["op"]) // 32) if base(x["op"]) in ("LDG", "LDS") else 1
    return list(range(r0, r0 + n))


def reads(x, regs):
    parts = regs_of(x["txt"])[1:]
    if base(x["op"]) in ("STS", "STG", "ST", "STL"):
        parts = regs_of(x["txt"])  # a store reads its first operand (the address) too
    found = set()
    for p in parts:
        for m in re.finditer(r"\bR(\d+)(\.[A-Z0-9_]+)*", p):
            r = int(m.group(1))
            if r in regs:
                found.add(r)
            if ".64" in x["op"] and r + 1 in regs:
                pass
    # packed fp16 ops read R.H0_H1 etc.; 64-bit operands of HMMA read pairs
    if base(x["op"]) in ("HMMA",):
        for p in parts:
            for m in re.finditer(r"\bR(\d+)", p):
                for r in (int(m.group(1)), int(m.group(1)) + 1):
                    if r in regs:
                        found.add(r)
    return found


def main(argv):
    path = argv[0]
    kw = dict(zip(argv[1::2], argv[2::2], strict=False))
    funcs = parse_functions(path)
    names = [f for f in funcs if kw.get("--kernel", "") in f]
    assert len(names) == 1, f"{len(names)} kernels match {kw.get('--kernel')}: {[n[:80] for n in names]}"
    name = names[0]
    ins = funcs[name]
    mma_per_tile = float(kw["--mma-per-tile"])
    loops = []
    for lo, hi, p in back_branches(ins):
        sel = [x for x in ins if lo <= x["addr"] <= hi]
        n_mma = sum(1 for x in sel if base(x["op"]) in ("HMMA", "HGMMA"))
        n_ldg = sum(1 for x in sel if base(x["op"]) == "LDG")
        loops.append((n_mma, n_ldg, len(sel), lo, hi, p, sel))
    print(f"# {name[:100]}... {len(ins)} instructions")
    for n_mma, n_ldg, n, lo, hi, p, _ in loops:
        print(f"#   loop 0x{lo:05x}..0x{hi:05x} {p or 'uncond':7s} n={n:4d} MMA={n_mma} LDG={n_ldg}")
    # conditional backward branches only: the unconditional ones in CUTLASS's sm90 kernel are the
    # out-of-line mbarrier try-wait retry paths jumping back into the loop, not loops of their own
    cond = [t for t in loops if t[5]]
    if mma_per_tile > 0:  # the innermost loop issuing MMAs (sm90: the k-loop inside the persistent tile loop)
        n_mma, n_ldg, n, lo, hi, p, sel = min((t for t in cond if t[0] > 0), key=lambda t: t[2])
    else:
        n_mma, n_ldg, n, lo, hi, p, sel = max(cond, key=lambda t: (t[1], t[2]))
    # the TMA producer's loop (sm90): the innermost conditional loop issuing UTMALDG
    prod = [t for t in cond if any(base(x["op"]) == "UTMALDG" for x in t[6])]
    producer = None
    if prod:
        t = min(prod, key=lambda t: t[2])
        pc = collections.Counter(x["op"] for x in t[6])
        producer = dict(loop=f"0x{t[3]:05x}..0x{t[4]:05x}", n=t[2], by_opcode=dict(pc))
        print(f"## producer (TMA) loop 0x{t[3]:05x}..0x{t[4]:05x}: {t[2]} instructions: "
              + ", ".join(f"{k} x{v}" for k, v in sorted(pc.items(), key=lambda kv: -kv[1])))
    if mma_per_tile > 0:
        tiles = n_mma / mma_per_tile
    else:  # qmv: one source iteration per weight load of the given width
        w = int(kw.get("--tiles-by-ldg-width", 64))
        tiles = sum(1 for x in sel if base(x["op"]) == "LDG" and width(x["op"]) == w)
    byop = collections.Counter(x["op"] for x in sel)
    bycls = collections.Counter(classify(x["op"]) for x in sel)
    # global loads straight to registers: their consumers
    ldgs = []
    order = sel + sel  # loop order, wrapping around once
    for i, x in enumerate(sel):
        if base(x["op"]) != "LDG":
            continue
        d = set(dst_regs(x))
        first = None
        waited = None  # the first instruction after the LDG (loop order) that waits on its scoreboard
        between = collections.Counter()
        sb = x.get("wrbar", 7)
        for j in range(i + 1, i + len(sel)):
            y = order[j]
            if waited is None and sb < 6 and (y.get("wait", 0) >> sb) & 1:
                waited = (y, j >= len(sel), j - i - 1)
            if reads(y, d):
                first = (y, j >= len(sel))
                break
            between[base(y["op"])] += 1
        rec = dict(addr=f"0x{x['addr']:05x}", text=(x["pred"] + " " + x["txt"]).strip(),
                   width_bits=width(x["op"]), dst=sorted(d), wrbar=x.get("wrbar"))
        if first:
            y, wrapped = first
            rec.update(first_use=f"0x{y['addr']:05x} {y['pred']} {y['txt']}".replace("  ", " "),
                       first_use_next_trip=wrapped,
                       first_use_waits_on_sb=(bool(y.get("wait", 0) >> (x.get("wrbar", 7)) & 1)
                                              if x.get("wrbar", 7) < 6 else None),
                       scoreboard_wait_at=(f"0x{waited[0]['addr']:05x} {waited[0]['txt']}"
                                           if waited else None),
                       scoreboard_wait_next_trip=(waited[1] if waited else None),
                       instructions_to_scoreboard_wait=(waited[2] if waited else None),
                       instructions_between=sum(between.values()),
                       bar_between=between["BAR"], mma_between=between["HMMA"] + between["HGMMA"])
        ldgs.append(rec)
    res = dict(kernel=name, sass=path, variant=kw.get("--variant"), loop=f"0x{lo:05x}..0x{hi:05x}",
               loop_pred=p, body=n, mma_in_body=n_mma, k_tiles_per_body=tiles,
               per_tile_total=n / tiles, per_tile_by_class={k: v / tiles for k, v in sorted(bycls.items())},
               per_tile_by_opcode={k: v / tiles for k, v in sorted(byop.items())}, ldg=ldgs,
               producer=producer)
    print(f"## main loop 0x{lo:05x}..0x{hi:05x} ({p}): {n} instructions, {n_mma} MMA, {tiles:g} k-tiles/body "
          f"-> {n / tiles:g} per k-tile per thread")
    for k, v in sorted(byop.items(), key=lambda t: (-t[1], t[0])):
        print(f"   {v / tiles:7.2f}  {k}")
    for r in ldgs:
        print("   LDG", json.dumps(r))
    print("   --- listing: addr stall yield wrbar rdbar waitmask | instruction ---")
    for x in sel:
        print(f"   /*{x['addr']:05x}*/ s{x.get('stall', 0):2d} y{x.get('yld', 0)} w{x.get('wrbar', 7)} "
              f"r{x.get('rdbar', 7)} m{x.get('wait', 0):06b} {x['pred']:6s} {x['txt']}")
    if "--json" in kw:
        Path(kw["--json"]).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
