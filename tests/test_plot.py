"""`codesign plot`: the Pareto function on hand-made points, axis labels and goals, HTML plots with
the expected traces, roofline and breakdown views, one-line errors, and a PNG when a browser exists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.present.plot import axis_label, browser_path, goal_for, pareto_mask, scatter_figure

NAN = float("nan")


def test_pareto_front_min_min():
    # (2,3) beats (3,4); (4,1) is best in y; (5,5) is beaten by all; the duplicate (2,3) stays
    x = np.array([1, 2, 3, 4, 2, 5, NAN])
    y = np.array([5, 3, 4, 1, 3, 5, 0])
    assert pareto_mask(x, y).tolist() == [True, True, False, True, True, False, False]


def test_pareto_front_min_x_max_y():
    # area (min) vs tokens/s (max): (1,10) and (2,30) and (4,40) are the front; (3,20) loses to (2,30)
    x = np.array([1, 2, 3, 4])
    y = np.array([10, 30, 20, 40])
    assert pareto_mask(x, y, "min", "max").tolist() == [True, True, False, True]
    # a point equal on x and worse on y is dominated
    assert pareto_mask(np.array([1, 1]), np.array([2, 3])).tolist() == [True, False]


def test_goals_and_labels_from_column_names():
    assert [goal_for(c) for c in ("latency_s", "tokens_per_s", "area_mm2", "tokens_per_usd")] == [
        "min", "max", "min", "max"]
    assert axis_label("latency_s") == "latency (s)"
    assert axis_label("area_mm2") == "area (mm²)"
    assert axis_label("tokens_per_s") == "tokens per s (tokens/s)"
    assert axis_label("dram_bytes_per_s") == "dram (bytes/s)"


@pytest.fixture
def table(tmp_path):
    frame = pd.DataFrame({
        "config_id": [0, 1, 2, 3, 4],
        "rows": [32, 64, 128, 32, 64],
        "cols": [32, 32, 32, 64, 64],
        "workload": ["w"] * 5,
        "area_mm2": [1.0, 2.0, 4.0, 2.0, 4.0],
        "latency_s": [4.0, 2.0, 1.5, 3.0, NAN],
        "error": [None, None, None, None, "too big"],
    })
    frame.to_csv(tmp_path / "sweep.csv", index=False)
    folder = tmp_path / "sweep"
    folder.mkdir()
    frame.iloc[:3].to_parquet(folder / "part-000000.parquet")
    frame.iloc[3:].to_parquet(folder / "part-000001.parquet")
    return tmp_path


def test_scatter_with_pareto_has_the_front_trace_and_hover_shows_swept_fields(table):
    frame = pd.read_csv(table / "sweep.csv")
    figure = scatter_figure(frame, "area_mm2", "latency_s", color="rows", pareto=True)
    front = [t for t in figure.data if t.name == "Pareto front"]
    assert len(front) == 1
    assert list(front[0].x) == [1.0, 2.0, 4.0] and list(front[0].y) == [4.0, 2.0, 1.5]
    points = [t for t in figure.data if t.name != "Pareto front"]
    assert sum(len(t.x) for t in points) == 4  # the errored row is left out
    assert "cols=" in points[0].hovertemplate and "config id=" in points[0].hovertemplate
    assert figure.layout.xaxis.title.text == "area (mm²)"


@pytest.mark.parametrize("source", ["sweep.csv", "sweep"])
def test_plot_command_writes_html(table, source, capsys):
    out = table / "plot.html"
    code = main(["plot", str(table / source), "--x", "area_mm2", "--y", "latency_s", "--color", "cols",
                 "--pareto", "--log", "--title", "T", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    text = out.read_text()
    assert "Pareto front" in text and "plotly" in text and '"type":"log"' in text


def test_facets_get_one_front_each(table):
    frame = pd.read_csv(table / "sweep.csv")
    figure = scatter_figure(frame, "area_mm2", "latency_s", facet="cols", pareto=True)
    assert len([t for t in figure.data if t.name == "Pareto front"]) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--x", "nope", "--y", "latency_s"], "unknown column 'nope'; columns: config_id, rows"),
        (["--x", "area_mm2", "--y", "latency_s", "--out-ext", ".jpg"], "unsupported extension '.jpg'"),
    ],
)
def test_cli_errors_are_one_line(table, args, message, capsys):
    out = table / ("p.jpg" if "--out-ext" in args else "p.html")
    args = [a for a in args if a not in ("--out-ext", ".jpg")]
    assert main(["plot", str(table / "sweep.csv"), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_empty_folder_and_missing_arguments(tmp_path, capsys):
    assert main(["plot", str(tmp_path), "--x", "a", "--y", "b", "--out", str(tmp_path / "p.html")]) == 2
    assert "no Parquet parts" in capsys.readouterr().err
    assert main(["plot", "--out", str(tmp_path / "p.html")]) == 2
    assert "give DIR_OR_CSV with --x COL --y COL" in capsys.readouterr().err


def test_roofline_and_breakdown_of_gemms(tmp_path, capsys):
    roof = tmp_path / "roof.html"
    assert main(["plot", "--roofline", "--hw", "scalesim_32x32", "--gemm", "64,64,64", "--gemm", "8,256,256",
                 "--out", str(roof)]) == 0, capsys.readouterr().err
    assert "roofline (datasheet)" in roof.read_text()
    bars = tmp_path / "bars.html"
    assert main(["plot", "--breakdown", "--hw", "scalesim_32x32", "--hw", "eyeriss_12x14",
                 "--gemm", "64,64,64", "--y", "energy_j", "--out", str(bars)]) == 0, capsys.readouterr().err
    assert "energy (mJ)" in bars.read_text()
    assert main(["plot", "--roofline", "--hw", "scalesim_32x32", "--out", str(roof)]) == 2
    assert "need a workload" in capsys.readouterr().err


@pytest.mark.skipif(browser_path() is None, reason="no Chrome/Chromium for kaleido: apt-get install chromium")
def test_png_export(table, capsys):
    pytest.importorskip("kaleido", reason="kaleido not installed (pip install kaleido)")
    out = table / "plot.png"
    assert main(["plot", str(table / "sweep"), "--x", "area_mm2", "--y", "latency_s", "--pareto", "--log",
                 "--out", str(out)]) == 0, capsys.readouterr().err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_without_a_browser_names_the_fix(table, monkeypatch, capsys):
    pytest.importorskip("kaleido", reason="kaleido not installed (pip install kaleido)")
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr("sim.present.plot.shutil.which", lambda name: None)
    out = table / "plot.png"
    args = ["plot", str(table / "sweep.csv"), "--x", "area_mm2", "--y", "latency_s", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "apt-get install chromium" in err and "or write .html" in err and err.count("\n") == 1
