"""The GPU probes (reference_kernels/probes.py) run here on the CPU: the memory streams under
Triton's interpreter (conftest.py sets it), the GEMM probes on small shapes. What they measure
on a GPU is checked where the numbers land (benchmarks/RESULTS.md); here, that they move and
report the bytes and FLOPs they claim, and that the CLI refuses what it cannot run."""

from __future__ import annotations

import csv
import datetime

import pandas as pd
import pytest
import torch

from reference_kernels.probes import (
    cold_clock,
    gemm_kernels,
    has_fp8_tensor_cores,
    kernel_launches,
    main,
    memory_streams,
    run_probes,
    sustained_gemm,
    sustained_kinds,
)
from reference_kernels.timing import TimingBudget
from reference_kernels.triton_kernels.streams import stream
from sim.measured.probes import clock_after_idle, dirty_share, fast_accumulation, memory_law, sustained_clock

CPU = torch.device("cpu")
ONE_RUN = TimingBudget(warmup_runs=1, min_runs=1, max_runs=1, target_s=0.0)


def test_streams_read_write_and_copy_the_bytes_they_report():
    # 4 programs of 2 loads of 1024 fp32 each: 8192 elements, 32 KiB
    source = torch.arange(8192, dtype=torch.float32)
    sums = torch.zeros(4)
    assert stream("read", source, sums, programs=4, block=1024) == 8192 * 4
    # program p sums its own contiguous quarter: 2048 p + (0 + ... + 2047) over 2048 elements
    expected = torch.tensor([2048 * 2048 * p + 2047 * 2048 / 2 for p in range(4)])
    assert torch.allclose(sums, expected)
    filled = torch.zeros(8192)
    assert stream("write", source, filled, programs=4, block=1024) == 8192 * 4
    assert torch.equal(filled, torch.ones(8192))
    copied = torch.zeros(8192)
    assert stream("copy", source, copied, programs=4, block=1024) == 2 * 8192 * 4  # read and written
    assert torch.equal(copied, source)


def test_a_stream_that_does_not_split_evenly_or_of_an_unknown_kind_is_refused_by_name():
    with pytest.raises(ValueError, match="8192 elements: must split evenly into 3 programs of 1024"):
        stream("read", torch.ones(8192), torch.zeros(3), programs=3, block=1024)
    with pytest.raises(ValueError, match="stream kind 'gather': expected one of read, write, copy"):
        stream("gather", torch.ones(8192), torch.zeros(8192), programs=4, block=1024)


def test_memory_streams_rows_count_the_bytes_each_kind_moves():
    rows = memory_streams(CPU, total_bytes=2**18, blocks=(1024,), ctas_per_sm=(0.5, 1.0), budget=ONE_RUN)
    assert [row["kind"] for row in rows] == ["read", "read", "write", "copy"]
    for row in rows:
        ctas, block = row["ctas"], row["block_elements"]
        # the largest whole number of (ctas x block) rounds that fits the 65536-element buffer
        elements = 2**16 // (ctas * block) * ctas * block
        assert row["bytes_moved"] == (2 if row["kind"] == "copy" else 1) * 4 * elements
        assert row["bytes_in_flight_if_resident"] == ctas * block * 4
        assert row["bytes_per_s"] == pytest.approx(row["bytes_moved"] / row["median_s"])


def test_sustained_gemm_times_chunks_in_order_for_random_then_zero_data():
    rows = sustained_gemm(CPU, size=32, seconds=0.02, calls_per_chunk=2)
    for data in ("randn", "zeros"):
        chunks = [row for row in rows if row["data"] == data]
        assert chunks and chunks[0]["chunk"] == 0
        starts = [row["start_s"] for row in chunks]
        assert starts == sorted(starts) and starts[-1] < 0.02  # a chunk starts only before the time is up
        for row in chunks:  # 2 · 32³ FLOPs a call
            assert row["flops_per_s"] == pytest.approx(2 * 32**3 / row["seconds_per_call"])
    kinds = [row["data"] for row in rows]
    assert kinds == sorted(kinds, key=["randn", "zeros"].index)  # every random chunk before the zeros


def test_the_sustained_probe_runs_fp8_where_the_tensor_cores_take_it():
    # a CPU runs the bf16 (there fp32) kinds only; FP8 tensor cores from Ada (8.9) and Hopper (9.0)
    assert sustained_kinds(CPU) == ("randn", "zeros")
    assert not has_fp8_tensor_cores((8, 0)) and not has_fp8_tensor_cores((8, 6))
    assert has_fp8_tensor_cores((8, 9)) and has_fp8_tensor_cores((9, 0)) and has_fp8_tensor_cores((10, 0))


def test_gemm_kernels_reports_the_rate_of_each_shape_and_no_gpu_kernel_on_a_cpu():
    (row,) = gemm_kernels(CPU, shapes=((4, 8, 16),), budget=ONE_RUN)
    assert (row["m"], row["n"], row["k"], row["dtype"]) == (4, 8, 16, "float32")
    assert row["flops_per_s"] == pytest.approx(2 * 4 * 8 * 16 / row["median_s"])
    assert row["kernel_name"] == "" and row["kernel_grid"] == ""


def test_kernel_launches_reads_the_kernels_of_a_trace_in_order():
    trace = {"traceEvents": [
        {"cat": "cpu_op", "name": "aten::linear"},
        {"cat": "kernel", "name": "sm90_xmma_gemm_tilesize128x256x64", "args": {
            "grid": [132, 1, 1], "block": [384, 1, 1], "registers per thread": 168,
            "shared memory": 0, "blocks per SM": 1.0}},
        {"cat": "kernel", "name": "splitKreduce_kernel", "args": {"grid": [64, 2, 1], "block": [256, 1, 1]}},
    ]}
    launches = kernel_launches(trace)
    names = [launch["name"] for launch in launches]
    assert names == ["sm90_xmma_gemm_tilesize128x256x64", "splitKreduce_kernel"]
    first = launches[0]
    assert (first["grid"], first["block"], first["registers"]) == ("132x1x1", "384x1x1", 168)
    assert launches[1]["registers"] == ""


def test_run_probes_writes_what_a_cpu_can_run_and_says_why_it_skips_the_rest(tmp_path):
    options = {"sustained_gemm": {"size": 16, "seconds": 0.01}, "gemm_kernels": {"shapes": ((2, 4, 8),),
                                                                                 "budget": ONE_RUN}}
    outcome = run_probes(CPU, tmp_path, options=options)
    assert outcome["memory_streams"] == outcome["dirty_l2"] == outcome["fp8_accumulation"] == (
        "skipped: needs a CUDA device") == outcome["cold_clock"]
    with open(tmp_path / "cpu_probe_gemm_kernels.csv") as file:
        (row,) = list(csv.DictReader(file))
    assert (row["m"], row["n"], row["k"]) == ("2", "4", "8") and row["device_name"]  # environment columns
    assert (tmp_path / "cpu_probe_sustained_gemm.csv").stat().st_size > 0


def test_a_probe_that_fails_is_reported_and_the_others_still_run(tmp_path, monkeypatch):
    from reference_kernels import probes

    def broken(device, **kwargs):
        raise RuntimeError("cuBLAS said no")

    monkeypatch.setitem(probes.PROBES, "gemm_kernels", (broken, True))
    options = {"sustained_gemm": {"size": 16, "seconds": 0.01}}
    outcome = run_probes(CPU, tmp_path, only=("gemm_kernels", "sustained_gemm"), options=options)
    assert outcome["gemm_kernels"] == "failed: RuntimeError: cuBLAS said no"
    assert outcome["sustained_gemm"] == str(tmp_path / "cpu_probe_sustained_gemm.csv")


def test_the_cli_refuses_an_unknown_probe_by_name(tmp_path, capsys):
    assert main(["cpu", str(tmp_path), "--only", "gemm_kernels,warp_speed"]) == 2
    assert "probe 'warp_speed': expected one of memory_streams, sustained_gemm" in capsys.readouterr().err



class _SpinClock:
    """A GPU stand-in for the cold-clock probe: a spin of c cycles takes 2 us of launch and events
    plus c / f, f = 1.98 GHz where nothing synchronized before the call (back to back) and 0.8 GHz
    where something did (the GPU idled); any other call takes 2 us."""

    def __init__(self) -> None:
        self.spun = 0
        self.syncs = 0

    def spin(self, cycles: int) -> None:
        self.spun = cycles

    def run(self, fn, runs, before):
        times = []
        for _ in range(runs):
            self.spun, syncs = 0, self.syncs
            before()
            fn()
            clock = 0.8e9 if self.syncs > syncs else 1.98e9
            times.append(2e-6 + self.spun / clock)
        return times


def test_cold_clock_times_every_call_in_every_condition(monkeypatch):
    from reference_kernels import probes

    fake = _SpinClock()
    monkeypatch.setattr(probes, "_sync", lambda device: setattr(fake, "syncs", fake.syncs + 1))
    rows = cold_clock(CPU, cycles=1000, gaps=(0.0, 1e-3), runs=3, warm_s=0.0, timer=fake, spin=fake.spin)
    conditions = [(row["condition"], row["gap_s"]) for row in rows[::4]]
    assert conditions == [("hot", 0.0), ("idle", 0.0), ("idle", 1e-3), ("write_flush", 0.0)]
    assert [row["call"] for row in rows[:4]] == ["spin", "spin_twice", "decode_attention", "gemv"]
    assert [row["cycles"] for row in rows[:4]] == [1000, 2000, 0, 0]
    hot_spin = rows[0]  # nothing synchronized yet: the back-to-back clock, 2 us + 1000 / 1.98 GHz
    assert hot_spin["median_s"] == pytest.approx(2e-6 + 1000 / 1.98e9)
    idle_spin = rows[4]  # after a synchronize: 2 us + 1000 / 0.8 GHz
    assert idle_spin["median_s"] == pytest.approx(2e-6 + 1000 / 0.8e9)
    flushed_twice = rows[13]  # the write flush synchronizes too: 2 us + 2000 / 0.8 GHz
    assert flushed_twice["median_s"] == pytest.approx(2e-6 + 2000 / 0.8e9)


def test_clock_after_idle_takes_the_clock_from_two_spin_lengths():
    # 100,000 and 200,000 cycles: 52.5 and 103.0 us back to back (2 us of overhead, 1.98 GHz), 127
    # and 252 us after 10 ms idle (0.8 GHz): f = 100,000 / (103.0 - 52.5) us = 1.98 GHz and
    # 100,000 / 125 us = 0.8 GHz, 0.404 of the hot clock; the decode 9.5 us hot, 19 us idle (2x)
    def timing(condition, gap, call, cycles, median):
        return {"condition": condition, "gap_s": gap, "call": call, "cycles": cycles, "median_s": median}

    hot = 1e5 / 1.98e9
    rows = pd.DataFrame([
        timing("hot", 0.0, "spin", 100_000, 2e-6 + hot),
        timing("hot", 0.0, "spin_twice", 200_000, 2e-6 + 2 * hot),
        timing("hot", 0.0, "decode_attention", 0, 9.5e-6),
        timing("idle", 0.01, "spin", 100_000, 127e-6), timing("idle", 0.01, "spin_twice", 200_000, 252e-6),
        timing("idle", 0.01, "decode_attention", 0, 19e-6),
    ])
    table = clock_after_idle(rows).set_index("condition")
    assert table.loc["hot", "clock_hz"] == pytest.approx(1.98e9)
    assert table.loc["idle", "clock_hz"] == pytest.approx(0.8e9)
    assert table.loc["idle", "clock_over_hot"] == pytest.approx(0.8 / 1.98)
    assert table.loc["idle", "decode_attention_over_hot"] == pytest.approx(2.0)
    assert table.loc["hot", "decode_attention_over_hot"] == 1.0


# --- what the probes' files say (sim/measured/probes.py) ---------------------------------------


def test_memory_law_recovers_the_ceiling_and_latency_of_a_closed_queue():
    # rows made by the law itself: rate = I / (L + I / P) with P = 3.2 TB/s, L = 600 ns, for 33-132
    # CTAs of 4-64 KiB in flight on 132 SMs; a row with more CTAs than SMs is left out of the fit
    ceiling, latency, sms = 3.2e12, 600e-9, 132
    rows = []
    for ctas in (33, 66, 132):
        for block in (1024, 4096, 16384):
            in_flight = ctas * block * 4
            rows.append({"kind": "read", "ctas": ctas, "sm_count": sms,
                         "bytes_in_flight_if_resident": in_flight,
                         "bytes_per_s": in_flight / (latency + in_flight / ceiling)})
    rows += [{"kind": "read", "ctas": 2112, "sm_count": sms, "bytes_in_flight_if_resident": 2112 * 65536,
              "bytes_per_s": 1.0e12},  # not resident at once: not fitted
             {"kind": "copy", "ctas": 2112, "sm_count": sms, "bytes_in_flight_if_resident": 0,
              "bytes_per_s": 2.9e12},
             {"kind": "write", "ctas": 2112, "sm_count": sms, "bytes_in_flight_if_resident": 0,
              "bytes_per_s": 3.1e12}]
    law = memory_law(pd.DataFrame(rows))
    assert law["read_ceiling_bytes_per_s"] == pytest.approx(ceiling, rel=1e-9)
    assert law["law_latency_s"] == pytest.approx(latency, rel=1e-9)
    assert law["read_over_copy"] == pytest.approx(3.2 / 2.9)
    assert (law["copy_bytes_per_s"], law["write_bytes_per_s"]) == (2.9e12, 3.1e12)
    with pytest.raises(ValueError, match="1 read rows with every CTA resident: need at least 2"):
        memory_law(pd.DataFrame(rows[:1] + rows[-3:]))


def test_sustained_clock_sets_the_last_second_against_the_first():
    # 800 TFLOP/s in the first second, 700 in the last (0.875), nvidia-smi's clock as printed
    chunks = pd.DataFrame({"data": "randn", "start_s": [0.0, 0.5, 1.5, 2.2, 2.6],
                           "flops_per_s": [800e12, 800e12, 760e12, 700e12, 700e12]})
    smi = pd.DataFrame({"clocks.current.sm [MHz]": ["1980 MHz", "1755 MHz", "1740 MHz"],
                        "power.draw [W]": ["690.1 W", "699.0 W", "700.2 W"]})
    (row,) = sustained_clock(chunks, smi).to_dict("records")
    assert (row["burst_flops_per_s"], row["sustained_flops_per_s"]) == (800e12, 700e12)
    assert row["sustained_over_burst"] == pytest.approx(0.875)
    assert (row["median_sm_clock_mhz"], row["median_power_w"]) == (1755, 699.0)


def test_sustained_clock_reads_each_kinds_last_second_of_samples():
    # bf16 chunks end at t0 + 1..3 s, FP8's at t0 + 4..6 s; nvidia-smi samples every 0.5 s in local
    # time: bf16's last second (t0 + 2..3) holds 1755, 1740 and 1700 MHz, FP8's (t0 + 5..6) 1500,
    # 1480 and 1490: medians 1740 and 1490
    t0 = datetime.datetime(2026, 12, 7, 15, 0, 0).timestamp()
    chunks = pd.DataFrame({"data": ["randn"] * 3 + ["fp8_randn"] * 3, "start_s": [0.0, 1.0, 2.0] * 2,
                           "flops_per_s": [800e12, 790e12, 780e12, 1500e12, 1450e12, 1400e12],
                           "epoch_s": [t0 + second for second in (1, 2, 3, 4, 5, 6)]})
    clocks = [1980, 1900, 1850, 1800, 1755, 1740, 1700, 1650, 1600, 1550, 1500, 1480, 1490]
    stamps = [datetime.datetime.fromtimestamp(t0 + 0.5 * i).strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
              for i in range(len(clocks))]
    smi = pd.DataFrame({"timestamp": stamps, "clocks.current.sm [MHz]": [f"{c} MHz" for c in clocks],
                        "power.draw [W]": ["700.0 W"] * len(clocks)})
    rows = sustained_clock(chunks, smi).set_index("data")
    assert rows.loc["randn", "sustained_sm_clock_mhz"] == 1740  # samples at t0 + 2, 2.5, 3 s
    assert rows.loc["fp8_randn", "sustained_sm_clock_mhz"] == 1490  # t0 + 5, 5.5, 6 s
    # chunks starting within a second of the last start (1 and 2 s) against the first: 1425 / 1500
    assert rows.loc["fp8_randn", "sustained_over_burst"] == pytest.approx((1450 + 1400) / 2 / 1500)


def test_dirty_share_is_the_extra_time_after_a_write_flush_at_the_copy_rate_over_the_l2():
    # 16.7 us more after the write flush, at 3 TB/s: 50.1 MB of a 50 MB L2 written back
    gemvs = pd.DataFrame({"n": 8192, "k": 8192, "weight_bytes": 134217728, "l2_bytes": 50e6,
                          "before": ["write_flush", "read_flush", "none"],
                          "median_s": [60.0e-6, 43.3e-6, 40.0e-6]})
    (row,) = dirty_share(gemvs, 3e12).to_dict("records")
    assert row["written_back_bytes"] == pytest.approx(16.7e-6 * 3e12)
    assert row["dirty_share"] == pytest.approx(16.7e-6 * 3e12 / 50e6)
    assert row["measures_whole_l2"]  # 134 MB of weight can evict all 50 MB
    # a 33.5 MB GEMV writes back at most its own 33.5 MB: a lower bound of the share, said so
    small = gemvs.assign(n=4096, k=4096, weight_bytes=33554432)
    assert not dirty_share(small, 3e12)["measures_whole_l2"].item()


def test_fast_accumulation_ratio_per_shape():
    fp8 = pd.DataFrame({"m": 8192, "n": 8192, "k": 8192, "use_fast_accum": [False, True],
                        "median_s": [1.0e-3, 0.8e-3]})
    (row,) = fast_accumulation(fp8).to_dict("records")
    assert row["promoted_over_fast"] == pytest.approx(1.25)
