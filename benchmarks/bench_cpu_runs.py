"""The CPU preset fitted on some runs of the CI machine and validated on runs it did not see.

`reference_kernels/data/cpu_ci_small_runs.csv` holds six passes of `codesign measure --device cpu
--grid small` on the 2-core CI VM (2026-11-22). The source registry
(`reference_kernels/data/sources.csv`) makes runs 1-4 calibration and runs 5-6 validation
(`reference_kernels.sources.measured_runs`). This script:

1. fits `cpu_ci`'s memory bandwidth and GEMM efficiency curve with `codesign calibrate` on each
   kernel's fastest calibration run (the VM is shared: other jobs only add time), holding ~30% of
   those rows out of the fit by a hash of kernel and shape, from the session-2 calibration
   (`reference_kernels/data/cpu_calibration.csv`: 20.5 GB/s, efficiency 0.59, m-half 40 rows), a
   measurement of its own; the per-call overhead stays the MEASURED warm 2.2 us
   (`benchmarks/calibrate_cpu.py --call-overhead`), as a model's ops run warm, where the 4 B copy
   after the harness's cache flush reads a cold 34 us;
2. prints the fitted values (the preset carries them) and the median |error| per family on the
   calibration rows (fitted and held out) and on the validation runs' fastest rows.

    .venv/bin/python benchmarks/bench_cpu_runs.py
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from hwmodels import load_hardware
from reference_kernels.sources import DATA, calibration_only, measured_runs, validation_only
from sim.measured.calibrate import calibrate
from sim.measured.compare import compare, fastest_runs

RUNS = DATA / "cpu_ci_small_runs.csv"
#: Where the fit starts: the session-2 calibration (cpu_calibration.csv), taken under load.
START = {"dram_bytes_per_s": 20.5e9, "gemm_efficiency": 0.59, "gemm_half_efficiency_rows": 40.0}
#: The warm per-call overhead measured apart (cpu_ci.yaml's header).
MEASURED_CALL_OVERHEAD_S = 2.2e-6
#: Fields the fit sets in the preset.
FITTED = ("dram_bytes_per_s", "gemm_efficiency", "gemm_half_efficiency_rows")


def fit_and_validate() -> tuple[object, pd.DataFrame, pd.DataFrame]:
    """(the fitted spec; its fits; median |error| % per family on calibration and validation rows)."""
    runs = measured_runs(RUNS)
    calibration = fastest_runs(calibration_only(runs).drop(columns=["run", "source"]))
    validation = fastest_runs(validation_only(runs).drop(columns=["run", "source"]))
    base = dataclasses.replace(load_hardware("cpu_ci"), **START)
    result = calibrate(calibration, base)
    spec = dataclasses.replace(result.spec, launch_overhead_s=MEASURED_CALL_OVERHEAD_S)
    rows = []
    for split, frame in (("calibration", calibration), ("validation", validation)):
        for shipped, name in ((spec, "fitted on runs 1-4"), (load_hardware("cpu_ci"), "preset as shipped")):
            summary = compare(frame, shipped).rows.groupby("family")["abs_error_pct"].median()
            rows += [{"rows": split, "spec": name, "family": f, "median_abs_error_pct": e}
                     for f, e in summary.items()]
    table = pd.DataFrame(rows).pivot_table(index=["rows", "spec"], columns="family",
                                           values="median_abs_error_pct")
    return spec, result.fits, table


def main() -> None:
    spec, fits, table = fit_and_validate()
    print("fitted on runs 1-4 (calibration), ~30% of their rows held out of the fit:")
    print(fits.drop(columns="note").to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("\n" + ", ".join(f"{name} = {getattr(spec, name):.4g}" for name in FITTED))
    print("\nmedian |error| % per family (validation: runs 5-6, each kernel's fastest):")
    print(table.to_string(float_format=lambda v: f"{v:.1f}"))


if __name__ == "__main__":
    main()
