"""A sweep spec: the YAML file `codesign sweep` reads, parsed and validated into frozen dataclasses.

```yaml
name: quick
hardware: systolic_128x128          # a preset or a .yaml file; or {base: ..., set: {field: value}}
axes:                                # any field of the base spec
  rows: [32, 64, 128]                #   a list of values
  cols: {range: [32, 128, 32]}       #   start, stop (inclusive), step
  dram_bytes_per_s: {logrange: [1.0e11, 1.0e12, 4]}   # start, stop, number of points (geometric)
  ifmap_sram_bytes: {doubling: [65536, 1048576]}       # start, 2·start, ... up to stop
derived:                             # fields computed from others, per config
  filter_sram_bytes: ifmap_sram_bytes // 2
constraints:                         # configs failing one are left out (never run)
  - ifmap_sram_bytes + filter_sram_bytes + ofmap_sram_bytes <= 8388608
sampling: grid                       # or {method: random, samples: 1000, seed: 0}
workloads: [{model: llama-2-7b, phase: decode, context: 4096}, {gemm: [[128, 4096, 4096]]}]
fidelity: roofline                   # or cycle (the device's engine, `simulate`)
objectives: {latency_s: min, tokens_per_s: max}
```

Unknown keys anywhere are refused with the closest valid key. The spec's hash (`SweepSpec.hash`) is
the SHA-256 of its normalized form (values as parsed, files by content), so two files that say the
same thing are the same sweep; the name and description are labels and not part of it.
"""

from __future__ import annotations

import difflib
import enum
import hashlib
import json
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from hwmodels import load_hardware
from hwmodels.device import Device
from hwmodels.loader import field_paths
from sim.engines.roofline import ROOFLINE_METRICS
from sim.simulate import SUM_COLUMNS
from sim.sweep.axes import Axis, parse_axis
from sim.sweep.expr import Expression, SweepSpecError, parse_expression
from sim.sweep.workloads import WorkloadSpec, check_keys, parse_workloads
from workloads.files import read_text

TOP_KEYS = (
    "name",
    "description",
    "hardware",
    "axes",
    "derived",
    "constraints",
    "sampling",
    "workloads",
    "fidelity",
    "objectives",
    "chunk_configs",
)
#: Keys of a spec's base given as a mapping (``hardware:`` here, ``system:`` in a system sweep).
BASE_KEYS = ("base", "set")
SAMPLING_KEYS = ("method", "samples", "seed")
#: Columns of `sim.cost.run_metrics`, which every sweep row carries beside the engine's totals
#: (tokens/s is an LLM phase's tokens per step over its latency, NaN for other workloads; energy
#: figures are NaN at roofline fidelity, which counts no energy), and the achieved FLOP/s.
RUN_METRICS = (
    "power_w",
    "tokens_per_s",
    "energy_per_token_j",
    "tokens_per_j",
    "area_mm2",
    "usd_per_hour",
    "tokens_per_usd",
)
DERIVED_METRICS = (*RUN_METRICS, "achieved_flops_per_s")
#: Totals a cycle-fidelity row takes from `summarize`, beside `SUM_COLUMNS`.
CYCLE_TOTALS = ("peak_macs", "utilization", "mapping_efficiency", "unmodeled_ops")


class Fidelity(enum.Enum):
    """`roofline`: `sim.engines.roofline`, vectorized over configs; `cycle`: `simulate()` per config."""

    ROOFLINE = "roofline"
    CYCLE = "cycle"


class Goal(enum.Enum):
    MIN = "min"
    MAX = "max"


class Sampling(enum.Enum):
    GRID = "grid"
    RANDOM = "random"


@dataclass(frozen=True, kw_only=True)
class Objective:
    column: str
    goal: Goal


@dataclass(frozen=True, kw_only=True)
class SweepSpec:
    """A parsed sweep. `base` is the validated base hardware spec (with `base_set` applied);
    `hardware_sha256` the base file's digest when it is a file (empty for a preset)."""

    name: str
    text: str
    hardware: str
    base_set: tuple[str, ...]
    hardware_sha256: str
    base: Device
    axes: tuple[Axis, ...]
    derived: tuple[tuple[str, Expression], ...]
    constraints: tuple[Expression, ...]
    sampling: Sampling
    samples: int
    seed: int
    workloads: tuple[WorkloadSpec, ...]
    fidelity: Fidelity
    objectives: tuple[Objective, ...]
    chunk_configs: int

    @property
    def swept_fields(self) -> tuple[str, ...]:
        """The hardware fields a config sets: the axes, then the derived fields."""
        return (*(axis.field for axis in self.axes), *(name for name, _ in self.derived))

    def normalized(self) -> dict[str, Any]:
        """Everything that decides the results, as plain data."""
        return {
            "hardware": self.hardware if not self.hardware_sha256 else "",
            "hardware_sha256": self.hardware_sha256,
            "set": list(self.base_set),
            "axes": {axis.field: list(axis.values) for axis in self.axes},
            "derived": {name: expression.text for name, expression in self.derived},
            "constraints": [expression.text for expression in self.constraints],
            "sampling": self.sampling.value,
            "samples": self.samples,
            "seed": self.seed,
            "workloads": [workload.normalized() for workload in self.workloads],
            "fidelity": self.fidelity.value,
            "objectives": {objective.column: objective.goal.value for objective in self.objectives},
            "chunk_configs": self.chunk_configs,
        }

    @property
    def hash(self) -> str:
        canonical = json.dumps(self.normalized(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


def load_sweep_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec file; relative paths in it are relative to its folder."""
    path = Path(path)
    text, data = read_spec_file(path)
    return sweep_spec_from_yaml(text, data, base_dir=path.parent, default_name=path.stem)


def read_spec_file(path: Path) -> tuple[str, Any]:
    """A sweep spec file's text and its YAML, each read once; an error naming what is wrong."""
    if not path.is_file():
        raise SweepSpecError(f"sweep spec: no such file {str(path)!r}")
    text = read_text(path, what="a sweep spec in YAML", error=SweepSpecError)
    return text, _yaml(text)


def _yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SweepSpecError(f"sweep spec: not valid YAML: {error}") from None


def spec_mapping(data: Any, keys: tuple[str, ...], *, required: tuple[str, ...]) -> dict[str, Any]:
    """The YAML `data` of a sweep spec as a mapping of its top-level `keys`, the `required` ones
    present; an error naming what is wrong otherwise."""
    if not isinstance(data, dict):
        raise SweepSpecError(f"sweep spec: expected a mapping of keys ({', '.join(required)}, ...)")
    check_keys(data, keys, where="sweep spec")
    for key in required:
        if key not in data:
            raise SweepSpecError(f"sweep spec: missing key {key!r}")
    return data


def parse_sweep_spec(text: str, *, base_dir: Path = Path("."), default_name: str = "sweep") -> SweepSpec:
    """Parse the YAML `text` of a sweep spec (see the module docstring)."""
    return sweep_spec_from_yaml(text, _yaml(text), base_dir=base_dir, default_name=default_name)


def sweep_spec_from_yaml(text: str, data: Any, *, base_dir: Path, default_name: str) -> SweepSpec:
    """The sweep spec of `text`, whose YAML is `data` (see the module docstring)."""
    data = spec_mapping(data, TOP_KEYS, required=("hardware", "axes", "workloads"))
    hardware, base_set, digest, base = _parse_hardware(data["hardware"], base_dir)
    field_names = field_paths(type(base))  # nested specs' fields as dotted paths
    owners = {name: (type(base), name) for name in field_names}
    axes = parse_axes(data["axes"], owners, unknown="field", listing=f"fields of {type(base).__name__}")
    swept = {axis.field for axis in axes}
    scalars = tuple(base_scalars(base))
    derived = _parse_derived(data.get("derived") or {}, field_names, scalars, swept)
    constraints = parse_constraints(data.get("constraints"), scalars)
    sampling, samples, seed = _parse_sampling(data.get("sampling", "grid"))
    fidelity = parse_enum(Fidelity, data.get("fidelity", "roofline"), "fidelity")
    chunk = parse_chunk_configs(data.get("chunk_configs", 0))
    workloads = parse_workloads(data["workloads"], base_dir=base_dir)
    _check_stacks(workloads, base, fidelity)
    return SweepSpec(
        name=str(data.get("name") or default_name),
        text=text,
        hardware=hardware,
        base_set=base_set,
        hardware_sha256=digest,
        base=base,
        axes=axes,
        derived=derived,
        constraints=constraints,
        sampling=sampling,
        samples=samples,
        seed=seed,
        workloads=workloads,
        fidelity=fidelity,
        objectives=parse_objectives(
            data.get("objectives") or {"latency_s": "min"},
            metric_columns(fidelity),
            at=f" at fidelity {fidelity.value}",
        ),
        chunk_configs=chunk,
    )


def _check_stacks(workloads: tuple[WorkloadSpec, ...], base: Device, fidelity: Fidelity) -> None:
    """A workload's ``stack`` runs a GPU's kernels as a serving stack does: refused on another
    device kind, and at roofline fidelity (which costs no kernels)."""
    from hwmodels.loader import kind_of

    for workload in workloads:
        if not workload.stack:
            continue
        where = f"workloads: {workload.name!r}: stack {workload.stack!r}"
        if kind_of(base) != "gpu":
            kind = type(base).__name__
            raise SweepSpecError(f"{where}: a GPU's serving stack; hardware {base.name!r} is a {kind}")
        if fidelity is not Fidelity.CYCLE:
            got = fidelity.value
            raise SweepSpecError(f"{where}: runs the stack's kernels; needs fidelity: cycle (got {got})")


def _parse_hardware(value: Any, base_dir: Path) -> tuple[str, tuple[str, ...], str, Any]:
    name, base_set, local = parse_base(
        value,
        base_dir,
        key="hardware",
        what="a preset or .yaml file",
        item="field",
        suffixes=(".yaml", ".yml", ".cfg"),
    )
    digest = hashlib.sha256(local.read_bytes()).hexdigest() if local else ""
    return name, base_set, digest, load_hardware(name, base_set)


def parse_base(
    value: Any, base_dir: Path, *, key: str, what: str, item: str, suffixes: tuple[str, ...]
) -> tuple[str, tuple[str, ...], Path | None]:
    """A spec's base under `key`: `what` (a preset or a file with one of `suffixes`, relative to
    `base_dir`), alone or as ``{base: ..., set: {ITEM: value}}``. Its name (a file's resolved
    path), its overrides as ``ITEM=VALUE`` texts, and the file when it is one."""
    if isinstance(value, str):
        value = {"base": value}
    if not isinstance(value, dict) or "base" not in value:
        raise SweepSpecError(f"{key}: give {what}, or {{base: ..., set: {{{item}: value}}}}")
    check_keys(value, BASE_KEYS, where=key)
    overrides = value.get("set") or {}
    if not isinstance(overrides, dict):
        raise SweepSpecError(f"{key}.set: expected a mapping {{{item}: value}}")
    base_set = tuple(f"{name}={override_text(setting)}" for name, setting in overrides.items())
    local = base_dir / str(value["base"])
    if local.suffix in suffixes and local.is_file():
        return str(local.resolve()), base_set, local
    return str(value["base"]), base_set, None


def base_scalars(base: Device) -> dict[str, Any]:
    """The base spec's fields an expression may read: numbers, text and enums (as their text);
    a nested spec's under dotted paths (``overlay.cores``)."""
    scalars = {}
    for f in fields(base):
        value = getattr(base, f.name)
        if isinstance(value, enum.Enum):
            scalars[f.name] = value.value
        elif isinstance(value, int | float | str):
            scalars[f.name] = value
        elif is_dataclass(value):
            scalars.update({f"{f.name}.{name}": inner for name, inner in base_scalars(value).items()})
    return scalars


def override_text(value: Any) -> str:
    """A value as the text of a ``field=value`` override: JSON, which YAML reads back as it was
    (infinity as YAML's ``.inf``)."""
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    if isinstance(value, enum.Enum):
        return json.dumps(value.value)
    return json.dumps(value)


def parse_axes(
    value: Any, owners: dict[str, tuple[type, str]], *, unknown: str, listing: str
) -> tuple[Axis, ...]:
    """The axes of a spec, each over a name of `owners`, which says the spec class and field that
    convert its values; an unknown name is an error calling it an `unknown` with the closest name,
    or else all of them after `listing`."""
    if not isinstance(value, dict) or not value:
        raise SweepSpecError("axes: give a mapping {field: [values] | {range|logrange|doubling: [...]}}")
    axes = []
    for name, spec in value.items():
        if name not in owners:
            raise SweepSpecError(
                f"axes: unknown {unknown} {name!r}{_hint(str(name), tuple(owners), listing)}"
            )
        owner, field = owners[name]
        axes.append(parse_axis(field, spec, owner, name=str(name)))
    return tuple(axes)


def _parse_derived(
    value: Any, field_names: tuple[str, ...], scalars: tuple[str, ...], swept: set[str]
) -> tuple[tuple[str, Expression], ...]:
    if not isinstance(value, dict):
        raise SweepSpecError("derived: expected a mapping {field: expression}")
    derived = []
    for name, text in value.items():
        where = f"derived.{name}"
        if name not in field_names:
            close = difflib.get_close_matches(str(name), field_names, n=1)
            raise SweepSpecError(
                f"derived: unknown field {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")
            )
        if name in swept:
            raise SweepSpecError(f"{where}: {name!r} is also an axis; a field is either swept or derived")
        derived.append((str(name), parse_expression(str(text), fields=scalars, where=where)))
    return tuple(derived)


def _parse_sampling(value: Any) -> tuple[Sampling, int, int]:
    if isinstance(value, str):
        value = {"method": value}
    if not isinstance(value, dict):
        raise SweepSpecError("sampling: give 'grid' or {method: random, samples: N, seed: S}")
    check_keys(value, SAMPLING_KEYS, where="sampling")
    method = parse_enum(Sampling, value.get("method", "grid"), "sampling.method")
    samples, seed = value.get("samples", 0), value.get("seed", 0)
    for key, number in (("samples", samples), ("seed", seed)):
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise SweepSpecError(f"sampling.{key} = {number!r}: must be an integer >= 0")
    if method is Sampling.RANDOM and samples < 1:
        raise SweepSpecError("sampling: random sampling needs 'samples' (how many configs to draw)")
    if method is Sampling.GRID and samples:
        raise SweepSpecError("sampling: 'samples' is for method random; a grid runs every config")
    return method, samples, seed


def metric_columns(fidelity: Fidelity) -> tuple[str, ...]:
    """The metric columns of a result row at `fidelity` (what an objective may name)."""
    engine = ROOFLINE_METRICS if fidelity is Fidelity.ROOFLINE else (*SUM_COLUMNS, *CYCLE_TOTALS)
    return (*engine, *DERIVED_METRICS)


def parse_objectives(value: Any, known: tuple[str, ...], *, at: str = "") -> tuple[Objective, ...]:
    """Objectives ``{column: min|max}`` over the `known` metric columns (`at`: where they are
    known, for the message)."""
    if not isinstance(value, dict) or not value:
        raise SweepSpecError("objectives: expected a mapping {column: min|max}, e.g. {latency_s: min}")
    objectives = []
    for column, goal in value.items():
        if column not in known:
            raise SweepSpecError(
                f"objectives: unknown column {column!r}{at}{_hint(str(column), known, 'valid')}"
            )
        objectives.append(Objective(column=str(column), goal=parse_enum(Goal, goal, f"objectives.{column}")))
    return tuple(objectives)


def parse_constraints(value: Any, scalars: tuple[str, ...]) -> tuple[Expression, ...]:
    """Constraint expressions (one, or a list) over the `scalars` fields."""
    return tuple(
        parse_expression(str(text), fields=scalars, where=f"constraints[{i}]")
        for i, text in enumerate(_as_list(value or [], "constraints"))
    )


def parse_chunk_configs(value: Any) -> int:
    """Configs per part file: a positive integer, or 0 (the runner's choice)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SweepSpecError(f"chunk_configs = {value!r}: must be a positive integer (or 0: automatic)")
    return value


def parse_enum(cls: type[enum.Enum], value: Any, where: str) -> Any:
    """The member of `cls` named by `value` (any case); an error with the closest name and all of
    them otherwise."""
    try:
        return cls(str(value).strip().lower())
    except ValueError:
        valid = [member.value for member in cls]
        close = difflib.get_close_matches(str(value), valid, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise SweepSpecError(f"{where} = {value!r}: {hint}valid: {', '.join(valid)}") from None


def _hint(name: str, valid: tuple[str, ...], listing: str) -> str:
    close = difflib.get_close_matches(name, valid, n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; {listing}: {', '.join(valid)}"


def _as_list(value: Any, where: str) -> list:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise SweepSpecError(f"{where}: expected a list of expressions")
    return value
