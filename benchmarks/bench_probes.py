"""What a GPU's probe files say beside the preset's values (`reference_kernels/probes.py` measures,
`sim/measured/probes.py` reads): the memory law's ceiling and latency, burst against sustained GEMM
rate, the dirty share a write flush leaves, FP8 fast accumulation, the SM clock a call meets after
the GPU idled, and the cuBLAS GEMMs beside the model.

    bash reference_kernels/run_probes_on_gpu.sh     # on the device tool: writes <gpu>_probe_*.csv
    python benchmarks/bench_probes.py reference_kernels/data/probes --hw h100_sxm

Prints only; which preset field each figure sets (and that the file is then a calibration source
with a `sources.csv` row) is for the session that reads it to decide.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from hwmodels import load_hardware
from sim.measured.compare import compare
from sim.measured.probes import clock_after_idle, dirty_share, fast_accumulation, memory_law, sustained_clock


def _read(folder: Path, name: str) -> pd.DataFrame | None:
    files = sorted(folder.glob(f"*_probe_{name}.csv"))
    if not files:
        return None
    return pd.read_csv(files[0], skipinitialspace=True)


def gemm_rows(probe: pd.DataFrame) -> pd.DataFrame:
    """The GEMM probe's rows in the measured format `compare` reads: ``F.linear`` timed by the
    harness (CUDA events, a read flush before each call), run by cuBLAS as torch's matmul."""
    return pd.DataFrame({
        "family": "gemm", "kernel": "torch_matmul", "M": probe["m"], "N": probe["n"], "K": probe["k"],
        "a_dtype": probe["dtype"].replace({"bfloat16": "bf16", "float32": "fp32", "float16": "fp16"}),
        "latency_s": probe["median_s"], "device": "cuda", "device_name": probe["device_name"],
        "timing": "events", "l2_flush": "none",
    }).assign(b_dtype=lambda rows: rows["a_dtype"], out_dtype=lambda rows: rows["a_dtype"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where run_probes_on_gpu.sh's files are")
    parser.add_argument("--hw", default="h100_sxm", help="the preset to set them beside")
    args = parser.parse_args()
    spec = load_hardware(args.hw)
    copy_rate = spec.achievable_dram_bytes_per_s
    if (streams := _read(args.folder, "memory_streams")) is not None:
        try:
            law = memory_law(streams)
        except ValueError as error:
            raise SystemExit(f"{args.folder}: {error}") from None
        copy_rate = law["copy_bytes_per_s"]
        print(f"memory streams: read ceiling {law['read_ceiling_bytes_per_s'] / 1e12:.3f} TB/s, copy "
              f"{copy_rate / 1e12:.3f} (preset {spec.achievable_dram_bytes_per_s / 1e12:.3f}), write "
              f"{law['write_bytes_per_s'] / 1e12:.3f}; read / copy {law['read_over_copy']:.3f}; the law's "
              f"latency {law['law_latency_s'] * 1e9:.0f} ns (preset {spec.memory_latency_s * 1e9:.0f})")
    if (chunks := _read(args.folder, "sustained_gemm")) is not None:
        smi_files = sorted(args.folder.glob("*_probe_sustained_gemm_nvidia_smi.csv"))
        smi = pd.read_csv(smi_files[0], skipinitialspace=True) if smi_files else None
        size = int(chunks["size"].iloc[0])
        print(f"\nsustained {size}^3 GEMMs:\n" + sustained_clock(chunks, smi).to_string(index=False))
    if (gemvs := _read(args.folder, "dirty_l2")) is not None:
        shares = dirty_share(gemvs, copy_rate)
        print("\nafter a flush by writes (1 = the whole L2 written back):\n" + shares.to_string(index=False))
        whole = shares[shares["measures_whole_l2"]]  # GEMVs whose weight can evict the whole L2
        share = (whole if len(whole) else shares)["dirty_share"].median()
        print(f"write_flush_dirty_fraction: {share:.3f} measured (median over the GEMVs larger than the "
              f"L2), {spec.write_flush_dirty_fraction} in {args.hw}")
    if (fp8 := _read(args.folder, "fp8_accumulation")) is not None:
        ratios = fast_accumulation(fp8).to_string(index=False)
        print("\ncuBLAS FP8, promoted over fast accumulation:\n" + ratios)
    if (clock := _read(args.folder, "cold_clock")) is not None:
        print(f"\nSM clock after host idle (clock_hz from two spin lengths; {args.hw} runs at "
              f"{spec.sustained_clock_hz / 1e6:.0f} MHz):\n" + clock_after_idle(clock).to_string(index=False))
    if (gemms := _read(args.folder, "gemm_kernels")) is not None:
        names = gemms.rename(columns={"m": "M", "n": "N", "k": "K"})[["M", "N", "K", "kernel_name"]]
        joined = compare(gemm_rows(gemms), spec).rows.merge(names, on=["M", "N", "K"])
        print(f"\ncuBLAS GEMMs against {args.hw}:")
        print(joined[["M", "N", "K", "latency_s", "error_pct", "kernel_name"]].to_string(index=False))


if __name__ == "__main__":
    main()
