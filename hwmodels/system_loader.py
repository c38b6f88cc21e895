"""Systems of devices from YAML, and ``--set`` overrides on them by dotted path.

```yaml
kind: system
name: lamina_h100_h20
groups:                               # by name: a device (preset, .yaml file, or a mapping with its
  compute: {device: h100_sxm, count: 2, set: {price_usd_per_hour: 11.06}}   # kind) and a count;
  memory: {device: h20, count: 4}     # `set` overrides the device's fields
links:                                # by name: the groups it joins, its rates
  nvlink: {kind: nvlink, between: [compute], bytes_per_s: 450e9, latency_s: 4.7e-7}
  nic: {kind: roce, between: [compute, memory], bytes_per_s: 50e9, latency_s: 1.65e-5, efficiency: 0.914}
parallel: {attention_group: memory, overlap: eager_q}
memory_reserve_fraction: 0.1
```

Overrides (``--set PATH=VALUE``) walk the system by name: ``memory.count=4`` (a group's field;
``groups.memory.count`` works too), ``memory.device.tdp_w=400`` (a field of a group's device,
converted and checked by the device's own loader), ``links.nic.bytes_per_s=50e9``,
``parallel.tp=4``, ``memory_reserve_fraction=0.2``. An unknown group, link or field is one error
naming what there is. `locate` parses a path once into a `SystemPath` (what it addresses, through
which group or link, which field), which reads and sets that field; ``--set``, sweep axes and
`system_field_paths` all go through it.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hwmodels.errors import HardwareSpecError
from hwmodels.loader import (
    PRESET_DIR,
    apply_overrides,
    convert_field,
    field_paths,
    fields_to_spec,
    is_system_file,
    load_hardware,
    read_yaml,
    spec_from_mapping,
)
from hwmodels.system import DeviceGroup, LinkSpec, ParallelPlan, SystemSpec

#: Keys of a group's YAML mapping.
GROUP_KEYS = ("device", "count", "set")
#: The system's own fields a YAML file or ``--set`` gives directly (groups, links and the plan are
#: mappings of their own).
SCALAR_FIELDS = ("name", "memory_reserve_fraction", "description", "source")


def list_system_presets() -> list[str]:
    """Names of the shipped systems (``kind: system`` files in ``hwmodels/presets``)."""
    return sorted(path.stem for path in PRESET_DIR.glob("*.yaml") if is_system_file(path))


def load_system(preset_or_file: str | Path, overrides: Sequence[str] = ()) -> SystemSpec:
    """A system preset by name or a YAML file, with ``--set`` overrides applied (module docstring)."""
    text = str(preset_or_file)
    path = Path(text)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise HardwareSpecError(f"system: no such file {text!r}")
        where = str(path)
    else:
        path = PRESET_DIR / f"{text}.yaml"
        if not path.is_file() or not is_system_file(path):
            known = ", ".join(list_system_presets())
            raise HardwareSpecError(
                f"system: unknown system preset {text!r}; known: {known} (or give a .yaml file with "
                "kind: system)"
            )
        where = f"system preset {text}"
    data = read_yaml(path, what="a system spec in YAML")
    system = system_from_mapping(data, where=where, base_dir=path.parent)
    return apply_system_overrides(system, overrides)


#: The NVLink/NVSwitch node preset of a GPU generation, by the start of the GPU's preset name: an
#: A100 on the A100 node's NVLink 3; an H100 or H200 on the H100 node's NVLink 4 (900 GB/s per GPU
#: on both, their datasheets; HGX H200 is the HGX H100 board's design).
NVLINK_NODES = {
    "a100": "system_8xa100_nvlink",
    "h100": "system_8xh100_nvlink",
    "h200": "system_8xh100_nvlink",
}


def nvlink_node_preset(preset: str) -> str | None:
    """The NVLink node preset of a GPU preset's generation (`NVLINK_NODES`), or None (a PCIe card)."""
    return next((name for prefix, name in NVLINK_NODES.items() if preset.startswith(prefix)), None)


def nvlink_node(preset: str, device: Any, count: int) -> SystemSpec:
    """`count` of `device` (a GPU of preset `preset`, as given: its launch mode, kernels, overrides)
    tensor parallel on the NVLink node of its generation (`NVLINK_NODES`); an error naming the
    generations there are for another GPU."""
    node = nvlink_node_preset(preset)
    if node is None:
        raise HardwareSpecError(
            f"preset {preset!r}: no NVLink node preset for its GPU; nodes for: {', '.join(NVLINK_NODES)}"
        )
    system = load_system(node)
    name = system.model_group
    group = dataclasses.replace(system.groups[name], device=device, count=count, ref=preset)
    return dataclasses.replace(system, groups={**system.groups, name: group})


def system_from_mapping(data: Any, *, where: str, base_dir: Path = PRESET_DIR) -> SystemSpec:
    """A validated `SystemSpec` from the mapping of a system YAML file (module docstring)."""
    if not isinstance(data, Mapping):
        raise HardwareSpecError(f"{where}: expected a mapping of fields, got {type(data).__name__}")
    if data.get("kind") != "system":
        raise HardwareSpecError(
            f"{where}: field 'kind' = {data.get('kind')!r}: a system file says kind: system"
        )
    known = (*SCALAR_FIELDS, "kind", "groups", "links", "parallel")
    for key in data:
        if key not in known:
            raise HardwareSpecError(f"{where}: unknown field {key!r}{_hint(str(key), known)}")
    groups_data = data.get("groups")
    if not isinstance(groups_data, Mapping) or not groups_data:
        raise HardwareSpecError(f"{where}: field 'groups' must map group names to {{device, count}}")
    groups = {
        str(name): _group(value, where=f"{where} group {name!r}", base_dir=base_dir)
        for name, value in groups_data.items()
    }
    links_data = data.get("links") or {}
    if not isinstance(links_data, Mapping):
        raise HardwareSpecError(f"{where}: field 'links' must map link names to their fields")
    links = {}
    for name, value in links_data.items():
        if not isinstance(value, Mapping):
            raise HardwareSpecError(f"{where} link {name!r}: expected a mapping of LinkSpec fields")
        links[str(name)] = fields_to_spec(LinkSpec, value, where=f"{where} link {name!r}")
    plan_data = data.get("parallel") or {}
    if not isinstance(plan_data, Mapping):
        raise HardwareSpecError(f"{where}: field 'parallel' must be a mapping of ParallelPlan fields")
    plan = fields_to_spec(ParallelPlan, plan_data, where=f"{where} parallel")
    scalars = {
        key: convert_field(SystemSpec, key, data[key], where=where) for key in SCALAR_FIELDS if key in data
    }
    scalars.setdefault("name", Path(where.split()[-1]).stem)
    return _build(where, groups=groups, links=links, parallel=plan, **scalars)


def apply_system_overrides(system: SystemSpec, overrides: Sequence[str]) -> SystemSpec:
    """A new system with each ``PATH=VALUE`` applied in turn (module docstring); every part it
    touches is rebuilt, so validates itself again."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise HardwareSpecError(f"--set {item!r}: expected PATH=VALUE, e.g. memory.count=4")
        system = _apply_one(system, key, raw, where=f"--set {key}")
    return system


class Target(enum.Enum):
    """What a system path addresses."""

    SYSTEM = "system"  # a field of the system itself: memory_reserve_fraction
    PARALLEL = "parallel"  # a field of its parallel plan: parallel.tp
    LINK = "link"  # a field of a link: links.nic.bytes_per_s
    COUNT = "count"  # a group's device count: memory.count
    DEVICE = "device"  # a field of a group's device: memory.device.tdp_w


@dataclass(frozen=True, kw_only=True)
class SystemPath:
    """A ``--set`` or sweep-axis path of a system, parsed (`locate`): what it addresses, the group
    or link it goes through (`name`; empty for the system's and the plan's own fields) and the
    field there (`field`, dotted into a nested spec as in ``overlay.cores``)."""

    target: Target
    name: str = ""
    field: str

    @property
    def text(self) -> str:
        """The path as `system_field_paths` writes it (no ``groups.`` prefix)."""
        return {
            Target.SYSTEM: self.field,
            Target.PARALLEL: f"parallel.{self.field}",
            Target.LINK: f"links.{self.name}.{self.field}",
            Target.COUNT: f"{self.name}.count",
            Target.DEVICE: f"{self.name}.device.{self.field}",
        }[self.target]

    def spec(self, system: SystemSpec) -> Any:
        """The part of `system` that holds the field: the system, its plan, a link, a group or a
        group's device."""
        if self.target is Target.SYSTEM:
            return system
        if self.target is Target.PARALLEL:
            return system.parallel
        if self.target is Target.LINK:
            return system.links[self.name]
        group = system.groups[self.name]
        return group.device if self.target is Target.DEVICE else group

    def value(self, system: SystemSpec) -> Any:
        """The field's value in `system`."""
        value = self.spec(system)
        for part in self.field.split("."):
            value = getattr(value, part)
        return value

    def replaced(self, system: SystemSpec, raw: str, *, where: str) -> SystemSpec:
        """A new `system` with the field set to the text `raw`, converted and checked by the
        owning spec's loader; every part it touches is rebuilt, so validates itself again."""
        if self.target is Target.SYSTEM:
            value = yaml.safe_load(raw) if raw.strip() else raw
            return _replace(
                system, where, **{self.field: convert_field(SystemSpec, self.field, value, where=where)}
            )
        changed = _override(self.spec(system), self.field, raw, where)
        if self.target is Target.PARALLEL:
            return _replace(system, where, parallel=changed)
        if self.target is Target.LINK:
            return _replace(system, where, links={**system.links, self.name: changed})
        group = system.groups[self.name]
        if self.target is Target.DEVICE:
            changed = dataclasses.replace(
                group, device=changed, device_set=(*group.device_set, f"{self.field}={raw}")
            )
        return _replace(system, where, groups={**system.groups, self.name: changed})


def locate(system: SystemSpec, path: str, *, where: str) -> SystemPath:
    """The field of `system` a path names (module docstring), or an error naming the groups, links
    and paths there are. Fields of the plan, links and devices are checked when set (their
    loader's names and renames)."""
    parts = path.split(".")
    if parts[0] == "groups" and len(parts) > 1:
        parts = parts[1:]
    head, rest = parts[0], ".".join(parts[1:])
    if head in SCALAR_FIELDS and not rest:
        return SystemPath(target=Target.SYSTEM, field=head)
    if head == "parallel":
        if not rest:
            raise HardwareSpecError(
                f"{where}: the parallel plan's fields are parallel.FIELD, one of "
                f"{', '.join(field_paths(ParallelPlan))}"
            )
        return SystemPath(target=Target.PARALLEL, field=rest)
    if head == "links":
        if len(parts) < 3:
            raise HardwareSpecError(
                f"{where}: a link's field is links.NAME.FIELD; links: {', '.join(system.links) or 'none'}; "
                f"fields: {', '.join(field_paths(LinkSpec))}"
            )
        _named(system.links, parts[1], "link", where)
        return SystemPath(target=Target.LINK, name=parts[1], field=".".join(parts[2:]))
    if head in system.groups and rest:
        if rest == "count":
            return SystemPath(target=Target.COUNT, name=head, field="count")
        if parts[1] == "device" and len(parts) > 2:
            return SystemPath(target=Target.DEVICE, name=head, field=".".join(parts[2:]))
        raise HardwareSpecError(
            f"{where}: group {head!r} has 'count' and 'device.FIELD' (a field of its "
            f"{type(system.groups[head].device).__name__}), not {rest!r}"
        )
    valid = [*SCALAR_FIELDS, "parallel.FIELD", "links.NAME.FIELD", *(f"{g}.count" for g in system.groups)]
    raise HardwareSpecError(
        f"{where}: {head!r} is not a group, link or field of system {system.name!r}; groups: "
        f"{', '.join(system.groups)}; links: {', '.join(system.links) or 'none'}; paths: {', '.join(valid)}"
        + _hint(head, (*system.groups, *SCALAR_FIELDS, "parallel", "links"))
    )


def system_paths(system: SystemSpec) -> tuple[SystemPath, ...]:
    """Every path a sweep axis can name on `system` (``--set`` also takes ``name`` and old field
    names)."""
    paths = [SystemPath(target=Target.SYSTEM, field=name) for name in SCALAR_FIELDS if name != "name"]
    paths += [SystemPath(target=Target.PARALLEL, field=name) for name in field_paths(ParallelPlan)]
    for link in system.links:
        paths += [SystemPath(target=Target.LINK, name=link, field=name) for name in field_paths(LinkSpec)]
    for name, group in system.groups.items():
        paths.append(SystemPath(target=Target.COUNT, name=name, field="count"))
        paths += [
            SystemPath(target=Target.DEVICE, name=name, field=inner)
            for inner in field_paths(type(group.device))
        ]
    return tuple(paths)


def system_field_paths(system: SystemSpec) -> tuple[str, ...]:
    """Every path ``--set`` or a sweep axis can name on `system`, as text."""
    return tuple(path.text for path in system_paths(system))


def system_value(system: SystemSpec, path: str) -> Any:
    """The value at a path of `system_field_paths` (for sweep expressions and tables)."""
    return locate(system, path, where=path).value(system)


def _apply_one(system: SystemSpec, key: str, raw: str, *, where: str) -> SystemSpec:
    return locate(system, key, where=where).replaced(system, raw, where=where)


def _override(spec: Any, path: str, raw: str, where: str) -> Any:
    """`spec` with one ``path=raw`` override (the loader's conversion and checks), its errors
    named by the system's full path (`where`)."""
    return apply_overrides(spec, [f"{path}={raw}"], where=where)


def _group(value: Any, *, where: str, base_dir: Path) -> DeviceGroup:
    if not isinstance(value, Mapping):
        raise HardwareSpecError(f"{where}: expected a mapping {{device: PRESET, count: N}}")
    for key in value:
        if key not in GROUP_KEYS:
            raise HardwareSpecError(f"{where}: unknown field {key!r}{_hint(str(key), GROUP_KEYS)}")
    if "device" not in value:
        raise HardwareSpecError(f"{where}: missing field 'device' (a preset, a .yaml file or a mapping)")
    device_value = value["device"]
    if isinstance(device_value, Mapping):
        device, ref = (
            spec_from_mapping(device_value, where=f"{where} device"),
            str(device_value.get("name", "")),
        )
    else:
        ref = str(device_value)
        local = base_dir / ref
        device = load_hardware(local if local.suffix in (".yaml", ".yml") and local.is_file() else ref)
    settings = value.get("set") or {}
    if not isinstance(settings, Mapping):
        raise HardwareSpecError(f"{where}: field 'set' must map device fields to values")
    device_set = tuple(f"{field}={json.dumps(item)}" for field, item in settings.items())
    try:
        device = apply_overrides(device, device_set)
    except HardwareSpecError as error:
        raise HardwareSpecError(f"{where}: {error}") from None
    count = value.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise HardwareSpecError(f"{where}: field 'count' = {count!r}: must be a positive integer")
    return DeviceGroup(device=device, count=count, ref=ref, device_set=device_set)


def _replace(system: SystemSpec, where: str, **changes: Any) -> SystemSpec:
    return _build(
        where, **{**{f.name: getattr(system, f.name) for f in dataclasses.fields(system)}, **changes}
    )


def _build(where: str, **values: Any) -> SystemSpec:
    try:
        return SystemSpec(**values)
    except HardwareSpecError as error:
        raise HardwareSpecError(f"{where}: {error}") from None


def _named(mapping: Mapping[str, Any], name: str, what: str, where: str) -> Any:
    if name not in mapping:
        raise HardwareSpecError(
            f"{where}: unknown {what} {name!r}; {what}s: {', '.join(mapping) or 'none'}"
            + _hint(name, tuple(mapping))
        )
    return mapping[name]


def _hint(key: str, valid: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; valid: {', '.join(valid)}"
