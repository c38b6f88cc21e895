"""Scaling a 45 nm figure to another process node: the rule every estimator here uses.

Rule (named `CAPACITANCE_SCALING`): below 45 nm the supply voltage has stayed near 0.9–1 V while
dimensions kept shrinking (Horowitz, ISSCC 2014, "Computing's energy problem", whose table is at
45 nm and 0.9 V, makes this point), so the switching energy C·V² scales with capacitance alone,
and capacitance with feature length L (Dennard et al., JSSC 1974, constant-field scaling: C ∝ L):

    energy(L) = energy(45 nm) · L / 45        area(L) = area(45 nm) · (L / 45)²

Node names below 22 nm are trade names rather than lengths; the rule takes them at face value,
which overstates the shrink there (FinFET nodes gain less than (L/45)² in logic area). Treat
answers far from 45 nm as ±2×.
"""

from __future__ import annotations

from hwmodels.cost.estimate import Component, Declined

#: The node of the reference tables (Horowitz's energy and area table).
REFERENCE_NODE_NM = 45.0
#: Name of the scaling rule, as estimates cite it.
CAPACITANCE_SCALING = "energy ∝ L, area ∝ L² from 45 nm (Dennard 1974 C ∝ L at fixed V; Horowitz 2014)"
#: Nodes the rule is applied to; outside, estimators decline.
MIN_NODE_NM, MAX_NODE_NM = 3.0, 180.0


def node_nm(component: Component) -> float:
    """The component's `technology_nm` attribute, checked against the rule's range."""
    node = component.get("technology_nm")
    if not isinstance(node, int | float) or isinstance(node, bool):
        raise Declined(f"technology_nm = {node!r} is not a number")
    if not MIN_NODE_NM <= node <= MAX_NODE_NM:
        raise Declined(f"technology_nm = {node} is outside {MIN_NODE_NM:g}-{MAX_NODE_NM:g} nm")
    return float(node)


def energy_scale(node: float) -> float:
    """Factor from a 45 nm energy to `node` nm."""
    return node / REFERENCE_NODE_NM


def area_scale(node: float) -> float:
    """Factor from a 45 nm area to `node` nm."""
    return (node / REFERENCE_NODE_NM) ** 2
