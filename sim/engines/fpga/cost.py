"""Energy of FPGA rows from the component estimators (`hwmodels.cost.fpga`, `hwmodels.cost.memory`).

Per row: ``energy_mac_j = executed_macs × E_dsp(math dtype)`` (MAC slots the MPE spent, padding
included), ``energy_sram_j = sram_bytes × E_ram`` (the buffers: URAM blocks where the device has
them, else BRAM36), ``energy_dram_j = dram_bytes × E_dram(memory kind)``, ``energy_static_j =
static_power_w × latency_s``; ``energy_j`` their sum. Rows of ops with no MPE work spend no DSP
energy. The dynamic parts are upper bounds (see `hwmodels.cost.fpga`).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from hwmodels.cost import Component, Quantity, estimate
from hwmodels.fpga import BRAM36_DATA_BYTES, URAM_DATA_BYTES, FPGASpec
from sim.cost import SYSTOLIC_ENERGY_COLUMNS
from workloads.dtypes import DType


@functools.cache
def unit_energies(spec: FPGASpec) -> dict[str, float]:
    """Joules per INT8 and per FP16 MAC, per buffer byte and per off-chip byte on `spec`."""
    node = spec.device.technology_nm
    per_mac = {
        dtype: estimate(Component("dsp", {"dtype": dtype, "technology_nm": node}), Quantity.ENERGY).value
        for dtype in (DType.INT8, DType.FP16)
    }
    ram, block = ("uram", URAM_DATA_BYTES) if spec.device.uram_blocks else ("bram", BRAM36_DATA_BYTES)
    sram = estimate(Component(ram, {"block_bytes": block, "technology_nm": node}), Quantity.ENERGY).value
    dram = estimate(Component("hbm", {"kind": spec.device.memory_kind}), Quantity.ENERGY).value
    return {"int8": per_mac[DType.INT8], "fp16": per_mac[DType.FP16], "sram": sram, "dram": dram}


def fpga_energy(results: pd.DataFrame, spec: FPGASpec) -> pd.DataFrame:
    """The energy columns of FPGA `results` (module docstring); NaN on unmodeled rows."""
    e = unit_energies(spec)
    column = lambda name: results[name].astype(float) if name in results else np.nan  # noqa: E731
    dtype = results["math_dtype"] if "math_dtype" in results else pd.Series("int8", index=results.index)
    per_mac = np.where(dtype.astype(str) == "fp16", e["fp16"], e["int8"])
    parts = {
        "energy_mac_j": column("executed_macs").fillna(0.0) * per_mac,
        "energy_sram_j": column("sram_bytes").fillna(0.0) * e["sram"],
        "energy_dram_j": column("dram_bytes") * e["dram"],
        "energy_static_j": column("latency_s") * spec.static_power_w,
    }
    frame = pd.DataFrame(parts, index=results.index)
    parts_columns = list(SYSTOLIC_ENERGY_COLUMNS)
    frame["energy_j"] = frame[parts_columns].sum(axis=1, min_count=len(parts_columns))
    frame.loc[results["unmodeled"].astype(bool), :] = np.nan
    return frame
