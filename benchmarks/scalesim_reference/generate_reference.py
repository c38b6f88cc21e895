"""Generate the SCALE-Sim v3 reference data set ``tests/data/scalesim_reference.csv``.

Runs with the project's normal python; SCALE-Sim itself is only ever run as a
subprocess (``run_scalesim.py`` under the separate SCALE-Sim venv's python,
see ``setup_venv.sh``).

The output CSV is written incrementally: every finished case is appended at
once, cases already present in the output file are skipped, so an interrupted
run can simply be restarted.  At the end the file is rewritten sorted by
``case_id``.

Usage::

    python benchmarks/scalesim_reference/generate_reference.py \
        [--scalesim-python .scalesim-venv/bin/python] \
        [--out tests/data/scalesim_reference.csv] [--jobs 2] [--case-timeout 90] \
        [--only REGEX] [--dry-run]
"""

import argparse
import csv
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "run_scalesim.py"

INPUT_COLUMNS = [
    "case_id",
    "kind",
    "name",
    "M",
    "N",
    "K",
    "ifmap_h",
    "ifmap_w",
    "filter_h",
    "filter_w",
    "channels",
    "num_filters",
    "stride",
    "dataflow",
    "rows",
    "cols",
    "ifmap_kb",
    "filter_kb",
    "ofmap_kb",
    "bw_mode",
    "bandwidth_words_per_cycle",
]
OUTPUT_COLUMNS = [
    "total_cycles_incl_prefetch",
    "total_cycles",
    "stall_cycles",
    "overall_util_pct",
    "mapping_efficiency_pct",
    "compute_util_pct",
    "sram_ifmap_start_cycle",
    "sram_ifmap_stop_cycle",
    "sram_ifmap_reads",
    "sram_filter_start_cycle",
    "sram_filter_stop_cycle",
    "sram_filter_reads",
    "sram_ofmap_start_cycle",
    "sram_ofmap_stop_cycle",
    "sram_ofmap_writes",
    "dram_ifmap_start_cycle",
    "dram_ifmap_stop_cycle",
    "dram_ifmap_reads",
    "dram_filter_start_cycle",
    "dram_filter_stop_cycle",
    "dram_filter_reads",
    "dram_ofmap_start_cycle",
    "dram_ofmap_stop_cycle",
    "dram_ofmap_writes",
]
COLUMNS = INPUT_COLUMNS + OUTPUT_COLUMNS + ["scalesim_wall_s", "scalesim_version"]

DATAFLOWS = ("os", "ws", "is")

# name -> (M, N, K): (M x K) @ (K x N)
GEMM_SHAPES = {
    "tiny_8x8x8": (8, 8, 8),
    "small_20x13x7": (20, 13, 7),
    "square_64x64x64": (64, 64, 64),
    "mixed_100x37x250": (100, 37, 250),
    "odd_33x65x129": (33, 65, 129),
    "tall_512x64x64": (512, 64, 64),
    "wide_16x512x256": (16, 512, 256),
    "large_256x128x512": (256, 128, 512),
}
GEMV = "gemv_1x4096x4096"
GEMV_SHAPES = {GEMV: (1, 4096, 4096)}

# name -> (ifmap_h, ifmap_w, filter_h, filter_w, channels, num_filters, stride)
CONV_LAYERS = {
    "conv3x3_14x14_32to64": (14, 14, 3, 3, 32, 64, 1),
    "conv5x5s2_28x28_8to16": (28, 28, 5, 5, 8, 16, 2),
    "conv1x1_7x7_256to64": (7, 7, 1, 1, 256, 64, 1),
}
CONV_FIELDS = ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "num_filters", "stride")

# Workload subsets used when varying one hardware parameter at a time.
VARIED_SHAPES = (
    "tiny_8x8x8",
    "small_20x13x7",
    "square_64x64x64",
    "mixed_100x37x250",
    "odd_33x65x129",
    "tall_512x64x64",
    "wide_16x512x256",
    "conv3x3_14x14_32to64",
    "conv5x5s2_28x28_8to16",
    "conv1x1_7x7_256to64",
)
SMALL_ARRAY_SHAPES = (
    "tiny_8x8x8",
    "small_20x13x7",
    "square_64x64x64",
    "mixed_100x37x250",
    "odd_33x65x129",
    "conv5x5s2_28x28_8to16",
    "conv1x1_7x7_256to64",
)


def workload(name: str) -> dict:
    """Return the workload fields (kind, name and dimensions) of a named shape."""
    if name in CONV_LAYERS:
        return {"kind": "conv", "name": name, **dict(zip(CONV_FIELDS, CONV_LAYERS[name], strict=True))}
    m, n, k = {**GEMM_SHAPES, **GEMV_SHAPES}[name]
    return {"kind": "gemm", "name": name, "M": m, "N": n, "K": k}


def make_case(name, dataflow, rows, cols, sram_kb, bw_mode, bandwidth=None) -> dict:
    """Build one case; ``sram_kb`` is an (ifmap, filter, ofmap) tuple in kB."""
    ifmap_kb, filter_kb, ofmap_kb = sram_kb
    bw_tag = "CALC" if bw_mode == "CALC" else f"USER{bandwidth}"
    case_id = f"{name}__{dataflow}__{rows}x{cols}__sram{ifmap_kb}-{filter_kb}-{ofmap_kb}__{bw_tag}"
    return {
        "case_id": case_id,
        **workload(name),
        "dataflow": dataflow,
        "rows": rows,
        "cols": cols,
        "ifmap_kb": ifmap_kb,
        "filter_kb": filter_kb,
        "ofmap_kb": ofmap_kb,
        "bw_mode": bw_mode,
        "bandwidth_words_per_cycle": bandwidth,
    }


# Cases abandoned by the per-case timeout in the reference run (2026-11-22).  In
# USER mode SCALE-Sim's read_buffer can end up sweeping its whole circular
# prefetch buffer for almost every demand (see SCALESIM_MODEL_NOTES.md), and
# since every prefetch re-concatenates the DRAM trace these cases run for tens
# of minutes or more; they are left out of the grid.
EXCLUDED = frozenset(
    {
        "wide_16x512x256__ws__32x32__sram2-2-2__USER10",
        "wide_16x512x256__ws__32x32__sram2-2-2__USER4",
    }
)


def build_grid() -> list[dict]:
    """Return the de-duplicated list of reference cases.

    * base: every shape x every dataflow on a 32x32 array, 64 kB SRAMs,
      CALC and USER with 10 words/cycle;
    * array size: 8x8 (cheaper shapes), 16x64 and 128x128, CALC and USER 10;
    * SRAM size: 2 kB (forces DRAM re-fetches), 1024 kB, and an asymmetric
      2/64/4 kB mix, CALC and USER 10;
    * bandwidth: USER with 2 and 4 words/cycle (stalls), and 4 words/cycle
      with 2 kB SRAMs;
    * the 1x4096x4096 GEMV, CALC only: all dataflows on 128x128, OS and IS
      on 32x32 (WS on 32x32 alone would take ~9 minutes).
    """
    base_sram = (64, 64, 64)
    all_shapes = list(GEMM_SHAPES) + list(CONV_LAYERS)
    both_modes = (("CALC", None), ("USER", 10))
    cases = []
    for df in DATAFLOWS:
        for name in all_shapes:
            for mode, bw in both_modes:
                cases.append(make_case(name, df, 32, 32, base_sram, mode, bw))
        for name in SMALL_ARRAY_SHAPES:
            for mode, bw in both_modes:
                cases.append(make_case(name, df, 8, 8, base_sram, mode, bw))
        for name in VARIED_SHAPES:
            for mode, bw in both_modes:
                cases.append(make_case(name, df, 16, 64, base_sram, mode, bw))
                cases.append(make_case(name, df, 128, 128, base_sram, mode, bw))
                for sram in ((2, 2, 2), (1024, 1024, 1024), (2, 64, 4)):
                    cases.append(make_case(name, df, 32, 32, sram, mode, bw))
            for bw in (2, 4):
                cases.append(make_case(name, df, 32, 32, base_sram, "USER", bw))
            cases.append(make_case(name, df, 32, 32, (2, 2, 2), "USER", 4))
        gemv_arrays = ((128, 128),) if df == "ws" else ((32, 32), (128, 128))
        for rows, cols in gemv_arrays:
            cases.append(make_case(GEMV, df, rows, cols, base_sram, "CALC"))
    unique = {case["case_id"]: case for case in cases if case["case_id"] not in EXCLUDED}
    return list(unique.values())


def gemm_dims(case: dict) -> tuple[int, int, int]:
    """Return SCALE-Sim's (M, N, K): ofmap pixels, filters, window size."""
    if case["kind"] == "gemm":
        return case["M"], case["N"], case["K"]
    stride = case["stride"]
    out_h = math.ceil((case["ifmap_h"] - case["filter_h"] + stride) / stride)
    out_w = math.ceil((case["ifmap_w"] - case["filter_w"] + stride) / stride)
    window = case["filter_h"] * case["filter_w"] * case["channels"]
    return out_h * out_w, case["num_filters"], window


def estimated_seconds(case: dict) -> float:
    """Rough SCALE-Sim run time, used only to schedule the longest cases first.

    SCALE-Sim walks its demand matrices line by line and element by element
    in Python, so the cost is ~150 us per demand line plus ~2 us per demand
    element (R + 2C per line).
    """
    m, n, k = gemm_dims(case)
    r, c = case["rows"], case["cols"]
    if case["dataflow"] == "os":
        folds, lines = math.ceil(m / r) * math.ceil(n / c), k + r + c - 2
    elif case["dataflow"] == "ws":
        folds, lines = math.ceil(k / r) * math.ceil(n / c), 2 * r + c + m - 2
    else:
        folds, lines = math.ceil(k / r) * math.ceil(m / c), 2 * r + c + n - 2
    total_lines = folds * lines
    return 0.5 + 150e-6 * total_lines + 2e-6 * total_lines * (r + 2 * c)


def read_done(out: Path) -> set[str]:
    """Return the case_ids already present in the output CSV."""
    if not out.exists():
        return set()
    with out.open(newline="") as handle:
        return {row["case_id"] for row in csv.DictReader(handle)}


def batches(cases: list[dict], target_s: float = 20.0) -> list[list[dict]]:
    """Group cases (longest first) into batches of roughly ``target_s`` seconds each."""
    ordered = sorted(cases, key=estimated_seconds, reverse=True)
    groups, current, budget = [], [], 0.0
    for case in ordered:
        current.append(case)
        budget += estimated_seconds(case)
        if budget >= target_s:
            groups.append(current)
            current, budget = [], 0.0
    if current:
        groups.append(current)
    return groups


class ReferenceWriter:
    """Thread-safe, append-only CSV writer that flushes every record."""

    def __init__(self, out: Path):
        """Open ``out`` for appending, writing the header if the file is new."""
        out.parent.mkdir(parents=True, exist_ok=True)
        new = not out.exists() or out.stat().st_size == 0
        self.handle = out.open("a", newline="")
        self.writer = csv.DictWriter(self.handle, fieldnames=COLUMNS, extrasaction="ignore")
        self.lock = threading.Lock()
        self.count = 0
        if new:
            self.writer.writeheader()
            self.handle.flush()

    def write(self, record: dict) -> None:
        """Append one record (missing columns are left blank)."""
        row = {col: format_value(record.get(col)) for col in COLUMNS}
        with self.lock:
            self.writer.writerow(row)
            self.handle.flush()
            self.count += 1

    def close(self) -> None:
        """Close the underlying file."""
        self.handle.close()


def format_value(value) -> str:
    """Format a value for the CSV: blanks for None, integral floats without '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def run_batch(python: str, batch: list[dict], writer: ReferenceWriter, total: int) -> list[str]:
    """Run one batch through run_scalesim.py, streaming records to ``writer``.

    Returns the case_ids that failed or timed out.
    """
    proc = subprocess.Popen(
        [python, str(RUNNER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    proc.stdin.write(json.dumps(batch))
    proc.stdin.close()
    failures = []
    for line in proc.stdout:
        record = json.loads(line)
        if "error" in record:
            failures.append(record["case_id"])
            print(f"FAILED {record['case_id']}: {record['error']}", file=sys.stderr, flush=True)
            continue
        writer.write(record)
        print(f"[{writer.count}/{total}] {record['case_id']} {record['scalesim_wall_s']:.1f}s", flush=True)
    if proc.wait() != 0:
        failures.append(f"(run_scalesim.py exit status {proc.returncode})")
    return failures


def sort_output(out: Path) -> None:
    """Rewrite the output CSV sorted by case_id."""
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows.sort(key=lambda row: row["case_id"])
    tmp = out.with_suffix(".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(out)


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scalesim-python",
        default=os.environ.get("SCALESIM_PYTHON", ".scalesim-venv/bin/python"),
        help="python of the SCALE-Sim venv (default: $SCALESIM_PYTHON or .scalesim-venv/bin/python)",
    )
    parser.add_argument("--out", type=Path, default=Path("tests/data/scalesim_reference.csv"))
    parser.add_argument("--jobs", type=int, default=2, help="parallel SCALE-Sim processes")
    parser.add_argument(
        "--case-timeout",
        type=float,
        default=90.0,
        help="abandon a case after max(this, 3x its estimate) seconds",
    )
    parser.add_argument("--only", metavar="REGEX", help="run only the cases whose case_id matches REGEX")
    parser.add_argument(
        "--dry-run", action="store_true", help="list the pending cases and their estimated cost, run nothing"
    )
    return parser.parse_args()


def main() -> None:
    """Build the grid, run the pending cases in parallel and sort the output."""
    args = parse_args()
    grid = build_grid()
    done = read_done(args.out)
    pending = [
        case
        for case in grid
        if case["case_id"] not in done and (args.only is None or re.search(args.only, case["case_id"]))
    ]
    estimate = sum(estimated_seconds(case) for case in pending)
    print(
        f"{len(grid)} cases in the grid, {len(pending)} pending, ~{estimate / 60:.0f} CPU-minutes estimated",
        flush=True,
    )
    if args.dry_run:
        for case in sorted(pending, key=estimated_seconds, reverse=True):
            print(f"{estimated_seconds(case):8.1f}s  {case['case_id']}")
        return
    if pending and not Path(args.scalesim_python).exists():
        sys.exit(f"SCALE-Sim python not found: {args.scalesim_python} (see setup_venv.sh)")

    for case in pending:
        case["timeout_s"] = math.ceil(max(args.case_timeout, 3 * estimated_seconds(case)))
    start = time.perf_counter()
    writer = ReferenceWriter(args.out)
    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [
                pool.submit(run_batch, args.scalesim_python, batch, writer, len(pending))
                for batch in batches(pending)
            ]
            failures = [case_id for future in futures for case_id in future.result()]
    finally:
        writer.close()
    sort_output(args.out)
    print(
        f"wrote {writer.count} new cases to {args.out} in "
        f"{time.perf_counter() - start:.0f}s; {len(failures)} failures"
    )
    if failures:
        sys.exit("failed or timed out:\n" + "\n".join(sorted(failures)))


if __name__ == "__main__":
    main()
