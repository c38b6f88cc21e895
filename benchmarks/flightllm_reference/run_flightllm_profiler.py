"""Reference data from FlightLLM's public instruction-level profiler (VHK158 model).

FlightLLM (FPGA'24) ships a Python profiler in ``github.com/FlightLLM/flightllm_test_demo``
(``profile/``): it compiles a pre-generated LLaMA-2-7B IR into the accelerator's
instruction stream (LD/ST/MM/MV/MISC/SYS) and replays that stream with per-unit timing.
This script produces ``flightllm_reference.csv`` from it, in the role SCALE-Sim has in
``benchmarks/scalesim_reference/``.

The peer is **never imported** by this script or by codesign.  The script runs with any
python 3 (standard library only).  For every case it

1. writes a config variant (the artifact's ``profile/config.yaml`` with some values
   replaced, ``OUTPUT_DIR`` pointed at a temporary directory whose ``ir_output`` links to
   the artifact's pre-generated IR) into a temporary directory;
2. runs a small driver, written to the same temporary directory, as a subprocess under
   the peer's own venv python.  The driver calls the artifact's ``InstGenerator`` and
   ``InstProfiler`` (what ``profile/run.py`` does per case, without run.py's GPU part and
   without its skip-if-the-CSV-exists cache) and prints one JSON line of instruction
   statistics;
3. parses the CSV the profiler wrote (``inst_type,inst_cnt,part_time,part_time_ratio``,
   times in ms) and the JSON line, and appends one row to the output CSV.

Usage::

    git --git-dir=<mirror> archive 4a9625149e19c3baccad0786ae0d90bab2410890 profile README.md \
        | tar -x -C /tmp/flightllm                 # export the artifact (outside this repo)
    python3 -m venv /tmp/flightllm-venv && /tmp/flightllm-venv/bin/pip install numpy pyyaml
    python benchmarks/flightllm_reference/run_flightllm_profiler.py \
        /tmp/flightllm /tmp/flightllm-venv/bin/python \
        [--out benchmarks/flightllm_reference/flightllm_reference.csv] \
        [--quick] [--only REGEX] [--jobs 1] [--case-timeout 1800] [--dry-run]

The output is written incrementally (a finished case is appended and flushed; cases
already in the file are skipped, so an interrupted run is resumed by running the same
command again) and is rewritten sorted at the end.  Run times (one core each, on a
shared 2-core machine): 9-35 s (median 15 s) per decode length, 90-160 s for prefill
128, 8 min and 10.5 GB of memory for prefill 512; the full grid took 54 min.  Use
``--jobs 1`` when the wall times are to be kept as reference figures.
"""

import argparse
import contextlib
import csv
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "flightllm_reference.csv"

ARTIFACT_REPO = "FlightLLM/flightllm_test_demo"
ARTIFACT_COMMIT = "4a9625149e19c3baccad0786ae0d90bab2410890"
# git blob ids of the profiler's files at ARTIFACT_COMMIT (paths relative to profile/).
PINNED_BLOBS = {
    "config.yaml": "56f611e54be169b09051eb2bbf12fcbcf5a21257",
    "inst_gen/inst_generator.py": "1e65ce470e6990df395b9f5dd3a977fe60fe4c4b",
    "inst_gen/inst_profiler.py": "3c169a9bc3a78f5c8659e47ffaf62dbfe4cc2a8f",
    "inst_gen/isa.py": "186f5d4b622add9699cea318e6426e6d379d7267",
    "inst_gen/layer_support/IR_attention_mm.py": "e8e7d7193c88e38de4a8c9b6756d29f2fc678e81",
    "inst_gen/layer_support/IR_attention_mv.py": "251d917cdd768a69fadb74ff7e0a651ea9d5b5be",
    "inst_gen/layer_support/IR_concat.py": "dc17c01af3cf5ae401862fa35cd30b931f170592",
    "inst_gen/layer_support/IR_linear_mm.py": "b68ffd92174c41e05894de6dd2f0369dd172da45",
    "inst_gen/layer_support/IR_linear_mv.py": "591780624d5efe80433621c546add5104f7538f7",
    "inst_gen/layer_support/IR_misc.py": "86df8260983c3ef0049ee1814d93b11e4090b9c6",
    "utils/config_generator.py": "1ccdd40122182c9e985c114bd117ef51ac250822",
    "utils/tools.py": "8f339dc1f0353da3f1120664b4067615dd78c5a3",
}
# sha256 over the sorted lines "<path relative to profile/> <git blob id>\n" of every file
# under profile/.compiler_output/ir_output (176 files: 128 decode + 16 prefill IRs and 32
# attention masks).
PINNED_IR_DIGEST = "9a8f317c2653dfd425f98fd2705c9d8ca4dc1fac73eab909aabc01f5c5a24def"

MODEL = "llama2"  # the only model the artifact ships IR for (LLaMA-2-7B)

# ---------------------------------------------------------------------------------------
# The grid
# ---------------------------------------------------------------------------------------
# name -> (config overrides, description).  The overrides are applied to the artifact's
# config.yaml line by line.
VARIANTS = {
    "base": ({}, "the shipped VHK158 config.yaml"),
    "hbm_x0.5": ({"HBM_BW_GB_PER_SEC": 409.6}, "HBM bandwidth halved"),
    "hbm_x2": ({"HBM_BW_GB_PER_SEC": 1638.4}, "HBM bandwidth doubled"),
    "mv_x0.5": ({"MV_PARALLEL_N": 32}, "GEMV array 32x16 instead of 64x16"),
    "mv_x2": ({"MV_PARALLEL_N": 128}, "GEMV array 128x16 instead of 64x16"),
    # MM_PARALLEL_N/K/M cannot be doubled without failing the profiler's own asserts
    # (see FLIGHTLLM_MODEL_NOTES.md), so the two GEMM-throughput variants change
    # MM_START_N_NUM, which only enters time_MM's numerator: MM time = MM_START_M_NUM *
    # K * 16 * MM_START_N_NUM / (MM_PARALLEL_N*K*M) cycles, while the generator's MM
    # tiles stay 128x16.  Halving MM_START_N_NUM is therefore exactly 2x GEMM MACs/cycle.
    "mm_x0.5": ({"MM_START_N_NUM": 32}, "GEMM throughput halved (timing-equivalent: MM_START_N_NUM 16->32)"),
    "mm_x2": ({"MM_START_N_NUM": 8}, "GEMM throughput doubled (timing-equivalent: MM_START_N_NUM 16->8)"),
    # The one real halving the asserts allow: MM_PARALLEL_N 2->1, with the two bank
    # widths the config asserts tie to it.
    "mm_n1": (
        {"MM_PARALLEL_N": 1, "B_BUFFER_MM_BANK_WIDTH_B": 16, "META_BUFFER_BANK_WIDTH_B": 8},
        "GEMM array 1x16x128 (MM_PARALLEL_N 2->1, B bank 32->16 B, meta bank 16->8 B)",
    ),
}
DECODE_ALL = list(range(144, 2049, 16))  # every aligned decode length the README cases use
DECODE_QUICK = [144, 256, 512, 1024, 1536, 2048]
DECODE_VARIANT = [144, 1024, 2048]


def build_grid(quick):
    """List of (variant, phase, length)."""
    grid = [("base", "decode", n) for n in (DECODE_QUICK if quick else DECODE_ALL)]
    grid += [("base", "prefill", 128), ("base", "prefill", 512)]
    for v in ("hbm_x0.5", "hbm_x2"):
        grid += [(v, "decode", n) for n in DECODE_VARIANT] + [(v, "prefill", 128)]
    for v in ("mv_x0.5", "mv_x2"):
        grid += [(v, "decode", n) for n in DECODE_VARIANT]
    # MM instructions occur only in prefill (decode has none), so the GEMM variants run
    # prefill; mm_n1 also runs decode 144 because META_BUFFER_BANK_WIDTH_B enters the
    # GEMV tiling.
    for v in ("mm_x0.5", "mm_x2"):
        grid += [(v, "prefill", 128)]
    grid += [("mm_n1", "prefill", 128), ("mm_n1", "decode", 144)]
    return grid


def case_id(variant, phase, length):
    return f"{variant}/{phase}_{length:04d}"


# ---------------------------------------------------------------------------------------
# CSV columns
# ---------------------------------------------------------------------------------------
UNITS = ("LD", "ST", "MM", "MV", "MISC", "SYS")  # the profiler's ALL_INST_TYPE
#: The traffic and work counters the replay collects per case (`info` keys), written as they are.
COUNTERS = (
    "ld_bytes",
    "ld_bytes_cross_channel",
    "ld_bytes_charged",
    "ld_zero_fill_bytes",
    "st_bytes",
    "mm_macs",
    "mv_macs",
    "misc_elements",
)
COLUMNS = (
    [
        "case_id",
        "variant",
        "phase",
        "length",
        "model",
        # config fields (after the variant's overrides)
        "clock_mhz",
        "hbm_bw_gb_per_s_config",
        "hbm_channels",
        "hbm_channel_bytes_per_s",
        "hbm_channels_per_stream",
        "hbm_same_channel_eff",
        "hbm_cross_channel_eff",
        "mm_parallel_n",
        "mm_parallel_k",
        "mm_parallel_m",
        "mm_start_m_num",
        "mm_start_n_num",
        "mm_macs_per_cycle",
        "mm_macs_per_cycle_effective",
        "mv_parallel_n",
        "mv_parallel_k",
        "mv_parallel_m",
        "mv_start_n_num",
        "mv_macs_per_cycle",
        "misc_parallel_k",
        "slr_num",
        "correction_factor",
        # results
        "latency_s",
        "tokens_per_s",
        "latency_s_uncorrected",
    ]
    + [f"{u.lower()}_busy_s" for u in UNITS]
    + [f"{u.lower()}_insts" for u in UNITS]
    + ["total_insts", *COUNTERS]
    + [
        "matches_shipped_csv",
        "profiler_wall_s",
        "generate_s",
        "simulate_s",
        "peak_rss_mb",
        "peer_python",
        "peer_numpy",
        "artifact_commit",
    ]
)

# The six FlightLLM-on-VHK158 cases of profile/README.md (batch 1): (prefill, decode) ->
# (prefill ms, decode ms, total ms, decode tokens/s) as printed there.
README_CASES = {
    (128, 512): (289.9, 4946.4, 5236.3, 103.5),
    (128, 1024): (289.9, 10318.6, 10608.4, 99.2),
    (128, 1536): (289.9, 16103.1, 16393.0, 95.4),
    (512, 512): (1181.4, 5269.0, 6450.5, 97.2),
    (512, 1024): (1181.4, 10950.5, 12131.9, 93.5),
    (512, 1536): (1181.4, 17044.3, 18225.7, 90.1),
}

# ---------------------------------------------------------------------------------------
# The driver, run under the peer's venv python (never imported here)
# ---------------------------------------------------------------------------------------
DRIVER = r"""
import json, platform, resource, sys, time
profile_dir, config_path, ir_path, case_name = sys.argv[1:5]
sys.path.insert(0, profile_dir)
import numpy
from utils import config_generator
from inst_gen import inst_generator, inst_profiler

cfg = config_generator.CFG(config_path)
t0 = time.perf_counter()
model_inst_list = inst_generator.InstGenerator(cfg, ir_path).run()
t1 = time.perf_counter()
profiler = inst_profiler.InstProfiler(cfg, model_inst_list, case_name)
profiler.run()
t2 = time.perf_counter()

ld = ld_cross = ld_charged = ld_zero = st = 0.0
mm_macs = mv_macs = misc = 0.0
fsb = cfg.FSB_BLOCK_SIZE
for layer in model_inst_list:
    for inst in layer:
        kind, p = inst["TYPE"], inst["PARAM"]
        if kind == "LD":
            n = p["1d_length"] * p["1d_loop"] * p["2d_loop"] * p["3d_loop"]
            if p["zero_fill"]:
                ld_zero += n
            else:
                ld += n
                ld_charged += n / inst["NOTE"]["bandwidth_ratio"]
                if inst["NOTE"]["cross_hbm_channel"]:
                    ld_cross += n
        elif kind == "ST":
            st += p["1d_length"] * p["1d_loop"]
        elif kind in ("MM", "MV"):
            if kind == "MM":
                macs = cfg.MM_START_M_NUM * p["K"] * fsb * cfg.MM_START_N_NUM
            else:
                macs = cfg.MV_START_M_NUM * p["K"] * fsb * cfg.MV_START_N_NUM
            if p["sparse_flag"]:
                macs *= inst["NOTE"]["sparse_ratio"]
            if kind == "MM":
                mm_macs += macs
            else:
                mv_macs += macs
        elif kind == "MISC":
            misc += p["K"] * fsb
print(json.dumps({
    "generate_s": t1 - t0,
    "simulate_s": t2 - t1,
    "total_ms_attr": profiler.inst_total_time,
    "correction_factor": profiler.correction_factor,
    "ld_bytes": ld,
    "ld_bytes_cross_channel": ld_cross,
    "ld_bytes_charged": ld_charged,
    "ld_zero_fill_bytes": ld_zero,
    "st_bytes": st,
    "mm_macs": mm_macs,
    "mv_macs": mv_macs,
    "misc_elements": misc,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    "peer_python": platform.python_version(),
    "peer_numpy": numpy.__version__,
}))
"""


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
def git_blob_id(path):
    data = Path(path).read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def find_profile_dir(artifact):
    artifact = Path(artifact).resolve()
    for cand in (artifact / "profile", artifact):
        if (cand / "inst_gen" / "inst_profiler.py").is_file() and (cand / "config.yaml").is_file():
            return cand
    sys.exit(f"no FlightLLM profile/ directory under {artifact}")


def verify_artifact(profile_dir):
    """Return ARTIFACT_COMMIT if the code, config and IR match the pinned commit."""
    bad = [
        rel
        for rel, blob in PINNED_BLOBS.items()
        if not (profile_dir / rel).is_file() or git_blob_id(profile_dir / rel) != blob
    ]
    ir_root = profile_dir / ".compiler_output" / "ir_output"
    lines = []
    for root, _dirs, files in os.walk(ir_root):
        for name in files:
            p = Path(root) / name
            lines.append(f"{p.relative_to(profile_dir).as_posix()} {git_blob_id(p)}")
    digest = hashlib.sha256(("\n".join(sorted(lines)) + "\n").encode()).hexdigest()
    if digest != PINNED_IR_DIGEST:
        bad.append(".compiler_output/ir_output/*")
    if bad:
        print(f"WARNING: artifact differs from {ARTIFACT_COMMIT[:12]} in: {', '.join(bad)}", file=sys.stderr)
        return "unknown(modified)"
    return ARTIFACT_COMMIT


def apply_overrides(text, overrides, output_dir):
    """The config text with `KEY: value` lines replaced (comments kept)."""
    overrides = dict(overrides, OUTPUT_DIR=str(output_dir))
    out = []
    seen = set()
    for line in text.splitlines():
        m = re.match(r"^([A-Z_0-9]+):(\s*)([^#]*?)(\s*#.*)?$", line)
        if m and m.group(1) in overrides:
            key = m.group(1)
            seen.add(key)
            line = f"{key}:{m.group(2) or ' '}{overrides[key]}{m.group(4) or ''}"
        out.append(line)
    missing = set(overrides) - seen
    if missing:
        raise KeyError(f"config keys not found: {sorted(missing)}")
    return "\n".join(out) + "\n"


def parse_config_values(text):
    vals = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Z_0-9]+):\s*([^#]*?)\s*(#.*)?$", line)
        if m and m.group(2) != "":
            v = m.group(2)
            try:
                vals[m.group(1)] = int(v)
            except ValueError:
                try:
                    vals[m.group(1)] = float(v)
                except ValueError:
                    vals[m.group(1)] = v
    return vals


def config_columns(c):
    # HBM_CHANNEL_BW_B_PER_SEC as config_generator.py computes it (GB read as 2**30 B).
    ch_bw = c["HBM_BW_GB_PER_SEC"] * 1024**3 / c["HBM_CHANNEL_NUM"]
    mm_total = c["MM_PARALLEL_N"] * c["MM_PARALLEL_K"] * c["MM_PARALLEL_M"]
    mv_total = c["MV_PARALLEL_N"] * c["MV_PARALLEL_K"] * c["MV_PARALLEL_M"]
    misc = {
        c[k] for k in ("SOFTMAX_PARALLEL_K", "LAYERNORM_PARALLEL_K", "ELTWISE_PARALLEL_K", "SILU_PARALLEL_K")
    }
    assert len(misc) == 1, "the CSV has one misc_parallel_k column"
    # The generator's MM tile is MM_PARALLEL_M rows x FSB_BLOCK_SIZE columns (x K), the
    # profiler charges MM_START_M_NUM x MM_START_N_NUM per instruction.
    mm_eff = (
        mm_total * (c["MM_PARALLEL_M"] * c["FSB_BLOCK_SIZE"]) / (c["MM_START_M_NUM"] * c["MM_START_N_NUM"])
    )
    return {
        "clock_mhz": c["CLOCK_FREQ_MHZ"],
        "hbm_bw_gb_per_s_config": c["HBM_BW_GB_PER_SEC"],
        "hbm_channels": c["HBM_CHANNEL_NUM"],
        "hbm_channel_bytes_per_s": f"{ch_bw:.6e}",
        "hbm_channels_per_stream": c["A_BUFFER_HBM_CHANNEL_NUM"],
        "hbm_same_channel_eff": c["HBM_BW_SAME_CHANNEL_EFFICIENCY"],
        "hbm_cross_channel_eff": c["HBM_BW_CROSS_CHANNEL_EFFICIENCY"],
        "mm_parallel_n": c["MM_PARALLEL_N"],
        "mm_parallel_k": c["MM_PARALLEL_K"],
        "mm_parallel_m": c["MM_PARALLEL_M"],
        "mm_start_m_num": c["MM_START_M_NUM"],
        "mm_start_n_num": c["MM_START_N_NUM"],
        "mm_macs_per_cycle": mm_total,
        "mm_macs_per_cycle_effective": f"{mm_eff:g}",
        "mv_parallel_n": c["MV_PARALLEL_N"],
        "mv_parallel_k": c["MV_PARALLEL_K"],
        "mv_parallel_m": c["MV_PARALLEL_M"],
        "mv_start_n_num": c["MV_START_N_NUM"],
        "mv_macs_per_cycle": mv_total,
        "misc_parallel_k": misc.pop(),
        "slr_num": c["SLR_NUM"],
    }


def read_profiler_csv(path):
    rows = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            rows[r["inst_type"]] = (int(r["inst_cnt"]), float(r["part_time"]))
    return rows


def run_case(args, profile_dir, commit, variant, phase, length, work_root):
    name = f"{MODEL}_{phase}_token_{length}"
    ir_path = profile_dir / ".compiler_output" / "ir_output" / f"{name}.yaml"
    if not ir_path.is_file():
        raise FileNotFoundError(ir_path)
    overrides, _desc = VARIANTS[variant]
    work = Path(tempfile.mkdtemp(prefix=f"{variant}_{phase}_{length}_", dir=work_root))
    out_dir = work / "out"
    out_dir.mkdir()
    (out_dir / "ir_output").symlink_to(profile_dir / ".compiler_output" / "ir_output")
    cfg_text = apply_overrides((profile_dir / "config.yaml").read_text(), overrides, out_dir)
    cfg_path = work / "config.yaml"
    cfg_path.write_text(cfg_text)
    driver = work / "driver.py"
    driver.write_text(DRIVER)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            args.peer_python,
            str(driver),
            str(profile_dir),
            str(cfg_path),
            str(out_dir / "ir_output" / f"{name}.yaml"),
            name,
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=args.case_timeout,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"profiler failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    prof_csv = out_dir / "profiler_output" / f"{name}.csv"
    units = read_profiler_csv(prof_csv)
    shipped = profile_dir / ".compiler_output" / "profiler_output" / f"{name}.csv"
    matches = ""
    if variant == "base" and shipped.is_file():
        matches = str(shipped.read_bytes() == prof_csv.read_bytes())

    cfgv = parse_config_values(cfg_text)
    total_ms = units["TOTAL"][1]
    latency = total_ms / 1e3
    row = {
        "case_id": case_id(variant, phase, length),
        "variant": variant,
        "phase": phase,
        "length": length,
        "model": "LLaMA-2-7B",
        **config_columns(cfgv),
        "correction_factor": info["correction_factor"],
        "latency_s": f"{latency:.9g}",
        # decode: one token per run; prefill: `length` prompt tokens per run
        "tokens_per_s": f"{(1 if phase == 'decode' else length) / latency:.6g}",
        "latency_s_uncorrected": f"{latency * info['correction_factor']:.9g}",
    }
    for u in UNITS:
        cnt, ms = units.get(u, (0, 0.0))
        row[f"{u.lower()}_busy_s"] = f"{ms / 1e3:.9g}"
        row[f"{u.lower()}_insts"] = cnt
    row["total_insts"] = units["TOTAL"][0]
    for k in COUNTERS:
        row[k] = f"{info[k]:.10g}"
    row.update(
        {
            "matches_shipped_csv": matches,
            "profiler_wall_s": f"{wall:.2f}",
            "generate_s": f"{info['generate_s']:.2f}",
            "simulate_s": f"{info['simulate_s']:.2f}",
            "peak_rss_mb": f"{info['peak_rss_mb']:.0f}",
            "peer_python": info["peer_python"],
            "peer_numpy": info["peer_numpy"],
            "artifact_commit": commit,
        }
    )
    # the temporary directory (config, driver, profiler CSV) is not needed any more
    for p in sorted(work.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if p.is_symlink() or p.is_file():
            p.unlink()
        else:
            p.rmdir()
    work.rmdir()
    return row


def sort_key(row):
    order = list(VARIANTS)
    return (order.index(row["variant"]), row["phase"], int(row["length"]))


def print_readme_check(rows):
    base = {
        (r["phase"], int(r["length"])): float(r["latency_s"]) * 1e3 for r in rows if r["variant"] == "base"
    }
    align = lambda v, u: ((v + u - 1) // u) * u  # noqa: E731  (run.py's align_token_length)
    print(
        "README check (run.py's accounting: prefill at align128(P); decode token i at "
        "align16(P+i+1); tokens/s = D / decode time):"
    )
    for (p, d), (r_pre, r_dec, r_tot, r_tps) in README_CASES.items():
        need = [("prefill", align(p, 128))] + [("decode", align(p + i + 1, 16)) for i in range(d)]
        if any(k not in base for k in need):
            print(f"  P={p} D={d}: lengths missing, skipped")
            continue
        pre = base[need[0]]
        dec = sum(base[k] for k in need[1:])
        print(
            f"  P={p:4d} D={d:4d}: prefill {pre:7.1f} ms (README {r_pre}), decode {dec:8.1f} ms "
            f"(README {r_dec}), total {pre + dec:8.1f} ms (README {r_tot}), "
            f"{d / (dec / 1e3):6.1f} tok/s (README {r_tps})"
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("artifact", help="exported flightllm_test_demo tree (or its profile/ dir)")
    ap.add_argument("peer_python", help="python of the peer's own venv (numpy, pyyaml)")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"base decode only at {DECODE_QUICK} instead of every 16 from 144 to 2048",
    )
    ap.add_argument("--only", help="run only the case_ids matching this regex")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--case-timeout", type=float, default=1800.0)
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()

    profile_dir = find_profile_dir(args.artifact)
    commit = verify_artifact(profile_dir)
    grid = build_grid(args.quick)
    if args.only:
        grid = [g for g in grid if re.search(args.only, case_id(*g))]
    out = Path(args.out)
    done = {}
    if out.is_file():
        with open(out, newline="") as f:
            for r in csv.DictReader(f):
                done[r["case_id"]] = r
    pending = [g for g in grid if case_id(*g) not in done]
    print(f"{len(grid)} cases, {len(grid) - len(pending)} already in {out}, {len(pending)} to run")
    if args.dry_run:
        for g in pending:
            print("  ", case_id(*g), VARIANTS[g[0]][1])
        return 0

    lock = threading.Lock()
    new_file = not out.is_file()
    failures = []
    work_root = tempfile.mkdtemp(prefix="flightllm_ref_")
    with open(out, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        if new_file:
            writer.writeheader()
            fh.flush()

        def job(g):
            cid = case_id(*g)
            try:
                row = run_case(args, profile_dir, commit, *g, work_root)
            except Exception as e:  # noqa: BLE001  (reported, the grid goes on)
                with lock:
                    failures.append(cid)
                    print(f"FAIL {cid}: {e}", file=sys.stderr, flush=True)
                return
            with lock:
                writer.writerow(row)
                fh.flush()
                done[cid] = row
                print(
                    f"{cid:24s} latency {float(row['latency_s']) * 1e3:9.3f} ms  "
                    f"{float(row['tokens_per_s']):8.2f} tok/s  wall {row['profiler_wall_s']:>7s} s"
                    f"  shipped-match {row['matches_shipped_csv'] or '-'}",
                    flush=True,
                )

        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
            list(ex.map(job, pending))
    with contextlib.suppress(OSError):
        os.rmdir(work_root)

    rows = sorted(done.values(), key=sort_key)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    print_readme_check(rows)
    if failures:
        print(f"{len(failures)} case(s) failed: {failures}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
