"""One validating loader for hardware specs: YAML presets, user YAML files, SCALE-Sim .cfg files,
and ``--set key=value`` overrides.

Every bad value raises `HardwareSpecError` naming the file, the field, the value and what is valid.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from hwmodels.errors import HardwareSpecError
from hwmodels.scalesim_cfg import read_scalesim_cfg
from hwmodels.systolic import SYSTOLIC_FIELDS, Dataflow, SystolicArraySpec
from workloads.dtypes import DType

PRESET_DIR = Path(__file__).parent / "presets"

_INT_FIELDS = {"rows", "cols", "ifmap_sram_bytes", "filter_sram_bytes", "ofmap_sram_bytes"}
_FLOAT_FIELDS = {"dram_bytes_per_s", "freq_hz"}
_NONNEGATIVE_FIELDS = {"vector_flops_per_cycle"}
_TEXT_FIELDS = {"name", "source", "description"}


def list_presets() -> list[str]:
    """Names of the shipped hardware presets (the YAML files in ``hwmodels/presets``)."""
    return sorted(path.stem for path in PRESET_DIR.glob("*.yaml"))


def load_hardware(preset_or_file: str | Path, overrides: Sequence[str] = ()) -> SystolicArraySpec:
    """Load a preset by name, a YAML file or a SCALE-Sim ``.cfg`` file, then apply overrides.

    `overrides` are ``key=value`` strings, e.g. ``("rows=64", "dataflow=ws")``.
    """
    text = str(preset_or_file)
    path = Path(text)
    if path.suffix == ".cfg":
        if not path.is_file():
            raise HardwareSpecError(f"hardware: no such SCALE-Sim config file {text!r}")
        spec = read_scalesim_cfg(path)
    elif path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise HardwareSpecError(f"hardware: no such file {text!r}")
        spec = spec_from_mapping(_read_yaml(path), where=str(path))
    else:
        preset = PRESET_DIR / f"{text}.yaml"
        if not preset.is_file():
            known = ", ".join(list_presets())
            raise HardwareSpecError(
                f"hardware: unknown preset {text!r}; known presets: {known} "
                "(or give a .yaml or SCALE-Sim .cfg file)"
            )
        spec = spec_from_mapping(_read_yaml(preset), where=f"preset {text}")
    return apply_overrides(spec, overrides)


def apply_overrides(spec: SystolicArraySpec, overrides: Sequence[str]) -> SystolicArraySpec:
    """A new spec with ``key=value`` overrides applied, each validated like a YAML field."""
    if not overrides:
        return spec
    changes: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise HardwareSpecError(f"--set {item!r}: expected key=value, e.g. rows=64")
        _check_known(key, where="--set")
        changes[key] = _coerce(key, yaml.safe_load(raw) if raw.strip() else raw, where="--set")
    return dataclasses.replace(spec, **changes)


def spec_from_mapping(data: Mapping[str, Any], *, where: str) -> SystolicArraySpec:
    """Build a validated spec from a mapping of YAML fields (``kind: systolic`` plus the fields)."""
    if not isinstance(data, Mapping):
        raise HardwareSpecError(f"{where}: expected a mapping of fields, got {type(data).__name__}")
    kind = data.get("kind", "systolic")
    if kind != "systolic":
        raise HardwareSpecError(f"{where}: field 'kind' = {kind!r}: valid kinds: systolic")
    values = {}
    for key, value in data.items():
        if key == "kind":
            continue
        _check_known(key, where=where)
        values[key] = _coerce(key, value, where=where)
    missing = [
        f.name
        for f in dataclasses.fields(SystolicArraySpec)
        if f.name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise HardwareSpecError(f"{where}: missing required fields: {', '.join(missing)}")
    return SystolicArraySpec(**values)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise HardwareSpecError(f"{path}: not valid YAML: {error}") from None


def _check_known(key: str, *, where: str) -> None:
    if key in SYSTOLIC_FIELDS:
        return
    close = difflib.get_close_matches(key, SYSTOLIC_FIELDS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; valid: {', '.join(SYSTOLIC_FIELDS)}"
    raise HardwareSpecError(f"{where}: unknown field {key!r}{hint}")


def _coerce(key: str, value: Any, *, where: str) -> Any:
    """Turn a YAML/--set value into the field's type, or raise naming the field and value."""
    prefix = f"{where}: field {key!r} = {value!r}"
    if key in _INT_FIELDS:
        number = _as_number(value, prefix)
        if not float(number).is_integer() or number < 1:
            raise HardwareSpecError(f"{prefix}: must be a positive integer")
        return int(number)
    if key in _FLOAT_FIELDS:
        number = _as_number(value, prefix)
        if not number > 0 or (key == "freq_hz" and math.isinf(number)):
            raise HardwareSpecError(f"{prefix}: must be a number > 0")
        return float(number)
    if key in _NONNEGATIVE_FIELDS:
        number = _as_number(value, prefix)
        if not 0 <= number < math.inf:
            raise HardwareSpecError(f"{prefix}: must be a finite number >= 0")
        return float(number)
    if key == "dataflow":
        return Dataflow.parse(value, where=f"{where}: ")
    if key == "default_dtype":
        return DType.parse(value, field=f"{where}: field 'default_dtype'")
    if key == "macs_per_pe_per_cycle":
        if not isinstance(value, Mapping):
            raise HardwareSpecError(f"{prefix}: must map dtypes to MACs per cycle, e.g. {{int8: 1}}")
        table = {}
        for dtype, macs in value.items():
            number = _as_number(macs, f"{prefix} entry {dtype!r}")
            if not float(number).is_integer() or number < 1:
                raise HardwareSpecError(f"{prefix}: entry {dtype!r} must be a positive integer")
            table[DType.parse(dtype, field=f"{where}: field 'macs_per_pe_per_cycle'")] = int(number)
        return table
    if key in _TEXT_FIELDS:
        return str(value).strip()
    raise AssertionError(f"field {key!r} has no coercion rule")


def _as_number(value: Any, prefix: str) -> float:
    if isinstance(value, bool):
        raise HardwareSpecError(f"{prefix}: must be a number")
    if isinstance(value, int | float):
        return value
    try:
        return float(str(value).strip())
    except ValueError:
        raise HardwareSpecError(f"{prefix}: must be a number") from None
