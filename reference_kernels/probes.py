"""Probes of what the GPU model assumes and the published rows cannot settle, for a session lent a GPU.

`benchmarks/RESULTS.md` lists, session by session, mechanisms read and not shipped because no
measurement tells them apart. Each probe here measures one of them, in a few seconds, so one call
of the device tool (``bash reference_kernels/run_probes_on_gpu.sh``) settles them all:

* `memory_streams`: the memory law. The model runs DRAM traffic at a copy's rate less what a
  kernel's bytes in flight leave idle (a closed queue, `sim.engines.gpu.timing`), and every read at
  the copy's rate; cuDNN's head-dim-128 decode on the H200 reads at 4.5 TB/s, above the 4.3 TB/s
  copy. Read, write and copy streams (`reference_kernels.triton_kernels.streams`) at known bytes in
  flight (CTAs x block) give the read-only ceiling and the law's shape.
* `sustained_gemm`: the clock under sustained load. The H100's tensor fraction is solved from a
  41 ms burst of 8192^3 GEMMs (798 TFLOP/s); the same source's 10240^3 burst runs at 720 and
  whole-model prefills of 0.4-1 s run 15-20% slower than the model. Back-to-back 8192^3 GEMMs for
  a few seconds, on random and on zero data, timed in chunks beside nvidia-smi's clock and power;
  on a GPU with FP8 tensor cores the same in FP8 (``torch._scaled_mm``) without and with fast
  accumulation: Azure's sustained cuBLASLt runs with fast accumulation keep 70% of the H100's FP8
  peak, no more than the MAMF table's best without it, where the model gives fast accumulation 85%
  (benchmarks/RESULTS.md, session 24).
* `gemm_kernels`: which cuBLAS kernel runs a shape (its tile, cluster and stream-K in the name, its
  grid and block in the trace) and how fast, at the shapes where model and published rows part:
  N = 2112, K = 7168 at M = 1-8192 (the model 20% fast at M >= 1024, 35% slow at M <= 128); a
  Llama-2-7B layer at 1, 16, 128 and 4096 tokens; 8192^3 and 10240^3. The model's tile search lets several
  CTAs share an SM, which hides wave quantization that a one-CTA-per-SM Hopper kernel shows.
* `dirty_l2`: the write-back a kernel pays after a flush by writes (Triton's ``do_bench`` zeroes
  256 MB; `GPUSpec.after_l2_flush_by_writes` assumes the whole L2 is left dirty, an upper bound)
  against a flush by reads and none, for GEMVs whose weights are larger and smaller than the L2.
* `fp8_accumulation`: cuBLAS FP8 GEMMs (``torch._scaled_mm``) with and without fast accumulation.
  The model promotes FP8 partial sums as cuBLAS does by default (`hwmodels.gpu.FP8_PROMOTION_K`,
  in series with the matmul; ASSUMED from CUTLASS's kernels); torchao's FP8 inference matmuls and
  vLLM's CUTLASS scaled_mm accumulate fast. The probe measures what fast accumulation saves.
* `cold_clock`: the SM clock a call meets after the GPU has idled. Harnesses that synchronize
  and return to the host between calls (nvbench's cold measurement, TileOPs' ``bench_kernel``)
  publish batch-1 decode times with floors of 10-21 µs where the model, and a warm GPU's launch,
  give 2-5 µs (`benchmarks/RESULTS.md`, sessions 10-21). If the clock falls while the GPU waits
  for the host and a call of tens of µs ends before it climbs back, such a call runs at the lower
  clock. A spin of a known number of cycles (``torch.cuda._sleep``) timed by CUDA events gives the
  clock it ran at; each condition (back to back, after 0-100 ms of host idle, after a 256 MB
  write flush and a synchronize) is timed at two spin lengths, whose difference cancels the
  launch and event overheads. A batch-1 decode attention and a GEMV are timed in the same
  conditions beside it.

    python3 -m reference_kernels.probes cuda OUT_DIR [--only memory_streams,dirty_l2]

Each probe writes ``OUT_DIR/<gpu>_probe_<name>.csv`` with the environment columns every measured
row carries (`reference_kernels.environment`). On a CPU only the probes that mean something there
run (the GEMM ones); the others say so and are skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from reference_kernels.environment import environment
from reference_kernels.launch import write_csv
from reference_kernels.timing import TimingBudget, gpu_l2_bytes, make_timer, time_kernel

#: Bytes each memory stream moves through DRAM (read or written once): 1 GiB, far past any L2.
STREAM_BYTES = 2**30
#: fp32 elements per load of one CTA: 4, 16 and 64 KiB in flight per CTA.
STREAM_BLOCKS = (1024, 4096, 16384)
#: CTAs of a stream, as multiples of the SM count: from a quarter of the SMs with one CTA to more
#: CTAs than the SMs hold at once.
STREAM_CTAS_PER_SM = (0.25, 0.5, 1, 2, 4, 8, 16)
#: Warps per stream CTA (Triton's default).
STREAM_WARPS = 4

#: Square bf16 GEMM of the sustained probe: the shape the H100 preset's tensor fraction is solved on.
SUSTAINED_SIZE = 8192
#: Seconds each data kind of the sustained probe runs for; GEMMs per timed chunk.
SUSTAINED_SECONDS = 3.0
SUSTAINED_CALLS_PER_CHUNK = 10
#: nvidia-smi's fields sampled beside the sustained probe, and its period.
SMI_FIELDS = (
    "timestamp,clocks.sm,clocks.mem,power.draw,power.limit,temperature.gpu,clocks_throttle_reasons.active"
)
SMI_PERIOD_MS = 100

#: (N, K) of a Llama-2-7B layer's GEMMs: QKV, O, gate and up together, down.
LLAMA_2_7B_LAYER = ((12288, 4096), (4096, 4096), (22016, 4096), (4096, 11008))
#: (M, N, K) of the GEMM probe, ``F.linear(x[M, K], w[N, K])`` in bf16 as a model's layers run it.
GEMM_SHAPES = (
    # vLLM PR 23280's bf16 baseline (DeepSeek-V3's fused QKV-A projection), M = 1 to 8192
    *((m, 2112, 7168) for m in (1, 64, 128, 256, 1024, 2048, 4096, 8192)),
    # a Llama-2-7B layer's decode GEMVs at batch 1 and 16 (whole-model decode's weight stream) and
    # at a 128-token prompt
    *((m, n, k) for m in (1, 16, 128) for n, k in LLAMA_2_7B_LAYER),
    # the same at a 4096-token vLLM prefill step
    *((4096, n, k) for n, k in LLAMA_2_7B_LAYER),
    # the calibration shape, and the same source's larger square
    (8192, 8192, 8192), (10240, 10240, 10240),
)
#: GEMVs of the dirty-L2 probe, (N, K) of ``F.linear(x[1, K], w[N, K])`` in fp16: 134 MB of weight
#: (past the L2) and 33.5 MB (inside an H100's 50 MB).
DIRTY_L2_GEMVS = ((8192, 8192), (4096, 4096))
#: What precedes each timed GEMV: Triton do_bench's write flush, the harness's read flush, nothing.
DIRTY_L2_CONDITIONS = ("write_flush", "read_flush", "none")
#: do_bench's flush buffer (triton.testing: ``torch.empty(int(256e6 // 4), dtype=torch.int)``).
DO_BENCH_FLUSH_BYTES = 256_000_000
DIRTY_L2_RUNS = 50
#: (M, N, K) of the FP8 probe.
FP8_SHAPES = ((8192, 8192, 8192), (8192, 2112, 7168), (4096, 4096, 4096), (128, 4096, 4096), (16, 8192, 8192))

#: GPU cycles of the cold-clock probe's shorter spin (``torch.cuda._sleep``: one thread spinning on
#: ``clock64`` until that many cycles have passed); the longer spin is twice it. 100,000 cycles are
#: about 50 µs at 2 GHz: short against a DVFS clock step (milliseconds), so a spin meets the clock
#: the call starts at, and long against the events' resolution (about 0.5 µs).
CLOCK_SPIN_CYCLES = 100_000
#: Host idle (``time.sleep``) after a synchronize and before each cold call: none, then 1, 10 and 100
#: ms (a Python harness's work between calls is in the first two).
CLOCK_GAPS_S = (0.0, 1e-3, 1e-2, 1e-1)
CLOCK_RUNS = 15
#: Back-to-back warm-up before the hot condition: seconds of 4096³ bf16 GEMMs.
CLOCK_WARM_S = 0.2
#: The small calls timed beside the spin: a batch-1 decode over 32 query and 4 K/V heads, head dim
#: 128, 4096 keys in fp16 (TileOPs' and FlashInfer's decode rows), and a 1 x 4096 x 4096 fp16 GEMV.
CLOCK_DECODE = (32, 4, 4096, 128)
CLOCK_GEMV = (4096, 4096)

Row = dict[str, object]


def memory_streams(device: torch.device, *, total_bytes: int = STREAM_BYTES,
                   blocks: tuple[int, ...] = STREAM_BLOCKS,
                   ctas_per_sm: tuple[float, ...] = STREAM_CTAS_PER_SM,
                   budget: TimingBudget | None = None) -> list[Row]:
    """Read streams at every (CTAs, block) of the grid, and write and copy streams at the grid's
    most CTAs: one row each with the bytes moved, the bytes in flight if every CTA were resident
    (``ctas · 4 · block``) and the rate."""
    from reference_kernels.triton_kernels.streams import stream

    sms = _sm_count(device)
    timer = make_timer(device)
    budget = budget or TimingBudget()
    source = torch.ones(total_bytes // 4, dtype=torch.float32, device=device)
    target = torch.empty_like(source)
    rows = []
    for block in blocks:
        most = ctas_per_sm[-1:]
        for kind, fractions in (("read", ctas_per_sm), ("write", most), ("copy", most)):
            for fraction in fractions:
                ctas = max(1, round(fraction * sms))
                elements = source.numel() // (ctas * block) * ctas * block
                if not elements:
                    continue
                src, dst = source[:elements], target[:elements] if kind != "read" else target[:ctas]
                moved = stream(kind, src, dst, programs=ctas, block=block, num_warps=STREAM_WARPS)
                expected = torch.tensor(float(elements), device=device)
                if kind == "read" and not torch.allclose(dst.sum(), expected):
                    raise RuntimeError(f"read stream of {elements} ones summed to {float(dst.sum())}")
                timing = time_kernel(
                    lambda kind=kind, src=src, dst=dst, ctas=ctas, block=block: stream(
                        kind, src, dst, programs=ctas, block=block, num_warps=STREAM_WARPS),
                    timer, budget)
                rows.append({
                    "kind": kind, "ctas": ctas, "sm_count": sms, "block_elements": block,
                    "num_warps": STREAM_WARPS, "bytes_moved": moved,
                    "bytes_in_flight_if_resident": ctas * block * source.element_size(),
                    **_timing_columns(timing), "bytes_per_s": moved / timing.median_s,
                })
    return rows


def sustained_gemm(device: torch.device, *, size: int = SUSTAINED_SIZE,
                   seconds: float = SUSTAINED_SECONDS, calls_per_chunk: int = SUSTAINED_CALLS_PER_CHUNK,
                   smi_log: Path | None = None) -> list[Row]:
    """Back-to-back ``size``³ GEMMs for `seconds` per kind (`sustained_kinds`: bf16 on random
    normal data, then on zeros, then FP8 without and with fast accumulation where the GPU has FP8
    tensor cores), timed in chunks of `calls_per_chunk`: one row per chunk with its start time since
    the kind began and its rate. On a GPU, nvidia-smi samples the clocks and power into `smi_log`
    meanwhile."""
    flops = 2 * size**3
    rows = []
    with _nvidia_smi_log(device, smi_log):
        for data in sustained_kinds(device):
            call = _sustained_call(device, size, data)
            for _ in range(3):  # warm-up: the kernel's first call loads it
                call()
            _sync(device)
            began = time.perf_counter()
            chunk = 0
            while (start := time.perf_counter() - began) < seconds:
                for _ in range(calls_per_chunk):
                    call()
                _sync(device)
                per_call = (time.perf_counter() - began - start) / calls_per_chunk
                rows.append({"data": data, "size": size, "chunk": chunk, "start_s": start,
                             "seconds_per_call": per_call, "flops_per_s": flops / per_call,
                             "epoch_s": time.time()})  # the chunk's end, to match nvidia-smi's samples
                chunk += 1
    return rows


#: Kinds of the sustained probe: bf16 (fp32 on a CPU) on random and on zero data, and on a GPU with
#: FP8 tensor cores ``torch._scaled_mm`` on random e4m3 data without and with fast accumulation.
SUSTAINED_KINDS = ("randn", "zeros")
SUSTAINED_FP8_KINDS = ("fp8_randn", "fp8_fast_accum_randn")


def sustained_kinds(device: torch.device) -> tuple[str, ...]:
    """The kinds `sustained_gemm` runs on `device`, in order: FP8's only where `has_fp8_tensor_cores`."""
    fp8 = device.type == "cuda" and has_fp8_tensor_cores(torch.cuda.get_device_capability(device))
    return SUSTAINED_KINDS + (SUSTAINED_FP8_KINDS if fp8 else ())


def has_fp8_tensor_cores(capability: tuple[int, int]) -> bool:
    """Whether a GPU of compute `capability` multiplies e4m3 on its tensor cores: Ada (8.9) and
    Hopper (9.0) on (CUDA C Programming Guide, the fp8 ``mma``/``wgmma`` shapes)."""
    return tuple(capability) >= (8, 9)


def _sustained_call(device: torch.device, size: int, data: str) -> Callable[[], object]:
    """One ``size``³ GEMM of the sustained probe's kind `data`: bf16 into a buffer of its own, FP8
    into a new bf16 output each call (``torch._scaled_mm`` has no ``out``)."""
    if data in SUSTAINED_FP8_KINDS:
        a, b, one = _fp8_operands(device, size, size, size)
        fast = data == "fp8_fast_accum_randn"
        return lambda: _fp8_mm(a, b, one, fast)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    make = torch.randn if data == "randn" else torch.zeros
    a, b = (make(size, size, dtype=dtype, device=device) for _ in range(2))
    c = torch.empty(size, size, dtype=dtype, device=device)
    return lambda: torch.mm(a, b, out=c)


def gemm_kernels(device: torch.device, *, shapes: tuple[tuple[int, int, int], ...] = GEMM_SHAPES,
                 budget: TimingBudget | None = None) -> list[Row]:
    """Each shape timed by the harness (a read flush before every run, `reference_kernels.timing`),
    then one call profiled: the kernels it launched, with their grid, block, registers, shared
    memory and CTAs per SM as the CUDA trace records them (empty on a CPU)."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    timer = make_timer(device)
    budget = budget or TimingBudget()
    rows = []
    for m, n, k in shapes:
        x = torch.randn(m, k, dtype=dtype, device=device)
        w = torch.randn(n, k, dtype=dtype, device=device)
        def call(x=x, w=w):
            return F.linear(x, w)
        timing = time_kernel(call, timer, budget)
        rows.append({"m": m, "n": n, "k": k, "dtype": str(dtype).removeprefix("torch."),
                     **_timing_columns(timing), "flops_per_s": 2 * m * n * k / timing.median_s,
                     **_launch_columns(kernel_launches(_profiled(call, device)))})
    return rows


def dirty_l2(device: torch.device, *, gemvs: tuple[tuple[int, int], ...] = DIRTY_L2_GEMVS,
             runs: int = DIRTY_L2_RUNS) -> list[Row]:
    """Each fp16 GEMV timed alone (CUDA events around it only) after each of
    `DIRTY_L2_CONDITIONS`: one row per GEMV and condition. GPU only."""
    timer = make_timer(device)
    flush_words = torch.zeros(DO_BENCH_FLUSH_BYTES // 4, dtype=torch.int32, device=device)
    before = {"write_flush": flush_words.zero_, "read_flush": timer.flush, "none": lambda: None}
    rows = []
    for n, k in gemvs:
        x = torch.randn(1, k, dtype=torch.float16, device=device)
        w = torch.randn(n, k, dtype=torch.float16, device=device)

        def gemv(x=x, w=w):
            return F.linear(x, w)

        gemv()  # the first call loads the kernel
        for condition in DIRTY_L2_CONDITIONS:
            times = timer.run(gemv, runs, before=before[condition])
            p10, median, p90 = np.percentile(times, [10, 50, 90])
            rows.append({"m": 1, "n": n, "k": k, "weight_bytes": n * k * 2, "l2_bytes": gpu_l2_bytes(device),
                         "before": condition, "median_s": median, "p10_s": p10, "p90_s": p90, "runs": runs})
    return rows


def fp8_accumulation(device: torch.device, *, shapes: tuple[tuple[int, int, int], ...] = FP8_SHAPES,
                     budget: TimingBudget | None = None) -> list[Row]:
    """``torch._scaled_mm`` (e4m3 in, bf16 out, unit scales) at each shape with ``use_fast_accum``
    off (cuBLAS's default promotion) and on: one row each, with the kernels it launched. GPU with
    FP8 tensor cores (compute capability 8.9 and up) only."""
    timer = make_timer(device)
    budget = budget or TimingBudget()
    rows = []
    for m, n, k in shapes:
        a, b, one = _fp8_operands(device, m, n, k)
        for fast in (False, True):
            def call(a=a, b=b, one=one, fast=fast):
                return _fp8_mm(a, b, one, fast)
            timing = time_kernel(call, timer, budget)
            rows.append({"m": m, "n": n, "k": k, "use_fast_accum": fast, **_timing_columns(timing),
                         "flops_per_s": 2 * m * n * k / timing.median_s,
                         **_launch_columns(kernel_launches(_profiled(call, device)))})
    return rows


def _fp8_operands(device: torch.device, m: int, n: int, k: int) -> tuple[torch.Tensor, ...]:
    """Random e4m3 A [m, k] and B [k, n] (B column-major, as ``torch._scaled_mm`` takes it) and a
    unit scale, made once outside the timed calls."""
    a = torch.randn(m, k, device=device).to(torch.float8_e4m3fn)
    b = torch.randn(n, k, device=device).to(torch.float8_e4m3fn).t()
    return a, b, torch.tensor(1.0, device=device)


def _fp8_mm(a: torch.Tensor, b: torch.Tensor, one: torch.Tensor, fast: bool) -> torch.Tensor:
    """``torch._scaled_mm`` of `a` and `b` at the unit scale `one` into bf16, fast accumulation or not."""
    return torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16, use_fast_accum=fast)


def cold_clock(device: torch.device, *, cycles: int = CLOCK_SPIN_CYCLES,
               gaps: tuple[float, ...] = CLOCK_GAPS_S, runs: int = CLOCK_RUNS, warm_s: float = CLOCK_WARM_S,
               timer=None, spin: Callable[[int], object] | None = None) -> list[Row]:
    """Per condition (`clock_conditions`) and call (a spin of `cycles` and of twice that, the
    decode attention and the GEMV of `CLOCK_DECODE` and `CLOCK_GEMV`): the median, p10 and p90 of
    `runs` CUDA-event timings. GPU only; `timer` and `spin` stand in for the CUDA ones in tests."""
    timer = timer or make_timer(device)
    spin = spin or torch.cuda._sleep
    heads, kv_heads, keys, head_dim = CLOCK_DECODE
    q = torch.randn(1, heads, 1, head_dim, dtype=torch.float16, device=device)
    k, v = (torch.randn(1, kv_heads, keys, head_dim, dtype=torch.float16, device=device) for _ in range(2))
    x = torch.randn(1, CLOCK_GEMV[1], dtype=torch.float16, device=device)
    w = torch.randn(*CLOCK_GEMV, dtype=torch.float16, device=device)
    calls: dict[str, tuple[Callable[[], object], int]] = {
        "spin": (lambda: spin(cycles), cycles),
        "spin_twice": (lambda: spin(2 * cycles), 2 * cycles),
        "decode_attention": (lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True), 0),
        "gemv": (lambda: F.linear(x, w), 0),
    }
    for call, _ in calls.values():  # the first call of each loads its kernel
        call()
    rows = []
    for condition, gap, setup, before in clock_conditions(device, gaps, warm_s):
        for name, (call, spun) in calls.items():
            setup()
            times = timer.run(call, runs, before=before)
            p10, median, p90 = np.percentile(times, [10, 50, 90])
            rows.append({"condition": condition, "gap_s": gap, "call": name, "cycles": spun,
                         "median_s": median, "p10_s": p10, "p90_s": p90, "runs": runs})
    return rows


def clock_conditions(device: torch.device, gaps: tuple[float, ...], warm_s: float
                     ) -> list[tuple[str, float, Callable[[], object], Callable[[], object]]]:
    """(name, host idle seconds, what runs once before a call's timings, what runs before each
    timed call) of the cold-clock probe: ``hot``, calls queued back to back (nothing between them)
    after `warm_s` of back-to-back GEMMs; ``idle``, a synchronize and then each of `gaps` of host
    sleep; ``write_flush``, a 256 MB ``zero_()`` and a synchronize, as TileOPs' ``bench_kernel``
    and nvbench's cold loop run before each call."""
    flush_words = torch.zeros(DO_BENCH_FLUSH_BYTES // 4, dtype=torch.int32, device=device)
    square = torch.randn(4096, 4096, dtype=torch.bfloat16, device=device) if warm_s else None

    def warm() -> None:
        began = time.perf_counter()
        while time.perf_counter() - began < warm_s:
            for _ in range(10):
                torch.mm(square, square)
            _sync(device)

    def idle(gap: float) -> Callable[[], None]:
        def before() -> None:
            _sync(device)
            if gap:
                time.sleep(gap)
        return before

    def flushed() -> None:
        flush_words.zero_()
        _sync(device)

    def nothing() -> None:
        return None

    return [("hot", 0.0, warm, nothing), *[("idle", gap, nothing, idle(gap)) for gap in gaps],
            ("write_flush", 0.0, nothing, flushed)]


def kernel_launches(trace: dict) -> list[Row]:
    """The GPU kernels of a Chrome trace (torch.profiler's ``export_chrome_trace``), in launch
    order: name, grid, block, registers per thread, static shared memory, CTAs per SM."""
    launches = []
    for event in trace.get("traceEvents", []):
        if event.get("cat") != "kernel":
            continue
        args = event.get("args", {})
        launches.append({
            "name": event.get("name", ""),
            "grid": "x".join(str(d) for d in args.get("grid", [])),
            "block": "x".join(str(d) for d in args.get("block", [])),
            "registers": args.get("registers per thread", ""),
            "shared_memory": args.get("shared memory", ""),
            "blocks_per_sm": args.get("blocks per SM", ""),
        })
    return launches


PROBES: dict[str, tuple[Callable[..., list[Row]], bool]] = {  # name -> (probe, runs on a CPU)
    "memory_streams": (memory_streams, False),
    "sustained_gemm": (sustained_gemm, True),
    "gemm_kernels": (gemm_kernels, True),
    "dirty_l2": (dirty_l2, False),
    "fp8_accumulation": (fp8_accumulation, False),
    "cold_clock": (cold_clock, False),
}


#: On a CPU the GEMM probes run shapes a CPU times in seconds, not the GPU's.
CPU_OPTIONS: dict[str, Row] = {
    "sustained_gemm": {"size": 1024, "seconds": 1.0, "calls_per_chunk": 2},
    "gemm_kernels": {"shapes": ((128, 4096, 4096), (1024, 1024, 1024))},
}


def run_probes(device: torch.device, out_dir: Path, only: tuple[str, ...] = (),
               options: dict[str, Row] | None = None) -> dict[str, str]:
    """Run `only` (every probe if empty), each with its `options` (keyword arguments; on a CPU
    `CPU_OPTIONS` under them), and write each one's CSV; returns what became of each: the file
    written, why it was skipped, or the error it stopped on (the others still run: a device call
    is paid for by the minute)."""
    unknown = [name for name in only if name not in PROBES]
    if unknown:
        raise ValueError(f"probe {unknown[0]!r}: expected one of {', '.join(PROBES)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = _device_prefix(device)
    outcome = {}
    for name in only or tuple(PROBES):
        probe, on_cpu = PROBES[name]
        if device.type != "cuda" and not on_cpu:
            outcome[name] = "skipped: needs a CUDA device"
            continue
        if name == "fp8_accumulation" and not has_fp8_tensor_cores(torch.cuda.get_device_capability(device)):
            outcome[name] = "skipped: no FP8 tensor cores (compute capability below 8.9)"
            continue
        defaults = CPU_OPTIONS.get(name, {}) if device.type != "cuda" else {}
        kwargs = {**defaults, **(options or {}).get(name, {})}
        if name == "sustained_gemm":
            kwargs.setdefault("smi_log", out_dir / f"{prefix}_probe_{name}_nvidia_smi.csv")
        path = out_dir / f"{prefix}_probe_{name}.csv"
        try:
            rows = probe(device, **kwargs)
        except Exception as error:  # noqa: BLE001 - one probe's failure must not lose the others
            outcome[name] = f"failed: {type(error).__name__}: {error}"
            continue
        where = environment(device)  # once a probe: it runs nvidia-smi
        write_csv([{**row, **where} for row in rows], path)
        outcome[name] = str(path)
    return outcome


def _timing_columns(timing) -> Row:
    return {"median_s": timing.median_s, "p10_s": timing.p10_s, "p90_s": timing.p90_s, "runs": timing.runs}


def _launch_columns(launches: list[Row]) -> Row:
    """A call's kernels as ';'-joined columns, one entry per kernel in launch order."""
    return {f"kernel_{key}": ";".join(str(launch[key]) for launch in launches)
            for key in ("name", "grid", "block", "registers", "shared_memory", "blocks_per_sm")}


def _profiled(call: Callable[[], object], device: torch.device) -> dict:
    """The Chrome trace of one `call` under torch.profiler (CUDA activity on a GPU)."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as profile:
        call()
        _sync(device)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "trace.json"
        profile.export_chrome_trace(str(path))
        return json.loads(path.read_text())


@contextlib.contextmanager
def _nvidia_smi_log(device: torch.device, path: Path | None) -> Iterator[None]:
    """nvidia-smi sampling `SMI_FIELDS` every `SMI_PERIOD_MS` into `path` while the block runs
    (nothing on a CPU, without a path or without nvidia-smi)."""
    if device.type != "cuda" or path is None or shutil.which("nvidia-smi") is None:
        yield
        return
    index = device.index if device.index is not None else torch.cuda.current_device()
    with open(path, "w") as log:
        sampler = subprocess.Popen(
            ["nvidia-smi", f"--query-gpu={SMI_FIELDS}", "--format=csv", f"--loop-ms={SMI_PERIOD_MS}",
             f"--id={index}"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            yield
        finally:
            sampler.terminate()
            sampler.wait()


def _sm_count(device: torch.device) -> int:
    """The GPU's SMs; on a CPU its cores (the interpreter's stand-in, for the tests)."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).multi_processor_count
    return torch.get_num_threads()


def _device_prefix(device: torch.device) -> str:
    """``h100`` for "NVIDIA H100 80GB HBM3" (as run_on_gpu.sh names its files), ``cpu`` on a CPU."""
    if device.type != "cuda":
        return "cpu"
    words = torch.cuda.get_device_name(device).split()
    return (words[1] if len(words) > 1 else words[0]).lower()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("device", help="cuda or cpu")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--only", default="", help=f"comma-separated probes among {', '.join(PROBES)}")
    args = parser.parse_args(argv)
    only = tuple(name for name in args.only.split(",") if name)
    try:
        outcome = run_probes(torch.device(args.device), args.out_dir, only)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, result in outcome.items():
        print(f"{name}: {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
