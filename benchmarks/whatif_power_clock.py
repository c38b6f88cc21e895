"""What-if (not the shipped model): each GEMM's SM clock from its own power draw on a clock-capped GPU.

A preset with `loaded_clock_hz` (the H100 PCIe: 1.41 GHz, calibrated on mag-/gpu_benchmark's best
bf16 shape) runs every kernel at that clock. If a kernel's board power is its tensor activity times
the cube of the clock (the law `hwmodels.gpu.POWER_CLOCK_EXPONENT` states for power limits), a kernel
that keeps a share ``u`` of the tensor peak draws the cap at ``f`` where ``u · f³ = u_full ·
f_loaded³``, ``u_full`` being the calibration shape's share at the loaded clock; it runs at
``min(rated, f_loaded · (u_full / u)^(1/3))``. The law leaves out every watt that is not the tensor
cores' (HBM, static power), so the clocks it gives are upper bounds.

Prints each validation GEMM row of the preset (bf16 and fp16; `u` against that dtype's peak) at the
shipped clock and at its own clock, and the median |error| of both. benchmarks/RESULTS.md (session
28) quotes it; nothing here is used by the model.

    .venv/bin/python benchmarks/whatif_power_clock.py [PRESET]
"""

from __future__ import annotations

import argparse
import dataclasses

import pandas as pd

from hwmodels import load_hardware
from reference_kernels.published import calibration_measurements
from reference_kernels.published_validation import validation_kernels
from sim.measured.compare import compare
from workloads.dtypes import DType

#: Where the preset's loaded clock was calibrated: mag-/gpu_benchmark's best bf16 shape for that GPU.
CALIBRATION_SOURCE = "mag_gpu_benchmark_readme"


def tensor_share(row: pd.Series, spec) -> float:
    """The share of `spec`'s tensor peak (its dtype's, at the clock it holds) the row's simulated
    kernel keeps."""
    peak = spec.peak_tensor_flops(DType(row["a_dtype"])) * spec.clock_scale
    return float(row["flops"]) / float(row["simulated_latency_s"]) / peak


def own_clock(spec, u: float, u_full: float) -> float:
    """The SM clock a kernel keeping `u` of the tensor peak holds on `spec` (clock-capped) under the
    law of the module docstring: ``min(rated, f_loaded · (u_full / u)^(1/3))``."""
    return min(spec.clock_hz, spec.sustained_clock_hz * (u_full / u) ** (1 / 3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", nargs="?", default="h100_pcie")
    preset = parser.parse_args().preset
    spec = load_hardware(preset)
    if not spec.loaded_clock_hz:
        raise SystemExit(f"preset {preset!r} has no loaded_clock_hz: it holds its rated clock under load")
    figures = calibration_measurements()
    figure = figures[(figures["source_id"] == CALIBRATION_SOURCE) & (figures["preset"] == preset)]
    u_full = tensor_share(compare(figure.reset_index(drop=True), spec).rows.iloc[0], spec)
    rows, _ = validation_kernels()
    rows = rows[(rows["preset"] == preset) & (rows["family"] == "gemm")].reset_index(drop=True)
    shipped = compare(rows, spec).rows
    table = []
    for position, row in shipped.iterrows():
        u = tensor_share(row, spec)
        clock = own_clock(spec, u, u_full)
        own = dataclasses.replace(spec, loaded_clock_hz=clock)
        error = compare(rows.iloc[[position]].reset_index(drop=True), own).rows.iloc[0]["error_pct"]
        table.append({"source": row["source_id"], "shape": row["shape"], "u": round(u, 3),
                      "clock_ghz": round(clock / 1e9, 3), "error_now_pct": round(row["error_pct"], 1),
                      "error_own_clock_pct": round(error, 1)})
    table = pd.DataFrame(table)
    print(f"{preset}: loaded clock {spec.sustained_clock_hz / 1e9:.3f} GHz, rated {spec.clock_hz / 1e9:.3f}; "
          f"the calibration shape keeps u_full = {u_full:.3f} of the peak")
    print(table.to_string(index=False))
    print(f"median |error|: {table['error_now_pct'].abs().median():.1f}% now, "
          f"{table['error_own_clock_pct'].abs().median():.1f}% at each kernel's own clock")


if __name__ == "__main__":
    main()
