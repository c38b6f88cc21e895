"""Which measurements may be fitted to and which are held out to validate: one registry, by source.

`reference_kernels/data/sources.csv` lists every source of every data set the GPU and CPU models
are checked against (the `source` cell of a published file's rows; ``run N`` for the N-th pass of
a measured file that holds several), with the publication or campaign it belongs to and its
`split`:

* ``calibration``: a fit may use its rows (`codesign calibrate`, ``bench_gpu_published.py
  --calibrate``), and a preset may cite it;
* ``validation``: no fit sees its rows and no preset cites it; accuracy is quoted on these alone.

The split is by source, not by row, so that one source's habits (its harness, its clocks, its
machine) cannot reach the validation rows through a fit on its other rows. Sources that share a
publication (two tables of one paper, two documents of one benchmark campaign) share a split:
`tests/test_sources.py` checks that, that every row of every registered file has an entry, and
that no preset cites a validation source.

Each source whose rows time single kernels also says how it timed them (`harness`): the `timing`
and `l2_flush` of the measured format (docs/measured_format.md), and `sm_clock_mhz` where the
source states that its GPU's SM clock was locked (blank: not locked, or not said), with the
evidence in `harness_note` (the benchmark script, the commit, or that the source states no method
and the format's defaults stand). Timing and flush are blank for sources with no kernel rows to
simulate (whole-model figures, bandwidths, the runs of a measured file, whose rows carry their own).
"""

from __future__ import annotations

import enum
from functools import cache
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from hwmodels.gpu import locked_clock_mhz

DATA = Path(__file__).parent / "data"
SOURCES = DATA / "sources.csv"


class Split(str, enum.Enum):
    """What a source's rows may be used for."""

    CALIBRATION = "calibration"
    VALIDATION = "validation"

    def __str__(self) -> str:
        return self.value


#: The values a source's `timing` and `l2_flush` may take: the keys of `TIMINGS` and `L2_FLUSHES`
#: in sim/measured/compare.py, which simulates a row as they say (kept here because
#: reference_kernels imports nothing of the simulator; tests/test_published.py holds them equal).
HARNESS_VALUES = {
    "timing": ("events", "back_to_back", "device", "graph"),
    "l2_flush": ("none", "writes"),
}


class Harness(NamedTuple):
    """How a source timed its kernels: the measured format's `timing`, `l2_flush` and
    `sm_clock_mhz` (blank: the clock was not locked)."""

    timing: str
    l2_flush: str
    sm_clock_mhz: str = ""


@cache
def source_registry() -> pd.DataFrame:
    """The registry: `file`, `source` (the cell the file's rows carry), `source_id`,
    `publication`, `split`, `note`, `timing`, `l2_flush`, `sm_clock_mhz`, `harness_note`; an error
    naming the source, the field and the valid values for a split, timing, flush or clock it does
    not know."""
    registry = pd.read_csv(SOURCES, dtype=str, keep_default_na=False)
    bad = set(registry["split"]) - {s.value for s in Split}
    if bad:
        raise ValueError(f"{SOURCES.name}: split {sorted(bad)}: valid: {[s.value for s in Split]}")
    for _, entry in registry.iterrows():
        for field, valid in HARNESS_VALUES.items():
            if entry[field] not in ("", *valid):
                raise ValueError(
                    f"{SOURCES.name}: source {entry['source_id']}: {field} = {entry[field]!r}: "
                    f"valid: {', '.join(valid)} (blank: the source has no kernel rows)"
                )
        if entry["sm_clock_mhz"] and locked_clock_mhz(entry["sm_clock_mhz"]) is None:
            raise ValueError(
                f"{SOURCES.name}: source {entry['source_id']}: sm_clock_mhz = {entry['sm_clock_mhz']!r}: "
                "the SM clock its GPU was locked at, in MHz (blank: not locked or not stated)"
            )
        if (entry["timing"] == "") != (entry["l2_flush"] == ""):
            raise ValueError(
                f"{SOURCES.name}: source {entry['source_id']}: timing = {entry['timing']!r}, "
                f"l2_flush = {entry['l2_flush']!r}: give both or neither"
            )
    harnesses = registry.groupby("source_id")[["timing", "l2_flush", "sm_clock_mhz"]].nunique()
    differ = harnesses[(harnesses > 1).any(axis=1)].index.tolist()
    if differ:
        raise ValueError(f"{SOURCES.name}: sources whose rows give different harnesses: {differ}")
    return registry


@cache
def harness(source_id: str) -> Harness:
    """How source `source_id` timed its kernels (the registry's `timing` and `l2_flush`; looked up
    once per source, not per row); an error naming the source when it has no entry or gives none."""
    registry = source_registry()
    entries = registry[registry["source_id"] == source_id]
    if entries.empty:
        raise ValueError(f"{SOURCES.name}: no source {source_id!r}")
    entry = entries.iloc[0]
    if not entry["timing"]:
        raise ValueError(
            f"{SOURCES.name}: source {source_id}: no timing or l2_flush: give how it timed its "
            f"kernels ({', '.join(HARNESS_VALUES['timing'])}; {', '.join(HARNESS_VALUES['l2_flush'])})"
        )
    return Harness(entry["timing"], entry["l2_flush"], entry["sm_clock_mhz"])


def with_split(rows: pd.DataFrame, file: str, *, source_column: str = "source") -> pd.DataFrame:
    """`rows` of data file `file` (its name in `data/`) with `source_id`, `publication` and
    `split` from the registry; an error naming any source the registry does not list."""
    registry = source_registry()
    entries = registry[registry["file"] == file].set_index("source")
    missing = sorted(set(rows[source_column]) - set(entries.index))
    if missing:
        raise ValueError(f"{file}: sources not in {SOURCES.name}: {missing}")
    looked_up = entries.loc[rows[source_column], ["source_id", "publication", "split"]]
    return rows.assign(**{column: looked_up[column].to_numpy() for column in looked_up.columns})


def calibration_only(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows a fit may use: those of calibration sources (`rows` has a `split` column)."""
    return rows[rows["split"] == Split.CALIBRATION.value].reset_index(drop=True)


def validation_only(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows accuracy is quoted on: those of validation sources."""
    return rows[rows["split"] == Split.VALIDATION.value].reset_index(drop=True)


#: Columns that name one kernel's work in a measured file (docs/measured_format.md): rows equal in
#: all of them are passes of the same measurement.
WORK_COLUMNS = (
    "family", "kernel", "M", "N", "K", "group_size", "batch", "heads", "kv_heads", "seq_q", "seq_kv",
    "head_dim", "head_dim_v", "causal", "bytes", "a_dtype", "b_dtype", "out_dtype",
)  # fmt: skip


def measured_runs(path: Path) -> pd.DataFrame:
    """A measured file of several passes of one grid (``codesign measure --repeat``, or runs
    concatenated), each row with its `run` (1, 2, ...), its source ``run N`` and that source's
    `split` from the registry: a CPU preset fitted on some runs is validated on the others."""
    rows = pd.read_csv(path)
    runs = run_numbers(rows, tuple(c for c in WORK_COLUMNS if c in rows))
    return with_split(rows.assign(run=runs, source=[f"run {n}" for n in runs]), path.name)


def run_numbers(measured: pd.DataFrame, key_columns: tuple[str, ...]) -> list[int]:
    """The pass (1, 2, ...) each row of a file holding several passes of one grid belongs to: the
    N-th row of a kernel and shape (equal `key_columns`) is from pass N (``codesign measure
    --repeat`` and concatenated runs write the grid pass after pass)."""
    seen: dict[tuple[object, ...], int] = {}
    runs = []
    for key in measured[list(key_columns)].astype(str).itertuples(index=False, name=None):
        seen[key] = seen.get(key, 0) + 1
        runs.append(seen[key])
    return runs
