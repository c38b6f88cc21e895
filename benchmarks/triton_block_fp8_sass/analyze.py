"""Per-iteration SASS breakdown of the block-scaled FP8 GEMM's main loop, and where the scale loads are
waited for, from the dumps compile_kernels.py wrote under ROOT/<version>/<arch>/<config>/.

    python analyze.py ROOT [CSV] [--detail]

Per kernel: the main loop (the backward branch with the largest body), its instructions by class, the
scale loads (the loop's LDGs: the A and B tiles come in by LDGSTS, so every plain LDG in the loop is a
scale load) with, for each, the instruction that first reads its register, the first instruction whose
wait mask names the LDG's scoreboard (decoded from the control bits of the listing's second hex word:
write barrier bits 46-48, wait mask bits 52-57) and the MMAs issued between the two; whether that first
use is in the same iteration (not pipelined) or the next one (pipelined); the wgmma wait
(WARPGROUP.DEPBAR.LE gsb0, N: the number of wgmma groups left in flight) and the TTGIR's
warp_group_dot_wait pendings; the pipeliner's stage of the scale loads (kernel.schedule.txt).
"""

from __future__ import annotations

import csv
import os
import re
import sys

sys.path.insert(0, os.environ.get("SASS_TOOLS_DIR", os.path.join(os.path.dirname(__file__), "..")))
import sass_tools as st  # noqa: E402

CONFIGS = ["m16_n128_w4_s3", "m64_n128_w4_s3", "m128_n128_w4_s3", "m128_n128_w8_s4"]
ARCHS = ["sm90", "sm89"]
HEX = re.compile(r"/\*\s*(0x[0-9a-f]{16})\s*\*/")

MMA_OPS = ("QGMMA", "HGMMA", "QMMA", "HMMA")
SYNC_OPS = {"BAR", "SYNCS", "DEPBAR", "LDGDEPBAR", "WARPGROUP", "MEMBAR", "FENCE", "ARRIVES", "WARPSYNC"}
CLASSES: list[st.OpClass] = [
    ("MMA", "tensor-core MMA (QGMMA/HGMMA/QMMA/HMMA)", lambda o: st.base(o) in MMA_OPS),
    ("FP32", "FFMA/FMUL/FADD", lambda o: st.base(o) in ("FFMA", "FMUL", "FADD")),
    ("LDG", "LDG (the scale loads)", lambda o: st.base(o) == "LDG"),
    ("ASYNC", "LDGSTS/UTMALDG (tile copies)", lambda o: st.base(o) in ("LDGSTS", "UTMALDG", "UBLKCP")),
    ("LDS", "LDS/LDSM", lambda o: st.base(o) in ("LDS", "LDSM")),
    ("STS", "STS", lambda o: st.base(o) == "STS"),
    ("SYNC", "BAR/DEPBAR/LDGDEPBAR/WARPGROUP/MEMBAR/FENCE", lambda o: st.base(o) in SYNC_OPS),
    ("LOCAL", "LDL/STL (register spills)", lambda o: st.base(o) in ("LDL", "STL")),
    ("CVT", "conversions (F2F/F2FP/I2F/PRMT/HADD2.F32)", st.is_conv),
    ("INT", "integer/address/uniform/move", lambda o: st.base(o) in st.INT_OPS or st.base(o).startswith("U")),
    ("CTRL", "branch/NOP/other control", lambda o: st.base(o) in st.CTRL_OPS),
]  # fmt: skip
KEYS = [k for k, _, _ in CLASSES] + ["OTHER"]


def controls(path: str) -> dict[int, int]:
    """Address -> the second (high) 64-bit word of the instruction, which holds the control bits."""
    out, pending = {}, None
    with open(path) as f:
        for line in f:
            m = st.LINE.match(line)
            words = HEX.findall(line)
            if m:
                pending = int(m.group(1), 16)
            elif pending is not None and words:
                out[pending] = int(words[0], 16)
                pending = None
    return out


def wbar(hi: int) -> int:
    return (hi >> 46) & 7


def wait_mask(hi: int) -> int:
    return (hi >> 52) & 0x3F


def regs(token: str) -> set[int]:
    """Registers a register operand names (R6.64 is R6 and R7)."""
    out = set()
    for m in re.finditer(r"\bR(\d+)(\.64|\.128)?", token):
        n = {"": 1, ".64": 2, ".128": 4}[m.group(2) or ""]
        out.update(range(int(m.group(1)), int(m.group(1)) + n))
    return out


def operands(x: dict) -> tuple[set[int], set[int]]:
    """(registers written, registers read) of an instruction, roughly: stores, barriers and MMAs' first
    operand handled; enough for finding a loaded value's first reader."""
    ops = [o.strip() for o in x["txt"].split(None, 1)[1].split(",")] if " " in x["txt"] else []
    if not ops:
        return set(), set()
    b = st.base(x["op"])
    if b.startswith("ST") or b in ("LDGSTS", "BAR", "RED", "ATOM") or ops[0].startswith("["):
        return set(), set().union(*(regs(o) for o in ops))
    width = 4 if ".128" in x["op"] else 2 if ".64" in x["op"] else 1
    dest = {r for r in regs(ops[0]) if r < min(regs(ops[0]) or {0}) + width}
    return dest, set().union(*(regs(o) for o in ops[1:]))


def scale_load_report(loop: list[dict], ctl: dict[int, int]) -> list[dict]:
    """For each LDG in the loop: its first reader and its first scoreboard wait, walking forward and
    wrapping round the loop's back edge (a wrap means the value is consumed in the next iteration)."""
    out = []
    n = len(loop)
    for i, x in enumerate(loop):
        if st.base(x["op"]) != "LDG":
            continue
        dest, _ = operands(x)
        sb = wbar(ctl.get(x["addr"], 0))
        use = wait = None
        mma = 0
        for step in range(1, n + 1):
            y = loop[(i + step) % n]
            if wait is None and sb != 7 and wait_mask(ctl.get(y["addr"], 0)) >> sb & 1:
                wait = (step, y, i + step >= n, mma)
            if use is None and dest & operands(y)[1]:
                use = (step, y, i + step >= n)
            if st.base(y["op"]) in MMA_OPS:
                mma += 1
            if use and wait:
                break
        out.append(dict(ldg=x, index=i, sb=sb, use=use, wait=wait))
    return out


def analyze(folder: str) -> dict:
    sass = os.path.join(folder, "kernel.sass")
    ins = st.parse(sass)
    ctl = controls(sass)
    lo, hi, _ = max(st.back_branches(ins), key=lambda b: b[1] - b[0])
    loop = st.body(ins, lo, hi)
    byk, byop = st.summarize(loop, CLASSES)
    loads = scale_load_report(loop, ctl)
    with open(os.path.join(folder, "kernel.ttgir")) as f:
        ttgir = f.read()
    pend = sorted(set(re.findall(r"warp_group_dot_wait .*?\{pendings = (\d+)", ttgir)))
    depbar = sorted({x["txt"] for x in loop if x["op"].startswith("WARPGROUP.DEPBAR")})
    sched = "-"
    sched_path = os.path.join(folder, "kernel.schedule.txt")
    if os.path.exists(sched_path):
        with open(sched_path) as f:
            text = f.read()
        stage = {}
        for op, elem, name in (("tt.load", "f32", "scales"), ("tt.load", "f8", "tiles"), ("dot", "", "dot")):
            m = re.search(rf"{op}\S*\s+{elem}.*loop\.stage=(\d+)", text)
            stage[name] = m.group(1) if m else "?"
        sched = f"scales {stage['scales']} / tiles {stage['tiles']} / dot {stage['dot']}"
    allocs = re.findall(r"ttg\.local_alloc.*?!ttg\.memdesc<(\d+)x\d+x\d+xf8", ttgir)
    buffers = "/".join(sorted(set(allocs))) or "-"
    mma_ops = sorted({x["op"] for x in loop if st.klass(x["op"], CLASSES) == "MMA"})
    pipelined = any(ld["use"] and ld["use"][2] for ld in loads)
    return dict(
        lo=lo, hi=hi, n=len(loop), byk=byk, byop=byop, loads=loads, pend=pend, depbar=depbar,
        sched=sched, buffers=buffers, mma_ops=mma_ops, pipelined=pipelined, loop=loop,
        f32_async=ttgir.count("async_copy_global_to_local") and "!tt.ptr<f32>" in "".join(
            line for line in ttgir.splitlines() if "async_copy_global_to_local" in line
        ),
    )  # fmt: skip


def wait_summary(r: dict) -> dict:
    """The scale LDGs' first scoreboard waits: distance range (instructions), the opcodes that wait, the
    MMAs issued between LDG and wait, and whether any wait falls in the next iteration."""
    waits = [ld["wait"] for ld in r["loads"] if ld["wait"]]
    if not waits:
        return dict(ldg_to_wait="-", wait_at="-", mma_between="-")
    d = [w[0] for w in waits]
    m = [w[3] for w in waits]
    at = sorted({st.base(w[1]["op"]) for w in waits})
    nxt = " (some in next iteration)" if any(w[2] for w in waits) else ""
    return dict(ldg_to_wait=f"{min(d)}-{max(d)}{nxt}", wait_at="/".join(at), mma_between=f"{min(m)}-{max(m)}")


def notes(r: dict) -> str:
    ops = r["byop"]
    out = []
    if any(o.startswith("F2FP.F16.E4M3") for o in ops):
        n = sum(c for o, c in ops.items() if o.startswith("F2FP.F16.E4M3"))
        out.append(f"no fp8 MMA: {n} F2FP.F16.E4M3.UNPACK_B then HMMA.16816 fp16 (mma v2, not wgmma)")
    if r["byk"].get("LOCAL"):
        out.append(f"register spills {r['byk']['LOCAL']} LDL/STL per iteration")
    if r["byk"].get("STS"):
        out.append(f"scale relayout through smem ({r['byk']['STS']} STS + BAR.SYNC + LDS)")
    elif r["byk"].get("LDG", 0) > 8:
        out.append("b_s loaded straight into the MMA layout: one LDG per accumulator column pair")
    prmt = ops.get("PRMT", 0)
    if prmt > 32:
        out.append(f"{prmt} PRMT (fp8 B-fragment byte shuffles)")
    if r["depbar"]:
        out.append("scaling FMUL/FFMA after WARPGROUP.DEPBAR in the same warps")
    return "; ".join(out)


def position(r: dict, pred) -> str:
    idx = [i for i, x in enumerate(r["loop"]) if pred(x)]
    return f"{idx[0]}..{idx[-1]}" if idx else "-"


def main(argv: list[str]) -> None:
    root = argv[0]
    out_csv = argv[1] if len(argv) > 1 and not argv[1].startswith("--") else None
    detail = "--detail" in argv
    rows = []
    for version in sorted(v for v in os.listdir(root) if os.path.isdir(os.path.join(root, v))):
        for arch in ARCHS:
            for cfg in CONFIGS:
                folder = os.path.join(root, version, arch, cfg)
                if not os.path.exists(os.path.join(folder, "kernel.sass")):
                    continue
                r = analyze(folder)
                is_mma = lambda x: st.klass(x["op"], CLASSES) == "MMA"  # noqa: E731
                mma_wait = position(
                    r, lambda x: x["op"].startswith("WARPGROUP.DEPBAR") or x["op"].startswith("DEPBAR")
                )
                row = dict(
                    version=version, arch=arch, config=cfg,
                    scales_pipelined="yes" if r["pipelined"] else "no",
                    pipeliner_stage=r["sched"],
                    smem_buffers=r["buffers"],
                    total=r["n"], **{k: r["byk"].get(k, 0) for k in KEYS},
                    mma_op=" ".join(r["mma_ops"]),
                    wgmma_wait=(" ".join(r["depbar"]) or "-").replace("WARPGROUP.DEPBAR.LE ", ""),
                    ttgir_pendings=",".join(r["pend"]) or "-",
                    ldg_pos=position(r, lambda x: st.base(x["op"]) == "LDG"),
                    mma_pos=position(r, is_mma),
                    **wait_summary(r),
                    notes=notes(r),
                )  # fmt: skip
                rows.append(row)
                print(
                    f"{version} {arch} {cfg}: n={r['n']} pipelined={row['scales_pipelined']} "
                    + " ".join(f"{k}={row[k]}" for k in KEYS if row[k])
                    + f" | wgmma_wait={row['wgmma_wait']} pend={row['ttgir_pendings']}"
                    f" | LDG@{row['ldg_pos']} MMA@{row['mma_pos']} waits@{mma_wait}"
                    f" | LDG->wait {row['ldg_to_wait']} at {row['wait_at']}"
                    f", {row['mma_between']} MMAs between"
                    f" | {row['notes']}"
                )
                if detail:
                    st.print_classes(r["byk"], r["byop"], CLASSES)
    if out_csv:
        with open(out_csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main(sys.argv[1:])
