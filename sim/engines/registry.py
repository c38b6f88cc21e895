"""One registry from a hardware spec's kind to what simulates and costs it: `DeviceModel`.

A kind registered in `hwmodels.loader.KINDS` (``systolic``, ``gpu``, ``cpu``, ...) is simulated by
the module ``sim.engines.<kind>``, whose ``MODEL`` is its `DeviceModel`: the per-op engine, the
matrix dtype and rates the roofline uses, the vector rate, and the cost model. Adding a kind is its
spec module in `hwmodels/`, its preset, its engine module here and its line in `KINDS`; nothing
else in `sim/` asks which kind a spec is. What every kind shares (clock, DRAM bandwidth and
capacity, launch overhead, peak FLOP/s, power and price) the spec answers itself
(`hwmodels.device.Device`).

Engine modules are imported on first use, so `codesign --help` and a systolic run do not import
the GPU engine.
"""

from __future__ import annotations

import functools
import importlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hwmodels.device import Device
from hwmodels.loader import kind_of
from workloads.dtypes import DType
from workloads.op import Op

if TYPE_CHECKING:
    import pandas as pd

    from sim.measured.knobs import Knob

#: The result rows of one op on one device (`sim.columns` names the columns).
Rows = list[dict[str, object]]


@dataclass(frozen=True, kw_only=True)
class DesignCost:
    """What a design costs to build or rent: `area_mm2` (systolic: PEs + SRAMs, the DRAM PHY left
    out, see `hwmodels.cost.memory`; NaN where no area model applies) and `usd_per_hour` (NaN if
    unknown)."""

    area_mm2: float
    pe_area_mm2: float
    sram_area_mm2: float
    usd_per_hour: float


def rental_cost(hardware: Device) -> DesignCost:
    """A device bought by the hour: its price (NaN if unknown), no area model."""
    price = hardware.price_usd_per_hour or math.nan
    return DesignCost(area_mm2=math.nan, pe_area_mm2=math.nan, sram_area_mm2=math.nan, usd_per_hour=price)


@dataclass(frozen=True, kw_only=True)
class DeviceModel:
    """How one kind of device is simulated and costed.

    * `simulate_op(op, spec)`: the op's result rows (core columns of `sim.columns` plus the
      engine's own);
    * `math_dtype(op)`: the dtype the matrix unit multiplies a GEMM-shaped or attention op in;
    * `matrix_rates(spec, dtype)`: (dense, 2:4 sparse, attention, datasheet peak) matrix FLOP/s;
    * `vector_flops(spec)`: FLOP/s of the unit that runs everything else;
    * `energy(results, spec)`: the energy columns of `results` (`energy_j` and any parts);
      `energy_is_upper_bound`: it is a power bound times time (`sim.cost.tdp_energy`), not a model
      of the work, and is labelled so wherever it is shown;
    * `design_cost(spec)`: area and price (`rental_cost` for devices bought by the hour);
    * `kernel_fractions(spec, family, kernel)`: the (tensor, bandwidth) fractions a named kernel
      runs at, for compare's summary (None: the kind has no such fractions);
    * `run_note(results, spec)`: lines `codesign simulate` prints under a run's table (None: none);
    * `calibration_knobs(rows, spec)`: the spec fields `codesign calibrate` fits to measured rows,
      in fitting order (None: the kind is not calibrated from measurements);
    * `stored_weights(op, spec)`: for a GEMM-shaped op, the bytes one run moves for its weight as
      the device stores it (values, indices, scales) and its matrix rate's multiplier over the
      dense rate, or None to keep the workload's bytes and the rate of its class: for kinds whose
      compiler re-formats weights (the FPGA overlay's `weight_bits` and N:M on its sparse DSP
      chain), so the roofline sees what the engine sees (None, the default: the workload's);
    * `validated_on_published`: its presets' results are checked against published timings held
      out of every fit, and `codesign simulate` quotes the cell a result falls in
      (`sim.measured.accuracy`); False where no such table covers the kind.
    * `datasheet_peaks`: its presets' matrix peaks and memory rate (`Device.peak_flops`,
      `dram_bytes_per_s`) are datasheet figures, so no run beats a roofline of them
      (`sim.measured.compare.roofline_floor_s`); False where a preset's are fitted or configured (a
      CPU's rates calibrated on its own runs, an array's its configuration's).
    """

    simulate_op: Callable[[Op, Any], Rows]
    math_dtype: Callable[[Op], DType]
    matrix_rates: Callable[[Any, DType], tuple[float, float, float, float]]
    vector_flops: Callable[[Any], float]
    energy: Callable[[pd.DataFrame, Any], pd.DataFrame]
    energy_is_upper_bound: bool = False
    design_cost: Callable[[Any], DesignCost] = rental_cost
    kernel_fractions: Callable[[Any, str, str], tuple[float, float]] | None = None
    calibration_knobs: Callable[[pd.DataFrame, Any], Iterator[Knob]] | None = None
    run_note: Callable[[pd.DataFrame, Any], str] | None = None
    stored_weights: Callable[[Op, Any], tuple[float, float] | None] | None = None
    validated_on_published: bool = False
    datasheet_peaks: bool = False


def model_for(hardware: Any) -> DeviceModel:
    """The `DeviceModel` of a spec (or spec class): ``sim.engines.<kind>.MODEL``."""
    return _model_of_kind(kind_of(hardware))


@functools.cache
def _model_of_kind(kind: str) -> DeviceModel:
    return importlib.import_module(f"sim.engines.{kind}").MODEL
