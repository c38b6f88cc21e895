"""The estimator plug-in API, in the style of Accelergy's hwcomponents.

A `Component` is a class name (``mac``, ``sram``, ``dram``, ``wire``, ``link``) and attributes
(``dtype``, ``technology_nm``, ``size_bytes``, ``width_bits``, ...). An estimator declares a
`priority` and, for a component and a `Quantity`, returns an `Estimate` with units or raises
`Declined` with its reason. `estimate()` asks every registered estimator from the highest priority
down; the first that succeeds wins, and the reasons of those that declined before it are kept on the
answer (`Estimate.declined`), so a user can see why a better-ranked model was not used.

Units: area in m² (`Estimate.mm2` converts), energy in joules per action, leakage in watts.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from hwmodels.errors import HardwareSpecError

#: m² per mm².
M2_PER_MM2 = 1e-6


class Quantity(enum.Enum):
    """What an estimator is asked for, with its SI unit."""

    AREA = "m^2"
    ENERGY = "J"  # per action (one MAC, one access of `width_bits`, one byte moved, ...)
    LEAKAGE = "W"


@dataclass(frozen=True)
class Component:
    """A hardware component: its class (``mac``, ``sram``, ...) and attributes as plain values."""

    component_class: str
    attributes: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

    def get(self, name: str) -> object:
        """An attribute, or `Declined` naming it when the component lacks it."""
        try:
            return self.attributes[name]
        except KeyError:
            raise Declined(f"{self.component_class} has no attribute {name!r}") from None


@dataclass(frozen=True)
class Estimate:
    """One estimated quantity: `value` in `units`, the estimator that gave it and that estimator's
    `source`; `declined` lists (estimator, reason) for better-ranked estimators that declined."""

    value: float
    units: str
    estimator: str
    source: str
    declined: tuple[tuple[str, str], ...] = ()

    @property
    def mm2(self) -> float:
        """The value of an area estimate in mm²."""
        if self.units != Quantity.AREA.value:
            raise HardwareSpecError(f"estimate in {self.units} is not an area")
        return self.value / M2_PER_MM2


class Declined(Exception):
    """An estimator cannot estimate this component or quantity; the message says why."""


@dataclass(frozen=True)
class Estimator:
    """A named estimator: `priority` (higher is tried first), the component classes it knows, its
    `source`, and `estimate_fn(component, quantity) -> value in quantity's unit` (or `Declined`)."""

    name: str
    priority: float
    component_classes: frozenset[str]
    source: str
    estimate_fn: Callable[[Component, Quantity], float]

    def estimate(self, component: Component, quantity: Quantity) -> Estimate:
        if component.component_class not in self.component_classes:
            known = ", ".join(sorted(self.component_classes))
            raise Declined(f"knows {known}, not {component.component_class}")
        value = self.estimate_fn(component, quantity)
        return Estimate(value=value, units=quantity.value, estimator=self.name, source=self.source)


#: Every registered estimator, by name.
ESTIMATORS: dict[str, Estimator] = {}


def register(estimator: Estimator) -> Estimator:
    """Add `estimator` to `ESTIMATORS`; a second estimator of the same name is an error."""
    if estimator.name in ESTIMATORS:
        raise HardwareSpecError(f"estimator {estimator.name!r} is already registered")
    ESTIMATORS[estimator.name] = estimator
    return estimator


def estimate(
    component: Component, quantity: Quantity, estimators: Mapping[str, Estimator] | None = None
) -> Estimate:
    """The answer of the highest-priority estimator of the component's class that does not decline
    (ties: by name), with the reasons of those that declined; an error listing every reason when
    all decline."""
    pool = ESTIMATORS if estimators is None else estimators
    known = [e for e in pool.values() if component.component_class in e.component_classes]
    if not known:
        classes = sorted({name for e in pool.values() for name in e.component_classes})
        raise HardwareSpecError(
            f"no estimator knows component class {component.component_class!r}; known: {', '.join(classes)}"
        )
    declined: list[tuple[str, str]] = []
    for candidate in sorted(known, key=lambda e: (-e.priority, e.name)):
        try:
            answer = candidate.estimate(component, quantity)
        except Declined as reason:
            declined.append((candidate.name, str(reason)))
            continue
        return replace(answer, declined=tuple(declined))
    reasons = "; ".join(f"{name}: {reason}" for name, reason in declined)
    raise HardwareSpecError(
        f"no estimator gives the {quantity.name.lower()} of a {component.component_class} "
        f"{dict(component.attributes)}: {reasons}"
    )
