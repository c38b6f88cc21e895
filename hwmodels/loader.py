"""One validating loader for hardware specs: YAML presets, user YAML files, SCALE-Sim .cfg files,
and ``--set key=value`` overrides.

A YAML file names its `kind` (``systolic``, and further kinds as they are registered in `KINDS`)
and gives the fields of that kind's spec dataclass, or names a preset as its ``base:`` and gives
only the fields it changes: a field replaces the base's, a nested spec (an FPGA's ``device``,
``overlay``) merges field by field, a plain mapping (a GPU's ``kernel_fractions``) is replaced
whole (`_with_base`). Values are converted to the field's declared
type here; the spec's own ``__post_init__`` then checks them. Every bad value raises
`HardwareSpecError` naming the file, the field, the value and what is valid.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import re
import typing
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from hwmodels.cpu import HOST_PRESET, CPUSpec, detect_cpu
from hwmodels.device import RENAMED_FIELDS, RenamedFieldWarning
from hwmodels.errors import HardwareSpecError
from hwmodels.fpga import FPGASpec
from hwmodels.gpu import GPUSpec
from hwmodels.scalesim_cfg import read_scalesim_cfg
from hwmodels.systolic import SystolicArraySpec

PRESET_DIR = Path(__file__).parent / "presets"

#: Spec class of each `kind` a YAML file may name.
KINDS: dict[str, type] = {"systolic": SystolicArraySpec, "gpu": GPUSpec, "cpu": CPUSpec, "fpga": FPGASpec}


def list_presets() -> list[str]:
    """Names of the shipped device presets (the YAML files in ``hwmodels/presets``; the systems of
    devices among them, ``kind: system``, are `hwmodels.system_loader.list_system_presets`)."""
    return sorted(path.stem for path in PRESET_DIR.glob("*.yaml") if not is_system_file(path))


#: The line that makes a YAML file a system of devices (`hwmodels.system_loader`), not a device.
SYSTEM_KIND_LINE = re.compile(r"^kind:\s*['\"]?system['\"]?\s*(#.*)?$", re.MULTILINE)


def is_system_file(path: Path) -> bool:
    """Whether a YAML file describes a system of devices (``kind: system``)."""
    return bool(SYSTEM_KIND_LINE.search(path.read_text(encoding="utf-8", errors="replace")))


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
        spec = spec_from_mapping(read_yaml(path), where=str(path))
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
        spec = spec_from_mapping(read_yaml(preset), where=f"preset {text}")
    return apply_overrides(spec, overrides)


def apply_overrides(spec: Any, overrides: Sequence[str], *, where: str = "") -> Any:
    """A new spec with ``key=value`` overrides applied, each converted like a YAML field.

    A key may be a dotted path into nested specs (``core.rows=64``: field ``rows`` of the spec in
    field ``core``); each level is rebuilt, so every level validates itself again. Errors name the
    override as `where` (a system's ``--set gpus.count`` for its group's ``count``), else as
    ``--set`` and its key."""
    if not overrides:
        return spec
    changes: dict[tuple[str, ...], Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise HardwareSpecError(f"{where or '--set'} {item!r}: expected key=value, e.g. rows=64")
        path = resolve_path(type(spec), key, where=where or "--set")
        value = yaml.safe_load(raw) if raw.strip() else raw
        owner = _owner(type(spec), path)
        changes[path] = convert_field(owner, path[-1], value, where=where or f"--set {key}")
    return _replace_paths(spec, changes, where=where or "--set")


def resolve_path(cls: type, key: str, *, where: str) -> tuple[str, ...]:
    """The field names a (possibly dotted) key reaches from spec class `cls`, old names renamed
    (`hwmodels.device.RENAMED_FIELDS`, with a `RenamedFieldWarning`); an error naming the first
    part that is not a field, with the valid names or a close match."""
    path, owner = [], cls
    parts = key.split(".")
    for index, part in enumerate(parts):
        if owner is None:
            raise HardwareSpecError(
                f"{where}: {'.'.join(parts[:index])!r} is not a nested spec; {key!r} cannot go inside it"
            )
        name = _canonical(owner, part, where=where)
        path.append(name)
        hint = _field_types(owner)[name]
        owner = hint if dataclasses.is_dataclass(hint) else None
    return tuple(path)


def field_paths(cls: type) -> tuple[str, ...]:
    """Every field a ``--set`` or sweep axis can name on spec class `cls`: its own fields, and
    each nested spec's fields as dotted paths (``overlay.cores``)."""
    paths: list[str] = []
    for field in dataclasses.fields(cls):
        name, hint = field.name, _field_types(cls)[field.name]
        paths.append(name)
        if dataclasses.is_dataclass(hint):
            paths += [f"{name}.{inner}" for inner in field_paths(hint)]
    return tuple(paths)


def field_type(cls: type, key: str) -> Any:
    """The declared type of the field a dotted `key` names (old names renamed)."""
    path = resolve_path(cls, key, where="field")
    return _field_types(_owner(cls, path))[path[-1]]


def _owner(cls: type, path: tuple[str, ...]) -> type:
    """The spec class holding the last field of `path`."""
    for name in path[:-1]:
        cls = _field_types(cls)[name]
    return cls


def _replace_paths(spec: Any, changes: Mapping[tuple[str, ...], Any], *, where: str) -> Any:
    """`spec` rebuilt with each path's value set, nested specs rebuilt bottom-up."""
    own = {path[0]: value for path, value in changes.items() if len(path) == 1}
    nested: dict[str, dict[tuple[str, ...], Any]] = {}
    for path, value in changes.items():
        if len(path) > 1:
            nested.setdefault(path[0], {})[path[1:]] = value
    for name, inner in nested.items():
        own[name] = _replace_paths(own.get(name, getattr(spec, name)), inner, where=f"{where} {name}")
    return _build(type(spec), {**_fields_of(spec), **own}, where=where)


def spec_from_mapping(data: Mapping[str, Any], *, where: str) -> Any:
    """Build a validated spec from a mapping of YAML fields (``kind`` plus that kind's fields)."""
    if not isinstance(data, Mapping):
        raise HardwareSpecError(f"{where}: expected a mapping of fields, got {type(data).__name__}")
    data = _with_base(data, where=where)  # a variant of a preset: its fields, then these
    kind = data.get("kind", "systolic")
    if kind == "system":
        raise HardwareSpecError(f"{where}: is a system of devices, not one device: give it to --system")
    if kind not in KINDS:
        raise HardwareSpecError(f"{where}: field 'kind' = {kind!r}: valid kinds: {', '.join(KINDS)}")
    fields_given = {key: value for key, value in data.items() if key != "kind"}
    return _from_fields(KINDS[kind], fields_given, where=where)


def _with_base(data: Mapping[str, Any], *, where: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """`data`'s fields over those of the preset its ``base:`` names (that preset's own base first),
    for a variant that changes a few of them (a power-capped part: ``base: h100_sxm``,
    ``power_limit_w: 500``); an error naming the presets for an unknown one or a cycle.

    The merge rule (`_merge_fields`): a field `data` gives replaces the base's, except a nested
    spec (a field whose type is a spec dataclass, as an FPGA's ``device`` and ``overlay``), which
    merges field by field, so a child names only the nested fields it changes. A field whose value
    is a plain mapping (a table such as a GPU's ``kernel_fractions``) is one value: a child that
    gives it replaces the whole table."""
    if "base" not in data:
        return dict(data)
    name = str(data["base"])
    preset = PRESET_DIR / f"{name}.yaml"
    if not preset.is_file() or name in seen:
        why = "a cycle of bases" if name in seen else f"known presets: {', '.join(list_presets())}"
        raise HardwareSpecError(f"{where}: field 'base' = {name!r}: {why}")
    base = read_yaml(preset)
    if not isinstance(base, Mapping):
        raise HardwareSpecError(f"preset {name}: expected a mapping of fields")
    base = _with_base(base, where=f"preset {name}", seen=(*seen, name))
    own = {key: value for key, value in data.items() if key != "base"}
    return _merge_fields(KINDS.get(own.get("kind", base.get("kind", "systolic"))), base, own)


def _merge_fields(cls: type | None, base: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """`own`'s fields over `base`'s for spec class `cls` (None: an unknown kind, replaced whole):
    where both give a nested spec of `cls` as a mapping, its fields merge the same way."""
    merged = {**base, **own}
    if cls is None:
        return merged
    hints = _field_types(cls)
    for key, value in own.items():
        hint, inherited = hints.get(key), base.get(key)
        if dataclasses.is_dataclass(hint) and isinstance(value, Mapping) and isinstance(inherited, Mapping):
            merged[key] = _merge_fields(hint, inherited, value)
    return merged


def fields_to_spec(cls: type, data: Mapping[str, Any], *, where: str) -> Any:
    """A spec of dataclass `cls` from a mapping of its fields, converted and checked as a preset's
    are (for parts of specs that are not a registered kind: a system's links and plan)."""
    return _from_fields(cls, data, where=where)


def _from_fields(cls: type, data: Mapping[str, Any], *, where: str) -> Any:
    """A spec of class `cls` from a mapping of its fields (old names renamed, nested specs built
    from nested mappings); an error naming the required fields it lacks."""
    values = {}
    for key, value in data.items():
        name = _canonical(cls, str(key), where=where)
        if name in values:
            raise HardwareSpecError(f"{where}: field {name!r} is given twice (once as {key!r})")
        values[name] = convert_field(cls, name, value, where=where)
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


def kind_of(spec: Any) -> str:
    """The `kind` name a spec (or spec class) is registered under (`KINDS`)."""
    spec_type = spec if isinstance(spec, type) else type(spec)
    for kind, cls in KINDS.items():
        if spec_type is cls:
            return kind
    raise HardwareSpecError(f"hardware of type {spec_type.__name__} is not a registered kind")


def spec_to_yaml(spec: Any, *, comments: Mapping[str, str] | None = None, header: str = "") -> str:
    """`spec` as a YAML file `load_hardware` reads back to an equal spec: ``kind``, then every field
    in declaration order, `comments` after the fields they name, `header` as leading comment lines."""
    comments = comments or {}
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines.append(f"kind: {kind_of(spec)}")
    for name, value in _fields_of(spec).items():
        text = yaml.safe_dump(_plain(value), default_flow_style=True, width=10_000, sort_keys=False)
        line = f"{name}: {text.removesuffix(chr(10)).removesuffix('...').strip()}"
        lines.append(f"{line}  # {comments[name]}" if name in comments else line)
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    """A field's value as YAML's plain types (enums by value, mappings as dicts, tuples as lists)."""
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value):  # a nested spec: its fields
        return {name: _plain(item) for name, item in _fields_of(value).items()}
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


def read_yaml(path: Path, what: str = "a hardware spec in YAML") -> Any:
    """The YAML document of `path` (a spec or a system of specs), an error naming the file when it
    cannot be read or parsed."""
    from workloads.files import read_text

    text = read_text(path, what=what, error=HardwareSpecError)
    try:
        # libyaml's parser where PyYAML was built with it: `codesign presets` reads every preset, and
        # the pure-Python one took ~0.15 s of its 0.3 s budget (issue 13) on the 2-core CI VM.
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        raise HardwareSpecError(f"{path}: not valid YAML: {error}") from None


def _canonical(cls: type, key: str, *, where: str) -> str:
    """`key` if it is a field of `cls`, its new name if it is a renamed one (with a one-line
    `RenamedFieldWarning`), else an error naming the valid fields or a close match."""
    names = [f.name for f in dataclasses.fields(cls)]
    if key in names:
        return key
    renamed = RENAMED_FIELDS.get(key)
    if renamed in names:
        warnings.warn(
            f"{where}: field {key!r} is now called {renamed!r}; the old name still works",
            RenamedFieldWarning,
            stacklevel=3,
        )
        return renamed
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; valid: {', '.join(names)}"
    raise HardwareSpecError(f"{where}: unknown field {key!r}{hint}")


def convert_field(cls: type, key: str, value: Any, *, where: str) -> Any:
    """Convert a YAML/--set value to the declared type of field `key` of `cls` (the spec's
    ``__post_init__`` then checks ranges)."""
    hint = _field_types(cls)[key]
    prefix = f"{where}: field {key!r} = {value!r}"
    if dataclasses.is_dataclass(hint):  # a nested spec: a mapping of its own fields
        if isinstance(value, hint):
            return value
        if not isinstance(value, Mapping):
            raise HardwareSpecError(f"{prefix}: must be a mapping of {hint.__name__} fields")
        return _from_fields(hint, value, where=f"{where} {key}")
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
