"""Loading and validating hardware specs: presets, YAML files, SCALE-Sim .cfg files, overrides."""

from __future__ import annotations

import math

import pytest

from hwmodels import HardwareSpecError, list_presets, load_hardware
from hwmodels.systolic import Dataflow
from workloads.dtypes import DType

SCALESIM_CFG = """\
[general]
run_name = scale_example

[architecture_presets]
ArrayHeight:    16
ArrayWidth:     8
IfmapSramSzkB:   64
FilterSramSzkB:  32
OfmapSramSzkB:   16
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : ws
ReadRequestBuffer: 512
WriteRequestBuffer: 512

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: {mode}
UseRamulatorTrace: False
"""


def test_required_presets_ship_with_sources():
    names = list_presets()
    for required in ("scalesim_32x32", "tpu_v1_256x256", "eyeriss_12x14", "systolic_128x128"):
        assert required in names
    for name in names:
        spec = load_hardware(name)
        assert spec.source, f"preset {name} must say where its numbers come from"


def test_tpu_v1_peak_matches_the_paper():
    # Jouppi et al. 2017: 65,536 MACs x 2 ops x 700 MHz = 91.75 TOPS ("92 TOPS")
    spec = load_hardware("tpu_v1_256x256")
    assert 2 * spec.peak_macs_per_s(DType.INT8) == pytest.approx(91.75e12, rel=1e-3)


@pytest.mark.parametrize(("mode", "words_per_cycle"), [("USER", 30), ("CALC", math.inf)])
def test_scalesim_cfg_read_as_is(tmp_path, mode, words_per_cycle):
    path = tmp_path / "scale.cfg"
    path.write_text(SCALESIM_CFG.format(mode=mode))
    spec = load_hardware(str(path))
    assert (spec.rows, spec.cols, spec.dataflow) == (16, 8, Dataflow.WS)
    assert (spec.ifmap_sram_bytes, spec.filter_sram_bytes, spec.ofmap_sram_bytes) == (
        64 * 1024,
        32 * 1024,
        16 * 1024,
    )
    # 1-byte words at 1 GHz: USER mode's three 10-word/cycle ports sum to 30 B/cycle
    assert spec.dram_bytes_per_cycle() == words_per_cycle
    # CALC mode still prefetches each input SRAM's first half, at 10 words/cycle (1 B, 1 GHz)
    assert spec.calc_prefetch_bytes_per_s == (10e9 if mode == "CALC" else 0.0)


def test_overrides_build_a_new_validated_spec():
    base = load_hardware("scalesim_32x32")
    spec = load_hardware("scalesim_32x32", ["rows=64", "dataflow=ws", "dram_bytes_per_s=1e12"])
    assert (spec.rows, spec.cols, spec.dataflow, spec.dram_bytes_per_s) == (64, 32, Dataflow.WS, 1e12)
    assert base.rows == 32  # the preset is untouched


def test_yaml_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "kind: systolic\nname: mine\nrows: 8\ncols: 8\ndataflow: is\n"
        "ifmap_sram_bytes: 4096\nfilter_sram_bytes: 4096\nofmap_sram_bytes: 4096\n"
        "dram_bytes_per_s: 8e9\nclock_hz: 1e9\n"  # (freq_hz, its old name: test_device_interface)
    )
    spec = load_hardware(str(path))
    assert spec.dataflow is Dataflow.IS and spec.dram_bytes_per_cycle() == 8


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["rows=0"], "field 'rows' = 0: must be a positive integer"),
        (["cols=-4"], "field 'cols' = -4: must be a positive integer"),
        (["dataflow=rs"], "field 'dataflow' = 'rs': unknown dataflow 'rs'; valid: os, ws, is"),
        (["row=64"], "unknown field 'row'; did you mean 'rows'?"),
        (["clock_hz=fast"], "field 'clock_hz' = 'fast': must be a number"),
        (["rows"], "expected key=value"),
    ],
)
def test_bad_overrides_name_the_field(overrides, message):
    with pytest.raises(HardwareSpecError, match=message.replace("?", r"\?")):
        load_hardware("scalesim_32x32", overrides)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(HardwareSpecError, match="known presets: .*scalesim_32x32"):
        load_hardware("tpu_v9")
