"""The FPGA kind on the command line: a simulation prints its run summary; bad input (N:M the chain
cannot take, weight bits the MMU cannot unpack, an overlay over the device's resources, a model
that does not fit the board's memory) is one line on stderr and exit status 2."""

from __future__ import annotations

import pytest

from sim.cli import main
from workloads.dtypes import DType
from workloads.graph_io import write_graph_csv
from workloads.op import OpGraph, Sparsity, SparsityKind, gemm_op


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_a_gemv_on_the_u280_prints_rows_and_the_run_summary(capsys):
    code = main(["simulate", "--hw", "u280_flightllm", "--gemm", "1,4096,4096"])
    out = capsys.readouterr().out
    assert code == 0
    assert "HBM bandwidth utilization" in out and "busiest unit mv" in out
    assert "overlay uses 6,240 of 9,024 DSPs" in out


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # 3 does not divide 16
        (["overlay.sparsity_n=3", "overlay.sparsity_m=16"], "3:16: N must divide M"),
        # the sparse mux picks 1 of M: M a power of two
        (["overlay.sparsity_n=2", "overlay.sparsity_m=12"], "2:12: M must be a power of two"),
        # the MMU unpacks 2-, 3- and 4-bit weights (8 and 16 native), not 5
        (["overlay.weight_bits=5"], "cannot unpack 5-bit weights"),
        # 5 cores x 2,080 DSPs = 10,400 > 9,024
        (["overlay.cores=5"], "overlay needs 10,400 DSP slices, xcu280 has 9,024"),
        # 3 cores x 11 channels = 33 > 32
        (["overlay.hbm_channels_per_core=11"], "overlay needs 33 memory channels, xcu280 has 32"),
    ],
)
def test_bad_overlays_are_one_line_and_exit_2(capsys, overrides, message):
    argv = ["simulate", "--hw", "u280_flightllm", "--gemm", "1,4096,4096"]
    for item in overrides:
        argv += ["--set", item]
    assert main(argv) == 2
    line = _error_line(capsys)
    assert line.startswith("codesign simulate: error: ") and message in line


def test_weights_the_mmu_cannot_unpack_are_one_line(tmp_path, capsys):
    # an int4 weight on an overlay whose MMU unpacks only 2- and 3-bit weights
    op = gemm_op(1, 256, 256, input_dtype=DType.INT8, weight_dtype=DType.INT4, output_dtype=DType.INT8)
    path = tmp_path / "ops.csv"
    write_graph_csv(OpGraph(name="g", ops=(op,)), path)
    argv = ["simulate", "--hw", "u280_flightllm", "--set", "overlay.unpack_bits=[2, 3]", "--ops", str(path)]
    code = main(argv)
    assert code == 2
    assert "4-bit weights: the overlay's MMU unpacks 2, 3-bit weights" in _error_line(capsys)


def test_nm_sparsity_in_the_workload_is_checked_against_the_chain(tmp_path, capsys):
    # a graph file may carry any N:M on a weight; the chain's sparse mux refuses M = 6
    sparse = Sparsity(kind=SparsityKind.N_OF_M, n=2, m=6)
    path = tmp_path / "ops.csv"
    write_graph_csv(OpGraph(name="g", ops=(gemm_op(1, 96, 96, weight_sparsity=sparse),)), path)
    assert main(["simulate", "--hw", "u280_flightllm", "--ops", str(path)]) == 2
    assert "2:6: M must be a power of two" in _error_line(capsys)


def test_a_model_that_does_not_fit_the_boards_memory_is_refused(capsys):
    # GPT-2 small in fp16 (about 0.25 GB) on a KV260 cut to 0.1 GB of DDR
    code = main(["simulate", "--hw", "kv260", "--set", "device.channel_capacity_bytes=1e8",
                 "--model", "gpt2-small", "--phase", "decode", "--context", "16"])
    assert code == 2
    line = _error_line(capsys)
    assert "more than kv260's 0.1 GB of board memory" in line and "--weights int4" in line
