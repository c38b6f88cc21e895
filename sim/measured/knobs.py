"""One fitted value of `codesign calibrate` (`Knob`) and the constants of the fit.

Which knobs a measured file informs on a spec is the device kind's own
(`DeviceModel.calibration_knobs`: `sim.engines.gpu.knobs`, `sim.engines.cpu.calibration_knobs`);
`sim.measured.calibrate` fits them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwmodels.device import Device

#: Kernels whose rows set a GPU's spec-wide fractions: the vendor libraries as torch calls them
#: (cuBLAS behind matmul, FlashAttention-2 or cuDNN behind SDPA), the kernels a traced model's ops
#: run as. Every other kernel gets its own `kernel_fractions` entry.
LIBRARY_GEMM_KERNELS = ("torch_matmul",)
LIBRARY_ATTENTION_KERNELS = ("torch_sdpa",)
#: Measured time under which a GPU kernel is mostly launch and setup (a 4096² bf16 GEMM takes ~200
#: µs on an H100; a 256² one ~5 µs, of which the math is ~0.03 µs).
SMALL_KERNEL_S = 20e-6
#: The same for a CPU op (an ATen call's dispatch is microseconds; a 64² fp32 GEMM ~10 µs).
SMALL_CPU_KERNEL_S = 100e-6
#: Relative change of a row's simulated latency, between the knob's halved and doubled value
#: (linear knobs: its two bounds), that makes the row inform the knob.
SENSITIVE_CHANGE = 0.10
#: Values tried across a knob's bounds, then golden-section steps between the best one's neighbours.
GRID_POINTS = 12
REFINE_STEPS = 12
#: Significant digits a fitted value keeps (the fit's own resolution is coarser).
FITTED_DIGITS = 4
#: A GPU's achievable HBM bandwidth is searched down to this fraction of the datasheet's.
MIN_HBM_FRACTION = 0.3
#: Fewest training rows a bandwidth fraction is fitted on (`Knob.min_train_rows`).
MIN_BANDWIDTH_TRAIN_ROWS = 2
#: Bounds of a tensor-core fraction and of a CPU's GEMM efficiency.
MIN_FRACTION, MAX_FRACTION = 0.02, 1.0
#: Lower bound of a kernel's bandwidth fraction (of the achievable HBM rate); the upper one is the
#: spec's `max_bandwidth_fraction` (the datasheet rate), taken when the knob is fitted.
MIN_BANDWIDTH_FRACTION = 0.1
#: A CPU's memory bandwidth and half-efficiency rows are searched over these factors of the base.
CPU_SEARCH_FACTOR = 10.0


@dataclass(frozen=True)
class Knob:
    """One fitted value: a spec field, or a kernel's entry of the spec's mapping `mapping`
    (`kernel` set; `field` is then the spec field the entry stands in for, as `for_kernel` sets it);
    `family`, the measured family its rows share, where that decides the value without an entry
    (an FP8 GEMM's dtype fraction, `GPUSpec.for_kernel`)."""

    field: str
    rows: tuple[int, ...]  # positions (in the simulated rows) it is fitted on, before the sensitivity test
    low: float
    high: float  # math.inf: the spec's `max_bandwidth_fraction` when fitted
    log: bool
    kernel: str | None = None
    mapping: str = "kernel_fractions"
    unless_moved_by: Knob | None = None  # rows halving this other knob moves do not inform the knob
    family: str = ""
    # fewest training rows it is fitted on (else kept): a bandwidth fraction, fitted before the
    # tensor fraction and held for its fit, needs `MIN_BANDWIDTH_TRAIN_ROWS`, since one row's
    # median error is that row's, which one value always zeroes, and the fit would then decide
    # which rows the tensor fraction sees
    min_train_rows: int = 1

    @property
    def name(self) -> str:
        return f"{self.mapping}[{self.kernel}]" if self.kernel else self.field

    def value(self, spec: Device) -> float:
        """The value the knob's rows run at now (a ``kernel:family`` key falls back to the kernel's
        entry, then to the spec-wide field, as `GPUSpec.for_kernel` does)."""
        if self.kernel:
            kernel, _, family = self.kernel.partition(":")
            return float(getattr(spec.for_kernel(kernel, family or self.family), self.field))
        return float(getattr(spec, self.field))

    def apply(self, spec: Device, value: float) -> Any:
        if self.kernel:
            entries = {**getattr(spec, self.mapping), self.kernel: value}
            return dataclasses.replace(spec, **{self.mapping: entries})
        return dataclasses.replace(spec, **{self.field: value})

    def bounds(self, spec: Device) -> tuple[float, float]:
        return self.low, spec.max_bandwidth_fraction if math.isinf(self.high) else self.high

    def probes(self, spec: Device) -> tuple[float, float]:
        """The two values whose latencies decide whether a row informs this knob."""
        low, high = self.bounds(spec)
        if not self.log:
            return low, high
        value = self.value(spec)
        return max(low, value / 2), min(high, value * 2)

    def grid(self, spec: Device) -> np.ndarray:
        low, high = self.bounds(spec)
        if self.log:
            return np.geomspace(low, high, GRID_POINTS)
        return np.linspace(low, high, GRID_POINTS)




def positions(mask: Any) -> tuple[int, ...]:
    """The positions where a boolean mask over the measured rows holds (a knob's rows)."""
    return tuple(int(i) for i in np.flatnonzero(np.asarray(mask)))
