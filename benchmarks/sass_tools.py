"""Reading `cuobjdump -sass` listings, shared by the kernel studies' ``tools/sass_loops.py``
(benchmarks/mmha_sass, benchmarks/vllm_pa_sass, benchmarks/flashinfer_decode_sass): the parser, an
instruction's opcode class, loops found by their backward branches, the conditional blocks inside
them (`forward_skips`), and the command line each study's loop finder plugs into.

  sass_loops.py X.sass                 list every backward branch (candidate loop) with a summary
  sass_loops.py X.sass --range LO HI   opcode breakdown of the straight-line range [LO, HI] (hex)
  sass_loops.py X.sass --auto          the study's own loop identification (its ``auto``)
"""

from __future__ import annotations

import collections
import json
import os
import re
from collections.abc import Callable

LINE = re.compile(r"^\s*/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;\s*(/\*.*)?$")

#: An opcode class: (key, description, predicate on the full opcode).
OpClass = tuple[str, str, Callable[[str], bool]]


def parse(path: str) -> list[dict]:
    """The listing's instructions: address, predicate, opcode (with its modifiers) and text."""
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


def base(op: str) -> str:
    """The opcode without its modifiers."""
    return op.split(".")[0]


def is_conv(op: str) -> bool:
    """A conversion: F2F/F2FP/I2F/F2I (and their packed forms), PRMT, or a 16-bit add/mul to fp32."""
    b = base(op)
    if b in ("F2F", "F2FP", "I2F", "F2I", "I2FP", "F2IP", "I2I", "I2IP", "PRMT"):
        return True
    return b in ("HADD2", "HMUL2", "HFMA2") and ".F32" in op


INT_OPS = {
    "IMAD", "IADD3", "VIADD", "LEA", "SHF", "LOP3", "ISETP", "SEL", "IMNMX", "VIMNMX", "VIADDMNMX", "MOV",
    "IABS", "IMUL", "UIADD3", "UIMAD", "ULEA", "USHF", "ULOP3", "UISETP", "USEL", "UMOV", "PLOP3", "P2R",
    "R2P", "S2R", "S2UR", "CS2R", "R2UR", "FLO", "POPC", "BREV", "IDP", "UPRMT", "UIMNMX", "SGXT", "BMSK",
    "IADD", "UVIADD",
}  # fmt: skip
CTRL_OPS = {
    "BRA", "BSSY", "BSYNC", "BAR", "WARPSYNC", "EXIT", "NOP", "BMOV", "CALL", "RET", "DEPBAR", "YIELD",
    "JMP", "BRX", "VOTE", "VOTEU",
}  # fmt: skip
#: The classes both studies count, before their FP32 classes (memory and shuffles) and after them.
MEMORY_CLASSES: list[OpClass] = [
    ("LDG", "global loads (LDG)", lambda o: base(o) == "LDG"),
    ("LD", "generic loads (LD)", lambda o: base(o) == "LD"),
    ("LDS", "shared loads (LDS)", lambda o: base(o) in ("LDS", "LDSM")),
    ("LDC", "constant loads (LDC/ULDC)", lambda o: base(o) in ("LDC", "ULDC")),
    ("ST", "stores (STS/STG/ST)", lambda o: base(o) in ("STS", "STG", "ST", "STL")),
    ("SHFL", "SHFL", lambda o: base(o) == "SHFL"),
]
OTHER_CLASSES: list[OpClass] = [
    ("MUFU", "MUFU (EX2/RCP)", lambda o: base(o) == "MUFU"),
    ("CVT", "conversions (F2FP/F2F/I2F(P)/HADD2.F32/PRMT)", is_conv),
    (
        "H2",
        "packed fp16 arith (HADD2/HMUL2/HFMA2, HFMA2.MMA moves included)",
        lambda o: base(o) in ("HADD2", "HMUL2", "HFMA2", "HMNMX2", "HSETP2"),
    ),
    (
        "INT",
        "integer/address/move (IMAD/IADD3/LEA/SHF/LOP3/ISETP/SEL/MOV/uniform ops)",
        lambda o: base(o) in INT_OPS,
    ),
    ("CTRL", "branch/control (BRA/BRA.DIV/BSSY/BSYNC/WARPSYNC/BAR/CALL/NOP)", lambda o: base(o) in CTRL_OPS),
]


def klass(op: str, classes: list[OpClass]) -> str:
    """The key of the first class whose predicate takes `op`, else OTHER."""
    for key, _name, predicate in classes:
        if predicate(op):
            return key
    return "OTHER"


def branch_target(x: dict) -> int | None:
    m = re.search(r"\b(0x[0-9a-f]+)\b", x["txt"])
    return int(m.group(1), 16) if m else None


def back_branches(ins: list[dict]) -> list[tuple[int, int, str]]:
    """(loop head, backward branch, predicate) of every branch to an earlier address (BRA.DIV, the
    warp-convergence check, left out)."""
    out = []
    for x in ins:
        if base(x["op"]) == "BRA" and ".DIV" not in x["op"]:
            target = branch_target(x)
            if target is not None and target <= x["addr"]:
                out.append((target, x["addr"], x["pred"]))
    return out


def forward_skips(
    sel: list[dict], skips: Callable[[list[dict]], bool]
) -> list[tuple[int, int, str, int]]:
    """(first skipped address, last skipped address, predicate, instructions skipped) of every
    predicated forward branch (BRA.DIV left out) in `sel` whose skipped region `skips` takes: a loop
    body's conditional block, e.g. a refill or a last-block zeroing."""
    out = []
    for x in sel:
        if base(x["op"]) != "BRA" or ".DIV" in x["op"] or not x["pred"]:
            continue
        target = branch_target(x)
        if target is None or target <= x["addr"]:
            continue
        region = [y for y in sel if x["addr"] < y["addr"] < target]
        if skips(region):
            out.append((x["addr"] + 0x10, target - 0x10, x["pred"], len(region)))
    return out


def body(ins: list[dict], lo: int, hi: int) -> list[dict]:
    return [x for x in ins if lo <= x["addr"] <= hi]


def summarize(sel: list[dict], classes: list[OpClass]) -> tuple[collections.Counter, collections.Counter]:
    """Instructions by class and by opcode."""
    return collections.Counter(klass(x["op"], classes) for x in sel), collections.Counter(
        x["op"] for x in sel
    )


def print_header(path: str, ins: list[dict]) -> None:
    """The listing's size and its backward branches, as each study's ``auto`` starts."""
    print(f"# {path}: {len(ins)} SASS instructions in the kernel")
    print("# backward branches (lo..hi, pred, n):")
    for lo, hi, p in back_branches(ins):
        print(f"#   0x{lo:05x}..0x{hi:05x} {p or '(uncond)':6s} n={len(body(ins, lo, hi))}")


def print_classes(byk: collections.Counter, byop: collections.Counter, classes: list[OpClass]) -> None:
    """A loop's instructions by class, each class's opcodes most frequent first."""
    for key, name, _ in [*classes, ("OTHER", "other", None)]:
        if byk.get(key):
            ops = sorted(
                ((o, c) for o, c in byop.items() if klass(o, classes) == key), key=lambda t: (-t[1], t[0])
            )
            print(f"   {byk[key]:4d}  {name}: " + ", ".join(f"{o} x{c}" for o, c in ops))


def write_analysis(path: str, result: dict) -> None:
    """`result` as <dir of path>/<name>.analysis.json."""
    folder = os.path.dirname(os.path.abspath(path))
    with open(os.path.join(folder, os.path.basename(path).replace(".sass", ".analysis.json")), "w") as out:
        json.dump(result, out, indent=1)


def main(argv: list[str], classes: list[OpClass], auto: Callable[[str], object]) -> None:
    """The command line above, `auto` the study's loop identification."""
    path = argv[0]
    ins = parse(path)
    if "--auto" in argv:
        auto(path)
        return
    if "--range" in argv:
        i = argv.index("--range")
        lo, hi = int(argv[i + 1], 16), int(argv[i + 2], 16)
        sel = body(ins, lo, hi)
        byk, byop = summarize(sel, classes)
        print(f"range 0x{lo:05x}-0x{hi:05x}: {len(sel)} instructions")
        for key, name, _ in [*classes, ("OTHER", "other", None)]:
            if byk.get(key):
                ops = sorted(
                    ((o, c) for o, c in byop.items() if klass(o, classes) == key), key=lambda t: -t[1]
                )
                print(f"  {byk[key]:4d}  {name}: " + ", ".join(f"{o} x{c}" for o, c in ops))
        return
    print(f"{len(ins)} instructions")
    for lo, hi, p in back_branches(ins):
        sel = body(ins, lo, hi)
        byk, _ = summarize(sel, classes)
        print(
            f"0x{lo:05x}..0x{hi:05x} {p or '(uncond)':7s} n={len(sel):4d} "
            + " ".join(f"{k}={v}" for k, v in sorted(byk.items()))
        )
