#!/usr/bin/env python3
"""per_tile.csv from the build folder: per variant, resources (cuobjdump -res-usage, ptxas -v), the
launch configuration the host launcher computed on the CPU (launch.txt), resident CTAs per SM on an
A100 and an H100, and the main loop's per-k-tile per-thread SASS counts (<variant>.json from
qmm_loops.py).

  per_tile.py BUILD_DIR > per_tile.csv
"""
import csv
import json
import math
import re
import sys
from pathlib import Path

VARIANTS = [  # name, PR, commit, arch, weights, tile (M x N x K as the kernel's own tiler names it)
    ("sm80_m16", 3255, "1e855446b", "sm_80", "uint8", "16x128x64"),
    ("sm80_m32", 3255, "1e855446b", "sm_80", "uint8", "32x128x64"),
    ("sm80_m64", 3255, "1e855446b", "sm_80", "uint8", "64x128x64"),
    ("naive_m16_k", 3315, "1c9ee2f65", "sm_80", "uint4 K-major", "16x128x64"),
    ("naive_m16_n", 3315, "1c9ee2f65", "sm_80", "uint4 N-major", "16x128x64"),
    ("naive_m64_k", 3315, "1c9ee2f65", "sm_80", "uint4 K-major", "64x128x64"),
    ("naive_m64_n", 3315, "1c9ee2f65", "sm_80", "uint4 N-major", "64x128x64"),
    ("qmv", 3180, "3c565437a", "sm_80", "uint8", "8 rows x 256 k per warp-iteration"),
    ("sm90_3160", 3160, "6304c285d", "sm_90a", "uint4", "128(N)x16(M)x64(K)"),
    ("sm90_3173_n16", 3173, "0c8107ce8", "sm_90a", "uint4", "128(N)x16(M)x64(K) cluster 1, M<=16"),
    ("sm90_3173_n32", 3173, "0c8107ce8", "sm_90a", "uint4", "128(N)x32(M)x64(K) cluster 1, 16<M<=32"),
    ("sm90_3173_n64", 3173, "0c8107ce8", "sm_90a", "uint4", "128(N)x64(M)x64(K) cluster 2x1, 32<M<=64"),
]
GRID = {
    "sm80": "(ceil(M/TileM), ceil(N/128), L)",
    "naive": "(ceil(M/TileM), ceil(N/128), L)",
    "qmv": "(ceil(N/8), M)",
    "sm90": "persistent: min(tiles, SMs) with tiles = ceil(N/128)*ceil(M/TILE_M)*L",
}
# (registers per SM, max smem per SM usable by CTAs, smem reserved per CTA, threads, CTAs) per GPU
GPUS = {"a100": (65536, 167936, 1024, 2048, 32), "h100": (65536, 233472, 1024, 2048, 32)}

CLASS_COLS = ["HMMA", "HGMMA", "LDGSTS", "LDG", "LDS", "LDSM", "STS", "LDC", "ULDC", "BAR", "DEPBAR",
              "LDGDEPBAR", "SYNCS", "WARPGROUP", "UTMALDG", "SHFL", "I2F", "I2FP", "F2F", "F2FP", "PRMT",
              "LOP3", "SHF", "IMAD", "IADD3", "LEA", "MOV", "ISETP", "SEL", "HFMA2", "HADD2", "HMUL2", "FFMA",
              "FADD", "FMUL", "BRA"]


def ctas_per_sm(regs, threads, smem, gpu):
    r_sm, s_sm, s_res, t_sm, c_sm = GPUS[gpu]
    warps = math.ceil(threads / 32)
    regs_per_warp = math.ceil(regs * 32 / 256) * 256
    by_regs = (r_sm // regs_per_warp) // warps
    by_smem = s_sm // (smem + s_res) if smem + s_res > 0 else c_sm
    by_threads = t_sm // threads
    n = min(by_regs, by_smem, by_threads, c_sm)
    limits = (("regs", by_regs), ("smem", by_smem), ("threads", by_threads), ("ctas", c_sm))
    limit = [k for k, v in limits if v == n]
    return n, "/".join(limit)


def main(bdir):
    launch = {}
    launch_pattern = (r"m=(\d+) n=(\d+) k=(\d+) grid=\((\d+),(\d+),(\d+)\) "
                      r"block=\((\d+),(\d+),(\d+)\) dynamic_smem=(\d+)")
    for line in Path(f"{bdir}/launch.txt").read_text().splitlines():
        parts = line.split(None, 1)
        if len(parts) < 2:
            continue
        m = re.search(launch_pattern, parts[1])
        if m:
            launch.setdefault(parts[0], []).append(tuple(int(g) for g in m.groups()))
    out = csv.writer(sys.stdout, lineterminator="\n")
    cols = ["variant", "pr", "mlx_commit", "arch", "weights", "tile", "threads", "registers", "static_smem",
            "dynamic_smem", "grid", "grid_M16_N4096", "grid_M16_N16384", "grid_M64_N16384",
            "ctas_per_sm_a100",
            "a100_limit", "ctas_per_sm_h100", "h100_limit", "main_loop", "k_tiles_per_loop_body",
            "instr_per_ktile", "mma_op", *[c.lower() for c in CLASS_COLS], "uniform_ops", "other",
            "ldg_widths", "ldgsts_widths", "lds_widths", "scale_ldg_per_ktile", "scale_ldg_width_bits",
            "scale_ldg_first_use_same_trip", "scale_ldg_scoreboard_wait_same_trip",
            "scale_ldg_min_instr_to_first_use", "bar_per_ktile", "depbar_text"]
    out.writerow(cols)
    for v, pr, c, arch, wq, tile in VARIANTS:
        try:
            d = json.loads(Path(f"{bdir}/{v}.json").read_text())
        except FileNotFoundError:
            continue
        res = Path(f"{bdir}/{v}.res.txt").read_text()
        blocks = re.findall(r"Function (\S+):\s*\n\s*(REG:\d+ STACK:\d+ SHARED:\d+[^\n]*)", res)
        regs = static = None
        for name, r in blocks:
            if name == d["kernel"]:
                regs = int(re.search(r"REG:(\d+)", r).group(1))
                static = int(re.search(r"SHARED:(\d+)", r).group(1))
        L = launch.get(v, [])
        threads = L[0][6] * L[0][7] * L[0][8] if L else None
        dyn = L[0][9] if L else None
        pick = lambda mm, nn, L=L: next(  # noqa: E731
            (f"({g[3]},{g[4]},{g[5]})" for g in L if g[0] == mm and g[1] == nn), "")
        if v.startswith("sm90"):  # tools/sm90_sizes.cu; persistent grid min(tiles, 132 SMs) on an H100 SXM
            sizes = Path(f"{bdir}/{v}_sizes.txt").read_text()
            z = re.search(r"block=\((\d+),(\d+),(\d+)\) dynamic_smem=(\d+)", sizes)
            threads, dyn = int(z.group(1)) * int(z.group(2)) * int(z.group(3)), int(z.group(4))
            tm = int(re.search(r"x(\d+)\(M\)", tile).group(1))
            ntiles = lambda mm, nn: math.ceil(nn / 128) * math.ceil(mm / tm)  # noqa
            pick = lambda mm, nn: f"({min(ntiles(mm, nn), 132)},1,1) for {ntiles(mm, nn)} tiles"  # noqa
        smem = (static or 0) + (dyn or 0)
        a100 = ctas_per_sm(regs, threads, smem, "a100") if threads and arch == "sm_80" else ("", "")
        h100 = ctas_per_sm(regs, threads, smem, "h100") if threads else ("", "")
        op = d["per_tile_by_opcode"]
        bybase = {}
        for k, n in op.items():
            bybase[k.split(".")[0]] = bybase.get(k.split(".")[0], 0) + n
        counted = sum(bybase.get(k, 0) for k in CLASS_COLS)
        uni = sum(n for k, n in bybase.items()
                  if k.startswith("U") and k not in CLASS_COLS and k != "UTMALDG")
        other = d["per_tile_total"] - counted - uni
        widths = lambda b, op=op: ";".join(  # noqa: E731
            f"{k}:{n:g}" for k, n in sorted(op.items()) if k.split(".")[0] == b)
        mma = ";".join(k for k in op if k.startswith(("HMMA", "HGMMA")))
        # scale/bias loads: 16-bit LDGs (sm80, naive K-major, qmv); report all 16-bit-or-narrower LDGs
        sl = [r for r in d["ldg"] if r["width_bits"] <= 16] or [r for r in d["ldg"]]
        tiles = d["k_tiles_per_body"]
        sl_same = [r for r in sl if r.get("first_use") is not None]
        row = dict(
            variant=v, pr=pr, mlx_commit=c, arch=arch, weights=wq, tile=tile, threads=threads, registers=regs,
            static_smem=static, dynamic_smem=dyn, grid=GRID[v.split("_")[0]], grid_M16_N4096=pick(16, 4096),
            grid_M16_N16384=pick(16, 16384), grid_M64_N16384=pick(64, 16384), ctas_per_sm_a100=a100[0],
            a100_limit=a100[1], ctas_per_sm_h100=h100[0], h100_limit=h100[1], main_loop=d["loop"],
            k_tiles_per_loop_body=f"{tiles:g}", instr_per_ktile=f"{d['per_tile_total']:g}", mma_op=mma,
            uniform_ops=f"{uni:g}", other=f"{other:g}", ldg_widths=widths("LDG"),
            ldgsts_widths=widths("LDGSTS"),
            lds_widths=widths("LDS") + (";" + widths("LDSM") if widths("LDSM") else ""),
            scale_ldg_per_ktile=f"{len(sl) / tiles:g}" if d["ldg"] else 0,
            scale_ldg_width_bits=";".join(sorted({str(r["width_bits"]) for r in sl})),
            scale_ldg_first_use_same_trip=sum(1 for r in sl_same if not r["first_use_next_trip"]),
            scale_ldg_scoreboard_wait_same_trip=sum(
                1 for r in sl_same if r.get("scoreboard_wait_at") and not r["scoreboard_wait_next_trip"]),
            scale_ldg_min_instr_to_first_use=min((r["instructions_between"] for r in sl_same), default=""),
            bar_per_ktile=f"{bybase.get('BAR', 0):g}",
            depbar_text=";".join(k for k in op if k.startswith("DEPBAR")),
        )
        for k in CLASS_COLS:
            row[k.lower()] = f"{bybase.get(k, 0):g}"
        out.writerow([row.get(k, "") for k in cols])


if __name__ == "__main__":
    main(sys.argv[1])
