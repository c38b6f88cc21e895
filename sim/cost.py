"""Energy, power, area and price of a simulated run: `hwmodels.cost`'s per-component costs applied
to `simulate()`'s rows.

Systolic arrays, from counts (`SYSTOLIC_ENERGY_COLUMNS`), per row:

    energy_mac_j    = macs × E_mac(dtype, node) + vector FLOPs × E_mac(fp32, node) / 2
    energy_sram_j   = Σ over ifmap, filter, ofmap: bytes accessed × 8 × E_bit(that buffer's size, node)
                      (a vector-unit row's `sram_bytes` is charged to the ifmap buffer)
    energy_dram_j   = dram_bytes × E_byte(dram_kind)
    energy_static_j = static_power_w × latency_s
    energy_j        = the sum of the four

(the vector unit computes in fp32; a MAC is two FLOPs, so a vector FLOP is charged half an fp32 MAC).

GPUs and CPUs: ``energy_j = tdp_w × latency_s``, the power a datacenter provisions for the device
while it runs: an upper bound (a memory-bound decode draws less than TDP), chosen because
per-FLOP energies from a 45 nm table miss most of a GPU's power (register files, shared memory,
clocks) and no published per-op H100 characterization was at hand. NaN where `tdp_w` is unknown.
Unmodeled rows get NaN energy, as they get NaN time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hwmodels.cost import Component, Quantity, estimate
from hwmodels.systolic import SystolicArraySpec
from workloads.dtypes import DType
from workloads.op import OpGraph

SYSTOLIC_ENERGY_COLUMNS = ("energy_mac_j", "energy_sram_j", "energy_dram_j", "energy_static_j")
#: Every energy column a result frame may carry; each total is the sum of its rows.
ENERGY_COLUMNS = (*SYSTOLIC_ENERGY_COLUMNS, "energy_j")
#: SRAM byte columns of systolic rows, with the spec field giving that buffer's size.
SRAM_BUFFERS = (
    ("ifmap_sram_read_bytes", "ifmap_sram_bytes"),
    ("filter_sram_read_bytes", "filter_sram_bytes"),
    ("ofmap_sram_write_bytes", "ofmap_sram_bytes"),
)
#: The vector unit's arithmetic format; one vector FLOP costs half a MAC in it.
VECTOR_DTYPE, FLOPS_PER_MAC = DType.FP32, 2
SECONDS_PER_HOUR = 3600.0


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


def cost_of_run(results: pd.DataFrame, hardware: Any) -> pd.DataFrame:
    """The energy columns of `results` on `hardware` (index aligned with `results`): the
    `SYSTOLIC_ENERGY_COLUMNS` and `energy_j` on an array, `energy_j` alone on a GPU or CPU."""
    if isinstance(hardware, SystolicArraySpec):
        return _systolic_energy(results, hardware)
    tdp = getattr(hardware, "tdp_w", 0.0)
    latency = results["latency_s"].astype(float) if "latency_s" in results else pd.Series(dtype=float)
    return pd.DataFrame({"energy_j": latency * tdp if tdp > 0 else np.nan}, index=results.index)


def with_energy(results: pd.DataFrame, hardware: Any) -> pd.DataFrame:
    """`results` with the columns of `cost_of_run` added (what `simulate` returns)."""
    if results.empty:
        return results
    return pd.concat([results, cost_of_run(results, hardware)], axis=1)


def _systolic_energy(results: pd.DataFrame, hardware: SystolicArraySpec) -> pd.DataFrame:
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


@dataclass(frozen=True, kw_only=True)
class DesignCost:
    """What a design costs to build or rent: `area_mm2` (systolic: PEs + SRAMs, the DRAM PHY left
    out, see `hwmodels.cost.memory`; NaN for GPUs and CPUs) and `usd_per_hour` (NaN if unknown)."""

    area_mm2: float
    pe_area_mm2: float
    sram_area_mm2: float
    usd_per_hour: float


def design_cost(hardware: Any) -> DesignCost:
    """Area of a systolic design (each PE sized for the widest dtype it supports) or the rental
    price of a GPU/CPU preset."""
    price = getattr(hardware, "price_usd_per_hour", 0.0) or math.nan
    if not isinstance(hardware, SystolicArraySpec):
        return DesignCost(area_mm2=math.nan, pe_area_mm2=math.nan, sram_area_mm2=math.nan, usd_per_hour=price)
    node = hardware.technology_nm
    widest = max(hardware.macs_per_pe_per_cycle, key=lambda dtype: dtype.bits)
    pe = estimate(Component("mac", {"dtype": widest, "technology_nm": node}), Quantity.AREA).mm2
    pe_total = pe * hardware.num_pes * max(hardware.macs_per_pe_per_cycle.values())
    sram = sum(
        estimate(Component("sram", {"size_bytes": getattr(hardware, field), "technology_nm": node}),
                 Quantity.AREA).mm2
        for _, field in SRAM_BUFFERS
    )
    return DesignCost(area_mm2=pe_total + sram, pe_area_mm2=pe_total, sram_area_mm2=sram, usd_per_hour=price)


def tokens_per_run(workload: OpGraph) -> float:
    """Tokens one run of an LLM phase produces or consumes: batch per decode step, batch × sequence
    per prefill; NaN for other workloads."""
    if workload.phase == "decode":
        return float(workload.batch)
    if workload.phase == "prefill" and workload.seq_len:
        return float(workload.batch * workload.seq_len)
    return math.nan


def run_metrics(total: dict, hardware: Any, workload: OpGraph) -> dict[str, float]:
    """Per-run figures from a `summarize` total: average power, energy per token, tokens per joule,
    and, with a price, tokens per dollar (tokens/s × 3600 / $ per hour)."""
    latency, energy = float(total["latency_s"]), float(total.get("energy_j", math.nan))
    tokens = tokens_per_run(workload)
    cost = design_cost(hardware)
    tokens_per_s = tokens / latency if latency > 0 else math.nan
    return {
        "power_w": energy / latency if latency > 0 else math.nan,
        "tokens_per_s": tokens_per_s,
        "energy_per_token_j": energy / tokens,
        "tokens_per_j": tokens / energy if energy > 0 else math.nan,
        "area_mm2": cost.area_mm2,
        "usd_per_hour": cost.usd_per_hour,
        "tokens_per_usd": tokens_per_s * SECONDS_PER_HOUR / cost.usd_per_hour,
    }
