"""`codesign compare`: measured rows joined with simulations of the same work, errors per family,
rows the simulator cannot model listed, the HTML report, and bad input."""

from __future__ import annotations

import dataclasses
import io
import math
import os

import pandas as pd
import pytest

from hwmodels import load_hardware
from sim.cli import main
from sim.measured.compare import BOOST_HEADROOM, below_floor, compare, fastest_runs, roofline_floor_s
from sim.simulate import simulate, simulate_op_latency
from workloads.errors import CodesignError
from workloads.kernel_ops import causal_pairs, op_for_measurement
from workloads.op import Role

HEADER = (
    "family,kernel,M,N,K,a_dtype,b_dtype,out_dtype,group_size,batch,heads,kv_heads,seq_q,seq_kv,"
    "head_dim,causal,bytes,device,device_name,latency_s,p10_s,p90_s,runs,flops\n"
)
ROWS = [
    "gemm,torch_matmul,128,1024,1024,bf16,bf16,bf16,,,,,,,,,,cpu,TestCPU,0.0011,0.001,0.0012,20,0",
    "gemm,torch_matmul,1,4096,4096,bf16,bf16,bf16,,,,,,,,,,cpu,TestCPU,0.0005,0.0004,0.0006,20,0",
    "gemm_w4a16,triton_w4a16,1,4096,4096,fp16,int4,fp16,128,,,,,,,,,cpu,TestCPU,0.0002,0.0002,0.0003,20,0",
    "attention_decode,torch_sdpa,,,,bf16,bf16,,,1,32,8,1,4096,128,0,,cpu,TestCPU,0.0004,0.0003,0.0005,20,0",
    "attention_prefill,torch_sdpa,,,,bf16,bf16,,,1,8,8,512,512,64,1,,cpu,TestCPU,0.0004,0.0003,0.0005,20,0",
    "gemm_fp8,triton_gemm,256,256,256,fp8,fp8,fp16,,,,,,,,,,cpu,TestCPU,0.0001,0.0001,0.0001,20,0",
]


@pytest.fixture
def measured_csv(tmp_path):
    path = tmp_path / "measured.csv"
    path.write_text(HEADER + "\n".join(ROWS) + "\n")
    return path


def test_each_row_is_simulated_as_the_same_work(measured_csv):
    hw = load_hardware("systolic_128x128")
    measured = pd.read_csv(measured_csv)
    result = compare(measured, hw)
    first = result.rows.iloc[0]
    # the simulated latency is that of simulate() on the row's op, nothing else
    expected = simulate(op_for_measurement(measured.iloc[0]), hw)["latency_s"].sum()
    assert first["simulated_latency_s"] == pytest.approx(expected)
    # error = (simulated - measured) / measured
    assert first["error_pct"] == pytest.approx(100 * (expected - 0.0011) / 0.0011)


def test_summary_per_family_is_median_and_p90(measured_csv):
    result = compare(pd.read_csv(measured_csv), load_hardware("systolic_128x128"))
    gemm = result.summary.set_index(["family", "kernel"]).loc[("gemm", "torch_matmul")]
    errors = result.rows.loc[result.rows["family"] == "gemm", "abs_error_pct"]
    assert gemm["n"] == 2
    assert gemm["median_abs_error_pct"] == pytest.approx(errors.median())
    assert gemm["p90_abs_error_pct"] == pytest.approx(errors.quantile(0.9))


def test_unmodeled_rows_are_listed_and_the_rest_go_on(measured_csv):
    # the 128x128 bf16 array has no fp8 rate: that row is skipped with the reason
    result = compare(pd.read_csv(measured_csv), load_hardware("systolic_128x128"))
    assert list(result.skipped["family"]) == ["gemm_fp8"]
    assert "dtype 'fp8' is not supported" in result.skipped.iloc[0]["reason"]
    assert len(result.rows) == len(ROWS) - 1


def test_summary_states_the_measurements_own_spread(measured_csv):
    # spread = median over rows of (p90 - p10) / median: the two gemm rows are
    # (0.0012 - 0.0010) / 0.0011 = 18.2% and (0.0006 - 0.0004) / 0.0005 = 40%, median 29.1%
    result = compare(pd.read_csv(measured_csv), load_hardware("systolic_128x128"))
    gemm = result.summary.set_index(["family", "kernel"]).loc[("gemm", "torch_matmul")]
    assert gemm["spread_pct"] == pytest.approx((100 * 0.0002 / 0.0011 + 100 * 0.0002 / 0.0005) / 2)
    # a file without percentiles (published figures) has no spread to state
    no_spread = pd.read_csv(measured_csv).drop(columns=["p10_s", "p90_s"])
    assert compare(no_spread, load_hardware("systolic_128x128")).summary["spread_pct"].isna().all()


def test_fastest_runs_keeps_each_kernel_and_shapes_fastest_row(measured_csv, tmp_path, capsys):
    # two runs of the same file, the second 1.5x slower on every row but one GEMV 2x faster:
    # one row per (family, kernel, shape, dtypes) survives, the faster, in the file's order
    first = pd.read_csv(measured_csv)
    second = first.assign(latency_s=first["latency_s"] * 1.5)
    second.loc[1, "latency_s"] = first.loc[1, "latency_s"] / 2
    both = pd.concat([first, second], ignore_index=True)
    fastest = fastest_runs(both)
    assert len(fastest) == len(ROWS)
    assert list(fastest["latency_s"]) == [first.loc[0, "latency_s"], first.loc[1, "latency_s"] / 2,
                                          *first["latency_s"][2:]]
    # an fp16 run of the same shape is other work, not another run
    other_dtype = first.iloc[[0]].assign(a_dtype="fp16", b_dtype="fp16", out_dtype="fp16")
    assert len(fastest_runs(pd.concat([first, other_dtype], ignore_index=True))) == len(ROWS) + 1
    path = tmp_path / "two_runs.csv"
    both.to_csv(path, index=False)
    assert main(["compare", str(path), "--hw", "h100_sxm", "--fastest", "--format", "csv"]) == 0
    assert pd.read_csv(io.StringIO(capsys.readouterr().out))["n"].sum() == len(ROWS)


def test_kernel_ops_from_first_principles():
    w4 = op_for_measurement(
        {
            "family": "gemm_w4a16",
            "M": 1,
            "N": 4096,
            "K": 4096,
            "a_dtype": "fp16",
            "b_dtype": "int4",
            "group_size": 128,
        }
    )
    # int4 weights: 4096*4096/2 B; per group of 128 along K an fp16 scale and an int4 zero:
    # 32 groups x 4096 columns x (2 + 0.5) B
    assert w4.operand(Role.WEIGHT).bytes == 4096 * 4096 / 2
    metadata = sum(o.bytes for o in w4.operands if o.role is Role.METADATA)
    assert metadata == 32 * 4096 * 2.5
    prefill = op_for_measurement(
        {
            "family": "attention_prefill",
            "batch": 1,
            "heads": 8,
            "kv_heads": 8,
            "seq_q": 512,
            "seq_kv": 512,
            "head_dim": 64,
            "causal": 1,
        }
    )
    # causal: 512*513/2 kept pairs, 4 FLOPs per pair per head-dim element
    assert causal_pairs(512, 512) == 512 * 513 // 2
    assert prefill.flops == 4 * 8 * (512 * 513 // 2) * 64


def test_cli_prints_the_table_and_writes_the_report(measured_csv, tmp_path, capsys):
    report = tmp_path / "report.html"
    rows = tmp_path / "rows.csv"
    code = main(
        ["compare", str(measured_csv), "--hw", "systolic_128x128", "--out", str(report), "--rows", str(rows)]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert "attention_decode" in out and "median_abs_error_pct" in out
    assert "1 gemm_fp8/triton_gemm rows not simulated" in err
    text = report.read_text()
    assert "Measured vs simulated latency" in text and "y = x" in text and "plotly" in text
    assert len(pd.read_csv(rows)) == len(ROWS) - 1


def test_a_file_without_a_flops_column_gets_each_ops_own_count(tmp_path, capsys):
    # flops is not a required column (docs/measured_format.md): a hand-written file without it still
    # gets its report, the error plotted against the op's own FLOPs (2·M·N·K = 2·128·1024·1024)
    path = tmp_path / "no_flops.csv"
    pd.read_csv(io.StringIO(HEADER + "\n".join(ROWS) + "\n")).drop(columns="flops").to_csv(path, index=False)
    report = tmp_path / "report.html"
    rows = tmp_path / "rows.csv"
    code = main(["compare", str(path), "--hw", "h100_sxm", "--out", str(report), "--rows", str(rows)])
    assert code == 0 and "Traceback" not in capsys.readouterr().err
    assert "Error against the size of the work" in report.read_text()
    assert pd.read_csv(rows)["flops"].iloc[0] == 2 * 128 * 1024 * 1024


def test_csv_format(measured_csv, capsys):
    assert main(["compare", str(measured_csv), "--hw", "systolic_128x128", "--format", "csv"]) == 0
    summary = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert set(summary["family"]) == {"gemm", "gemm_w4a16", "attention_decode", "attention_prefill"}


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("family,kernel\ngemm,x\n", ["--hw", "systolic_128x128"], "missing columns device_name, latency_s"),
        (
            HEADER + ROWS[0].replace("cpu,TestCPU", "cuda,Mystery GPU 9000") + "\n",
            [],
            "device 'Mystery GPU 9000' matches no hardware preset; give --hw PRESET",
        ),
    ],
)
def test_bad_input_is_one_line(tmp_path, capsys, content, args, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code = main(["compare", str(path), *args])
    _, err = capsys.readouterr()
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("replace", "by", "reason"),
    [
        (",0.0011,", ",-1,", "latency_s = -1.0: must be a positive, finite number of seconds"),
        (",0.0011,", ",,", "latency_s = nan: must be a positive, finite number of seconds"),
        ("gemm,torch_matmul,128,", "gemm,torch_matmul,abc,", "M = 'abc': must be a positive whole number"),
        ("gemm,torch_matmul,128,", "gemm,torch_matmul,12.5,", "M = 12.5: must be a positive whole number"),
        ("bf16,bf16,bf16", "fp7,bf16,bf16", "a_dtype"),
    ],
)
def test_a_bad_row_is_listed_with_its_field_and_the_rest_go_on(tmp_path, capsys, replace, by, reason):
    path = tmp_path / "bad_row.csv"
    path.write_text(HEADER + "\n".join([ROWS[0].replace(replace, by, 1), *ROWS[1:3]]) + "\n")
    code = main(["compare", str(path), "--hw", "h100_sxm", "--format", "csv"])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err
    assert "1 gemm/torch_matmul rows not simulated: " in err and reason in err
    # the other two rows (a GEMV and a W4A16 GEMV) are still compared
    assert pd.read_csv(io.StringIO(out))["n"].sum() == 2


def test_a_bad_causal_flag_names_the_column():
    row = pd.read_csv(io.StringIO(HEADER + ROWS[4])).iloc[0].copy()
    row["causal"] = 3  # 0 none, 1 top-left, 2 bottom-right
    with pytest.raises(CodesignError, match=r"causal = 3: must be 0 \(no mask\), 1 .* or 2"):
        op_for_measurement(row)


def test_missing_file(capsys):
    assert main(["compare", "nope.csv", "--hw", "systolic_128x128"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_measure_then_compare_on_this_cpu(monkeypatch, tmp_path, capsys):
    """The CI path, for real: time a tiny grid on this CPU, then compare it with the model of this
    CPU (the `host` preset, detected), inferred from the file's device column."""
    from reference_kernels.cases import AttentionCase, CopyCase, GemmCase
    from reference_kernels.grids import GRIDS

    cases = [
        GemmCase("gemm", 64, 64, 64, "fp32", "fp32", "fp32"),
        AttentionCase("attention_prefill", 1, 2, 2, 64, 64, 32, True, "fp32"),
        CopyCase(1 << 24),  # 16 MiB: bandwidth-bound, its cold call a few % of it (1 MiB was not)
    ]
    monkeypatch.setitem(GRIDS, "ci", lambda: list(cases))
    measured, report = tmp_path / "cpu.csv", tmp_path / "cpu.html"
    assert main(["measure", "--device", "cpu", "--grid", "ci", "--out", str(measured)]) == 0
    capsys.readouterr()
    assert main(["compare", str(measured), "--out", str(report), "--format", "csv"]) == 0
    summary = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert set(summary["family"]) == {"gemm", "attention_prefill", "copy"}
    assert summary["median_abs_error_pct"].notna().all()
    assert report.stat().st_size > 0
    # and calibrate this CPU's model to what was just measured: a spec compare reads back
    calibrated = tmp_path / "host.yaml"
    assert main(["calibrate", str(measured), "--holdout", "0", "--out", str(calibrated)]) == 0
    assert "calibrating host to" in capsys.readouterr().out
    assert main(["compare", str(measured), "--hw", str(calibrated), "--format", "csv"]) == 0
    after = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert set(after["family"]) == set(summary["family"]) and after["median_abs_error_pct"].notna().all()
    # The error bounds, where the machine is not oversubscribed (on the shared 2-core VM under a
    # load of 3, ATen's two OpenMP threads made a 64^3 matmul take 15 ms instead of ~30 us, 2026-12-06):
    # calibrated on these rows, the copy (its bandwidth fitted) within 25% and every family within a
    # factor of 3 either way: the tiny GEMM and attention share one fitted overhead, and their own
    # per-call costs differ by up to about 2x from run to run (unloaded runs: 2026-12-06 attention 0%,
    # GEMM +62%, copy +6%; 2026-12-07 attention +112%, GEMM 0%, copy 0%, where the factor of 2 this
    # test asserted until then failed). The copy is 16 MiB so that its time is its
    # bandwidth's: a 1 MiB copy took about as long as the shared call overhead fitted on the tiny
    # rows, and a fresh-clone CI run once left it +54% after calibration (2026-12-06). Before
    # calibration no bound is asserted: the host values are assumed from another CPU (--hw host
    # says which), and on this VM's newer CPU the model's warm 2.2 us call stood against ~34 us of
    # cold dispatch after the harness's cache flush (GEMM and attention -91%, two runs of 2026-12-06)
    load = os.getloadavg()[0]
    if load >= (os.cpu_count() or 1):
        pytest.skip(f"load average {load:.1f} on {os.cpu_count()} CPUs: these timings are not the CPU's")
    errors = {"before": summary.set_index("family")["median_error_pct"].round(1).to_dict(),
              "after": after.set_index("family")["median_error_pct"].round(1).to_dict()}
    ratio = 1 + after["median_error_pct"] / 100  # simulated over measured, per family
    assert ((ratio < 3) & (ratio > 1 / 3)).all(), errors
    assert after.set_index("family").loc["copy", "median_abs_error_pct"] < 25, errors


def test_a_gemm_row_with_a_batch_is_a_grouped_gemm_with_a_weight_per_group():
    # 4 groups of 256x4096x7168 fp8: A 4·256·7168 B, B (weights) 4·7168·4096 B, C 4·256·4096·2 B (bf16),
    # 2·4·256·4096·7168 FLOPs; one group alone reads a quarter of the weights
    row = {"family": "gemm_fp8", "kernel": "k", "M": 256, "N": 4096, "K": 7168, "batch": 4,
           "a_dtype": "fp8", "b_dtype": "fp8", "out_dtype": "bf16"}
    op = op_for_measurement(row)
    assert op.dim("B") == 4 and op.flops == 2 * 4 * 256 * 4096 * 7168
    assert op.operand(Role.WEIGHT).bytes == 4 * 7168 * 4096
    assert op.operand(Role.INPUT).bytes == 4 * 256 * 7168
    assert op.operand(Role.OUTPUT).bytes == 4 * 256 * 4096 * 2
    single = op_for_measurement({**row, "batch": 1})
    assert "B" not in single.dim_names and single.operand(Role.WEIGHT).bytes == 7168 * 4096
    h100 = load_hardware("h100_sxm")
    assert simulate_op_latency(op, h100) > simulate_op_latency(single, h100)


def test_the_summary_says_which_tensor_and_bandwidth_fractions_each_kernel_ran_at():
    # h100_sxm: flash_attention_3 has its own entry (0.9018, fitted on calibration sources);
    # torch_sdpa runs at the spec-wide attention fraction (0.6314),
    # torch_matmul at the GEMM one (0.8669); a copy has no tensor math
    shape = {"batch": 1, "heads": 16, "kv_heads": 16, "seq_q": 1024, "seq_kv": 1024, "head_dim": 128,
             "causal": 0, "a_dtype": "bf16", "device_name": "H100", "latency_s": 1e-4}
    measured = pd.DataFrame([
        {"family": "attention_prefill", "kernel": "flash_attention_3", **shape},
        {"family": "attention_prefill", "kernel": "torch_sdpa", **shape},
        {"family": "gemm", "kernel": "torch_matmul", "M": 64, "N": 64, "K": 64, "a_dtype": "bf16",
         "device_name": "H100", "latency_s": 1e-5},
        {"family": "copy", "kernel": "torch_copy", "bytes": 4096, "device_name": "H100", "latency_s": 1e-5},
    ])
    summary = compare(measured, load_hardware("h100_sxm")).summary.set_index("kernel")
    tensor, bandwidth = summary["tensor_fraction"], summary["bandwidth_fraction"]
    assert tensor["flash_attention_3"] == 0.9018
    assert tensor["torch_sdpa"] == 0.6314 and tensor["torch_matmul"] == 0.8669
    assert pd.isna(tensor["torch_copy"]) and pd.isna(bandwidth["torch_copy"])
    # bandwidth: the spec-wide fractions (1.0: a copy's rate) unless a kernel entry says otherwise
    assert bandwidth["torch_matmul"] == bandwidth["torch_sdpa"] == 1.0
    slow = dataclasses.replace(
        load_hardware("h100_sxm"), kernel_bandwidth_fractions={"flash_attention_3": 0.8}
    )
    slow_summary = compare(measured, slow).summary.set_index("kernel")
    assert slow_summary["bandwidth_fraction"]["flash_attention_3"] == 0.8
    cpu = compare(measured, load_hardware("cpu_ci")).summary
    assert cpu["tensor_fraction"].isna().all() and cpu["bandwidth_fraction"].isna().all()
    # on the H20 the H100's fractions run as its capped tensor cores carry them:
    # 1 / (1 + 480/2048 · (1/0.6314 − 1)) = 0.880 for attention, 0.965 for the GEMM's 0.8669
    h20 = compare(measured, load_hardware("h20")).summary.set_index("kernel")["tensor_fraction"]
    assert h20["torch_sdpa"] == pytest.approx(0.880, abs=1e-3)
    assert h20["torch_matmul"] == pytest.approx(0.965, abs=1e-3)


def _gemm_row(m: int, n: int, k: int, latency_s: float, **extra: str) -> dict:
    return {"family": "gemm", "kernel": "torch_matmul", "M": m, "N": n, "K": k, "a_dtype": "bf16",
            "b_dtype": "bf16", "out_dtype": "bf16", "device": "cuda", "device_name": "NVIDIA H100 80GB HBM3",
            "latency_s": latency_s, **extra}


def test_the_roofline_floor_is_the_work_at_the_datasheet_peaks():
    h100 = load_hardware("h100_sxm")  # 989.4 dense bf16 TFLOP/s at 1830 MHz, 3.35 TB/s, a 50 MB L2
    peak = 132 * 2048 * 2 * 1.83e9
    # an 8192³ GEMM: 2·8192³ FLOPs at the peak and the 1980 MHz boost; its 402 MB would take 120 µs
    op = op_for_measurement(_gemm_row(8192, 8192, 8192, 1e-3))
    assert roofline_floor_s(op, h100) == pytest.approx(2 * 8192**3 / (peak * 1980 / 1830))
    assert pytest.approx(1.082, abs=1e-3) == BOOST_HEADROOM
    # a GEMV moves its 8192² weight and two 8192 vectors, 2 B each, more than the L2: 40 µs at the
    # datasheet rate, whether or not the harness flushed
    gemv = op_for_measurement(_gemm_row(1, 8192, 8192, 1e-4))
    moved = (8192 * 8192 + 2 * 8192) * 2
    assert roofline_floor_s(gemv, h100) == pytest.approx(moved / 3.35e12)
    # a 256³ GEMM's 393 KB can stay in L2 between calls: only its FLOPs bound it, unless a flush by
    # writes emptied the L2 first
    small = op_for_measurement(_gemm_row(256, 256, 256, 1e-5))
    flops_s = 2 * 256**3 / (peak * BOOST_HEADROOM)
    assert roofline_floor_s(small, h100, "none") == pytest.approx(flops_s)
    assert roofline_floor_s(small, h100, "writes") == pytest.approx(3 * 256 * 256 * 2 / 3.35e12)
    # an A100 has no fp8 path: an fp8 GEMM's floor counts its FLOPs at the fastest dtype it has among
    # the operands' (the bf16 output's: 312 TFLOP/s), still a bound no fp8 emulation can beat
    fp8 = op_for_measurement({**_gemm_row(8192, 8192, 8192, 1e-3), "a_dtype": "fp8", "b_dtype": "fp8"})
    a100 = load_hardware("a100_80gb_sxm")
    a100_bf16 = 108 * 1024 * 2 * 1.41e9
    assert roofline_floor_s(fp8, a100) == pytest.approx(2 * 8192**3 / (a100_bf16 * BOOST_HEADROOM))


def test_a_row_faster_than_the_gpu_can_run_it_is_flagged(tmp_path, capsys):
    # 1.4 µs for an 8192³ bf16 GEMM (the 1.4 ms it takes, divided by 1000 once too often) is below the
    # H100's roofline floor of 1.03 ms: the comparison goes on, and a warning names the row and the floor
    path = tmp_path / "unit_error.csv"
    pd.DataFrame([_gemm_row(8192, 8192, 8192, 1.4e-6), _gemm_row(4096, 4096, 4096, 2.0e-4)]).to_csv(
        path, index=False)
    assert main(["compare", str(path), "--hw", "h100_sxm"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "1 gemm/torch_matmul rows measured faster than h100_sxm can run them" in err
    assert "8192x8192x8192" in err and "check that latency_s is in seconds" in err
    result = compare(pd.read_csv(path), load_hardware("h100_sxm"))
    assert list(below_floor(result.rows)["M"]) == [8192]


def test_a_device_without_datasheet_figures_has_no_floor(capsys):
    # the CPU preset's memory rate is fitted to the very runs it is compared with
    # (reference_kernels/data/cpu_calibration.csv): no floor, no warning
    assert main(["compare", "reference_kernels/data/cpu_calibration.csv", "--hw", "cpu_ci"]) == 0
    assert "faster than" not in capsys.readouterr().err
    op = op_for_measurement(_gemm_row(8192, 8192, 8192, 1e-3))
    assert math.isnan(roofline_floor_s(op, load_hardware("cpu_ci")))
