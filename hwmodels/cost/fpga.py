"""FPGA estimators: energy of a DSP slice's MAC and of a BRAM/URAM access.

Both start from the ASIC figures of `compute` and `memory` (Horowitz's 45 nm table, scaled to the
node) and multiply by `FPGA_DYNAMIC_POWER_GAP`, the FPGA/ASIC dynamic power ratio Kuon and Rose
measured ("Measuring the Gap Between FPGAs and ASICs", IEEE TCAD 26(2), 2007: about 14× for
LUT-based logic, smaller with hard blocks). A DSP slice and a block RAM are hard blocks, so the
gap overstates their energy: these are upper bounds, good to a factor of a few.

* ``dsp`` (attributes ``dtype``, ``technology_nm``; optional ``macs_per_dsp``): energy per MAC.
  A DSP48E2 packing two INT8 MACs shares one multiplier: the MAC's energy is the int8 MAC's.
* ``bram`` / ``uram`` (``block_bytes``, ``technology_nm``): energy per byte read or written, from
  the SRAM fit at the size of one block (4 KiB BRAM36, 32 KiB URAM: an access reaches one block,
  not the whole buffer), per byte of a 64-bit access.
"""

from __future__ import annotations

from hwmodels.cost.compute import HOROWITZ_SOURCE
from hwmodels.cost.estimate import Component, Declined, Estimator, Quantity, estimate, register
from hwmodels.cost.memory import SRAM_SOURCE, sram_energy_pj_45nm
from hwmodels.cost.technology import energy_scale, node_nm

PJ = 1e-12
#: Kuon & Rose, IEEE TCAD 2007: an FPGA's dynamic power over a standard-cell ASIC's for the same
#: circuit, about 14 for LUT-based logic ("with hard blocks, this gap generally becomes smaller").
FPGA_DYNAMIC_POWER_GAP = 14.0
KUON_ROSE = "Kuon & Rose, 'Measuring the Gap Between FPGAs and ASICs', IEEE TCAD 2007 (dynamic power x14)"
#: Bits of the access the per-byte SRAM energy is taken at (a 64-bit word, the fit's own width).
ACCESS_BITS = 64


def _dsp(component: Component, quantity: Quantity) -> float:
    if quantity is not Quantity.ENERGY:
        raise Declined("energy per MAC only (no sourced DSP-slice area or leakage)")
    node = node_nm(component)
    mac = Component("mac", {"dtype": component.get("dtype"), "technology_nm": node})
    return estimate(mac, Quantity.ENERGY).value * FPGA_DYNAMIC_POWER_GAP


def _block_ram(component: Component, quantity: Quantity) -> float:
    if quantity is not Quantity.ENERGY:
        raise Declined("energy per byte only (no sourced block-RAM leakage; its area is the device's)")
    size = component.get("block_bytes")
    if not isinstance(size, int | float) or isinstance(size, bool) or size <= 0:
        raise Declined(f"block_bytes = {size!r} is not a positive number")
    node = node_nm(component)
    per_access = sram_energy_pj_45nm(float(size), ACCESS_BITS) * energy_scale(node)
    return per_access / (ACCESS_BITS / 8) * FPGA_DYNAMIC_POWER_GAP * PJ


DSP_ENERGY = register(
    Estimator(
        name="fpga_dsp_gap",
        priority=1.0,
        component_classes=frozenset({"dsp"}),
        source=f"{HOROWITZ_SOURCE} MAC at the node x {KUON_ROSE}",
        estimate_fn=_dsp,
    )
)
BLOCK_RAM_ENERGY = register(
    Estimator(
        name="fpga_block_ram_gap",
        priority=1.0,
        component_classes=frozenset({"bram", "uram"}),
        source=f"{SRAM_SOURCE} at one block's size, per byte of a 64-bit access, x {KUON_ROSE}",
        estimate_fn=_block_ram,
    )
)
