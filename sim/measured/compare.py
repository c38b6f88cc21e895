"""`compare()`: measured kernel latencies joined with simulated ones, and the error per family.

Each measured row (docs/measured_format.md) names its work by family and shape; the work is
rebuilt as an op (`workloads.kernel_ops`), simulated on the hardware spec, and the simulated
latency set beside the measured median. Rows whose family or shape the simulator cannot model
are listed in `skipped` with the reason, and the rest go on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hwmodels.device import Device
from hwmodels.gpu import locked_clock_mhz
from sim.engines.registry import model_for
from sim.simulate import simulate_op_latency
from workloads.errors import CodesignError
from workloads.files import text_stream
from workloads.kernel_ops import ATTENTION_FAMILIES, KernelFamily, op_for_measurement
from workloads.op import Op

#: How far a kernel may run above the clock its GPU's datasheet tensor peaks are quoted at: the H100
#: SXM5's dense peaks are 1830 MHz figures (989.4 TFLOP/s = 132 SMs x 2048 MACs x 2 x 1.83e9, the
#: datasheet) while its SMs boost to 1980 MHz (the datasheet's FP32 and FP64 figures), and a run with
#: the clock locked at the top (``nvidia-smi -lgc``, as Meta's TLX denoise.sh does) can beat the
#: datasheet peak by that ratio. `roofline_floor_s` allows it on every device.
BOOST_HEADROOM = 1980 / 1830
#: Columns every measured file must have (docs/measured_format.md).
REQUIRED_COLUMNS = ("family", "kernel", "device_name", "latency_s")
#: How many of the worst-predicted shapes the summary names per family.
WORST_SHAPES = 3


@dataclass(frozen=True)
class Comparison:
    rows: pd.DataFrame  # the measured rows joined: simulated_latency_s, error_pct, abs_error_pct, floor_s
    summary: pd.DataFrame  # per (family, kernel): n, median, p90 |error| %, measured spread %, worst shapes
    skipped: pd.DataFrame  # rows not simulated: family, kernel, shape, reason


def read_measured(path: str | Path) -> pd.DataFrame:
    """A measured CSV, checked for the required columns (an error names the missing ones)."""
    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"measured file {str(path)!r} does not exist")
    stream = text_stream(path, what="a measured CSV (codesign measure)")
    try:
        frame = pd.read_csv(stream)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise CodesignError(f"{path}: not a readable CSV: {error}") from None
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise CodesignError(f"{path}: missing columns {', '.join(missing)} (see docs/measured_format.md)")
    if frame.empty:
        raise CodesignError(f"{path}: no measured rows")
    return frame


#: Columns that, with the shape label, name one kernel's work: rows equal in all of them are runs
#: of the same measurement.
SAME_WORK_COLUMNS = ("family", "kernel", "a_dtype", "b_dtype", "out_dtype", "group_size")


def fastest_runs(measured: pd.DataFrame) -> pd.DataFrame:
    """One row per kernel and shape: the run with the smallest median latency, for a file that
    holds several runs of the same grid (``cat``-ed `codesign measure` outputs). On a shared machine
    other jobs only ever add time, so the fastest run is the best estimate of the kernel on an idle
    one (on the 2-core VM, six runs of the small CPU grid within 50 minutes differed by up to 2x).
    Rows come in the order their work first appears in the file; a row whose latency is not a
    number stays (when no run of its work has one), to be reported."""
    columns = [c for c in SAME_WORK_COLUMNS if c in measured]
    keys = [
        "|".join(str(row[c]) for c in columns) + "|" + row_label(row) for _, row in measured.iterrows()
    ]
    latency = pd.to_numeric(measured["latency_s"], errors="coerce").to_numpy()
    first_seen = {key: position for position, key in reversed(list(enumerate(keys)))}
    frame = measured.assign(_key=keys, _latency=latency, _order=[first_seen[key] for key in keys])
    fastest = frame.sort_values("_latency", na_position="last", kind="stable")
    kept = fastest.drop_duplicates("_key", keep="first").sort_values("_order", kind="stable")
    return kept.drop(columns=["_key", "_latency", "_order"]).reset_index(drop=True)


def shape_label(row: pd.Series) -> str:
    """A short label of a row's shape: ``4096x4096x4096 bf16``, ``b1 h32/8 q1 kv4096 d128``."""
    family = row["family"]
    if family in ATTENTION_FAMILIES:
        # 2: a bottom-right mask, a chunk's queries after its cache
        causal = {1: " causal", 2: " causal-br"}.get(row.get("causal"), "")
        seq_q, dv = row.get("seq_q"), row.get("head_dim_v")
        q = 1 if family == KernelFamily.ATTENTION_DECODE and _blank(seq_q) else _int(seq_q)
        d = _int(row.get("head_dim"))
        dims = f"d{d}" if _blank(dv) or _int(dv) == d else f"d{d}/{_int(dv)}"
        return (
            f"b{_int(row.get('batch'))} h{_int(row.get('heads'))}/{_int(row.get('kv_heads'))} "
            f"q{q} kv{_int(row.get('seq_kv'))} {dims}{causal}"
        )
    if family == KernelFamily.COPY:
        return f"{_int(row.get('bytes')):,} B"
    batch = row.get("batch")
    groups = 1 if _blank(batch) else _int(batch)
    shape = f"{_int(row.get('M'))}x{_int(row.get('N'))}x{_int(row.get('K'))} {row.get('a_dtype', '')}".strip()
    return f"{groups}x {shape}" if groups != 1 else shape


#: Columns of the rows not simulated.
SKIPPED_COLUMNS = ("family", "kernel", "shape", "reason")


@dataclass(frozen=True)
class Simulated:
    """The measured rows the simulator models on a spec: their positions in the measured frame,
    their measured seconds (`measured_latency`), ops and simulated seconds; the rest, each with the
    reason (`SKIPPED_COLUMNS`)."""

    positions: list[int]
    measured_s: list[float]
    ops: list[Op]
    latency_s: list[float]
    skipped: pd.DataFrame
    # each op's (timing, l2_flush, sm_clock_mhz), as `timed_as` takes them
    how: list[tuple[str, str, str]] = field(default_factory=list)


#: How a row's time was taken (its optional `timing` column, docs/measured_format.md), and the
#: per-call costs each includes, as the spec method that leaves the others out (a device kind
#: without such methods, a CPU, is used as it is):
#:
#: * ``events`` (the default; `codesign measure`, Triton's ``do_bench``): CUDA events around each
#:   call with the GPU busy before it (an L2 flush), so the host runs ahead: the kernel and its
#:   launch on the GPU, no host dispatch (`with_native_runtime`);
#: * ``back_to_back``: one pair of events around a loop of eager calls: each call takes the
#:   longer of its kernel and the host's dispatch (the spec as it is);
#: * ``device``: a profiler's kernel time (CUPTI, Nsight): no launch either (`on_device_only`);
#: * ``graph``: calls replayed from a CUDA graph (`with_cuda_graphs`).
TIMINGS = {
    "events": "with_native_runtime",
    "back_to_back": "",
    "device": "on_device_only",
    "graph": "with_cuda_graphs",
}


#: How the L2 was flushed before each timed call (a row's optional `l2_flush` column,
#: docs/measured_format.md), and the spec method that puts the GPU in the state it leaves:
#: * ``writes``: a buffer larger than the L2 written before every call (Triton's ``do_bench``):
#:   the kernel starts with the L2 full of dirty lines (`after_l2_flush_by_writes`);
#: * ``none`` (the default): no dirty line at the start: no flush (back-to-back calls or graph
#:   replays, whose L2 may still hold the previous call's operands: a reuse the model does not
#:   credit, it times every call from a cold L2) or a flush by reading (``codesign measure``).
L2_FLUSHES = {"none": "", "writes": "after_l2_flush_by_writes"}


def _cell(row: pd.Series, column: str) -> str:
    """A row's text cell, '' when the column is missing or blank (a blank cell reads as NaN)."""
    value = row.get(column, "")
    return "" if value is None or value != value else str(value).strip()


def timed_as(hardware: Device, timing: object, l2_flush: object = "", sm_clock_mhz: object = "") -> Any:
    """`hardware` as a row timed by `timing` (`TIMINGS`; blank: ``events``) after an L2 flush of
    kind `l2_flush` (`L2_FLUSHES`; blank: ``none``), with the SM clock locked at `sm_clock_mhz`
    (blank: not locked; `GPUSpec.locked_at`), sees a kernel; an error naming the valid values for
    any other (a device kind without the spec method, a CPU, is used as it is)."""
    for value, table, default, column in (
        (timing, TIMINGS, "events", "timing"),
        (l2_flush, L2_FLUSHES, "none", "l2_flush"),
    ):
        name = default if _blank(value) else str(value).strip()
        if name not in table:
            raise CodesignError(
                f"{column} = {value!r}: valid: {', '.join(table)} (docs/measured_format.md)"
            )
        method = getattr(hardware, table[name], None) if table[name] else None
        hardware = method() if method else hardware
    if _blank(sm_clock_mhz):
        return hardware
    mhz = locked_clock_mhz(sm_clock_mhz)
    if mhz is None:
        raise CodesignError(
            f"sm_clock_mhz = {sm_clock_mhz!r}: the SM clock the run was locked at, in MHz (a positive "
            "number; blank: not locked) (docs/measured_format.md)"
        )
    lock = getattr(hardware, "locked_at", None)
    return lock(mhz * 1e6) if lock else hardware


def _blank(value: object) -> bool:
    """A missing cell: None, NaN (a blank CSV cell read by pandas) or only spaces."""
    return value is None or value != value or str(value).strip() == ""  # NaN != NaN


def simulate_measured(measured: pd.DataFrame, hardware: Device) -> Simulated:
    """Simulate each measured row on `hardware` as its `timing` and `l2_flush` say it was taken;
    a row the simulator cannot model is listed with the reason and the rest go on."""
    positions, measured_s, ops, latencies, skipped, hows = [], [], [], [], [], []
    variants: dict[tuple[str, str], Any] = {}
    for position, (_, row) in enumerate(measured.iterrows()):
        try:
            seconds = measured_latency(row)
            op = op_for_measurement(row)
            how = (_cell(row, "timing"), _cell(row, "l2_flush"), _cell(row, "sm_clock_mhz"))
            if how not in variants:
                variants[how] = timed_as(hardware, *how)
            latency = simulate_op_latency(op, variants[how])
        except CodesignError as error:
            skipped.append((row["family"], row["kernel"], row_label(row), str(error)))
            continue
        positions.append(position)
        measured_s.append(seconds)
        ops.append(op)
        latencies.append(latency)
        hows.append(how)
    skipped_rows = pd.DataFrame(skipped, columns=list(SKIPPED_COLUMNS))
    return Simulated(positions, measured_s, ops, latencies, skipped_rows, hows)


def measured_latency(row: pd.Series) -> float:
    """The row's `latency_s` as seconds; an error naming the value unless it is a positive, finite
    number (a row with no timing cannot be compared, and must not pull a median)."""
    value = row.get("latency_s")
    try:
        seconds = float(str(value).strip())
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise CodesignError(f"latency_s = {value!r}: must be a positive, finite number of seconds")
    return seconds


def roofline_floor_s(op: Op, hardware: Device, l2_flush: str = "") -> float:
    """The least time any implementation could take for `op` on `hardware`: its FLOPs at the
    fastest matrix peak among its operands' dtypes (`Device.peak_flops`; 16-bit math for a
    weight-only int4 GEMM on a GPU whose int4 path is faster still counts at that faster rate),
    raised by `BOOST_HEADROOM` and by what a sparse operand lets it skip, or its operand bytes at
    the datasheet memory rate, whichever is longer. The bytes count only where they cannot all have
    stayed on chip from the call before: more than the largest on-chip memory holds
    (`Device.memory_levels`, DRAM last), or after a flush by writes. A 1 x 8192 x 8192 fp16 GEMV on
    an H100 SXM moves 134 MB, more than its 50 MB L2: no less than 134e6 / 3.35e12 = 40 µs; an
    8192³ bf16 GEMM's 1.1e12 FLOPs no less than 1.1e12 / (989.4e12 x 1980/1830) = 1.03 ms. NaN (the
    row goes unchecked) on a device whose figures are not a datasheet's (`DeviceModel.datasheet_peaks`:
    a CPU preset's rates are fitted to its runs, an array's are its configuration's) and where the
    GPU states no peak for any operand's dtype. A GeForce part's peaks are its fp32-accumulate
    rates: an fp16-accumulate GEMM, which no kernel the model holds runs, could beat the floor."""
    if not model_for(hardware).datasheet_peaks:
        return math.nan
    peaks = []
    for dtype in {operand.dtype for operand in op.operands}:
        try:
            peaks.append(hardware.peak_flops(dtype))
        except CodesignError:  # no matrix path for that dtype (a GPU's int4, a CPU's fp8)
            continue
    if not peaks:
        return math.nan
    kept = min(operand.sparsity.kept_fraction for operand in op.operands)
    compute_s = op.flops * kept / (max(peaks) * BOOST_HEADROOM)
    moved = sum(operand.bytes for operand in op.operands)
    on_chip = max((level.capacity_bytes for level in hardware.memory_levels()[:-1]), default=0.0)
    if moved <= on_chip and str(l2_flush).strip() != "writes":
        return compute_s
    return max(compute_s, moved / hardware.dram_bytes_per_s)


def compare(measured: pd.DataFrame, hardware: Device) -> Comparison:
    """Simulate every measured row on `hardware` and tabulate the errors."""
    simulated = simulate_measured(measured, hardware)
    if not simulated.positions:
        raise CodesignError(f"nothing to compare: no row the simulator models{_why_none(simulated.skipped)}")
    rows = measured.iloc[simulated.positions].reset_index(drop=True)
    rows["latency_s"] = simulated.measured_s
    # the work's FLOPs (the report's x axis): the file's column where given, else the op's own count
    counted = pd.Series([float(op.flops) for op in simulated.ops], rows.index)
    given = pd.to_numeric(rows["flops"], errors="coerce") if "flops" in rows else counted
    rows["flops"] = given.where(given.notna(), counted)
    rows["shape"] = [row_label(row) for _, row in rows.iterrows()]
    rows["simulated_latency_s"] = simulated.latency_s
    rows["error_pct"] = 100.0 * (rows["simulated_latency_s"] - rows["latency_s"]) / rows["latency_s"]
    rows["abs_error_pct"] = rows["error_pct"].abs()
    # what no implementation can beat: a row measured faster was misread (a unit, the device)
    rows["floor_s"] = [
        roofline_floor_s(op, hardware, how[1]) for op, how in zip(simulated.ops, simulated.how, strict=True)
    ]
    return Comparison(rows=rows, summary=_summary(rows, hardware), skipped=simulated.skipped)


def below_floor(rows: pd.DataFrame) -> pd.DataFrame:
    """The joined rows (`Comparison.rows`) measured faster than their `roofline_floor_s`."""
    return rows[rows["latency_s"] < rows["floor_s"]]


def _why_none(skipped: pd.DataFrame) -> str:
    """The first skipped row's reason, for the error when no row is left."""
    if skipped.empty:
        return ""
    first = skipped.iloc[0]
    reason = " ".join(str(first["reason"]).split())
    example = f"{first['family']}/{first['kernel']} {first['shape']}"
    return f" ({len(skipped)} rows skipped, e.g. {example}: {reason})"


def kernel_fractions(hardware: Device, family: str, kernel: str) -> tuple[float, float]:
    """The tensor-core and bandwidth fractions a device runs a measured kernel's rows at, where its
    kind has such fractions (`DeviceModel.kernel_fractions`: a GPU's); NaN otherwise."""
    fractions = model_for(hardware).kernel_fractions
    return fractions(hardware, family, kernel) if fractions else (math.nan, math.nan)


#: How the summary's fraction columns print (the errors print with one decimal).
FRACTION_FORMATTERS = {name: "{:.3g}".format for name in ("tensor_fraction", "bandwidth_fraction")}


def _summary(rows: pd.DataFrame, hardware: Device) -> pd.DataFrame:
    records = []
    for (family, kernel), group in rows.groupby(["family", "kernel"], sort=True):
        worst = group.nlargest(WORST_SHAPES, "abs_error_pct")
        tensor, bandwidth = kernel_fractions(hardware, family, kernel)
        records.append(
            {
                "family": family,
                "kernel": kernel,
                "n": len(group),
                "median_abs_error_pct": float(group["abs_error_pct"].median()),
                "p90_abs_error_pct": float(group["abs_error_pct"].quantile(0.9)),
                "median_error_pct": float(group["error_pct"].median()),
                "spread_pct": spread_pct(group),
                "tensor_fraction": tensor,
                "bandwidth_fraction": bandwidth,
                "worst": "; ".join(
                    f"{shape} ({error:+.0f}%)"
                    for shape, error in zip(worst["shape"], worst["error_pct"], strict=True)
                ),
            }
        )
    return pd.DataFrame(records)


def spread_pct(rows: pd.DataFrame) -> float:
    """The measurement's own spread: the median over rows of ``(p90 − p10) / median`` in percent
    (NaN where the file has no percentiles). An error no larger than the spread may be noise: on a
    shared CPU one kernel's runs differ by tens of percent (8-33% per family on the 2-core VM,
    2026-11-22), under CUDA events on a GPU by a few."""
    if "p10_s" not in rows or "p90_s" not in rows:
        return math.nan
    p10, p90 = (pd.to_numeric(rows[column], errors="coerce") for column in ("p10_s", "p90_s"))
    return float((100.0 * (p90 - p10) / rows["latency_s"]).median())


def _int(value: object) -> int | str:
    try:
        return int(float(str(value)))
    except (TypeError, ValueError):
        return "?"


def row_label(row: pd.Series) -> str:
    """`shape_label`, or ``?`` for a row whose shape columns do not make one."""
    try:
        return shape_label(row)
    except (KeyError, TypeError, ValueError):
        return "?"
