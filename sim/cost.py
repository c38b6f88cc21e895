"""Energy, power, area and price of a simulated run: `hwmodels.cost`'s per-component costs applied
to `simulate()`'s rows.

Each device kind's cost model is its `DeviceModel.energy` and `DeviceModel.design_cost`
(`sim.engines.registry`): systolic arrays from their counts (`sim.engines.systolic.cost`), GPUs and
CPUs by `tdp_energy` here: ``energy_j = tdp_w × latency_s``, the power a datacenter provisions for the device
while it runs: an upper bound (a memory-bound decode draws less than TDP), chosen because
per-FLOP energies from a 45 nm table miss most of a GPU's power (register files, shared memory,
clocks) and no published per-op H100 characterization was at hand. NaN where `tdp_w` is unknown.
Unmodeled rows get NaN energy, as they get NaN time. Such rows carry `energy_basis` =
`TDP_ENERGY_NOTE`, and every figure derived from them is labelled a bound wherever it is printed or
plotted (`TDP_BOUNDED_COLUMNS`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hwmodels.device import Device
from workloads.op import OpGraph, Phase

if TYPE_CHECKING:
    from sim.engines.registry import DesignCost

SYSTOLIC_ENERGY_COLUMNS = ("energy_mac_j", "energy_sram_j", "energy_dram_j", "energy_static_j")
#: Every energy column a result frame may carry; each total is the sum of its rows.
ENERGY_COLUMNS = (*SYSTOLIC_ENERGY_COLUMNS, "energy_j")
SECONDS_PER_HOUR = 3600.0
#: What an energy of TDP × time is, said wherever one is printed or plotted.
TDP_ENERGY_NOTE = "TDP × time, an upper bound"
#: Figures derived from such an energy, and how each is labelled: energy and power are at most the
#: figure, tokens per joule at least.
TDP_BOUNDED_COLUMNS = {
    "energy_j": TDP_ENERGY_NOTE,
    "energy_per_token_j": TDP_ENERGY_NOTE,
    "power_w": "TDP, an upper bound",
    "tokens_per_j": "from TDP × time, a lower bound",
}


def cost_of_run(results: pd.DataFrame, hardware: Device) -> pd.DataFrame:
    """The energy columns of `results` on `hardware` (index aligned with `results`), by the device
    kind's cost model: the `SYSTOLIC_ENERGY_COLUMNS` and `energy_j` on an array, `energy_j` alone
    on a GPU or CPU."""
    from sim.engines.registry import model_for

    return model_for(hardware).energy(results, hardware)


def tdp_energy(results: pd.DataFrame, hardware: Device) -> pd.DataFrame:
    """``energy_j = board_power_w × latency_s`` per row (the TDP, or the power limit a device's
    configuration sets below it), with ``energy_basis`` saying it is an upper bound (module
    docstring); NaN and no basis without a TDP."""
    tdp = hardware.board_power_w
    latency = results["latency_s"].astype(float) if "latency_s" in results else pd.Series(dtype=float)
    if not tdp > 0:
        return pd.DataFrame({"energy_j": np.nan}, index=results.index)
    return pd.DataFrame({"energy_j": latency * tdp, "energy_basis": TDP_ENERGY_NOTE}, index=results.index)


def energy_note(hardware: Device) -> str:
    """`TDP_ENERGY_NOTE` where `hardware`'s energy is TDP × time (`tdp_energy`: GPUs and CPUs with a
    TDP), "" where it is modeled from the work (systolic arrays) or unknown."""
    from sim.engines.registry import model_for

    return TDP_ENERGY_NOTE if model_for(hardware).energy_is_upper_bound and hardware.tdp_w > 0 else ""


def tdp_bound_labels(frame: pd.DataFrame) -> dict[str, str]:
    """For each `TDP_BOUNDED_COLUMNS` column of `frame`, its label, when some row's energy is TDP ×
    time (`energy_basis`); empty otherwise."""
    if "energy_basis" not in frame or not (frame["energy_basis"] == TDP_ENERGY_NOTE).any():
        return {}
    return {column: note for column, note in TDP_BOUNDED_COLUMNS.items() if column in frame}


def with_energy(results: pd.DataFrame, hardware: Device) -> pd.DataFrame:
    """`results` with the columns of `cost_of_run` added (what `simulate` returns)."""
    if results.empty:
        return results
    return pd.concat([results, cost_of_run(results, hardware)], axis=1)


def design_cost(hardware: Device) -> DesignCost:
    """Area and price of a design, by its kind's cost model (`DeviceModel.design_cost`)."""
    from sim.engines.registry import model_for

    return model_for(hardware).design_cost(hardware)


def tokens_per_run(workload: OpGraph) -> float:
    """Tokens one run of an LLM phase produces or consumes: batch × the step's new tokens per decode
    step (one, or a speculative decoder's drafts, every one counted), batch × sequence per prefill;
    NaN for other workloads."""
    if workload.phase is Phase.DECODE:
        return float(workload.batch * max(1, workload.seq_len))
    if workload.phase is Phase.PREFILL and workload.seq_len:
        return float(workload.batch * workload.seq_len)
    return math.nan


def run_metrics(total: dict, hardware: Device, workload: OpGraph) -> dict[str, float]:
    """Per-run figures from a `summarize` total: average power, energy per token, tokens per joule,
    and, with a price, tokens per dollar (tokens/s × 3600 / $ per hour). Where the energy is TDP ×
    time the first three are bounds (`energy_note`)."""
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
