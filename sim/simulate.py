"""`simulate()`: a workload on a hardware spec, one result row per op, as a pandas DataFrame.

A simulation is a pure function of its inputs. Each op runs on the engine of the spec's kind
(`sim.engines.registry.model_for`: the systolic array, the GPU, the CPU, ...), which returns its
rows (`sim.columns` gives the schema: a core every engine fills, plus the engine's own columns);
the kind's cost model adds the energy columns. Ops the tracer flagged `unmodeled` get a row with
NaN cycles and are counted in `summarize`'s ``unmodeled_ops``, never as zero time.

Rows already include each op's repeats (`count` and extra dims), so totals are plain sums of the
rows: on one device, ops run one after the other without overlap.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from hwmodels.device import Device
from sim.columns import RUN_CONSTANT_COLUMNS, SUM_COLUMNS
from sim.cost import ENERGY_COLUMNS, with_energy
from sim.engines.registry import model_for
from workloads.errors import CodesignError
from workloads.op import Op, OpGraph


def simulate(workload: Op | OpGraph, hardware: Device) -> pd.DataFrame:
    """Simulate every op of `workload` on `hardware`; one row per op with the core columns of
    `sim.columns` (`layer`, `kind`, `engine`, `device`, `latency_s`, `flops`, `dram_bytes`,
    `utilization`, `unmodeled`, ...), the engine's own columns (systolic: `dataflow`, `dtype`, `M`,
    `N`, `K`, `folds`, `mapping_efficiency`, ...; GPU: `launches`, `sram_bytes`, `mapping`) and the
    energy columns of `sim.cost.cost_of_run` (`energy_j`; on an array also its parts)."""
    engine = model_for(hardware).simulate_op
    ops = workload.ops if isinstance(workload, OpGraph) else (workload,)
    # A model repeats the same ops layer after layer: each distinct op (its name and module aside)
    # is simulated once, and its rows are relabelled for every place it occurs.
    simulated: dict[Op, list[dict[str, object]]] = {}
    rows = []
    for op in ops:
        anonymous = replace(op, name="", module="")
        if anonymous not in simulated:
            simulated[anonymous] = engine(anonymous, hardware)
        rows += [
            row | {"layer": op.name + str(row["layer"]), "module": op.module} for row in simulated[anonymous]
        ]
    return with_energy(pd.DataFrame(rows), hardware)  # energy columns from the cost model (sim.cost)


def simulate_op_latency(op: Op, hardware: Device) -> float:
    """Seconds one op takes on `hardware`, its repeats included: the sum of its rows' `latency_s`
    (what `compare` sets beside a measured kernel). An op the engine leaves unmodeled raises
    `CodesignError` with the engine's reason (its row's `mapping`), never a NaN to average over."""
    rows = model_for(hardware).simulate_op(op, hardware)
    for row in rows:
        if row["unmodeled"]:
            reason = row.get("mapping") or f"{op.aten or op.kind.value} is not modeled"
            raise CodesignError(f"{op.name}: {reason}")
    return float(sum(row["latency_s"] for row in rows))


def summarize(results: pd.DataFrame, hardware: Device) -> dict[str, float | str]:
    """The total row: sums of the `SUM_COLUMNS` present over modeled ops, utilization recomputed
    from the sums (MACs done over MACs the device could have done, `peak_macs`), and the number of
    unmodeled ops left out."""
    modeled = results[~results["unmodeled"].astype(bool)]
    total: dict[str, float | str] = {"layer": "total", "kind": "", "device": hardware.name}
    for column in (*SUM_COLUMNS, "peak_macs"):
        if column in results.columns:
            # an energy column that is NaN throughout (a GPU without a TDP) totals NaN, not 0
            total[column] = modeled[column].sum(min_count=1 if column in ENERGY_COLUMNS else 0)
    total["utilization"] = float(total["macs"] / total["peak_macs"]) if total["peak_macs"] else 0.0
    if "mapping_efficiency" in results.columns and "folds" in results.columns:
        on_array = modeled[modeled["folds"] > 0]
        folds = on_array["folds"].astype(float)
        total["mapping_efficiency"] = (
            float((on_array["mapping_efficiency"] * folds).sum() / folds.sum()) if len(on_array) else 0.0
        )
    if "mapping" in results.columns:  # GPU and CPU rows name their kernel's mapping; a total has none
        total["mapping"] = ""
    for column in RUN_CONSTANT_COLUMNS:  # one value per run (an FPGA overlay's resources)
        if column in results.columns:
            total[column] = results[column].max()
    total["unmodeled_ops"] = int(results["unmodeled"].astype(bool).sum())
    return total
