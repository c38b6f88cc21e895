"""`measure` and `codesign measure` on the CPU: real timings of a tiny grid, the CSV contract,
resume, interrupt safety, failures kept apart, the command line's one-line errors, and the size of
the GPU grid (counted, not run)."""

from __future__ import annotations

import csv
from datetime import datetime

import pytest
import torch

import reference_kernels.measure as measure_module
from reference_kernels.cases import AttentionCase, CopyCase, GemmCase
from reference_kernels.grids import GRIDS, MAX_KV_CACHE_BYTES, full_grid, small_grid
from reference_kernels.measure import COLUMNS, measure
from reference_kernels.registry import KERNELS, KernelSpec
from reference_kernels.timing import TimingBudget
from workloads.errors import CodesignError


def main(argv: list[str]) -> int:
    """`codesign` on `argv`. sim.cli loads every subcommand, and `plot`/`compare` import plotly,
    which the GPU image lacks: there the command-line tests skip and the rest still run."""
    pytest.importorskip("plotly")
    from sim.cli import main as cli_main

    return cli_main(argv)


#: A budget that keeps each row to a few milliseconds; five runs make p10/p90 meaningful.
QUICK = TimingBudget(warmup_runs=1, min_runs=5, max_runs=20, target_s=0.005)
TINY_CASES = [
    GemmCase("gemm", 32, 48, 64, "fp32", "fp32", "fp32"),
    AttentionCase("attention_decode", 1, 4, 2, 1, 128, 32, False, "fp32"),
    CopyCase(4096),
]


@pytest.fixture
def tiny_grid(monkeypatch):
    """A three-row grid named ``tiny`` (GEMM, decode attention, copy)."""
    monkeypatch.setitem(GRIDS, "tiny", lambda: list(TINY_CASES))
    return "tiny"


def read_rows(path):
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


def run_tiny(path, **kwargs):
    return measure(None, "cpu", "tiny", path, budget=QUICK, progress=False, **kwargs)


def test_tiny_grid_writes_the_documented_columns(tiny_grid, tmp_path):
    out = tmp_path / "m.csv"
    result = run_tiny(out)
    header, rows = read_rows(out)
    assert tuple(header) == COLUMNS
    assert (result.written, result.failed, result.stopped_early) == (3, (), False)
    assert [row["kernel"] for row in rows] == ["torch_matmul", "torch_sdpa", "torch_copy"]
    for row in rows:
        assert float(row["p10_s"]) <= float(row["latency_s"]) <= float(row["p90_s"])
        assert int(row["runs"]) >= QUICK.min_runs
        assert row["device"] == "cpu" and row["device_name"] and row["torch_version"] == torch.__version__
        datetime.fromisoformat(row["timestamp"])
    gemm, decode, copy = rows
    assert int(gemm["flops"]) == 2 * 32 * 48 * 64  # 2·M·N·K
    assert int(decode["flops"]) == 4 * 1 * 4 * 1 * 128 * 32  # 4·B·H·Sq·Skv·D
    assert (copy["flops"], copy["bytes"], copy["M"]) == ("0", "4096", "")


def test_causal_flops_count_the_kept_pairs():
    # Sq = Skv = 4, top-left causal: 1 + 2 + 3 + 4 = 10 pairs of 16.
    case = AttentionCase("attention_prefill", 2, 3, 3, 4, 4, 16, True, "fp16")
    assert case.flops == 4 * 2 * 3 * 10 * 16


def test_resume_adds_only_missing_rows(tiny_grid, tmp_path):
    out = tmp_path / "m.csv"
    run_tiny(out)
    again = run_tiny(out, resume=True)
    assert (again.written, again.already_present) == (0, 3)
    assert len(read_rows(out)[1]) == 3


def test_repeat_times_the_grid_pass_after_pass_and_resumes_by_count(tiny_grid, tmp_path):
    # --repeat 2: the three rows, then the three again (each row's runs spread over the whole
    # measurement); resuming to 3 passes adds one more pass: three runs of each row
    out = tmp_path / "m.csv"
    assert run_tiny(out, repeat=2).written == 6
    kernels = [row["kernel"] for row in read_rows(out)[1]]
    assert kernels == ["torch_matmul", "torch_sdpa", "torch_copy"] * 2
    again = run_tiny(out, resume=True, repeat=3)
    assert (again.written, again.already_present) == (3, 6)
    assert sorted(row["kernel"] for row in read_rows(out)[1]) == sorted(kernels[:3] * 3)
    with pytest.raises(CodesignError, match="--repeat must be a positive integer, got 0"):
        run_tiny(tmp_path / "other.csv", repeat=0)


def test_existing_file_needs_resume(tiny_grid, tmp_path):
    out = tmp_path / "m.csv"
    run_tiny(out)
    with pytest.raises(CodesignError, match="--resume"):
        run_tiny(out)


def test_interrupted_run_keeps_finished_rows_and_resumes(tiny_grid, tmp_path, monkeypatch):
    out = tmp_path / "m.csv"
    calls = []
    real_time_kernel = measure_module.time_kernel

    def interrupt_second(fn, timer, budget):
        calls.append(fn)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_time_kernel(fn, timer, budget)

    monkeypatch.setattr(measure_module, "time_kernel", interrupt_second)
    with pytest.raises(KeyboardInterrupt):
        run_tiny(out)
    assert [row["kernel"] for row in read_rows(out)[1]] == ["torch_matmul"]  # flushed before the stop
    monkeypatch.setattr(measure_module, "time_kernel", real_time_kernel)
    resumed = run_tiny(out, resume=True)
    assert (resumed.written, resumed.already_present) == (2, 1)
    assert len(read_rows(out)[1]) == 3


def test_a_failing_kernel_is_reported_not_raised(tiny_grid, tmp_path, monkeypatch):
    def broken(case, device):
        raise RuntimeError("out of memory\nlong traceback text")

    monkeypatch.setitem(KERNELS, "broken_copy", KernelSpec("broken_copy", ("copy",), ("cpu",), broken))
    result = measure(
        ["broken_copy", "torch_copy"], "cpu", "tiny", tmp_path / "m.csv", budget=QUICK, progress=False
    )
    assert result.written == 1
    assert result.failed == ("broken_copy copy bytes=4096: out of memory",)


def test_a_triton_compile_error_is_reported_by_its_cause_and_a_bug_is_raised(
    tiny_grid, tmp_path, monkeypatch
):
    # Triton's CompilationError derives from TritonError (not RuntimeError) and starts with the
    # source position; the row is listed with the message's last line and the grid goes on
    from triton.compiler.errors import CompilationError

    def uncompilable(case, device):
        raise CompilationError("def k():\n    x = LOG2E\n", None, "Cannot access global variable LOG2E")

    monkeypatch.setitem(KERNELS, "broken_copy", KernelSpec("broken_copy", ("copy",), ("cpu",), uncompilable))
    result = measure(
        ["broken_copy", "torch_copy"], "cpu", "tiny", tmp_path / "m.csv", budget=QUICK, progress=False
    )
    assert result.written == 1
    assert result.failed[0].startswith("broken_copy copy bytes=4096: ")
    assert "LOG2E" in result.failed[0] and ": at " not in result.failed[0]

    def buggy(case, device):  # an error in our own code is not a kernel's failure: it stops the run
        raise KeyError("typo")

    monkeypatch.setitem(KERNELS, "broken_copy", KernelSpec("broken_copy", ("copy",), ("cpu",), buggy))
    with pytest.raises(KeyError):
        measure(["broken_copy"], "cpu", "tiny", tmp_path / "n.csv", budget=QUICK, progress=False)


def test_max_seconds_stops_before_the_next_row(tiny_grid, tmp_path):
    result = run_tiny(tmp_path / "m.csv", max_seconds=0)
    assert result.stopped_early and result.written == 0


def test_cli_measures_and_reports(tiny_grid, tmp_path, capsys):
    out = tmp_path / "m.csv"
    assert (
        main(["measure", "--device", "cpu", "--grid", "tiny", "--kernels", "torch_copy", "--out", str(out)])
        == 0
    )
    assert capsys.readouterr().out.startswith(f"wrote 1 rows to {out}")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kernels", "nope"], "unknown kernel 'nope'; known kernels: triton_gemm, torch_matmul"),
        (["--kernels", "triton_gemm"], "does not run on --device cpu; kernels that do: torch_matmul"),
    ],
)
def test_cli_input_errors_are_one_line(argv, message, tmp_path, capsys):
    assert main(["measure", "--device", "cpu", "--out", str(tmp_path / "m.csv"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message when no GPU is visible")
def test_cli_cuda_without_gpu_suggests_cpu(tmp_path, capsys):
    assert main(["measure", "--device", "cuda", "--out", str(tmp_path / "m.csv")]) == 2
    assert "no CUDA GPU is visible to torch; use --device cpu" in capsys.readouterr().err


def test_full_grid_covers_the_gpu_data_set():
    cases = full_grid()
    gemms = [c for c in cases if isinstance(c, GemmCase)]
    attention = [c for c in cases if isinstance(c, AttentionCase)]
    assert len(gemms) >= 200 and len(attention) >= 60
    assert {c.family for c in gemms} == {
        "gemm", "gemm_fp8", "gemm_int8", "gemm_w4a16", "gemm_w8a16", "gemm_sparse24"
    }
    # every GEMM family has a kernel that times it on a GPU
    assert all(any(c.family in k.families and "cuda" in k.devices for k in KERNELS.values()) for c in gemms)
    assert {c.a_dtype for c in gemms if c.family == "gemm"} == {"fp16", "bf16"}
    assert {1, 16, 128, 2048, 8192} <= {c.m for c in gemms}
    assert {c.head_dim for c in attention} == {64, 128} and {c.kv_heads for c in attention} == {8, 32}
    assert min(c.seq_kv for c in attention) == 512 and max(c.seq_kv for c in attention) == 131072
    assert {c.family for c in attention} == {"attention_prefill", "attention_decode"}
    assert any(c.causal for c in attention) and max(c.batch for c in attention) >= 16
    assert all(c.kv_cache_bytes <= MAX_KV_CACHE_BYTES for c in attention)
    assert len(set(cases)) == len(cases)  # no case timed twice


def test_small_grid_runs_on_the_cpu_kernels():
    cpu_families = {family for spec in KERNELS.values() if "cpu" in spec.devices for family in spec.families}
    assert {case.family for case in small_grid()} == cpu_families


def test_launch_overhead_chain_on_the_cpu(tmp_path):
    # 64 one-element copies per timed run; on a CPU only the eager mode exists (CUDA graphs need a GPU)
    from reference_kernels.launch import CHAIN, launch_overheads, write_csv
    from reference_kernels.timing import TimingBudget

    rows = launch_overheads(torch.device("cpu"), TimingBudget(warmup_runs=1, min_runs=3, max_runs=3))
    assert [row["mode"] for row in rows] == ["eager"]
    row = rows[0]
    assert row["kernels_per_run"] == CHAIN == 64 and row["runs"] == 3
    assert 0 < row["p10_s"] <= row["per_kernel_s"] <= row["p90_s"] < 1e-3
    write_csv(rows, tmp_path / "launch.csv")
    assert (tmp_path / "launch.csv").read_text().startswith("mode,kernels_per_run,per_kernel_s,")
