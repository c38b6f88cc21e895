"""The systolic array's cost model: energy per run from its counts, and its area
(`hwmodels.cost`'s per-component estimators; `docs/cost_model.md`).

Per row (`SYSTOLIC_ENERGY_COLUMNS`):

    energy_mac_j    = macs × E_mac(dtype, node) + vector FLOPs × E_mac(fp32, node) / 2
    energy_sram_j   = Σ over ifmap, filter, ofmap: bytes accessed × 8 × E_bit(that buffer's size, node)
                      (a vector-unit row's `sram_bytes` is charged to the ifmap buffer)
    energy_dram_j   = dram_bytes × E_byte(dram_kind)
    energy_static_j = static_power_w × latency_s
    energy_j        = the sum of the four

(the vector unit computes in fp32; a MAC is two FLOPs, so a vector FLOP is charged half an fp32 MAC).
"""

from __future__ import annotations

import math

import pandas as pd

from hwmodels.cost import Component, Quantity, estimate
from hwmodels.systolic import SystolicArraySpec
from sim.cost import SYSTOLIC_ENERGY_COLUMNS
from sim.engines.registry import DesignCost
from workloads.dtypes import DType

#: SRAM byte columns of systolic rows, with the spec field giving that buffer's size.
SRAM_BUFFERS = (
    ("ifmap_sram_read_bytes", "ifmap_sram_bytes"),
    ("filter_sram_read_bytes", "filter_sram_bytes"),
    ("ofmap_sram_write_bytes", "ofmap_sram_bytes"),
)
#: The vector unit's arithmetic format; one vector FLOP costs half a MAC in it.
VECTOR_DTYPE, FLOPS_PER_MAC = DType.FP32, 2


def mac_energy_j(dtype: DType, technology_nm: float) -> float:
    """Joules per MAC on `dtype` at `technology_nm` (`hwmodels.cost` MAC estimators)."""
    component = Component("mac", {"dtype": dtype, "technology_nm": technology_nm})
    return estimate(component, Quantity.ENERGY).value


def sram_energy_j_per_bit(size_bytes: int, technology_nm: float) -> float:
    """Joules per bit accessed in an SRAM of `size_bytes` (energy per access is linear in width)."""
    component = Component("sram", {"size_bytes": size_bytes, "width_bits": 1, "technology_nm": technology_nm})
    return estimate(component, Quantity.ENERGY).value


def dram_energy_j_per_byte(hardware: SystolicArraySpec) -> float:
    return estimate(Component("dram", {"kind": hardware.dram_kind}), Quantity.ENERGY).value


def systolic_energy(results: pd.DataFrame, hardware: SystolicArraySpec) -> pd.DataFrame:
    node = hardware.technology_nm
    mac_dtypes = results.loc[results["macs"] > 0, "dtype"].dropna().unique()
    energies = {dtype: mac_energy_j(DType(dtype), node) for dtype in mac_dtypes}
    per_mac = results["dtype"].map(energies).fillna(0.0)
    vector_flops = results["flops"] - FLOPS_PER_MAC * results["macs"]
    vector_j = vector_flops.clip(lower=0) * mac_energy_j(VECTOR_DTYPE, node) / FLOPS_PER_MAC
    frame = pd.DataFrame(index=results.index)
    frame["energy_mac_j"] = results["macs"] * per_mac + vector_j
    per_bit = {field: sram_energy_j_per_bit(getattr(hardware, field), node) for _, field in SRAM_BUFFERS}
    buffered = sum(results[column] for column, _ in SRAM_BUFFERS)
    vector_bytes = (results["sram_bytes"] - buffered).clip(lower=0)
    frame["energy_sram_j"] = 8 * (
        sum(results[column] * per_bit[field] for column, field in SRAM_BUFFERS)
        + vector_bytes * per_bit["ifmap_sram_bytes"]
    )
    frame["energy_dram_j"] = results["dram_bytes"] * dram_energy_j_per_byte(hardware)
    frame["energy_static_j"] = results["latency_s"] * hardware.static_power_w
    frame["energy_j"] = frame.sum(axis=1, min_count=len(SYSTOLIC_ENERGY_COLUMNS))  # NaN if any part is
    return frame


def systolic_design_cost(hardware: SystolicArraySpec) -> DesignCost:
    """Area of a systolic design (each PE sized for the widest dtype it supports); no price."""
    node = hardware.technology_nm
    widest = max(hardware.macs_per_pe_per_cycle, key=lambda dtype: dtype.bits)
    pe = estimate(Component("mac", {"dtype": widest, "technology_nm": node}), Quantity.AREA).mm2
    pe_total = pe * hardware.num_pes * max(hardware.macs_per_pe_per_cycle.values())
    sram = sum(
        estimate(Component("sram", {"size_bytes": getattr(hardware, field), "technology_nm": node}),
                 Quantity.AREA).mm2
        for _, field in SRAM_BUFFERS
    )
    return DesignCost(
        area_mm2=pe_total + sram, pe_area_mm2=pe_total, sram_area_mm2=sram, usd_per_hour=math.nan
    )


