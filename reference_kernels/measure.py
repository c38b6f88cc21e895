"""`measure`: time reference kernels over a grid of shapes into a measured-data CSV.

The columns are docs/measured_format.md's. Rows are appended and flushed as each kernel finishes,
so an interrupted run keeps everything it measured, and ``resume=True`` times only the (kernel,
case, device) rows the file lacks. ``repeat=N`` times the grid N times, pass after pass, so each
row's N runs are spread over the whole measurement and a passing load touches one of them; the
fastest is then picked with ``codesign compare/calibrate --fastest``.
"""

from __future__ import annotations

import csv
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
from tqdm import tqdm

from reference_kernels.cases import Case
from reference_kernels.environment import environment
from reference_kernels.grids import DEVICES, GRIDS
from reference_kernels.registry import KERNELS, KernelSpec
from reference_kernels.timing import TimingBudget, make_timer, time_kernel
from workloads.errors import CodesignError
from workloads.files import text_stream, writing
from workloads.op import positive_int

#: The CSV's columns, in order (docs/measured_format.md).
COLUMNS = (
    "family", "kernel", "M", "N", "K", "group_size",
    "batch", "heads", "kv_heads", "seq_q", "seq_kv", "head_dim", "causal", "bytes",
    "a_dtype", "b_dtype", "out_dtype", "device", "device_name",
    "latency_s", "p10_s", "p90_s", "runs", "flops",
    "driver", "cuda_version", "torch_version", "triton_version", "python_version", "host", "timestamp",
)
#: The columns that name a row's work and implementation: `resume` skips rows whose key is present.
KEY_COLUMNS = COLUMNS[: COLUMNS.index("device") + 1]


@dataclass(frozen=True)
class MeasureResult:
    """What a `measure` call did: rows written, rows already in the file, rows that failed (kernel,
    case and the error), and whether `max_seconds` stopped it before the end of the grid."""

    path: Path
    written: int
    already_present: int
    failed: tuple[str, ...]
    stopped_early: bool


def select_kernels(names: Sequence[str] | None, device: str) -> list[KernelSpec]:
    """The kernels to time: `names`, or every kernel that runs on `device`; `CodesignError` for an
    unknown name or one that cannot run there."""
    if device not in DEVICES:
        raise CodesignError(f"--device {device!r} is not one of {', '.join(DEVICES)}")
    on_device = [spec for spec in KERNELS.values() if device in spec.devices]
    if not names:
        return on_device
    unknown = [name for name in names if name not in KERNELS]
    if unknown:
        raise CodesignError(f"unknown kernel {unknown[0]!r}; known kernels: {', '.join(KERNELS)}")
    elsewhere = [name for name in names if device not in KERNELS[name].devices]
    if elsewhere:
        raise CodesignError(
            f"kernel {elsewhere[0]!r} does not run on --device {device}; kernels that do: "
            + ", ".join(spec.name for spec in on_device)
        )
    return [KERNELS[name] for name in dict.fromkeys(names)]


def check_device(device: str) -> torch.device:
    """The torch device for `device`; `CodesignError` for ``cuda`` when no GPU is visible."""
    if device == "cuda" and not torch.cuda.is_available():
        raise CodesignError("--device cuda: no CUDA GPU is visible to torch; use --device cpu")
    return torch.device(device)


def _cell(value: object) -> str:
    """A CSV cell: "" for None, ``repr``-exact floats, everything else as text."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _describe(case: Case) -> str:
    """``family k=v …`` over the case's non-empty columns, e.g. ``gemm M=1 N=4096 K=4096 …``."""
    columns = case.columns()
    return " ".join([columns.pop("family"), *(f"{k}={v}" for k, v in columns.items() if v is not None)])


def _kernel_error(error: Exception) -> bool:
    """Whether `error` is one kernel's failure on one case, to list and go on: RuntimeError or
    ValueError (CUDA out of memory, a shape a library refuses) or any Triton error."""
    return isinstance(error, (RuntimeError, ValueError)) or _triton_error(error)


def _triton_error(error: Exception) -> bool:
    """A subclass of ``triton.runtime.errors.TritonError`` (CompilationError, OutOfResources),
    matched by name so a CPU run need not import Triton."""
    return any(cls.__name__ == "TritonError" for cls in type(error).__mro__)


def _first_line(error: Exception) -> str:
    """The line that says what went wrong: the first, or for a Triton error (which prints the
    kernel's source and position first, the cause last) the last."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    return lines[-1] if _triton_error(error) else lines[0]


def _key(row: dict[str, object]) -> tuple[str, ...]:
    return tuple(_cell(row.get(column)) for column in KEY_COLUMNS)


def _existing_keys(path: Path) -> Counter[tuple[str, ...]]:
    """How many rows of each key `path` already holds; `CodesignError` when its header is not
    `COLUMNS`."""
    reader = csv.DictReader(text_stream(path, what="a measured CSV (codesign measure) to resume"))
    if reader.fieldnames is None:
        return Counter()
    if tuple(reader.fieldnames) != COLUMNS:
        raise CodesignError(f"{path}: its columns are not docs/measured_format.md's; cannot resume it")
    return Counter(_key(row) for row in reader)


def _plan(cases: Sequence[Case], kernels: Sequence[KernelSpec], device: torch.device):
    """(case, kernel) pairs in grid order: each case with every selected kernel that implements it."""
    return [
        (case, spec)
        for case in cases
        for spec in kernels
        if case.family in spec.families and spec.supports(case, device)
    ]


def measure(
    kernels: Sequence[str] | None = None,
    device: str = "cpu",
    grid: str = "small",
    out_path: str | Path = "measured.csv",
    *,
    resume: bool = False,
    max_seconds: float | None = None,
    repeat: int = 1,
    budget: TimingBudget | None = None,
    progress: bool = True,
) -> MeasureResult:
    """Time `kernels` (default: all that run on `device`) over the named `grid` into `out_path`,
    `repeat` passes of it.

    An existing `out_path` is an error unless `resume`, which keeps its rows and adds the missing
    ones (a key the file holds k times is skipped in the first k passes). `max_seconds` stops
    starting new rows after that many seconds (what ran is kept). A kernel that fails on a case
    (out of memory, an unsupported shape) is listed in the result, not raised.
    """
    if grid not in GRIDS:
        raise CodesignError(f"--grid {grid!r} is not one of {', '.join(GRIDS)}")
    if max_seconds is not None and not max_seconds >= 0:
        raise CodesignError(f"--max-seconds {max_seconds:g}: must be a number of seconds, 0 or more")
    specs = select_kernels(kernels, device)
    torch_device = check_device(device)
    path = Path(out_path)
    if path.is_file() and path.stat().st_size and not resume:
        raise CodesignError(f"{path} exists; pass --resume to add the rows it lacks, or choose another --out")
    repeat = positive_int(repeat, field="--repeat")
    done = _existing_keys(path) if path.is_file() else Counter()
    one_pass = _plan(GRIDS[grid](), specs, torch_device)
    plan = [(index, case, spec) for index in range(repeat) for case, spec in one_pass]
    env = environment(torch_device)
    timer = make_timer(torch_device)
    budget = budget or TimingBudget()
    written, present, failed, stopped = 0, 0, [], False
    start = time.monotonic()
    with writing(path, option="--out"):
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a", newline="")
    with handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if not done and handle.tell() == 0:
            writer.writeheader()
        bar = tqdm(plan, desc=f"{grid} grid on {device}", unit="row", file=sys.stderr, disable=not progress)
        for index, case, spec in bar:
            row = {**case.columns(), "kernel": spec.name, "device": device}
            if done[_key(row)] > index:
                present += 1
                continue
            if max_seconds is not None and time.monotonic() - start > max_seconds:
                stopped = True
                break
            bar.set_postfix_str(spec.name)
            try:
                timing = time_kernel(spec.build(case, torch_device), timer, budget)
            except Exception as error:  # CUDA out of memory, a shape a library refuses, a Triton error
                if not _kernel_error(error):
                    raise
                failed.append(f"{spec.name} {_describe(case)}: {_first_line(error)}")
                continue
            finally:
                if torch_device.type == "cuda":
                    torch.cuda.empty_cache()  # the next case's inputs may be as large as this one's
            row.update(
                env,
                latency_s=timing.median_s,
                p10_s=timing.p10_s,
                p90_s=timing.p90_s,
                runs=timing.runs,
                flops=case.flops,
                timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            )
            writer.writerow({column: _cell(row.get(column)) for column in COLUMNS})
            handle.flush()
            written += 1
        bar.close()
    return MeasureResult(path, written, present, tuple(failed), stopped)
