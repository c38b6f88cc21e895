"""The timing harness: warm-up, a cache flush before every timed run, the median of many runs.

On a GPU each run is bracketed by CUDA events and preceded by a read of a buffer twice the L2 size,
so every run starts with a cold L2 (a kernel timed hot in L2 would look faster than it does inside a
model, whose other kernels evict its operands). A read, not a write: a written flush (Triton's
``do_bench`` zeroes 256 MB) leaves the L2 full of dirty lines that the timed kernel must write back
to DRAM as it evicts them, up to an L2's worth of extra traffic
(`hwmodels.gpu.GPUSpec.dirty_l2_bytes`); a read leaves clean lines, evicted for free. Inside a
model a kernel finds its predecessors' outputs dirty (a few MB in a decode step), between the two. On a CPU
each run is timed with `time.perf_counter_ns` after touching a buffer twice the last-level cache, at most
`MAX_CPU_FLUSH_BYTES`. The run count follows a time budget per kernel that counts each run's flush
as well as the run, between a floor (so the percentiles mean something) and a ceiling.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

#: Last-level cache assumed when the CPU does not report one in sysfs: 32 MiB, the L3 of one
#: 8-core chiplet (CCD) of AMD Zen 3/4 and more than most Intel client parts carry.
FALLBACK_LLC_BYTES = 32 * 2**20
#: L2 assumed when torch does not report it: 50 MiB, the H100 SXM's (NVIDIA H100 datasheet).
FALLBACK_L2_BYTES = 50 * 2**20
#: The flush buffer is this many times the cache, so no line of the kernel's data survives the
#: flush whatever the replacement policy.
FLUSH_FACTOR = 2
#: The most a CPU flush touches: twice the 32 MiB L3 of one AMD Zen 3/4 chiplet (CCD), the most L3
#: one core's data can occupy there, and more than one core of most Intel client parts reaches.
#: sysfs can report far more (a socket's or a VM host's L3), and the flush, run before every timed
#: run, then dominated the measurement: issue 13 found a 960 MB flush per run taking a quarter of
#: the test suite. What the bound costs in fidelity: where one core does reach more than half of
#: this (an Intel server socket's shared L3 of 100-320 MB, a 96 MiB V-cache CCD), part of a kernel's
#: operands that fit in that cache can survive the flush, and the kernel times faster than cold, by
#: up to the ratio of cache to DRAM bandwidth on the surviving bytes. Kernels whose operands exceed
#: the last-level cache, and every kernel where it is at most half of this, time as before.
MAX_CPU_FLUSH_BYTES = 64 * 2**20
_SYSFS_CACHE = Path("/sys/devices/system/cpu/cpu0/cache")


@dataclass(frozen=True)
class TimingBudget:
    """How long to time one kernel: `warmup_runs` runs that are not counted (the first also compiles
    a Triton kernel; the last is timed to size the rest), then ``target_s / (that run's time + the
    timer's flush_s)`` counted runs, clamped to ``[min_runs, max_runs]``."""

    warmup_runs: int = 2
    min_runs: int = 5
    max_runs: int = 200
    target_s: float = 0.2  # wall seconds of the counted runs, each with its cache flush


@dataclass(frozen=True)
class Timing:
    """Seconds per run: the median and the 10th/90th percentiles over `runs` timed runs."""

    median_s: float
    p10_s: float
    p90_s: float
    runs: int


def cpu_llc_bytes() -> int:
    """The largest cache level of CPU 0 from sysfs (e.g. ``index3/size`` = ``8192K``), else
    `FALLBACK_LLC_BYTES`."""
    sizes = []
    for entry in _SYSFS_CACHE.glob("index*/size"):
        text = entry.read_text().strip()
        units = {"K": 2**10, "M": 2**20, "G": 2**30}
        sizes.append(int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text))
    return max(sizes, default=FALLBACK_LLC_BYTES)


def gpu_l2_bytes(device: torch.device) -> int:
    """The GPU's L2 size as torch reports it, else `FALLBACK_L2_BYTES`."""
    return getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0) or FALLBACK_L2_BYTES


def read_flush(buffer: torch.Tensor, sink: torch.Tensor) -> None:
    """Read every element of the 1-D `buffer` into the 0-d int64 `sink` (a sum: one kernel that
    loads the whole buffer and writes 8 bytes), so a cache is flushed without leaving dirty lines."""
    torch.sum(buffer, dim=0, dtype=torch.int64, out=sink)


class CudaTimer:
    """CUDA events around each run, a read of twice the L2 before it (the module docstring: clean
    lines, not dirty ones); `flush_s` is one read's time."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        words = FLUSH_FACTOR * gpu_l2_bytes(device) // 4
        self.flush_buffer = torch.zeros(words, dtype=torch.int32, device=device)  # written once, here
        self.sink = torch.zeros((), dtype=torch.int64, device=device)
        self.flush()  # the first read also loads the reduction kernel: not the one timed
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        self.flush()
        end.record()
        self.sync()
        self.flush_s = start.elapsed_time(end) / 1e3

    def flush(self) -> None:
        """Read every word of the buffer: the L2 left holding clean lines (`read_flush`)."""
        read_flush(self.flush_buffer, self.sink)

    def sync(self) -> None:
        torch.cuda.synchronize(self.device)

    def run(
        self, fn: Callable[[], object], runs: int, before: Callable[[], object] | None = None
    ) -> list[float]:
        """Seconds of each of `runs` calls of `fn`, events around it alone, `before` ahead of each
        (the read flush unless given: the probes time other preparations the same way)."""
        before = before or self.flush
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(runs)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(runs)]
        for start, end in zip(starts, ends, strict=True):
            before()
            start.record()
            fn()
            end.record()
        self.sync()
        return [start.elapsed_time(end) / 1e3 for start, end in zip(starts, ends, strict=True)]


@functools.cache
def _cpu_flush_buffer(size_bytes: int) -> torch.Tensor:
    """One flush buffer per size for the process: each `measure` call makes a timer, and a new
    buffer's pages would be faulted in again each time."""
    return torch.zeros(size_bytes // 4, dtype=torch.float32)


class CpuTimer:
    """`time.perf_counter_ns` around each run, a read and write of twice the LLC (at most
    `MAX_CPU_FLUSH_BYTES`) before it; `flush_s` is one flush's time."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.flush_buffer = _cpu_flush_buffer(min(FLUSH_FACTOR * cpu_llc_bytes(), MAX_CPU_FLUSH_BYTES))
        self.flush_buffer.add_(1.0)  # pages in a new buffer: not the one timed
        start = time.perf_counter_ns()
        self.flush_buffer.add_(1.0)
        self.flush_s = (time.perf_counter_ns() - start) / 1e9

    def sync(self) -> None:
        """CPU kernels return when done: nothing to wait for."""

    def run(self, fn: Callable[[], object], runs: int) -> list[float]:
        times = []
        for _ in range(runs):
            self.flush_buffer.add_(1.0)
            start = time.perf_counter_ns()
            fn()
            times.append((time.perf_counter_ns() - start) / 1e9)
        return times


TIMERS = {"cuda": CudaTimer, "cpu": CpuTimer}


def make_timer(device: torch.device) -> CudaTimer | CpuTimer:
    """The timer for `device`'s type (its flush buffer is allocated once and reused)."""
    return TIMERS[device.type](device)


def time_kernel(fn: Callable[[], object], timer: CudaTimer | CpuTimer, budget: TimingBudget) -> Timing:
    """Time `fn` (a zero-argument call of one kernel on inputs already on the device)."""
    for _ in range(budget.warmup_runs - 1):
        fn()
    timer.sync()
    estimate = max(timer.run(fn, 1)[0], 1e-9)  # the last warm-up, timed like the real runs
    # Each counted run costs its flush too (milliseconds on a CPU, more than a small kernel).
    runs = int(min(budget.max_runs, max(budget.min_runs, budget.target_s / (estimate + timer.flush_s))))
    times = np.asarray(timer.run(fn, runs))
    p10, median, p90 = np.percentile(times, [10, 50, 90])
    return Timing(median_s=float(median), p10_s=float(p10), p90_s=float(p90), runs=runs)
