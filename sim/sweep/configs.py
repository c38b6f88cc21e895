"""The configs of a sweep: the grid of its axes (or a seeded random sample of it), the derived
fields, and the constraints, as columns of numpy arrays with one element per config.

Config ids are positions in this table: grid order (the last axis varies fastest), which depends
on the spec alone, so a resumed sweep and every engine number the configs alike. Random sampling
draws `samples` distinct grid points with ``numpy.random.default_rng(seed)`` (the grid is never
listed, so it may be astronomically large), keeps them in grid order, then drops those that fail a
constraint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.sweep.expr import SweepSpecError
from sim.sweep.spec import Sampling, SweepSpec, base_scalars, override_text

#: Largest grid that is listed in full (a grid sweep runs every point; 20 million configs is days of
#: cycle simulation and hours of roofline): a larger one is refused with its size.
MAX_GRID_CONFIGS = 20_000_000


@dataclass(frozen=True)
class ConfigTable:
    """Configs as columns: `columns[field][i]` is field `field` of config ``i``. `grid_size` is the
    full grid's size; `excluded` how many drawn grid points the constraints left out."""

    fields: tuple[str, ...]
    columns: dict[str, np.ndarray]
    grid_size: int
    excluded: int

    def __len__(self) -> int:
        return len(self.columns[self.fields[0]]) if self.fields else 0

    def values(self, config_id: int) -> dict[str, Any]:
        """The swept and derived fields of one config, as Python scalars."""
        return {name: _python(self.columns[name][config_id]) for name in self.fields}

    def overrides(self, config_id: int) -> list[str]:
        """``field=value`` overrides that build config `config_id` from the base spec."""
        return [f"{name}={override_text(value)}" for name, value in self.values(config_id).items()]


def enumerate_configs(spec: SweepSpec) -> ConfigTable:
    """Every config of `spec` that satisfies its constraints (see the module docstring); an error
    when none does."""
    sizes = tuple(len(axis.values) for axis in spec.axes)
    grid_size = math.prod(sizes)
    if spec.sampling is Sampling.RANDOM:
        rng = np.random.default_rng(spec.seed)
        indices = np.sort(rng.choice(grid_size, size=min(spec.samples, grid_size), replace=False))
    elif grid_size > MAX_GRID_CONFIGS:
        raise SweepSpecError(
            f"axes: the grid has {grid_size:,} configs (over {MAX_GRID_CONFIGS:,}); narrow the axes or "
            "use sampling: {method: random, samples: N}"
        )
    else:
        indices = np.arange(grid_size)
    positions = np.unravel_index(indices, sizes) if sizes else ()
    columns = {
        axis.field: _column(axis.values, position)
        for axis, position in zip(spec.axes, positions, strict=True)
    }
    env = {**base_scalars(spec.base), **columns}
    for name, expression in spec.derived:
        columns[name] = env[name] = _derived_column(spec, name, expression.evaluate(env), len(indices))
    keep = np.ones(len(indices), dtype=bool)
    for expression in spec.constraints:
        passed = np.broadcast_to(np.asarray(expression.evaluate(env), dtype=bool), keep.shape)
        if not passed.any():
            raise SweepSpecError(
                f"constraints: {expression.text!r} holds for none of the {len(indices):,} configs; "
                "no config to run"
            )
        keep &= passed
    if not keep.any():
        texts = " and ".join(repr(expression.text) for expression in spec.constraints)
        raise SweepSpecError(
            f"constraints: no config of {len(indices):,} satisfies {texts}; no config to run"
        )
    kept = {name: column[keep] for name, column in columns.items()}
    return ConfigTable(
        fields=spec.swept_fields, columns=kept, grid_size=grid_size, excluded=int((~keep).sum())
    )


def _column(values: tuple[Any, ...], position: np.ndarray) -> np.ndarray:
    """An axis's value per config: int64 or float64 for numbers, object otherwise."""
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        table = np.array(values, dtype=np.int64)
    elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        table = np.array(values, dtype=np.float64)
    else:
        table = np.empty(len(values), dtype=object)
        table[:] = list(values)
    return table[position]


def _derived_column(spec: SweepSpec, name: str, value: Any, count: int) -> np.ndarray:
    column = np.broadcast_to(np.asarray(value), (count,)).copy()
    declared = type(getattr(spec.base, name))
    if declared is int and column.dtype.kind == "f":
        if not np.all(np.isfinite(column)) or not np.all(column == np.round(column)):
            raise SweepSpecError(
                f"derived.{name}: gives non-integer values for an integer field (use //), "
                f"e.g. {column[column != np.round(column)][:1].tolist()}"
            )
        column = column.astype(np.int64)
    return column


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
