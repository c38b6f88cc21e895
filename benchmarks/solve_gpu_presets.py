"""Solve the GPU model's calibrated constants from their calibration figures, and print them.

Each constant is the value at which the model reproduces one published or measured figure of a
calibration source (`reference_kernels/data/sources.csv`); the presets and
`mappers.gpu_attention.FA2_SOFTMAX_OVERLAP` carry the printed values, and this script shows they
still solve their figures (bisection to 4 significant digits):

* `achievable_tensor_fraction` of ``a100_80gb_sxm`` (and the A100 40 GB's): the fraction at which
  the model's fastest shape of the MAMF table's bf16 sweep (`MAMF_BF16_SIZES`) runs at the table's
  A100 SXM figure, 271.2 TFLOP/s, the best over that sweep (`solve_a100_tensor_fraction`; until
  2026-12-07 the fraction at which its best shape alone ran at it, 0.9201, which put 8192^3 at
  279.7 TFLOP/s, above the sweep's best);
* `FA2_SOFTMAX_OVERLAP`: FlashAttention-2 on the A100 at the FA2 paper's "up to 73%" of peak
  (Dao 2023, abstract), B1 H16 S16k D128 non-causal, with the A100's ``mma.sync`` at its attention
  fraction (`attention_tensor_fraction`, 0.9201: one figure for two unknowns, the split ASSUMED;
  a100_80gb_sxm.yaml says why it no longer follows the GEMM's);
* `FA3_SOFTMAX_OVERLAP`: how far FlashAttention-3's softmax hides under its matmuls, solved with
  its tensor fraction on the FA3 paper's Figure 5 (non-causal forward on an H100 SXM5 at head dims
  64, 128 and 256, 512 to 16k tokens; source fa3_paper_fig5): for each overlap on a 0.01 grid, the
  fraction at which the bars' median error is zero, and the overlap whose median |error| is least
  (the shipped FA3 fraction is `codesign calibrate`'s fit on all FA3 calibration rows at that overlap);
* `attention_tensor_fraction` of ``h100_sxm``: FA2 at the FA3 paper's 35% of the H100's peak
  (Shah et al. 2024, abstract), same shape, that overlap held;
* `achievable_tensor_fraction` of ``h100_sxm``: the 8192³ bf16 GEMM at the 798 TFLOP/s measured
  on this workplace's H100 (known_measurements.md);
* `gemm_bandwidth_fraction` of ``a100_80gb_sxm``: gpt-fast's bf16 Llama-2-7B decode step on its
  330 W A100 (published_models.csv, a calibration source), simulated as gpt-fast ran it (serving
  fusion, CUDA graphs): its GEMVs stream the weights at that fraction of the A100's copy rate,
  which is itself ASSUMED from the H100's copy / datasheet ratio;
* no FP8 fraction: cuBLAS FP8 (``torch._scaled_mm``, fp8 out, no fast accumulation) runs at the
  bf16 fraction with its partial sums promoted every 128 of K (`hwmodels.gpu.FP8_PROMOTION_K`), and
  the script prints, as a check of that mechanism, the model's fastest shape of the MAMF table's
  FP8 sweep (`MAMF_FP8_SIZES`, the README's FP8 grid; ASSUMED for the H200, whose best shape is off
  it) beside the table's FP8 figure for each Hopper GPU (until 2026-12-07 a fraction of FP8's own
  was solved to it);
* `kernel_bandwidth_fractions` ``tinygemm_int4`` and ``inductor_int8_weight_only`` of
  ``a100_80gb_sxm``: gpt-fast's int4 (group 32) and int8 steps of the same run, each simulated as
  gpt-fast ran it, its GEMMs at the entry (the rest of the step as the bf16 row's);
* no fit, a check: the H20's ``mma.sync`` rate (`mma_sync_macs_per_cycle_per_sm`, 320: its tensor cap
  ASSUMED to slow every tensor instruction alike, 1365 x 480 / 2048) against the two calibration
  sources that time ``mma.sync`` kernels on an H20 (`check_h20_mma_sync`: xytpai/gpuk's HGEMM and
  SageAttention's FlashAttention-2 bars), beside the same at 480, the cap binding alone;
* `graph_launch_overhead_s` of ``h200``, ``a100_80gb_sxm`` and ``l40s``: what one minimal kernel
  replayed from a CUDA graph costs beyond the model's own time for it (its bytes at the copy rate
  and one memory latency, `sim.engines.gpu.timing.memory_bound_s`), from te42kyfo/gpu-benches'
  gpu-small-kernels sweep (`GRAPH_SMALL_KERNELS`): a graph of 10,000 ``scale`` kernels over 4096
  doubles on the H200, the A100 80GB and the L40;
* `VLLM_STEP_HOST_S` (workloads/stacks.py): the host time per step of vLLM's
  engine loop, at which each of vLLM's own CI latency tests (`vllm_ci_latency_tests`, a calibration
  source: Llama-3.1-8B, batch 8, 32 tokens in and 128 out, on an A100 80GB and an H100) takes its
  measured time, simulated as vLLM runs it (the prefill eager, the decode steps from CUDA graphs);
  the mean of the two;
* `loaded_clock_hz` of ``h100_pcie``: the clock at which the model's bf16 GEMM at mag-/gpu_benchmark's
  best H100 PCIe shape runs at its 499.5 TFLOP/s (published_figures.csv, a calibration source)
  over the share of the same table's H100 SXM figure (792.1) the SXM preset reaches at the SXM's
  best shape, each timed as that harness times it: the two parts share the SM and its fractions,
  and the 700 W SXM holds its rated clock, so what the PCIe lacks beyond the SXM is its clock.

    .venv/bin/python benchmarks/solve_gpu_presets.py
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import pandas as pd

from hwmodels import load_hardware
from hwmodels.gpu import FP8_PROMOTION_K
from mappers import gpu_attention
from reference_kernels.published import calibration_measurements
from reference_kernels.published_validation import validation_steps
from sim.engines.gpu.attention import best_attention
from sim.engines.gpu.gemm import best_gemm
from sim.engines.gpu.timing import memory_bound_s
from sim.measured import published_validation
from sim.measured.compare import compare, timed_as
from sim.simulate import simulate_op_latency
from workloads.dtypes import DType
from workloads.kernel_ops import op_for_measurement
from workloads.op import gemm_op
from workloads.stacks import VLLM_STEP_HOST_S

FA2_SHAPE = {"family": "attention_prefill", "batch": 1, "heads": 16, "kv_heads": 16, "seq_q": 16384,
             "seq_kv": 16384, "head_dim": 128, "causal": 0, "a_dtype": "bf16"}
GEMM_SHAPE = {"family": "gemm", "M": 8192, "N": 8192, "K": 8192, "a_dtype": "bf16", "b_dtype": "bf16"}
#: M, N and K of the MAMF table's FP8 sweep: the command stas00/ml-engineering gives for FP8 on NVIDIA
#: GPUs (compute/accelerator/benchmarks/README.md, "fp8 on NVIDIA GPUs example": ``--m_range 0
#: 20480 1024`` and likewise for N and K, ``--dtype float8_e4m3fn``), the empty size left out. The
#: H100 row's best shape (1024x9216x14336) lies on it; the H200 row's (1280x4096x12032) does not,
#: so its sweep stepped finer (by 256 at most, not stated): for the H200 the grid is ASSUMED, and a
#: finer grid's best can only be higher, so its solved fraction is an upper bound. The grid is
#: simulated with a clean L2 where the table's harness zeroed 256 MB first (under 0.3% at these
#: sizes: 50 MB of write-back beside milliseconds of math).
MAMF_FP8_SIZES = range(1024, 20481, 1024)
#: M, N and K of the MAMF table's bf16 sweep on the A100: the README's "more exhaustive search"
#: (compute/accelerator/benchmarks/README.md at 744d01e, example 2: ``--m_range 0 16384 1024``
#: and likewise for N and K), the empty size left out. ASSUMED: the table does not give the command
#: its A100 row ran; its best shape (1024x10240x5120) lies on this grid, not on the README's
#: A100-specific range (0-5376), which it exceeds. The table's figure is the best over the grid:
#: the model's fastest shape of it may not run faster.
MAMF_BF16_SIZES = range(1024, 16385, 1024)
#: How far the model's fastest shape may run above the figure at a fraction rounded to 4 digits.
MAMF_ROUNDING = 1e-3
#: The shapes of that grid the bisection tracks: the fastest at the starting fraction (the model's
#: rate rises with the fraction on every shape alike, so its fastest shapes stay the fastest); the
#: whole grid is checked at the solution.
MAMF_TRACKED_SHAPES = 64


def fraction_of_peak(spec, row: dict) -> float:
    """The row's op on `spec` (timed as CUDA events see it) as a fraction of the bf16 peak."""
    op = op_for_measurement(row)
    seconds = simulate_op_latency(op, spec.with_native_runtime())
    return op.flops / seconds / spec.peak_tensor_flops(spec.default_dtype)


def bisect(rate: Callable[[float], float], target: float, low: float, high: float) -> float:
    """The value in [low, high] where the increasing `rate` meets `target`, to 4 digits."""
    for _ in range(50):
        middle = (low + high) / 2
        low, high = (middle, high) if rate(middle) < target else (low, middle)
    return float(f"{high:.4g}")


def _with_overlap(overlap: float) -> None:
    kernel = dataclasses.replace(gpu_attention.FLASH_ATTENTION_2, overlap=overlap)
    gpu_attention.FLASH_ATTENTION_2 = kernel
    best_attention.cache_clear()


def bf16_tflops(spec, m: int, n: int, k: int) -> float:
    """TFLOP/s of a bf16 GEMM (MAMF's ``torch.mm``) on `spec`, timed as that harness times one
    call: CUDA events after a 256 MB ``zero_()`` (the L2 left dirty: `timed_as` ``writes``)."""
    op = gemm_op(m, n, k, input_dtype=DType.BF16, weight_dtype=DType.BF16, output_dtype=DType.BF16)
    return op.flops / simulate_op_latency(op, timed_as(spec, "events", "writes")) / 1e12


def solve_a100_tensor_fraction() -> float:
    """The A100's `achievable_tensor_fraction`: the fraction at which the model's fastest shape of
    the MAMF bf16 grid (`MAMF_BF16_SIZES`) runs at the table's A100 SXM figure, 271.2 TFLOP/s (the
    best over its sweep, so no shape of it runs faster); the `MAMF_TRACKED_SHAPES` fastest shapes
    at the shipped fraction are bisected, and the whole grid is checked at the solution: where a
    shape outside them runs faster than the figure (by more than the 4-digit rounding), the grid's
    fastest shapes there join the tracked ones and the bisection runs again."""
    figures = calibration_measurements()
    figure = figures[(figures["source_id"] == "mamf_table") & (figures["family"] == "gemm")
                     & (figures["preset"] == "a100_80gb_sxm")].iloc[0]
    target = float(figure["flops"]) / float(figure["latency_s"]) / 1e12
    a100 = load_hardware("a100_80gb_sxm")
    grid = list(itertools.product(MAMF_BF16_SIZES, repeat=3))
    tracked = set(sorted(grid, key=lambda shape: -bf16_tflops(a100, *shape))[:MAMF_TRACKED_SHAPES])

    def fastest(fraction: float) -> float:  # rises with the fraction
        best_gemm.cache_clear()
        spec = dataclasses.replace(a100, achievable_tensor_fraction=fraction)
        return max(bf16_tflops(spec, *shape) for shape in tracked)

    while True:
        fraction = bisect(fastest, target, 0.5, 1.0)
        best_gemm.cache_clear()
        spec = dataclasses.replace(a100, achievable_tensor_fraction=fraction)
        rates = sorted(((bf16_tflops(spec, *shape), shape) for shape in grid), reverse=True)
        rate, shape = rates[0]
        if rate <= target * (1 + MAMF_ROUNDING) or shape in tracked:
            break
        tracked |= {shape for _, shape in rates[:MAMF_TRACKED_SHAPES]}
    figure_shape = (int(figure["M"]), int(figure["N"]), int(figure["K"]))
    shipped_fraction = a100.achievable_tensor_fraction
    print(f"a100_80gb_sxm achievable_tensor_fraction: {fraction} (shipped {shipped_fraction}): "
          f"the model's fastest of the MAMF bf16 grid {rate:.1f} TFLOP/s at {'x'.join(map(str, shape))}, the "
          f"table's best {target:.1f}; at the table's best shape {bf16_tflops(spec, *figure_shape):.1f}")
    best_gemm.cache_clear()
    return fraction


def main() -> None:
    solve_a100_tensor_fraction()
    a100, h100 = load_hardware("a100_80gb_sxm"), load_hardware("h100_sxm")
    shipped_overlap = gpu_attention.FA2_SOFTMAX_OVERLAP

    def a100_rate(overlap: float) -> float:
        _with_overlap(overlap)
        return fraction_of_peak(a100, FA2_SHAPE)

    for overlap in (0.0, 1.0):
        print(f"A100 FA2 at overlap {overlap:g}: {a100_rate(overlap):.1%} of peak")
    overlap = bisect(a100_rate, 0.73, 0.0, 1.0)
    print(f"FA2_SOFTMAX_OVERLAP: {overlap} (shipped {shipped_overlap})")
    _with_overlap(shipped_overlap)

    def h100_attention(fraction: float) -> float:
        return fraction_of_peak(dataclasses.replace(h100, attention_tensor_fraction=fraction), FA2_SHAPE)

    fraction = bisect(h100_attention, 0.35, 0.05, 1.0)
    print(f"h100_sxm attention_tensor_fraction: {fraction} (shipped {h100.attention_tensor_fraction})")

    def h100_gemm(fraction: float) -> float:
        best_gemm.cache_clear()
        return fraction_of_peak(dataclasses.replace(h100, achievable_tensor_fraction=fraction), GEMM_SHAPE)

    tensor = bisect(h100_gemm, 798e12 / h100.peak_tensor_flops(h100.default_dtype), 0.5, 1.0)
    print(f"h100_sxm achievable_tensor_fraction: {tensor} (shipped {h100.achievable_tensor_fraction})")
    solve_fa3_overlap()
    check_h20_mma_sync()
    solve_graph_launch_overhead()
    check_fp8_promotion()
    solve_weight_only_kernels()
    solve_vllm_step_host()
    solve_loaded_clock()
    solve_wgmma_wait()


def _fa3_errors(rows: pd.DataFrame, h100, overlap: float, fraction: float) -> pd.Series:
    """Errors (%) of FlashAttention-3 on `rows` at softmax `overlap` and tensor `fraction`."""
    kernels = gpu_attention.ATTENTION_KERNELS
    shipped = kernels["flash_attention_3"]
    kernels["flash_attention_3"] = dataclasses.replace(shipped, overlap=overlap)
    best_attention.cache_clear()
    try:
        fractions = {**h100.kernel_fractions, "flash_attention_3": fraction}
        spec = dataclasses.replace(h100, kernel_fractions=fractions)
        return compare(rows, spec).rows["error_pct"]
    finally:
        kernels["flash_attention_3"] = shipped
        best_attention.cache_clear()


def solve_fa3_overlap() -> None:
    """`FA3_SOFTMAX_OVERLAP` (see the module docstring): the overlap on a 0.01 grid from 0.40 to
    0.95 whose zero-median fraction leaves the least median |error| on the FA3 paper's Figure 5."""
    rows = calibration_measurements()
    rows = rows[(rows["source_id"] == "fa3_paper_fig5") & (rows["kernel"] == "flash_attention_3")]
    rows = rows.reset_index(drop=True)
    h100 = load_hardware("h100_sxm")

    def fit(overlap: float) -> tuple[float, float, float]:
        """(median |error| at the zero-median fraction, overlap, that fraction)."""

        def speed(fraction: float) -> float:  # rises with the fraction
            return -float(_fa3_errors(rows, h100, overlap, fraction).median())

        fraction = bisect(speed, 0.0, 0.3, 1.0)
        return float(_fa3_errors(rows, h100, overlap, fraction).abs().median()), overlap, fraction

    spread, overlap, fraction = min(fit(round(0.40 + 0.01 * i, 2)) for i in range(56))
    hidden, _, hidden_fraction = fit(1.0)
    print(f"FA3_SOFTMAX_OVERLAP: {overlap} (shipped {gpu_attention.FA3_SOFTMAX_OVERLAP}) at FA3 fraction "
          f"{fraction}: the FA3 paper's Figure 5 ({len(rows)} bars) within a median {spread:.1f}% "
          f"(the softmax fully hidden, at its best fraction {hidden_fraction}: {hidden:.1f}%)")


def check_h20_mma_sync() -> None:
    """The H20's calibration rows of ``mma.sync`` kernels (gpuk_hgemm_h20, sageattention_h20_charts)
    at its preset's ``mma.sync`` rate and at 480 (``min(1365, 480)``): median error per source."""
    rows = calibration_measurements()
    h20 = load_hardware("h20")
    for rate in (h20.mma_sync_macs_per_cycle_per_sm, 480.0):
        best_gemm.cache_clear()
        best_attention.cache_clear()
        spec = dataclasses.replace(h20, mma_sync_macs_per_cycle_per_sm=rate)
        medians = []
        for source in ("gpuk_hgemm_h20", "sageattention_h20_charts"):
            chosen = rows[rows["source_id"] == source].reset_index(drop=True)
            errors = compare(chosen, spec).rows["error_pct"]
            medians.append(f"{source} {errors.median():+.1f}% ({len(errors)} rows)")
        print(f"h20 mma.sync at {rate:g} MACs/cycle/SM: " + ", ".join(medians))
    best_gemm.cache_clear()
    best_attention.cache_clear()


#: te42kyfo/gpu-benches@1c36d509 gpu-small-kernels/<file>, its first row (4096 doubles): a CUDA graph
#: of 10,000 ``scale`` kernels (``A[i] = B[i] * 0.25``, 32 KiB read and 32 KiB written each), replayed
#: and timed on the host over the whole graph; the best rate over its block sizes, GB/s of bytes moved
#: (h200_graph.txt: "4096  64kB     48     49     51     51     52     50"; a100_80_graph.txt:
#: "4096  0kB     23     36     39     43     46     48     49     48     45"; l40_graph.txt: "4096
#: 64kB     61     67     70     68     65     58"). The L40's figure stands for the L40S (same AD102).
GRAPH_SMALL_KERNELS = {"h200": 52e9, "a100_80gb_sxm": 49e9, "l40s": 70e9}
#: Bytes one such kernel moves: 4096 doubles read and 4096 written.
SMALL_KERNEL_BYTES = 4096 * 8 * 2


def solve_graph_launch_overhead() -> None:
    """Each GPU's `graph_launch_overhead_s`: the measured time of one minimal graph-replayed kernel
    (`GRAPH_SMALL_KERNELS`) less what the model's streaming kernel takes without a launch
    (`memory_bound_s`: the bytes at the copy rate plus one memory latency), rounded to 3 digits."""
    for preset, rate in GRAPH_SMALL_KERNELS.items():
        spec = load_hardware(preset)
        measured = SMALL_KERNEL_BYTES / rate
        bare = memory_bound_s(dataclasses.replace(spec, launch_overhead_s=0.0), SMALL_KERNEL_BYTES, 4096)
        solved = float(f"{measured - bare:.3g}")
        print(f"{preset} graph_launch_overhead_s: {solved:g} (shipped {spec.graph_launch_overhead_s:g}); "
              f"{measured * 1e6:.3f} us a kernel measured, {bare * 1e6:.3f} us its bytes and latency")


def solve_vllm_step_host() -> None:
    """vLLM's host time per step: each CI latency test's measured time per generated token less the
    model's for the same generation without it (the time is linear in it: every step pays it once);
    the mean of the GPUs' values, rounded to 3 digits."""
    steps = validation_steps()
    steps = steps[steps["source_id"] == "vllm_ci_latency_tests"]
    values = []
    for _, step in steps.iterrows():
        bare = published_validation.simulate_step(pd.Series({**step.to_dict(), "step_host_s": 0.0}))
        values.append(step["latency_s"] - bare)
        print(f"vLLM's CI on {step['preset']}: {step['latency_s'] * 1e3:.3f} ms a token measured, "
              f"{bare * 1e3:.3f} ms its kernels: {values[-1] * 1e3:.3f} ms of host time a step")
    solved = float(f"{sum(values) / len(values):.3g}")
    print(f"VLLM_STEP_HOST_S: {solved:g} (shipped {VLLM_STEP_HOST_S:g})")


def fp8_tflops(spec, m: int, n: int, k: int, kernel: str = "") -> float:
    """TFLOP/s of an FP8 GEMM with FP8 output (MAMF's ``torch._scaled_mm(A, B, scale, scale)``,
    cuBLAS without fast accumulation; or the named `kernel`) on `spec`, timed as CUDA events see
    one call."""
    attrs = (("kernel", kernel),) if kernel else ()
    op = gemm_op(m, n, k, input_dtype=DType.FP8, weight_dtype=DType.FP8, output_dtype=DType.FP8, attrs=attrs)
    return op.flops / simulate_op_latency(op, spec.with_native_runtime()) / 1e12


def check_fp8_promotion() -> None:
    """Each Hopper preset's fastest shape of the MAMF FP8 sweep (`MAMF_FP8_SIZES`), cuBLAS's FP8 at
    the bf16 fraction with its partial sums promoted, beside the table's FP8 figure for that GPU;
    and the same grid accumulated fast (no promotion)."""
    figures = calibration_measurements()
    figures = figures[(figures["source_id"] == "mamf_table") & (figures["family"] == "gemm_fp8")]
    grid = list(itertools.product(MAMF_FP8_SIZES, repeat=3))
    for preset in ("h100_sxm", "h200"):
        figure = figures[figures["preset"] == preset].iloc[0]
        target = float(figure["flops"]) / float(figure["latency_s"]) / 1e12
        spec = load_hardware(preset)
        best = max(grid, key=lambda shape, spec=spec: fp8_tflops(spec, *shape))
        fast = max(fp8_tflops(spec, *shape, kernel="cutlass_scaled_mm") for shape in grid)
        print(f"{preset} FP8 (promoted every {FP8_PROMOTION_K} of K): the model's fastest of the MAMF grid "
              f"{fp8_tflops(spec, *best):.1f} TFLOP/s at {'x'.join(map(str, best))}, the table's best "
              f"{target:.1f} ({fp8_tflops(spec, *best) / target - 1:+.1%}); accumulated fast {fast:.1f}")


def solve_weight_only_kernels() -> None:
    """The A100's GEMM bandwidth fraction, at which gpt-fast's bf16 step takes its measured time,
    and its entries for gpt-fast's weight-only kernels, each at the bandwidth fraction that gives
    its calibration step's measured time."""
    steps = validation_steps()
    steps = steps[steps["source_id"] == "gpt_fast_readme"]
    a100 = load_hardware("a100_80gb_sxm")
    bf16 = steps[steps["gemm_kernel"] == ""].iloc[0]

    def bf16_speed(fraction: float) -> float:  # rises with the fraction
        spec = dataclasses.replace(a100, gemm_bandwidth_fraction=fraction)
        return 1 / published_validation.simulate_step(bf16, spec)

    fraction = bisect(bf16_speed, 1 / bf16["latency_s"], 0.3, 1.2)
    print(f"a100_80gb_sxm gemm_bandwidth_fraction: {fraction} (shipped {a100.gemm_bandwidth_fraction})")
    steps = steps[steps["gemm_kernel"] != ""]
    for _, step in steps.iterrows():
        kernel = step["gemm_kernel"]
        shipped = a100.kernel_bandwidth_fractions.get(kernel)

        def speed(fraction: float, step=step, kernel=kernel) -> float:  # rises with the fraction
            entries = {**a100.kernel_bandwidth_fractions, kernel: fraction}
            spec = dataclasses.replace(a100, kernel_bandwidth_fractions=entries)
            return 1 / published_validation.simulate_step(step, spec)

        fraction = bisect(speed, 1 / step["latency_s"], 0.1, 1.0)
        print(f"a100_80gb_sxm kernel_bandwidth_fractions[{kernel}]: {fraction} (shipped {shipped})")


def best_shape_row(preset: str) -> pd.DataFrame:
    """mag-/gpu_benchmark's best-shape bf16 GEMM on `preset`, as a one-row measured file."""
    figures = calibration_measurements()
    row = figures[(figures["source_id"] == "mag_gpu_benchmark_readme") & (figures["preset"] == preset)]
    return row.reset_index(drop=True)


def best_shape_tflops(spec, row: pd.DataFrame) -> tuple[float, float]:
    """(published, simulated) TFLOP/s of a `best_shape_row`, simulated on `spec` as its harness
    timed it (`compare`: CUDA events after a write flush)."""
    simulated = compare(row, spec).rows.iloc[0]
    flops = float(row["flops"].iloc[0])
    published = flops / float(row["latency_s"].iloc[0]) / 1e12
    return published, flops / float(simulated["simulated_latency_s"]) / 1e12


def solve_loaded_clock() -> None:
    """The H100 PCIe's clock under GEMM load: where its best-shape GEMM runs at the table's figure
    over the share of the SXM's row the SXM preset reaches at the SXM's best shape (the same
    harness, the same SM, the 700 W SXM holding its rated clock), so that the model's own error at
    such shapes is not taken for the clock."""
    sxm_published, sxm_simulated = best_shape_tflops(load_hardware("h100_sxm"), best_shape_row("h100_sxm"))
    pcie, row = load_hardware("h100_pcie"), best_shape_row("h100_pcie")
    published, _ = best_shape_tflops(pcie, row)
    target = published * sxm_simulated / sxm_published

    def rate(clock: float) -> float:
        best_gemm.cache_clear()
        return best_shape_tflops(dataclasses.replace(pcie, loaded_clock_hz=clock * 1e9), row)[1]

    clock = bisect(rate, target, 0.5, pcie.clock_hz / 1e9)
    print(f"h100_sxm at the table's best SXM shape: {sxm_simulated:.1f} TFLOP/s, published {sxm_published}")
    print(f"h100_pcie loaded_clock_hz: {clock:g}e9 (shipped {pcie.loaded_clock_hz:g}): the PCIe's best shape "
          f"at {target:.1f} TFLOP/s = {published} x {sxm_simulated:.1f} / {sxm_published}; at the rated "
          f"{pcie.clock_hz / 1e9:g} GHz it runs at {rate(pcie.clock_hz / 1e9):.1f}")


def solve_wgmma_wait() -> None:
    """The H20's wait for a k-step's ``wgmma`` group beyond issuing it (`GPUSpec.wgmma_wait_s`): where
    the median error of DeepGEMM's stock FP8 GEMM on the 10 H20 figures of its PR #186 (a calibration
    source: 128 and 256 x 64-1280 x 8192, one wave, every CTA walking 64 k-steps) is zero, each row
    simulated as its harness timed it."""
    rows = calibration_measurements()
    rows = rows[rows["source_id"] == "deepgemm_pr186"].reset_index(drop=True)
    h20 = load_hardware("h20")

    def median_error(wait: float) -> float:  # increasing in the wait (ns)
        best_gemm.cache_clear()
        errors = compare(rows, dataclasses.replace(h20, wgmma_wait_s=wait * 1e-9)).rows["error_pct"]
        return float(errors.median())

    wait = bisect(median_error, 0.0, 0.0, 400.0)
    best_gemm.cache_clear()
    errors = compare(rows, dataclasses.replace(h20, wgmma_wait_s=wait * 1e-9)).rows["error_pct"]
    print(f"h20 wgmma_wait_s: {wait:g}e-9 (shipped {h20.wgmma_wait_s:g}): DeepGEMM PR #186's {len(rows)} H20 "
          f"rows within {errors.min():+.1f}..{errors.max():+.1f}% "
          f"(with no wait: {median_error(0.0):+.1f}% median)")


if __name__ == "__main__":
    main()
