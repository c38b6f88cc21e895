"""The CPU timer's cache flush is bounded and counted: it touches at most `MAX_CPU_FLUSH_BYTES`
whatever the last-level cache sysfs reports, and a kernel's run count is sized by the time budget
with each run's flush included."""

from __future__ import annotations

import pytest
import torch

from reference_kernels import timing
from reference_kernels.timing import MAX_CPU_FLUSH_BYTES, CpuTimer, TimingBudget, time_kernel

CPU = torch.device("cpu")


def test_the_flush_is_twice_the_llc_up_to_the_bound(monkeypatch):
    monkeypatch.setattr(timing, "cpu_llc_bytes", lambda: 480 * 2**20)  # a VM host's L3, as reported
    assert CpuTimer(CPU).flush_buffer.nbytes == MAX_CPU_FLUSH_BYTES
    monkeypatch.setattr(timing, "cpu_llc_bytes", lambda: 4 * 2**20)
    small = CpuTimer(CPU)
    assert small.flush_buffer.nbytes == 2 * 4 * 2**20 and small.flush_s > 0
    assert CpuTimer(CPU).flush_buffer is small.flush_buffer  # one buffer per size, reused


class FakeTimer:
    """Every run takes 1 ms and its flush 9 ms (as a 64 MiB flush does on the 2-core CI VM)."""

    flush_s = 9e-3

    def sync(self) -> None:
        pass

    def run(self, fn, runs: int) -> list[float]:
        return [1e-3] * runs


def test_the_run_count_counts_each_run_s_flush():
    # 0.2 s / (1 ms + 9 ms) = 20 runs, not the 200 that the kernel's 1 ms alone would allow.
    budget = TimingBudget(warmup_runs=1, min_runs=5, max_runs=200, target_s=0.2)
    assert time_kernel(lambda: None, FakeTimer(), budget).runs == 20
    # 0.005 s / 10 ms is under the floor: min_runs.
    assert time_kernel(lambda: None, FakeTimer(), TimingBudget(warmup_runs=1, target_s=0.005)).runs == 5


def test_the_gpu_flush_reads_every_word_into_one_scalar():
    # the CUDA timer's flush (`read_flush`) runs as written on any device: a sum of 1000 int32
    # words of 3 is 3000 in the int64 sink, and the buffer is only read
    buffer = torch.full((1000,), 3, dtype=torch.int32)
    sink = torch.zeros((), dtype=torch.int64)
    timing.read_flush(buffer, sink)
    assert sink.item() == 3000 and bool((buffer == 3).all())


def test_the_cuda_timer_runs_its_flush_and_events_as_written(monkeypatch):
    # CUDA events and synchronize faked on the CPU, so the timer's own code (buffer, flush, event
    # bookkeeping) runs here as it will on a GPU: each event records the fake clock, 2 ms a run
    clock = iter(range(0, 10_000, 1))

    class FakeEvent:
        def __init__(self, enable_timing: bool = False) -> None:
            self.at = 0

        def record(self) -> None:
            self.at = next(clock)

        def elapsed_time(self, end: FakeEvent) -> float:
            return 2.0 * (end.at - self.at)  # ms

    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(timing, "gpu_l2_bytes", lambda device: 4 * 2**20)
    flushes = []
    read_flush = timing.read_flush
    monkeypatch.setattr(timing, "read_flush", lambda *args: (flushes.append(1), read_flush(*args)))
    timer = timing.CudaTimer(CPU)
    assert timer.flush_buffer.nbytes == 2 * 4 * 2**20 and timer.flush_s == pytest.approx(2e-3)
    assert timer.run(lambda: None, 3) == pytest.approx([2e-3] * 3)
    # two flushes in the constructor (a warm one, a timed one), then one before each of 3 runs; the
    # buffer is read, never written
    assert len(flushes) == 2 + 3 and not timer.flush_buffer.any()
