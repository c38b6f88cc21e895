"""Field checks the hardware specs share: each raises `HardwareSpecError` naming the spec, the
field, its value and what would be valid."""

from __future__ import annotations

import math

from hwmodels.errors import HardwareSpecError


def is_number(value: object) -> bool:
    """An int or a float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_positive_int(spec: object, name: str, where: str) -> None:
    value = getattr(spec, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise HardwareSpecError(f"{where}field {name!r} = {value!r}: must be a positive integer")


def check_positive_number(spec: object, name: str, where: str) -> None:
    value = getattr(spec, name)
    if not is_number(value) or not (value > 0 and math.isfinite(value)):
        raise HardwareSpecError(f"{where}field {name!r} = {value!r}: must be a finite number > 0")


def check_non_negative_number(spec: object, name: str, where: str) -> None:
    value = getattr(spec, name)
    if not is_number(value) or not (value >= 0 and math.isfinite(value)):
        raise HardwareSpecError(f"{where}field {name!r} = {value!r}: must be a finite number >= 0")


def check_fraction(spec: object, name: str, where: str) -> None:
    value = getattr(spec, name)
    if not is_number(value) or not 0 < value <= 1:
        raise HardwareSpecError(f"{where}field {name!r} = {value!r}: must be in (0, 1]")
