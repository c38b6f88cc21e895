"""Data-movement estimators: on-chip wires (energy per bit per mm) and chip-to-chip links
(energy per bit).

* `wire`: 0.1 pJ per bit per mm at 28 nm, from Keckler, Dally et al., "GPUs and the future of
  parallel computing", IEEE Micro 2011 (moving 256 bits 1 mm on chip: about 26 pJ), scaled to the
  node by `technology.CAPACITANCE_SCALING` (wire capacitance per mm is nearly constant across nodes,
  so this overstates the savings below 28 nm).
* `link`: NVLink-C2C at 1.3 pJ/bit (NVIDIA's Grace Hopper announcement, 2022).

The simulated rows carry no on-chip transfer distances yet, so `cost_of_run` does not use these;
they serve designs that add a NoC or a multi-chip system.
"""

from __future__ import annotations

from types import MappingProxyType

from hwmodels.cost.estimate import Component, Declined, Estimator, Quantity, register
from hwmodels.cost.technology import CAPACITANCE_SCALING

PJ = 1e-12
#: Keckler, Dally et al., IEEE Micro 2011: 26 pJ for 256 bits over 1 mm at 28 nm ≈ 0.1 pJ/bit/mm.
WIRE_PJ_PER_BIT_MM, WIRE_REFERENCE_NM = 26.0 / 256, 28.0
#: Energy per bit of chip-to-chip links: NVLink-C2C 1.3 pJ/bit (NVIDIA Grace Hopper, 2022).
LINK_PJ_PER_BIT = MappingProxyType({"nvlink_c2c": 1.3})


def _number(component: Component, name: str) -> float:
    value = component.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise Declined(f"{name} = {value!r} is not a positive number")
    return float(value)


def _wire(component: Component, quantity: Quantity) -> float:
    if quantity is not Quantity.ENERGY:
        raise Declined("energy per bit only; a wire's area is in the layers above the logic")
    length_mm = _number(component, "length_mm")
    node = _number(component, "technology_nm")
    return WIRE_PJ_PER_BIT_MM * length_mm * node / WIRE_REFERENCE_NM * PJ


def _link(component: Component, quantity: Quantity) -> float:
    kind = str(component.get("kind"))
    if kind not in LINK_PJ_PER_BIT:
        raise Declined(f"no energy for link kind {kind!r}; known: {', '.join(LINK_PJ_PER_BIT)}")
    if quantity is not Quantity.ENERGY:
        raise Declined("energy per bit only")
    return LINK_PJ_PER_BIT[kind] * PJ


WIRE = register(
    Estimator(
        name="wire_per_mm",
        priority=1.0,
        component_classes=frozenset({"wire", "noc"}),
        source=f"Keckler, Dally et al., IEEE Micro 2011 (26 pJ/256 bit/mm at 28 nm); {CAPACITANCE_SCALING}",
        estimate_fn=_wire,
    )
)
LINK = register(
    Estimator(
        name="link_table",
        priority=1.0,
        component_classes=frozenset({"link"}),
        source="NVIDIA Grace Hopper announcement, 2022 (NVLink-C2C 1.3 pJ/bit)",
        estimate_fn=_link,
    )
)
