"""The validated accuracy `codesign simulate` quotes beside a GPU result (`sim.measured.accuracy`):
the shipped table is the one the validation rows give now, and the note says what the table says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from reference_kernels.published_validation import validation_steps
from sim.measured.accuracy import ACCURACY_CSV, COLUMNS, accuracy_note, accuracy_records, load_accuracy
from sim.measured.published_validation import kernel_results, step_results, validation_results

KERNEL_FAMILIES = ("GEMM", "FP8 GEMM", "weight-only GEMM", "attention prefill", "attention decode")


def _cells(table: pd.DataFrame, families) -> pd.DataFrame:
    part = table[table["family"].isin(families)][list(COLUMNS)]
    return part.sort_values(["family", "preset"]).reset_index(drop=True)


def test_the_shipped_kernel_cells_are_what_the_validation_rows_give_now():
    # a change to the model that moves a kernel cell fails here until `bench_gpu_published.py
    # --write-accuracy` is rerun (and README / RESULTS.md quote the new figures)
    now = accuracy_records(kernel_results())
    pd.testing.assert_frame_equal(
        _cells(now, KERNEL_FAMILIES), _cells(load_accuracy(), KERNEL_FAMILIES), check_dtype=False
    )


def test_a_shipped_whole_model_cell_is_what_its_rows_give_now():
    # one whole-model cell recomputed in the default run (TensorRT-LLM's 14 first tokens on the
    # L40S, a few seconds); the whole table in the slow run below
    steps = validation_steps()
    rows = steps[(steps["preset"] == "l40s") & (steps["family"] == "model_prefill")]
    now = accuracy_records(step_results(rows))
    shipped = _cells(load_accuracy(), ["whole-model prefill"])
    pd.testing.assert_frame_equal(
        _cells(now, ["whole-model prefill"]),
        shipped[shipped["preset"] == "l40s"].reset_index(drop=True),
        check_dtype=False,
    )


@pytest.mark.slow
def test_the_whole_shipped_table_is_what_the_validation_rows_give_now():
    now = accuracy_records(validation_results())
    families = now["family"].unique()
    pd.testing.assert_frame_equal(_cells(now, families), _cells(load_accuracy(), families), check_dtype=False)


def test_every_cell_counts_its_rows_and_sources():
    table = load_accuracy()
    assert list(table.columns) == list(COLUMNS)
    assert (table["n"] >= table["sources"]).all() and (table["sources"] >= 1).all()
    assert (table["p90_abs_error_pct"] >= table["median_abs_error_pct"]).all()
    assert not table.duplicated(["family", "preset"]).any()


def test_the_note_quotes_the_cell_and_says_which_way_the_model_errs(tmp_path):
    path = tmp_path / "accuracy.csv"
    pd.DataFrame(
        [
            {
                "family": "GEMM",
                "preset": "gpu_a",
                "n": 12,
                "sources": 3,
                "median_abs_error_pct": 7.5,
                "p90_abs_error_pct": 20.0,
                "median_error_pct": -6.0,
                "kernels": "marlin;torch_matmul",
            },
            {
                "family": "GEMM",
                "preset": "gpu_b",
                "n": 1,
                "sources": 1,
                "median_abs_error_pct": 12.5,
                "p90_abs_error_pct": 12.5,
                "median_error_pct": 12.5,
                "kernels": "deepgemm_bf16",
            },
        ]
    ).to_csv(path, index=False)
    note = accuracy_note("GEMM", "gpu_a", path=path)
    assert "median |error| 7.5%, p90 20.0%, 12 rows from 3 sources (within the 10% target)" in note
    assert "ran fast by a median 6.0%" in note
    note = accuracy_note("GEMM", "gpu_b", path=path)
    assert "1 row from 1 source (outside the 10% target)" in note and "ran slow by a median 12.5%" in note
    # a median of 10.04% prints as 10.0 and is still outside: the table carries the unrounded verdict
    table = pd.read_csv(path).assign(median_abs_error_pct=[7.5, 10.0], within_target=[True, False])
    table.to_csv(path, index=False)
    assert "(outside the 10% target)" in accuracy_note("GEMM", "gpu_b", path=path)
    assert "on gpu_a as shipped (this spec differs from it)" in accuracy_note(
        "GEMM", "gpu_a", modified=True, path=path
    )
    # a result of a kernel none of the cell's rows time says so
    assert "None of them" not in accuracy_note("GEMM", "gpu_a", kernel="torch_matmul", path=path)
    other = accuracy_note("GEMM", "gpu_b", kernel="torch_matmul", path=path)
    assert other.endswith("None of them times torch_matmul: the cell stands for deepgemm_bf16.")
    assert accuracy_note("FP8 GEMM", "gpu_a", path=path).startswith(
        "Not validated: no published timing of an FP8"
    )


def _simulate(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "simulate", *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_simulate_quotes_the_accuracy_of_its_result_on_a_gpu(tmp_path):
    table = load_accuracy()
    cell = table[(table["family"] == "whole-model decode") & (table["preset"] == "h100_sxm")].iloc[0]
    out = _simulate("--hw", "h100_sxm", "--model", "gpt2-small", "--phase", "decode", "--context", "64")
    assert "Validated accuracy of a whole-model decode on h100_sxm" in out
    assert f"median |error| {cell['median_abs_error_pct']:.1f}%" in out
    # GEMMs of one float dtype are a GEMM family; an FP8 one its own
    out = _simulate("--hw", "h100_sxm", "--gemm", "256,256,256", "--dtype", "fp8")
    assert "Validated accuracy of an FP8 GEMM on h100_sxm" in out
    # its rows time DeepGEMM's, Triton's and CUTLASS's kernels, not cuBLAS's: the note says so
    assert "None of them times torch_matmul" in out
    # a spec file that keeps a preset's name but changes it is quoted as the preset as shipped
    changed = tmp_path / "h100_half.yaml"
    shipped = Path(__file__).parents[1] / "hwmodels/presets/h100_sxm.yaml"
    changed.write_text(shipped.read_text().replace("sm_count: 132", "sm_count: 66"))
    out = _simulate("--hw", str(changed), "--gemm", "512,512,512")
    assert "h100_sxm as shipped (this spec differs from it)" in out
    # an encoder's or a vision model's step is not an LLM's: no family covers it
    assert "accuracy" not in _simulate("--hw", "h100_sxm", "--model", "bert-base", "--seq", "64").lower()
    # a GPU preset with no validation rows says so; a non-GPU device says nothing
    assert "Not validated" in _simulate("--hw", "rtx_4090", "--gemm", "64,64,64")
    assert "accuracy" not in _simulate("--hw", "systolic_128x128", "--gemm", "64,64,64").lower()


def test_the_table_ships_with_the_package():
    assert ACCURACY_CSV.is_file() and ACCURACY_CSV.suffix == ".csv"
