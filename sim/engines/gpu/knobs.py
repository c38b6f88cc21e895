"""The knobs `codesign calibrate` fits on a GPU (`sim.measured.calibrate`'s docstring lists them):
its launch overhead, a copy's bandwidth, and per kernel its bandwidth and tensor-core fractions."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pandas as pd

from hwmodels.gpu import GPUSpec
from sim.measured.knobs import (
    LIBRARY_ATTENTION_KERNELS,
    LIBRARY_GEMM_KERNELS,
    MAX_FRACTION,
    MIN_BANDWIDTH_FRACTION,
    MIN_BANDWIDTH_TRAIN_ROWS,
    MIN_FRACTION,
    MIN_HBM_FRACTION,
    SMALL_KERNEL_S,
    Knob,
    positions,
)
from workloads.kernel_ops import ATTENTION_FAMILIES, GEMM_FAMILIES, KernelFamily


def calibration_knobs(rows: pd.DataFrame, spec: GPUSpec) -> Iterator[Knob]:
    """The knobs `rows` (measured, simulable) inform on `spec`, in fitting order."""
    family, kernel = rows["family"].astype(str), rows["kernel"].astype(str)
    latency = rows["latency_s"].to_numpy(dtype=float)

    copies = positions(family == KernelFamily.COPY)
    gemms = family.isin(GEMM_FAMILIES).to_numpy()
    hbm_low = MIN_HBM_FRACTION * spec.dram_bytes_per_s
    hbm = Knob("achievable_dram_bytes_per_s", copies, hbm_low, spec.dram_bytes_per_s, log=True)
    if small := positions(latency < SMALL_KERNEL_S):
        yield Knob("launch_overhead_s", small, 0.0, SMALL_KERNEL_S, log=False, unless_moved_by=hbm)
    if copies:
        yield hbm
    tensor = gemms | family.isin(ATTENTION_FAMILIES).to_numpy()
    library = set(LIBRARY_GEMM_KERNELS) | set(LIBRARY_ATTENTION_KERNELS)
    for name in sorted(set(kernel[tensor]), key=lambda k: (k not in library, k)):
        picked = tensor & (kernel == name).to_numpy()
        # a kernel measured on several families gets fractions for each; a library kernel sets
        # the spec-wide fields, one pair fitted on all its rows
        families = [None] if name in library else sorted(set(family[picked]))
        for one in families:
            rows_of = picked & (family == one).to_numpy() if len(families) > 1 else picked
            key = None if name in library else f"{name}:{one}" if len(families) > 1 else name
            kind = "gemm" if gemms[rows_of].all() else "attention"
            tensor_field = "achievable_tensor_fraction" if kind == "gemm" else "attention_tensor_fraction"
            shared = set(family[rows_of])
            tensor_knob = Knob(
                tensor_field, positions(rows_of), MIN_FRACTION, MAX_FRACTION, log=True, kernel=key,
                family=shared.pop() if len(shared) == 1 else "",
            )
            yield Knob(
                f"{kind}_bandwidth_fraction",
                positions(rows_of),
                MIN_BANDWIDTH_FRACTION,
                math.inf,
                log=True,
                kernel=key,
                mapping="kernel_bandwidth_fractions",
                unless_moved_by=tensor_knob,
                min_train_rows=MIN_BANDWIDTH_TRAIN_ROWS,
            )
            yield tensor_knob
