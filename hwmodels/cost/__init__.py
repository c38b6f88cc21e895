"""Area, energy and leakage estimators for hardware components (hwcomponents-style plug-ins).

Importing the package registers the estimators of `compute` (MACs), `memory` (SRAM, DRAM),
`links` (wires, chip-to-chip links) and `fpga` (DSP slices, block RAMs).
`estimate(Component(...), Quantity.X)` picks the highest-priority one that does not decline.
Knows nothing of simulation: `sim.cost` applies these per-component costs to simulated rows.
"""

from hwmodels.cost import compute, fpga, links, memory
from hwmodels.cost.estimate import (
    ESTIMATORS,
    Component,
    Declined,
    Estimate,
    Estimator,
    Quantity,
    estimate,
    register,
)
from hwmodels.cost.memory import DramKind

__all__ = [
    "ESTIMATORS",
    "Component",
    "Declined",
    "DramKind",
    "Estimate",
    "Estimator",
    "Quantity",
    "compute",
    "estimate",
    "fpga",
    "links",
    "memory",
    "register",
]
