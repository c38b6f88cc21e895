"""What the GPU model's numbers are worth, as `codesign simulate` says beside a result: its accuracy
on published timings that no fit has seen, per accuracy family and GPU preset.

`validated_accuracy.csv` holds `sim.measured.published_validation.accuracy_table` on the
validation rows (the table README.md and benchmarks/RESULTS.md quote), with each cell's number of
sources. ``python benchmarks/bench_gpu_published.py --write-accuracy`` writes it; a test recomputes
it, so a change to the model that moves a cell fails until the file (and the quotes) are redone.
Reading it needs no simulation: a result is annotated in microseconds.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import pandas as pd

from workloads.dtypes import DType
from workloads.op import OpGraph, OpKind, Phase, Role

#: The target of issue 16: median absolute error per family and GPU, validation rows only.
TARGET_PCT = 10.0

#: The shipped table (package data).
ACCURACY_CSV = Path(__file__).with_name("validated_accuracy.csv")
#: Its columns: the accuracy table's, with the sources each cell's rows come from and the kernels
#: (stacks, for whole models) they time, ``;``-joined, and whether the median |error| is within
#: `TARGET_PCT` before it is rounded to the 0.1% printed (a cell at 10.04% prints 10.0 and is not).
COLUMNS = (
    "family", "preset", "n", "sources", "median_abs_error_pct", "p90_abs_error_pct", "median_error_pct",
    "kernels", "within_target",
)  # fmt: skip
#: The kernel a GEMM runs as where none is named: the library's (cuBLAS behind torch.matmul).
LIBRARY_GEMM = "torch_matmul"
#: Where the rows and their sources are described, for a reader of the note.
WHERE = "benchmarks/RESULTS.md"


def accuracy_records(results: pd.DataFrame) -> pd.DataFrame:
    """`COLUMNS` of every cell of the validation accuracy table over `results` (the simulated rows of
    `sim.measured.published_validation.validation_results`), rounded as printed (0.1%)."""
    from sim.measured.published_validation import accuracy_table, by_source_table, kernels_table

    table = accuracy_table(results)
    sources = by_source_table(results).groupby(["family", "preset"]).size().rename("sources").reset_index()
    table = table.merge(sources, on=["family", "preset"], how="left")
    table = table.merge(kernels_table(results), on=["family", "preset"], how="left")
    errors = ["median_abs_error_pct", "p90_abs_error_pct", "median_error_pct"]
    return table.assign(**{column: table[column].round(1) for column in errors})[list(COLUMNS)]


def _within(row: pd.Series) -> bool:
    """Whether a cell's median |error| is within `TARGET_PCT`: its `within_target` (the unrounded
    median's), or, in a table written before that column, the rounded median's."""
    flag = row.get("within_target")
    if flag is None or (isinstance(flag, float) and math.isnan(flag)):
        return float(row["median_abs_error_pct"]) <= TARGET_PCT
    return str(flag).strip().lower() == "true"


def write_accuracy(results: pd.DataFrame, path: Path = ACCURACY_CSV) -> pd.DataFrame:
    """Write `accuracy_records` of `results` to `path`; the records written."""
    records = accuracy_records(results)
    records.to_csv(path, index=False)
    load_accuracy.cache_clear()
    return records


@functools.cache
def load_accuracy(path: Path = ACCURACY_CSV) -> pd.DataFrame:
    """The shipped accuracy table (`COLUMNS`)."""
    return pd.read_csv(path)


#: What the weight-only cells' rows do not hold where no kernel is named: the model's own tiling.
DEFAULT_WEIGHT_ONLY_GEMM = "the model's default weight-only GEMM"


def workload_family(workload: OpGraph) -> str | None:
    """The accuracy family a simulated workload's total falls in: a causal language model's whole
    prefill or decode step (the validation rows' models), GEMMs of one float dtype (`--gemm`: FP8
    GEMM or GEMM), or GEMMs of int4 or int8 weights on fp16 or bf16 activations (weight-only GEMM);
    None for anything else (an encoder or vision model, a topology, an op graph, GEMMs of mixed
    dtypes), which no family covers."""
    if workload.phase is not None:
        if not _causal_lm(workload):
            return None
        return "whole-model decode" if workload.phase is Phase.DECODE else "whole-model prefill"
    gemms = [op for op in workload.ops if op.kind is OpKind.GEMM]
    if not gemms or len(gemms) != len(workload.ops):
        return None
    dtypes = {operand.dtype for op in gemms for operand in op.operands}
    if dtypes == {DType.FP8}:
        return "FP8 GEMM"
    if len(dtypes) == 1 and dtypes <= {DType.FP16, DType.BF16}:
        return "GEMM"
    if all(_weight_only(op) for op in gemms):
        return "weight-only GEMM"
    return None


def _weight_only(op) -> bool:
    """An int4 or int8 weight under one 16-bit float dtype of input and output (its scales aside)."""
    weight = op.operand(Role.WEIGHT).dtype
    floats = {op.operand(role).dtype for role in (Role.INPUT, Role.OUTPUT)}
    return weight in (DType.INT4, DType.INT8) and len(floats) == 1 and floats <= {DType.FP16, DType.BF16}


def _causal_lm(workload: OpGraph) -> bool:
    """Whether the workload is a causal language model's step: a zoo model of that task, or any
    model's decode step (a KV-cache step is one)."""
    from workloads.zoo import Task, get_model, list_models

    if workload.name in list_models():
        return get_model(workload.name).task is Task.CAUSAL_LM
    return workload.phase is Phase.DECODE


def accuracy_note(
    family: str, preset: str, *, modified: bool = False, kernel: str = "", path: Path = ACCURACY_CSV
) -> str:
    """One line on how far a `family` result on `preset` can be trusted: the validated median and
    p90 |error|, rows, sources and the direction of the median error, or that no published timing of
    that family on that GPU is held out. `modified`: the spec differs from the preset as shipped
    (``--set``, a file keeping its name), so the figures are the preset's. `kernel`: the kernel the
    result ran, said where none of the cell's rows time it (the cell then stands for other kernels)."""
    table = load_accuracy(path)
    cell = table[(table["family"] == family) & (table["preset"] == preset)]
    if cell.empty:
        return (
            f"Not validated: no published timing of {_a(family)} on {preset} is held out for validation "
            f"({WHERE})."
        )
    row = cell.iloc[0]
    signed = float(row["median_error_pct"])
    direction = "fast" if signed < 0 else "slow"
    within = "within" if _within(row) else "outside"
    sources = int(row["sources"]) if not math.isnan(row["sources"]) else 0
    on = f"{preset} as shipped (this spec differs from it)" if modified else preset
    timed = str(row.get("kernels", "") or "").split(";")
    other = (
        f" None of them times {kernel}: the cell stands for {', '.join(timed)}."
        if kernel not in ("", *timed)
        else ""
    )
    return (
        f"Validated accuracy of {_a(family)} on {on} (published timings no fit has seen, {WHERE}): "
        f"median |error| {row['median_abs_error_pct']:.1f}%, p90 {row['p90_abs_error_pct']:.1f}%, "
        f"{_count(int(row['n']), 'row')} from {_count(sources, 'source')} ({within} the "
        f"{TARGET_PCT:g}% target); the model ran {direction} by a median {abs(signed):.1f}%.{other}"
    )


#: Families said with "an" (the rest take "a").
AN = frozenset({"FP8 GEMM", "attention prefill", "attention decode"})


def _a(family: str) -> str:
    """`family` with its indefinite article ("an FP8 GEMM", "a GEMM")."""
    return f"{'an' if family in AN else 'a'} {family}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
