"""One validating loader for hardware specs: YAML presets, user YAML files, SCALE-Sim .cfg files,
and ``--set key=value`` overrides.

A YAML file names its `kind` (``systolic``, and further kinds as they are registered in `KINDS`)
and gives the fields of that kind's spec dataclass. Values are converted to the field's declared
type here; the spec's own ``__post_init__`` then checks them. Every bad value raises
`HardwareSpecError` naming the file, the field, the value and what is valid.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from hwmodels.cpu import HOST_PRESET, CPUSpec, detect_cpu
from hwmodels.errors import HardwareSpecError
from hwmodels.gpu import GPUSpec
from hwmodels.scalesim_cfg import read_scalesim_cfg
from hwmodels.systolic import SystolicArraySpec

PRESET_DIR = Path(__file__).parent / "presets"

#: Spec class of each `kind` a YAML file may name.
KINDS: dict[str, type] = {"systolic": SystolicArraySpec, "gpu": GPUSpec, "cpu": CPUSpec}


def list_presets() -> list[str]:
    """Names of the shipped hardware presets (the YAML files in ``hwmodels/presets``)."""
    return sorted(path.stem for path in PRESET_DIR.glob("*.yaml"))


def load_hardware(preset_or_file: str | Path, overrides: Sequence[str] = ()) -> Any:
    """Load a preset by name, a YAML file or a SCALE-Sim ``.cfg`` file, then apply overrides.

    `overrides` are ``key=value`` strings, e.g. ``("rows=64", "dataflow=ws")``. The name ``host``
    is this machine's CPU, detected (`hwmodels.cpu.detect_cpu`).
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
    elif text == HOST_PRESET:
        spec = detect_cpu()
    else:
        preset = PRESET_DIR / f"{text}.yaml"
        if not preset.is_file():
            known = ", ".join(list_presets())
            raise HardwareSpecError(
                f"hardware: unknown preset {text!r}; known presets: {known} "
                f"(or {HOST_PRESET!r} for this machine's CPU, or give a .yaml or SCALE-Sim .cfg file)"
            )
        spec = spec_from_mapping(_read_yaml(preset), where=f"preset {text}")
    return apply_overrides(spec, overrides)


def apply_overrides(spec: Any, overrides: Sequence[str]) -> Any:
    """A new spec with ``key=value`` overrides applied, each converted like a YAML field."""
    if not overrides:
        return spec
    cls = type(spec)
    changes: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise HardwareSpecError(f"--set {item!r}: expected key=value, e.g. rows=64")
        _check_known(cls, key, where="--set")
        value = yaml.safe_load(raw) if raw.strip() else raw
        changes[key] = _convert(cls, key, value, where="--set")
    return _build(cls, {**_fields_of(spec), **changes}, where="--set")


def spec_from_mapping(data: Mapping[str, Any], *, where: str) -> Any:
    """Build a validated spec from a mapping of YAML fields (``kind`` plus that kind's fields)."""
    if not isinstance(data, Mapping):
        raise HardwareSpecError(f"{where}: expected a mapping of fields, got {type(data).__name__}")
    kind = data.get("kind", "systolic")
    if kind not in KINDS:
        raise HardwareSpecError(f"{where}: field 'kind' = {kind!r}: valid kinds: {', '.join(KINDS)}")
    cls = KINDS[kind]
    values = {}
    for key, value in data.items():
        if key == "kind":
            continue
        _check_known(cls, key, where=where)
        values[key] = _convert(cls, key, value, where=where)
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise HardwareSpecError(f"{where}: missing required fields: {', '.join(missing)}")
    return _build(cls, values, where=where)


def spec_to_yaml(spec: Any, *, comments: Mapping[str, str] | None = None, header: str = "") -> str:
    """`spec` as a YAML file `load_hardware` reads back to an equal spec: ``kind``, then every field
    in declaration order, `comments` after the fields they name, `header` as leading comment lines."""
    kinds = {cls: kind for kind, cls in KINDS.items()}
    comments = comments or {}
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines.append(f"kind: {kinds[type(spec)]}")
    for name, value in _fields_of(spec).items():
        text = yaml.safe_dump(_plain(value), default_flow_style=True, width=10_000, sort_keys=False)
        line = f"{name}: {text.removesuffix(chr(10)).removesuffix('...').strip()}"
        lines.append(f"{line}  # {comments[name]}" if name in comments else line)
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    """A field's value as YAML's plain types (enums by value, mappings as dicts, tuples as lists)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def _build(cls: type, values: dict[str, Any], *, where: str) -> Any:
    try:
        return cls(**values)
    except HardwareSpecError as error:
        raise HardwareSpecError(f"{where}: {error}") from None


def _fields_of(spec: Any) -> dict[str, Any]:
    return {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise HardwareSpecError(f"{path}: not valid YAML: {error}") from None


def _check_known(cls: type, key: str, *, where: str) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    if key in names:
        return
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; valid: {', '.join(names)}"
    raise HardwareSpecError(f"{where}: unknown field {key!r}{hint}")


def _convert(cls: type, key: str, value: Any, *, where: str) -> Any:
    """Convert a YAML/--set value to the declared type of field `key` of `cls` (the spec's
    ``__post_init__`` then checks ranges)."""
    hint = _field_types(cls)[key]
    prefix = f"{where}: field {key!r} = {value!r}"
    origin = typing.get_origin(hint)
    if origin is not None and issubclass(origin, Mapping):
        key_type, value_type = typing.get_args(hint)
        if not isinstance(value, Mapping):
            raise HardwareSpecError(f"{prefix}: must be a mapping, e.g. {{int8: 1}}")
        return {
            _scalar(key_type, k, f"{prefix} key {k!r}"): _scalar(value_type, v, f"{prefix} entry {k!r}")
            for k, v in value.items()
        }
    if origin is tuple:
        item_type = typing.get_args(hint)[0]
        items = value if isinstance(value, list | tuple) else [] if value in (None, "") else [value]
        return tuple(_scalar(item_type, item, f"{prefix} item {item!r}") for item in items)
    return _scalar(hint, value, prefix)


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    """The resolved type of each field of a spec class (resolving annotations is slow; once per class)."""
    return typing.get_type_hints(cls)


def _scalar(hint: Any, value: Any, prefix: str) -> Any:
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        if hasattr(hint, "parse"):
            try:
                return hint.parse(value)
            except HardwareSpecError as error:  # re-raise with the field's location
                raise HardwareSpecError(f"{prefix}: {error}") from None
            except Exception as error:  # noqa: BLE001 — an enum's own parse error, as one line
                raise HardwareSpecError(f"{prefix}: {error}") from None
        try:
            return hint(value)
        except ValueError:
            valid = ", ".join(str(member.value) for member in hint)
            raise HardwareSpecError(f"{prefix}: valid: {valid}") from None
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise HardwareSpecError(f"{prefix}: must be true or false")
    if hint is str:
        return str(value).strip()
    if hint in (int, float):
        number = _as_number(value, prefix)
        if hint is int:
            if not float(number).is_integer():
                raise HardwareSpecError(f"{prefix}: must be an integer")
            return int(number)
        return float(number)
    return value


def _as_number(value: Any, prefix: str) -> float:
    if isinstance(value, bool):
        raise HardwareSpecError(f"{prefix}: must be a number")
    if isinstance(value, int | float):
        return value
    try:
        return float(str(value).strip())
    except ValueError:
        raise HardwareSpecError(f"{prefix}: must be a number") from None
