"""Every bad input a new user tries gets one line on stderr and a non-zero exit (2 for an input, 130
for Ctrl-C), never a traceback; and the labels that read wrong (a total plotted as an op, a kernel
named after another, whole counts written as floats, a roofline that hides why ops are missing)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import EXIT_INPUT_ERROR, EXIT_INTERRUPTED, main

ROOT = Path(__file__).parent.parent
CPU_MEASURED = ROOT / "reference_kernels" / "data" / "cpu_ci_small.csv"
#: Bytes no text file holds: NUL, and 0xff/0xfe, which are not UTF-8.
BINARY = b"\x00\xff\xfe\x80\x81binary\x00" * 8


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(err: str, *parts: str) -> None:
    """stderr is one line holding every part, and no traceback."""
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for part in parts:
        assert part in err, err


@pytest.fixture
def measured_fp32(tmp_path) -> Path:
    """The CPU CI measurements this machine's model simulates every row of (fp32: no skip warnings)."""
    frame = pd.read_csv(CPU_MEASURED)
    path = tmp_path / "measured.csv"
    frame[frame["a_dtype"].fillna("fp32") == "fp32"].to_csv(path, index=False)
    return path


# -- a file that is not text --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("topology.csv", ["simulate", "--hw", "scalesim_32x32", "--topology", "{}"]),
        ("ops.csv", ["simulate", "--hw", "scalesim_32x32", "--ops", "{}"]),
        ("spec.yaml", ["simulate", "--hw", "{}", "--gemm", "1,2,3"]),
        ("scalesim.cfg", ["simulate", "--hw", "{}", "--gemm", "1,2,3"]),
        ("sweep.yaml", ["sweep", "{}", "--out", "{tmp}/sweep_out"]),
        ("table.csv", ["plot", "{}", "--x", "flops", "--y", "latency_s", "--out", "{tmp}/p.html"]),
        ("measured.csv", ["compare", "{}"]),
        ("measured.csv", ["calibrate", "{}"]),
        ("measured.csv", ["measure", "--device", "cpu", "--resume", "--out", "{}"]),
    ],
)
def test_a_binary_file_is_named_as_not_text(tmp_path, capsys, name, argv):
    blob = tmp_path / name
    blob.write_bytes(BINARY)
    code, out, err = run(capsys, *(a.format(blob, tmp=tmp_path) for a in argv))
    assert code == EXIT_INPUT_ERROR and out == ""
    assert_one_line(err, f"{blob}: not a text file")


def test_a_file_of_nul_bytes_is_not_text_either(tmp_path, capsys):
    # NUL bytes are valid UTF-8, but no topology (or any text) holds them
    blob = tmp_path / "zeros.csv"
    blob.write_bytes(b"\x00" * 64)
    code, _, err = run(capsys, "simulate", "--hw", "scalesim_32x32", "--topology", str(blob))
    assert code == EXIT_INPUT_ERROR
    assert_one_line(err, f"{blob}: not a text file (it holds NUL bytes)")


# -- an output path that cannot be written ------------------------------------------------------


def _bad_file_paths(tmp_path: Path, suffix: str) -> dict[str, tuple[Path, str]]:
    """Output paths no file can be written to, and the reason the error gives."""
    (tmp_path / f"folder{suffix}").mkdir()
    (tmp_path / "a_file").write_text("")
    return {
        "missing folder": (tmp_path / "missing" / f"out{suffix}", f"no folder {tmp_path / 'missing'}"),
        "a folder": (tmp_path / f"folder{suffix}", "it is a folder, not a file"),
        "under a file": (
            tmp_path / "a_file" / f"out{suffix}",
            f"{tmp_path / 'a_file'} is a file, not a folder",
        ),
        "/proc": (Path(f"/proc/codesign_test{suffix}"), "/proc takes no new files"),
    }


FILE_OUTPUTS = {
    "trace --out": (".csv", ["trace", "gpt2-small", "--phase", "decode", "--context", "8", "--format", "csv",
                             "--out", "{}"]),
    "plot --out": (".html", ["plot", "--roofline", "--hw", "h100_sxm", "--gemm", "64,64,64", "--out", "{}"]),
    "compare --out": (".html", ["compare", "{measured}", "--hw", "cpu_ci", "--out", "{}"]),
    "compare --rows": (".csv", ["compare", "{measured}", "--hw", "cpu_ci", "--rows", "{}"]),
    "measure --out": (".csv", ["measure", "--device", "cpu", "--kernels", "torch_copy", "--out", "{}"]),
}


@pytest.mark.parametrize(
    ("command", "case"),
    [
        (command, case)
        for command in FILE_OUTPUTS
        for case in ("missing folder", "a folder", "under a file", "/proc")
        if (command, case) != ("measure --out", "missing folder")  # measure makes the folder
    ],
)
def test_an_output_file_that_cannot_be_written_is_one_line(tmp_path, capsys, measured_fp32, command, case):
    suffix, argv = FILE_OUTPUTS[command]
    path, reason = _bad_file_paths(tmp_path, suffix)[case]
    code, _, err = run(capsys, *(a.format(path, measured=measured_fp32) for a in argv))
    assert code == EXIT_INPUT_ERROR
    option = command.split()[1]
    assert_one_line(err, f"{option} {path}: cannot write: {reason}")


@pytest.mark.parametrize("case", ["a file", "under a file", "/proc"])
def test_a_sweep_folder_that_cannot_be_made_is_one_line(tmp_path, capsys, case):
    (tmp_path / "a_file").write_text("")
    path, reason = {
        "a file": (tmp_path / "a_file", "it is a file, not a folder"),
        "under a file": (tmp_path / "a_file" / "sweep", f"{tmp_path / 'a_file'} is a file, not a folder"),
        "/proc": (Path("/proc/codesign_test_sweep"), "/proc takes no new files"),
    }[case]
    code, _, err = run(capsys, "sweep", str(ROOT / "examples" / "sweep_quick.yaml"), "--out", str(path),
                       "--no-progress")
    assert code == EXIT_INPUT_ERROR
    assert_one_line(err, f"--out {path}: cannot write: {reason}")


# -- an empty CSV, a compare with nothing to compare, refused numbers ---------------------------


def test_an_empty_csv_to_plot_is_one_line(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = run(capsys, "plot", str(empty), "--x", "a", "--y", "b", "--out", str(tmp_path / "p.html"))
    assert code == EXIT_INPUT_ERROR
    assert_one_line(err, f"{empty}: the CSV file is empty")


def test_compare_with_no_row_the_simulator_models_is_an_error(tmp_path, capsys):
    # every row's latency is negative: each is skipped, and no table of nothing is printed
    frame = pd.read_csv(CPU_MEASURED).assign(latency_s=-1.0)
    path = tmp_path / "none.csv"
    frame.to_csv(path, index=False)
    code, out, err = run(capsys, "compare", str(path), "--hw", "cpu_ci")
    assert code == EXIT_INPUT_ERROR and out == ""
    assert_one_line(err, "nothing to compare: no row the simulator models", "latency_s = -1")


def test_sweep_with_no_workers_is_refused(tmp_path, capsys):
    code, _, err = run(capsys, "sweep", str(ROOT / "examples" / "sweep_quick.yaml"), "--out",
                       str(tmp_path / "out"), "--workers", "0")
    assert code == EXIT_INPUT_ERROR
    assert_one_line(err, "--workers 0: must be at least 1")


def test_measure_with_negative_seconds_is_refused(tmp_path, capsys):
    code, _, err = run(capsys, "measure", "--device", "cpu", "--max-seconds", "-1", "--out",
                       str(tmp_path / "m.csv"))
    assert code == EXIT_INPUT_ERROR
    assert_one_line(err, "--max-seconds -1: must be a number of seconds, 0 or more")
    assert not (tmp_path / "m.csv").exists()


@pytest.mark.parametrize(
    ("constraint", "message"),
    [
        ("rows / 0 > 1", "constraints[0]: 'rows / 0 > 1' divides by zero: '0' is 0 for every config"),
        ("rows // (cols - 32) > 1", "'cols - 32' is 0 in 2 of 4 configs"),
    ],
)
def test_a_constraint_that_divides_by_zero_names_the_expression(tmp_path, capsys, constraint, message):
    # numpy would give inf (rows / 0 > 1 holding for every config) or NaN; the spec is refused instead
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "hardware: scalesim_32x32\n"
        "axes: {rows: [32, 64], cols: [32, 64]}\n"
        f"constraints: ['{constraint}']\n"
        "workloads: [{name: g, gemm: [[16, 16, 16]]}]\n"
        "fidelity: roofline\n"
    )
    code, _, err = run(capsys, "sweep", str(spec), "--out", str(tmp_path / "out"))
    assert code == EXIT_INPUT_ERROR
    assert_one_line(err, message)


# -- Ctrl-C ---------------------------------------------------------------------------------------


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "--hw", "h100_sxm", "--model", "gpt2-small"],
        ["trace", "gpt2-small"],
    ],
)
def test_ctrl_c_while_tracing_is_exit_130_and_one_line(monkeypatch, capsys, argv):
    import workloads.model_graph

    monkeypatch.setattr(workloads.model_graph, "load_model_graph", _interrupt)
    code, _, err = run(capsys, *argv)
    assert code == EXIT_INTERRUPTED
    assert_one_line(err, f"codesign {argv[0]}: interrupted")


def test_ctrl_c_while_measuring_is_exit_130_and_says_how_to_finish(tmp_path, monkeypatch, capsys):
    import reference_kernels.measure as measure_module

    monkeypatch.setattr(measure_module, "time_kernel", _interrupt)
    out = tmp_path / "m.csv"
    code, _, err = run(capsys, "measure", "--device", "cpu", "--kernels", "torch_copy", "--out", str(out))
    assert code == EXIT_INTERRUPTED
    *bar, last = err.strip("\n").split("\n")  # the progress bar's line, then the one line
    assert all(line.startswith("\r") for line in bar), err
    kept = f"rows finished so far are kept in {out}; --resume finishes it"
    assert last == f"codesign measure: interrupted: {kept}"
    assert "Traceback" not in err


# -- labels that read wrong -----------------------------------------------------------------------


def test_plot_of_a_simulate_csv_leaves_the_total_row_out_and_says_so(tmp_path, capsys):
    table = tmp_path / "sim.csv"
    code, out, _ = run(capsys, "simulate", "--hw", "scalesim_32x32", "--gemm", "100,37,250", "--gemm",
                       "64,64,64", "--format", "csv")
    assert code == 0
    table.write_text(out)
    html = tmp_path / "p.html"
    code, _, err = run(capsys, "plot", str(table), "--x", "flops", "--y", "latency_s", "--out", str(html))
    assert code == 0
    assert f"codesign plot: note: 1 total row(s) of {table} left out" in err
    assert "2 points" in html.read_text()  # the two GEMMs, not their sum


def test_simulate_csv_writes_whole_counts_as_integers(capsys):
    # the total row has no M, N, K (NaN): the columns stay integers, the total's cells empty
    code, out, _ = run(capsys, "simulate", "--hw", "scalesim_32x32", "--gemm", "100,37,250", "--gemm",
                       "64,64,64", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    first, total = rows[0], rows[-1]
    assert (first["M"], first["N"], first["K"], first["count"]) == ("100", "37", "250", "1")
    for column in ("folds", "macs", "flops", "compute_cycles", "total_cycles", "sram_reads", "dram_bytes"):
        assert "." not in first[column] and "." not in total[column], column
    assert (total["layer"], total["M"]) == ("total", "")
    assert "." in first["latency_s"] and "." in first["utilization"]  # seconds and ratios stay floats


def test_a_named_kernel_is_named_in_the_mapping(capsys):
    argv = ["simulate", "--hw", "h100_sxm", "--model", "gpt2-small", "--seq", "64", "--format", "csv"]
    code, out, _ = run(capsys, *argv, "--attention-kernel", "flash_attention_3")
    assert code == 0
    rows = pd.read_csv(io.StringIO(out))
    attention = rows[rows["kind"] == "attention"]
    assert len(attention) and attention["mapping"].str.startswith("flash_attention_3 as fa2 ").all()
    gemms = rows[rows["kind"] == "gemm"]
    assert not gemms["mapping"].str.contains("flash_attention_3").any()
    code, out, _ = run(capsys, *argv)
    plain = pd.read_csv(io.StringIO(out))
    assert plain.loc[plain["kind"] == "attention", "mapping"].str.startswith("fa2 ").all()


def test_the_roofline_title_says_which_ops_are_not_drawn():
    from hwmodels import load_hardware
    from sim.present.views import roofline_figure
    from sim.simulate import simulate
    from workloads.model_graph import load_model_graph

    hardware = load_hardware("h100_sxm")
    results = simulate(load_model_graph("gpt2-small", phase="decode", context=8), hardware)
    drawn = int(((results["flops"] > 0) & (results["dram_bytes"] > 0) & ~results["unmodeled"]).sum())
    assert 0 < drawn < len(results)
    title = roofline_figure(results, hardware).layout.title.text
    assert f"{drawn} ops with FLOPs and DRAM bytes; {len(results) - drawn} without are not drawn" in title
