"""A sweep's output folder is a Parquet dataset as it is: pandas and pyarrow open it without
codesign (the manifest is `_sweep.json`, which they skip, and every part has one schema), and
folders written with the older manifest name `sweep.json` are still read and resumed."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

from sim.sweep import sweep
from sim.sweep.store import LEGACY_MANIFEST, MANIFEST, read_sweep

#: Four configs, one chunk each; the first config runs and the second fails (int8 PEs only cannot
#: run a bf16 GEMM), so the first part's `error` column is empty and the second's is not.
SPEC = """
hardware: scalesim_32x32
axes:
  macs_per_pe_per_cycle: [{int8: 1, bf16: 1}, {int8: 1}]
  rows: [16, 32]
workloads: [{gemm: [[64, 64, 64]], dtype: bf16}]
chunk_configs: 1
"""


def run(tmp_path: Path, **kwargs) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    return sweep(spec, tmp_path / "out", workers=1, **kwargs).path


def by_config(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["config_id", "workload"], kind="stable", ignore_index=True)


def test_pandas_and_pyarrow_read_a_fresh_sweep_folder_as_it_is(tmp_path):
    out = run(tmp_path)
    assert (out / MANIFEST).is_file() and not (out / LEGACY_MANIFEST).exists()
    expected = read_sweep(out)
    assert expected["error"].isna().any() and expected["error"].notna().any()
    pd.testing.assert_frame_equal(by_config(pd.read_parquet(out))[expected.columns], by_config(expected))
    table = ds.dataset(out).to_table()
    assert table.num_rows == len(expected) == 4 and set(table.column_names) == set(expected.columns)


def test_an_old_folder_with_sweep_json_is_read_and_resumed(tmp_path):
    out = run(tmp_path)
    expected = by_config(read_sweep(out))
    os.replace(out / MANIFEST, out / LEGACY_MANIFEST)  # as codesign wrote it before the underscore
    (out / "part-000002.parquet").unlink()  # a chunk left to run
    assert len(read_sweep(out)) == 3
    resumed = run(tmp_path, resume=True)
    assert resumed == out and (out / MANIFEST).is_file() and not (out / LEGACY_MANIFEST).exists()
    pd.testing.assert_frame_equal(by_config(read_sweep(out)), expected)
    pd.testing.assert_frame_equal(by_config(pd.read_parquet(out))[expected.columns], expected)


def test_force_clears_an_old_folder_s_manifest(tmp_path):
    out = run(tmp_path)
    os.replace(out / MANIFEST, out / LEGACY_MANIFEST)
    (tmp_path / "spec.yaml").write_text(SPEC.replace("rows: [16, 32]", "rows: [8, 16]"))
    sweep(tmp_path / "spec.yaml", out, workers=1, force=True)
    assert sorted(path.name for path in out.iterdir() if not path.name.startswith("part-")) == [MANIFEST]
    assert sorted(read_sweep(out)["rows"].unique()) == [8, 16]


def test_a_sweep_says_it_is_tracing_before_its_progress_starts(tmp_path):
    spec = tmp_path / "model.yaml"
    spec.write_text(
        "hardware: scalesim_32x32\naxes: {rows: [16, 32]}\n"
        "workloads: [{model: gpt2-small, phase: decode, context: 16}, {gemm: [[8, 8, 8]]}]\n"
    )
    events: list[object] = []

    def progress(done: int, total: int) -> None:
        events.append((done, total))

    sweep(spec, tmp_path / "out", workers=1, announce=events.append, progress=progress)
    assert events[:2] == ["tracing 1 workload (gpt2-small:decode)...", (0, 2)]
    assert events[-1] == (2, 2)
