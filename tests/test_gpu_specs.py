"""GPU presets against their datasheets, spec validation, and the command line on GPU presets."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hwmodels import HardwareSpecError, list_presets, load_hardware
from hwmodels.gpu import GPUSpec
from sim.cli import main
from workloads.dtypes import DType

PRESETS = Path(__file__).parent.parent / "hwmodels" / "presets"

#: Dense tensor peaks in TFLOP/s (TOPS for int8) as the presets' comments quote their datasheets.
DATASHEET_TFLOPS = {
    "h100_sxm": {"bf16": 989.4, "fp16": 989.4, "tf32": 494.7, "fp8": 1978.9, "int8": 1978.9},
    "h200": {"bf16": 989.4, "fp16": 989.4, "tf32": 494.7, "fp8": 1978.9, "int8": 1978.9},
    "a100_80gb_sxm": {"bf16": 312, "fp16": 312, "tf32": 156, "int8": 624},
    "v100s": {"fp16": 130},
    "l40s": {"bf16": 362.05, "fp16": 362.05, "tf32": 183, "fp8": 733, "int8": 733},
    "h20": {"bf16": 148, "fp16": 148, "tf32": 74, "fp8": 296, "int8": 296},
    "rtx_4090": {"bf16": 165.2, "fp16": 165.2, "tf32": 82.6, "fp8": 330.3, "int8": 660.6},
    "a10": {"bf16": 125.0, "fp16": 125.0, "tf32": 62.5, "int8": 250.0},
}
DATASHEET_HBM_TB_S = {"h100_sxm": 3.35, "h200": 4.8, "a100_80gb_sxm": 2.039, "v100s": 1.134,
                      "l40s": 0.864, "h20": 4.0, "rtx_4090": 1.008, "a10": 0.6}


@pytest.mark.parametrize("name", sorted(DATASHEET_TFLOPS))
def test_peaks_equal_the_datasheet_figures_quoted_in_the_preset(name):
    spec = load_hardware(name)
    text = (PRESETS / f"{name}.yaml").read_text()
    assert isinstance(spec, GPUSpec)
    for dtype, tflops in DATASHEET_TFLOPS[name].items():
        # within 1.5%: the L40S's 362.05 is 1.2% under 142 SMs x 512 x 2 x 2.52 GHz (see its preset)
        assert spec.peak_tensor_flops(DType(dtype)) / 1e12 == pytest.approx(tflops, rel=0.015)
        assert f"{tflops:g}" in text.replace(",", "")  # the figure is quoted where the number is set
    assert spec.dram_bytes_per_s / 1e12 == pytest.approx(DATASHEET_HBM_TB_S[name])
    assert spec.achievable_dram_bytes_per_s < spec.dram_bytes_per_s
    assert "known_measurements.md" in spec.source and spec.description


def test_sparse_rates_are_twice_dense_where_supported():
    h100 = load_hardware("h100_sxm")
    assert h100.peak_tensor_flops(DType.BF16, sparse=True) / 1e12 == pytest.approx(1978.9, rel=1e-3)
    with pytest.raises(HardwareSpecError, match="no 2:4 sparse tensor-core path for 'fp16'"):
        load_hardware("v100s").peak_tensor_flops(DType.FP16, sparse=True)


def test_measured_ceilings_are_the_recorded_measurements():
    # reference_kernels/data/known_measurements.md: ~3.0 TB/s (H100) and ~4.3 TB/s (H200) copies
    assert load_hardware("h100_sxm").achievable_dram_bytes_per_s == 3.0e12
    assert load_hardware("h200").achievable_dram_bytes_per_s == 4.3e12
    notes = (PRESETS.parent.parent / "reference_kernels" / "data" / "known_measurements.md").read_text()
    assert "798 TFLOP/s" in notes and "3.0 TB/s" in notes and "4.3 TB/s" in notes


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sm_count": 0}, "field 'sm_count' = 0: must be a positive integer"),
        ({"achievable_tensor_fraction": 1.2}, "field 'achievable_tensor_fraction' = 1.2: must be in (0, 1]"),
        ({"achievable_dram_bytes_per_s": 4e12}, "must not exceed dram_bytes_per_s"),
        ({"launch_overhead_s": -1.0}, "field 'launch_overhead_s' = -1.0"),
        ({"sparse_tensor_speedup": {DType.FP64: 2.0}}, "field 'sparse_tensor_speedup' entry"),
        ({"default_dtype": DType.FP64}, "field 'default_dtype' = 'fp64'"),
    ],
)
def test_bad_fields_name_the_field_and_value(change, message):
    with pytest.raises(HardwareSpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        dataclasses.replace(load_hardware("h100_sxm"), **change)


def test_set_overrides_convert_gpu_fields():
    spec = load_hardware("h100_sxm", ["sm_count=66", "achievable_dram_bytes_per_s=2.5e12"])
    assert spec.sm_count == 66 and spec.achievable_dram_bytes_per_s == 2.5e12
    with pytest.raises(HardwareSpecError, match="'sm_count' = 0"):
        load_hardware("h100_sxm", ["sm_count=0"])


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_a_gemm_on_h100(capsys):
    code, out, err = run(
        capsys, "simulate", "--hw", "h100_sxm", "--gemm", "4096,4096,4096", "--dtype", "bf16"
    )
    assert code == 0 and err == ""
    assert "splitk1 waves" in out
    # the summary line: latency, and energy as TDP x time (700 W on the H100 SXM); then how far a
    # GEMM on this preset was validated (sim.measured.accuracy)
    summary, validated = out.strip().splitlines()[-2:]
    assert summary.startswith("gemm on h100_sxm: ") and " ms; " in summary
    assert validated.startswith("Validated accuracy of a GEMM on h100_sxm")


def test_simulate_a_decode_step_on_h100(capsys):
    code, out, _ = run(capsys, "simulate", "--hw", "h100_sxm", "--model", "llama-2-7b", "--phase",
                       "decode", "--context", "4096")
    assert code == 0
    assert "per decode step" in out and "tokens/s" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--hw", "b300", "--gemm", "1,2,3"],
         "unknown preset 'b300'; known presets: a10, a100_40gb_sxm, a100_80gb_pcie, a100_80gb_sxm"),
        (["--hw", "a100_80gb_sxm", "--gemm", "64,64,64", "--dtype", "fp8"],
         "dtype 'fp8' has no tensor-core path (tensor_macs_per_cycle_per_sm has bf16, fp16, tf32, int8)"),
        (["--hw", "v100s", "--gemm", "64,64,64", "--dtype", "bf16"], "dtype 'bf16' has no tensor-core path"),
        (["--hw", "h100_sxm", "--set", "sm_count=-1", "--gemm", "1,2,3"], "'sm_count' = -1"),
    ],
)
def test_bad_input_is_one_line_and_nonzero_exit(capsys, argv, message):
    code, out, err = run(capsys, "simulate", *argv)
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err
    assert all(name in err for name in ("h100_sxm", "rtx_4090")) or "unknown preset" not in err


def test_every_gpu_preset_is_listed():
    assert {"h100_sxm", "h200", "a100_80gb_sxm", "v100s", "l40s", "h20", "rtx_4090"} <= set(list_presets())
