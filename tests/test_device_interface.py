"""The one device interface (`hwmodels.device.Device`), renamed fields, nested specs with dotted
``--set`` paths, and the engine registry (`sim.engines.registry`)."""

from __future__ import annotations

import ast
import dataclasses
import math
import warnings
from pathlib import Path

import pytest

from hwmodels import Device, HardwareSpecError, apply_overrides, list_presets, load_hardware
from hwmodels.device import RENAMED_FIELDS, RenamedFieldWarning
from hwmodels.loader import KINDS, kind_of
from hwmodels.systolic import SystolicArraySpec
from sim.cli import main
from sim.engines.registry import model_for
from workloads.dtypes import DType

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("preset", list_presets())
def test_every_preset_is_a_device_with_one_name_per_quantity(preset):
    spec = load_hardware(preset)
    assert isinstance(spec, Device)
    levels = spec.memory_levels()
    # the outermost level is DRAM, at the spec's own datasheet bandwidth and capacity
    assert levels[-1].name == "dram"
    assert levels[-1].bytes_per_s == spec.dram_bytes_per_s
    assert levels[-1].capacity_bytes == spec.dram_capacity_bytes
    # a copy never streams faster than the datasheet; a large GEMM never beats the peak
    assert 0 < spec.achievable_dram_bytes_per_s <= spec.dram_bytes_per_s
    peak = spec.peak_flops(spec.default_dtype)
    assert 0 < spec.achievable_flops(spec.default_dtype) <= peak
    assert spec.clock_hz > 0 and spec.launch_overhead_s >= 0 and spec.tdp_w >= 0


def test_peak_flops_is_each_kinds_datasheet_formula():
    h100 = load_hardware("h100_sxm")
    # 2 FLOPs/MAC · 2048 dense bf16 MACs/cycle/SM · 132 SMs · 1.83 GHz = 989.5 TFLOP/s, the
    # datasheet's 989: the interface's peak is the tensor-core one
    assert h100.peak_flops(DType.BF16) == h100.peak_tensor_flops(DType.BF16)
    assert h100.peak_flops(DType.BF16) == pytest.approx(989e12, rel=0.01)
    array = load_hardware("scalesim_32x32")
    # 2 · 32 · 32 PEs · 1 MAC/PE/cycle · clock
    assert array.peak_flops(DType.INT8) == 2 * 32 * 32 * 1 * array.clock_hz
    cpu = load_hardware("cpu_ci")
    assert cpu.achievable_flops(DType.FP32) == cpu.peak_flops(DType.FP32) * cpu.gemm_efficiency


@pytest.mark.parametrize(("old", "new"), sorted(RENAMED_FIELDS.items()))
def test_an_old_field_name_still_sets_the_new_field_with_a_warning(old, new):
    preset = {"freq_hz": "scalesim_32x32", "memory_bytes_per_s": "cpu_ci", "call_overhead_s": "cpu_ci"}.get(
        old, "h100_sxm"
    )
    base = load_hardware(preset)
    value = getattr(base, new)  # the same value under the old name gives the same spec
    with pytest.warns(RenamedFieldWarning, match=f"'{old}' is now called '{new}'"):
        renamed = apply_overrides(base, [f"{old}={value!r}"])
    assert renamed == base


def test_a_yaml_file_with_old_names_loads_and_both_names_is_an_error(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text(
        "kind: systolic\nname: mine\nrows: 8\ncols: 8\ndataflow: os\nifmap_sram_bytes: 1024\n"
        "filter_sram_bytes: 1024\nofmap_sram_bytes: 1024\ndram_bytes_per_s: 8e9\nfreq_hz: 1e9\n"
    )
    with pytest.warns(RenamedFieldWarning):
        spec = load_hardware(old)
    assert spec.clock_hz == 1e9
    both = tmp_path / "both.yaml"
    both.write_text(old.read_text() + "clock_hz: 2e9\n")
    with pytest.raises(HardwareSpecError, match="'clock_hz' is given twice"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RenamedFieldWarning)
        load_hardware(both)


def test_the_cli_prints_a_renamed_field_as_one_warning_line(capsys):
    code = main(["simulate", "--hw", "h100_sxm", "--set", "hbm_bytes_per_s=3.35e12", "--gemm", "64,64,64"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 0
    assert err == [
        "codesign simulate: warning: --set: field 'hbm_bytes_per_s' is now called 'dram_bytes_per_s'; "
        "the old name still works"
    ]


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Board:
    """A spec that nests another, as an FPGA nests its overlay or a system its devices."""

    name: str
    core: SystolicArraySpec
    cores: int = 1


def test_dotted_set_paths_reach_into_nested_specs_and_validate_each_level():
    board = _Board(name="b", core=load_hardware("scalesim_32x32"))
    changed = apply_overrides(board, ["core.rows=64", "cores=3", "core.dataflow=ws"])
    assert (changed.core.rows, changed.core.cols, changed.cores) == (64, 32, 3)
    assert changed.core.dataflow.value == "ws"
    with pytest.raises(HardwareSpecError, match="'rows' = 0"):  # the nested spec validates itself
        apply_overrides(board, ["core.rows=0"])
    with pytest.raises(HardwareSpecError, match="unknown field 'rowz'; did you mean 'rows'"):
        apply_overrides(board, ["core.rowz=4"])
    with pytest.raises(HardwareSpecError, match="'cores' is not a nested spec"):
        apply_overrides(board, ["cores.x=4"])
    with pytest.warns(RenamedFieldWarning):  # old names work inside too
        assert apply_overrides(board, ["core.freq_hz=2e9"]).core.clock_hz == 2e9


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_registered_kind_has_an_engine_model(kind):
    model = model_for(KINDS[kind])
    assert callable(model.simulate_op) and callable(model.energy) and callable(model.matrix_rates)


def test_a_spec_type_that_is_not_registered_is_refused():
    with pytest.raises(HardwareSpecError, match="not a registered kind"):
        kind_of(_Board)


def test_device_rates_come_from_the_spec_for_every_kind():
    # the roofline's bandwidth is the achievable DRAM rate on every kind (a copy's), its launch
    # cost the spec's launch_overhead_s: no table per kind
    from sim.engines.roofline import device_rates

    specs = [load_hardware(name) for name in ("h100_sxm", "cpu_ci", "scalesim_32x32")]
    rates, errors = device_rates(specs, ())
    assert errors == [None, None, None]
    assert list(rates.bandwidth) == [spec.achievable_dram_bytes_per_s for spec in specs]
    assert list(rates.launch_s) == [spec.launch_overhead_s for spec in specs]
    assert not any(math.isnan(rate) for rate in rates.vector)


#: Modules allowed to name a spec class: the device's own (its spec, its engine package).
_OWN = {
    "GPUSpec": ("hwmodels/", "sim/engines/gpu/", "sim/commands/gpu_args.py", "mappers/gpu_"),
    "CPUSpec": ("hwmodels/", "sim/engines/cpu.py"),
    "SystolicArraySpec": ("hwmodels/", "sim/engines/systolic/", "mappers/systolic.py"),
}


def test_no_code_outside_a_devices_own_modules_branches_on_its_spec_type():
    offenders = []
    for path in sorted((ROOT / "sim").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("isinstance", "issubclass"):
                names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                for name in names & set(_OWN):
                    if not relative.startswith(_OWN[name]):
                        offenders.append(f"{relative}:{node.lineno} {name}")
    assert offenders == []


def test_sweep_axes_and_expressions_name_nested_fields_by_dotted_path():
    from hwmodels.loader import field_paths
    from sim.sweep.axes import parse_axis
    from sim.sweep.expr import parse_expression
    from sim.sweep.spec import base_scalars

    assert {"core.rows", "core.dram_bytes_per_s", "cores"} <= set(field_paths(_Board))
    axis = parse_axis("core.rows", [16, "32", 16], _Board)  # converted by the nested field's type
    assert axis.values == (16, 32)
    board = _Board(name="b", core=load_hardware("scalesim_32x32"), cores=2)
    scalars = base_scalars(board)
    assert scalars["core.rows"] == 32 and scalars["cores"] == 2
    # 32 rows · 2 cores = 64 PE rows in all: the constraint holds at 64, not above
    expression = parse_expression("core.rows * cores <= 64", fields=tuple(scalars), where="constraints[0]")
    assert expression.names == ("core.rows", "cores")
    assert expression.evaluate(scalars)
    assert not expression.evaluate({**scalars, "cores": 3})
