"""One axis of a sweep: a hardware field and the values it takes.

An axis is a list of values, or a generator of them:

* ``{range: [start, stop, step]}``: ``start, start+step, ...`` up to and including `stop`;
* ``{logrange: [start, stop, num]}``: `num` points spaced evenly on a log scale, both ends included
  (`numpy.geomspace`), rounded to integers for an integer field (repeats after rounding dropped);
* ``{doubling: [start, stop]}``: ``start, 2·start, 4·start, ...`` up to and including `stop`.

Values are converted to the field's declared type here (an integer field takes ``65536`` or
``65536.0``, not ``65536.5``; YAML reads ``1e11`` without a dot as text, which becomes a number; an
enum field such as ``dataflow`` keeps its text, checked by the enum), so constraints compute on
numbers; the spec's own validation of each config happens when the config is built.
"""

from __future__ import annotations

import difflib
import enum
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwmodels.loader import field_type
from sim.sweep.expr import SweepSpecError

GENERATORS = ("range", "logrange", "doubling")
#: Tolerance on the last step of a float range, so ``{range: [0.1, 0.3, 0.1]}`` includes 0.3
#: despite binary rounding (relative to the step).
RANGE_STOP_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Axis:
    field: str
    values: tuple[Any, ...]


def parse_axis(field: str, spec: Any, cls: type, *, name: str = "") -> Axis:
    """The axis over `field` of spec class `cls` (see the module docstring), named as the spec wrote
    it (`name`: a system's ``memory.count`` for the group's ``count``; else `field`), in its errors
    too."""
    where = f"axes.{name or field}"
    hint = field_type(cls, field)  # a dotted path names a nested spec's field
    if isinstance(spec, dict):
        if len(spec) != 1:
            raise SweepSpecError(f"{where}: give one of {', '.join(GENERATORS)} (got {list(spec)})")
        ((kind, args),) = spec.items()
        if kind not in GENERATORS:
            close = difflib.get_close_matches(str(kind), GENERATORS, n=1)
            hint_text = f"; did you mean {close[0]!r}?" if close else f"; valid: {', '.join(GENERATORS)}"
            raise SweepSpecError(f"{where}: unknown key {kind!r}{hint_text}")
        raw = _generate(kind, args, f"{where}.{kind}", hint is int)
    elif isinstance(spec, list):
        raw = spec
    else:
        raise SweepSpecError(
            f"{where}: give a list of values or {{range|logrange|doubling: [...]}}, got {spec!r}"
        )
    if not raw:
        raise SweepSpecError(f"{where}: no values")
    converted = [_convert(value, hint, where) for value in raw]
    unique: dict[str, Any] = {}
    for value in converted:  # repeats dropped, first one kept (values may be mappings: keyed as JSON)
        unique.setdefault(json.dumps(value, sort_keys=True, default=str), value)
    return Axis(field=name or field, values=tuple(unique.values()))


def _generate(kind: str, args: Any, where: str, integer: bool) -> list[Any]:
    expected = {"range": 3, "logrange": 3, "doubling": 2}[kind]
    numbers = [_number(value, where) for value in args] if isinstance(args, list) else []
    if len(numbers) != expected:
        shape = {
            "range": "[start, stop, step]",
            "logrange": "[start, stop, num]",
            "doubling": "[start, stop]",
        }
        raise SweepSpecError(f"{where}: expected {shape[kind]}, got {args!r}")
    if kind == "range":
        start, stop, step = numbers
        if step <= 0 or stop < start:
            raise SweepSpecError(f"{where}: needs step > 0 and stop >= start, got {args!r}")
        count = math.floor((stop - start) / step + RANGE_STOP_TOLERANCE) + 1
        return [start + step * i for i in range(count)]
    if kind == "logrange":
        start, stop, num = numbers
        if start <= 0 or stop < start or num < 1 or not float(num).is_integer():
            raise SweepSpecError(f"{where}: needs 0 < start <= stop and an integer num >= 1, got {args!r}")
        points = np.geomspace(start, stop, int(num))
        return [round(float(p)) for p in points] if integer else [float(p) for p in points]
    start, stop = numbers
    if start <= 0 or stop < start:
        raise SweepSpecError(f"{where}: needs 0 < start <= stop, got {args!r}")
    values, value = [], start
    while value <= stop * (1 + RANGE_STOP_TOLERANCE):
        values.append(value)
        value *= 2
    return values


def _number(value: Any, where: str) -> float | int:
    if isinstance(value, bool):
        raise SweepSpecError(f"{where}: {value!r} is not a number")
    if isinstance(value, int | float):
        return value
    try:
        return float(str(value))
    except ValueError:
        raise SweepSpecError(f"{where}: {value!r} is not a number") from None


def _convert(value: Any, hint: Any, where: str) -> Any:
    """`value` as the field's declared type: int, float, an enum's text, or as written."""
    if hint is int:
        number = _number(value, where)
        if not float(number).is_integer():
            raise SweepSpecError(f"{where}: {value!r} is not an integer")
        return int(number)
    if hint is float:
        return float(_number(value, where))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        text = str(value.value if isinstance(value, enum.Enum) else value).strip().lower()
        valid = [str(member.value) for member in hint]
        if text not in valid:
            raise SweepSpecError(f"{where}: {value!r} is not one of {', '.join(valid)}")
        return text
    if hint is str:
        return str(value)
    return value
