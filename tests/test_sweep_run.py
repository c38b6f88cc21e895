"""Running sweeps: determinism over engines and worker counts, failing configs, the output folder's
rules, resuming, and a sweep killed midway (SIGINT, SIGKILL) and resumed from the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from hwmodels import HardwareSpecError, apply_overrides, load_hardware
from sim.cli import main
from sim.sweep import sweep
from sim.sweep.build import SpecBuilder
from sim.sweep.expr import SweepSpecError
from sim.sweep.store import read_sweep

ROOT = Path(__file__).resolve().parents[1]

ROOFLINE = """
hardware: systolic_128x128
axes:
  rows: {doubling: [16, 256]}
  cols: {doubling: [16, 256]}
  dram_bytes_per_s: [1.0e11, 4.0e11, 1.6e12]
  dataflow: [os, ws]
workloads:
  - {gemm: [[1, 4096, 4096], [512, 4096, 4096]]}
  - {name: mlp, gemm: [[16, 11008, 4096]], dtype: int8}
chunk_configs: 16
"""
#: A cycle-fidelity sweep of 120 configs in 60 chunks: a few seconds on two workers (most of it
#: pandas work per config), so it can be killed midway.
CYCLE = """
hardware: scalesim_32x32
axes:
  rows: {range: [8, 64, 8]}
  cols: {range: [8, 40, 8]}
  dataflow: [os, ws, is]
  ifmap_sram_bytes: [65536]
workloads:
  - {gemm: [[128, 256, 128], [32, 512, 256]]}
fidelity: cycle
chunk_configs: 2
"""


#: CYCLE with 384 configs (192 parts): once the workers have compiled their engines a part takes
#: milliseconds, so a sweep of 60 parts could end before a busy 2-core machine's test process sees
#: its first part and signals it; 192 leave it about a second to
CYCLE_MANY = CYCLE.replace("rows: {range: [8, 64, 8]}", "rows: {range: [8, 128, 8]}").replace(
    "cols: {range: [8, 40, 8]}", "cols: {range: [8, 64, 8]}")


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_sweep_is_deterministic_and_the_worker_count_does_not_matter(tmp_path):
    spec = write(tmp_path, ROOFLINE)
    one = sweep(spec, tmp_path / "one", workers=1)
    two = sweep(spec, tmp_path / "two", workers=2)
    frame = read_sweep(one.path)
    pd.testing.assert_frame_equal(frame, read_sweep(two.path))
    # one row per (config, workload), every swept field a column, configs in order
    assert len(frame) == one.configs * 2 == 5 * 5 * 3 * 2 * 2
    assert list(frame.columns[:7]) == [
        "config_id",
        "rows",
        "cols",
        "dram_bytes_per_s",
        "dataflow",
        "workload",
        "phase",
    ]
    assert frame["config_id"].is_monotonic_increasing and frame["error"].isna().all()
    assert (frame.groupby("config_id").size() == 2).all()


def test_cycle_fidelity_rows_carry_summarize_totals_and_cost_columns(tmp_path):
    spec = write(
        tmp_path, CYCLE.replace("range: [8, 64, 8]", "range: [8, 16, 8]").replace("[8, 40, 8]", "[8, 8, 8]")
    )
    result = sweep(spec, tmp_path / "out", workers=1)
    frame = read_sweep(result.path)
    hw = apply_overrides(
        load_hardware("scalesim_32x32"), ["rows=16", "cols=8", "dataflow=ws", "ifmap_sram_bytes=65536"]
    )
    from sim.simulate import simulate, summarize
    from workloads.op import OpGraph, gemm_op

    ops = tuple(
        gemm_op(m, n, k, name=f"gemm{i}") for i, (m, n, k) in enumerate(((128, 256, 128), (32, 512, 256)))
    )
    expected = summarize(simulate(OpGraph(name="gemm", ops=ops), hw), hw)
    row = frame[(frame.rows == 16) & (frame.dataflow == "ws") & (frame.ifmap_sram_bytes == 65536)].iloc[0]
    for column in ("latency_s", "total_cycles", "dram_bytes", "utilization", "energy_j"):
        assert row[column] == pytest.approx(float(expected[column]))
    assert row["area_mm2"] > 0


def test_failing_configs_are_recorded_and_the_sweep_goes_on(tmp_path):
    # hbm 2e12 is under the H100's achievable 3.0e12: invalid hardware. A systolic array with
    # int8 PEs only cannot run a bf16 GEMM: valid hardware, a failing workload.
    gpu = write(
        tmp_path,
        "hardware: h100_sxm\naxes: {dram_bytes_per_s: [2.0e12, 4.0e12]}\n"
        "workloads: [{gemm: [[64, 64, 8]]}]\n",
    )
    frame = read_sweep(sweep(gpu, tmp_path / "gpu", workers=1).path)
    assert "must not exceed dram_bytes_per_s" in frame.loc[0, "error"] and pd.isna(frame.loc[0, "latency_s"])
    assert pd.isna(frame.loc[1, "error"]) and frame.loc[1, "latency_s"] > 0
    array = write(
        tmp_path,
        "hardware: scalesim_32x32\naxes: {macs_per_pe_per_cycle: [{int8: 1}, {int8: 1, bf16: 1}]}\n"
        "workloads: [{gemm: [[64, 64, 64]], dtype: bf16}]\n",
        "array.yaml",
    )
    frame = read_sweep(sweep(array, tmp_path / "array", workers=1).path)
    assert frame["macs_per_pe_per_cycle"].tolist() == ['{"int8": 1}', '{"bf16": 1, "int8": 1}']
    assert "dtype 'bf16' is not supported" in frame.loc[0, "error"] and pd.isna(frame.loc[1, "error"])


def test_an_axis_with_no_valid_config_is_an_error(tmp_path):
    spec = write(
        tmp_path,
        "hardware: h100_sxm\naxes: {dram_bytes_per_s: [1.0e12, 2.0e12]}\nworkloads: [{gemm: [[8, 8, 8]]}]\n",
    )
    with pytest.raises(
        SweepSpecError, match="none of the 2 configs is valid hardware, e.g. config 0: .*achievable"
    ):
        sweep(spec, tmp_path / "out", workers=1)


def test_the_output_folder_refuses_another_sweep_unless_forced(tmp_path):
    first, second = (
        write(tmp_path, ROOFLINE),
        write(tmp_path, ROOFLINE.replace("[16, 256]", "[16, 64]"), "b.yaml"),
    )
    out = tmp_path / "out"
    sweep(first, out, workers=1)
    with pytest.raises(SweepSpecError, match="holds a different sweep"):
        sweep(second, out, workers=1)
    with pytest.raises(SweepSpecError, match="holds a different sweep"):
        sweep(second, out, workers=1, resume=True)
    with pytest.raises(SweepSpecError, match=r"already holds this sweep \(10 of 10 chunks done\); --resume"):
        sweep(first, out, workers=1)
    replaced = sweep(second, out, workers=1, force=True)
    assert len(read_sweep(out)) == replaced.configs * 2 == 3 * 3 * 3 * 2 * 2
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(SweepSpecError, match="has files but no _sweep.json"):
        sweep(first, foreign, workers=1)


def test_resume_runs_only_the_missing_chunks(tmp_path):
    spec = write(tmp_path, ROOFLINE)
    out = tmp_path / "out"
    full = sweep(spec, out, workers=1)
    expected = read_sweep(out)
    for index in (0, 2):
        (out / f"part-{index:06d}.parquet").unlink()
    (out / ".part-000001.123.tmp").write_bytes(b"half a file")  # left by a killed run
    resumed = sweep(spec, out, workers=1, resume=True)
    assert (resumed.ran, resumed.reused) == (32, full.configs - 32)
    pd.testing.assert_frame_equal(read_sweep(out), expected)
    assert not list(out.glob(".part-*"))


def test_spec_builder_matches_apply_overrides():
    base = load_hardware("h100_sxm")
    builder = SpecBuilder(base)
    for overrides in (
        ["sm_count=100"],
        ["dram_bytes_per_s=4.0e12", "achievable_dram_bytes_per_s=3.9e12"],
        ["sm_count=7"],
    ):
        assert builder.build(overrides) == apply_overrides(base, overrides)
    for overrides in (["dram_bytes_per_s=1.0e12"], ["sm_count=0"], ["sm_count=x"]):
        with pytest.raises(HardwareSpecError) as expected:
            apply_overrides(base, overrides)
        with pytest.raises(HardwareSpecError) as built:
            builder.build(overrides)
        assert str(built.value) == str(expected.value)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_a_sweep_killed_midway_resumes_to_every_config_exactly_once(tmp_path, sig):
    spec, out = write(tmp_path, CYCLE_MANY), tmp_path / "out"
    configs = 16 * 8 * 3  # rows 8..128, cols 8..64 (steps of 8), three dataflows
    command = [
        sys.executable,
        "-m",
        "sim.cli",
        "sweep",
        str(spec),
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-progress",
    ]
    # the child gets SIGINT's default disposition: under a runner that started the tests in the
    # background (a non-interactive shell's `cmd &`), SIGINT is ignored and the child would inherit
    # that, finish the sweep and fail on "not stopped midway"
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not list(out.glob("part-*.parquet")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    written = len(list(out.glob("part-*.parquet")))
    assert 0 < written < configs // 2, "the sweep was not stopped midway"
    if sig is signal.SIGINT:
        assert process.returncode == 130 and "--resume" in stderr
    else:
        assert process.returncode == -signal.SIGKILL
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "2", "--resume", "--no-progress"]) == 0
    frame = read_sweep(out)
    assert sorted(frame["config_id"].unique()) == list(range(configs))
    assert not frame.duplicated(["config_id", "workload"]).any() and len(frame) == configs


def test_ray_gives_the_same_rows_as_the_local_engine(tmp_path):
    pytest.importorskip("ray", reason="ray is an optional extra: pip install 'codesign[ray]'")
    spec = write(tmp_path, ROOFLINE)
    local = read_sweep(sweep(spec, tmp_path / "local", workers=1).path)
    ray_frame = read_sweep(sweep(spec, tmp_path / "ray", engine="ray", workers=2).path)
    pd.testing.assert_frame_equal(local, ray_frame)


def test_the_cli_prints_a_summary_and_bad_specs_are_one_line(tmp_path, capsys):
    spec = write(tmp_path, ROOFLINE + "objectives: {latency_s: min, achieved_flops_per_s: max}\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "150 configs x 2 workloads" in out and "best latency_s (min) on gemm" in out
    assert "best achieved_flops_per_s (max) on mlp" in out
    bad = write(tmp_path, ROOFLINE.replace("dataflow:", "dataflwo:"), "bad.yaml")
    assert main(["sweep", str(bad), "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["codesign sweep: error: axes: unknown field 'dataflwo'; did you mean 'dataflow'?"]


def test_the_quick_example_runs(tmp_path, capsys):
    example = ROOT / "examples" / "sweep_quick.yaml"
    assert (
        main(["sweep", str(example), "--out", str(tmp_path / "quick"), "--workers", "1", "--no-progress"])
        == 0
    )
    assert capsys.readouterr().err.splitlines()[0] == "codesign sweep: tracing 1 workload (gpt2_decode)..."
    frame = read_sweep(tmp_path / "quick")
    assert set(frame["workload"]) == {"gpt2_decode", "llama_mlp"} and frame["error"].isna().all()
    decode = frame[frame["workload"] == "gpt2_decode"]
    assert (decode["tokens_per_s"] > 0).all()
    assert os.path.exists(tmp_path / "quick" / "_sweep.json")
