"""Building many configs from one base spec fast, with exactly `hwmodels.apply_overrides`'s result.

`apply_overrides(base, ["rows=64", ...])` converts each ``field=value`` by the field's declared type
and then builds the spec, which validates itself. The conversion is a pure function of (field,
text) but costs about a millisecond per field (it resolves the class's type hints and parses the
text as YAML each time), which for a 10,000-config sweep is most of the run. `SpecBuilder` converts
each distinct (field, text) once, through `apply_overrides` itself (a one-field override of the
base), then builds each config with `dataclasses.replace`, which runs the same validation.

Where the shortcut cannot stand in for the real thing it is not taken: a one-field override that
fails (the value alone may clash with another base field, such as a bandwidth under the achievable
one, while the whole config is fine) sends that config through `apply_overrides`, and so does a
config whose validation fails, so its error message is the loader's own.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

from hwmodels import apply_overrides
from hwmodels.device import Device, RenamedFieldWarning
from hwmodels.loader import resolve_path
from workloads.errors import CodesignError

#: Marks a (field, text) whose one-field override failed: configs using it take the full path.
_UNCONVERTED = object()


class SpecBuilder:
    """Configs of one base spec: `build(overrides)` equals ``apply_overrides(base, overrides)``
    (the same spec, or the same `HardwareSpecError`)."""

    def __init__(self, base: Device) -> None:
        self.base = base
        self._converted: dict[tuple[str, str], Any] = {}

    def build(self, overrides: Sequence[str]) -> Any:
        changes = {}
        for item in overrides:
            field, _, text = item.partition("=")
            value = self._convert(field.strip(), text)
            if value is _UNCONVERTED:
                return apply_overrides(self.base, list(overrides))
            changes[field.strip()] = value
        try:
            return dataclasses.replace(self.base, **changes)
        except CodesignError:
            return apply_overrides(self.base, list(overrides))  # raises, with the loader's message

    def _convert(self, field: str, text: str) -> Any:
        key = (field, text)
        if key not in self._converted:
            try:
                with warnings.catch_warnings():  # a renamed field warns once, on the full path
                    warnings.simplefilter("ignore", RenamedFieldWarning)
                    path = resolve_path(type(self.base), field, where="--set")
                    if len(path) > 1 or path[0] != field:  # nested or renamed: the loader's path
                        raise CodesignError(field)
                    self._converted[key] = getattr(apply_overrides(self.base, [f"{field}={text}"]), field)
            except CodesignError:
                self._converted[key] = _UNCONVERTED
        return self._converted[key]
