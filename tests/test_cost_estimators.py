"""The estimator plug-ins: selection by priority with declines kept, Horowitz's 45 nm numbers,
node scaling, the SRAM fit, DRAM energies, and the spec fields they read."""

from __future__ import annotations

import pytest

from hwmodels import HardwareSpecError, load_hardware
from hwmodels.cost import Component, Declined, DramKind, Estimator, Quantity, estimate, register
from hwmodels.cost.memory import bitcell_um2

PJ, UM2 = 1e-12, 1e-12


def mac(dtype, node=45):
    return Component("mac", {"dtype": dtype, "technology_nm": node})


def sram(size, node=45, width=64):
    return Component("sram", {"size_bytes": size, "width_bits": width, "technology_nm": node})


@pytest.mark.parametrize(
    ("dtype", "energy_pj", "area_um2"),
    [
        ("int8", 0.2 + 0.1, 282 + 137),  # 8-bit mult + 32-bit add (int32 accumulator)
        ("fp16", 1.1 + 0.9, 1640 + 4184),  # 16-bit FP mult + 32-bit FP add (fp32 accumulator)
        ("fp32", 3.7 + 0.9, 7700 + 4184),  # 32-bit FP mult + 32-bit FP add
    ],
)
def test_horowitz_table_at_45nm(dtype, energy_pj, area_um2):
    energy = estimate(mac(dtype), Quantity.ENERGY)
    assert energy.value == pytest.approx(energy_pj * PJ)
    assert energy.estimator == "horowitz_table" and energy.units == "J" and energy.declined == ()
    assert "ISSCC 2014" in energy.source
    area = estimate(mac(dtype), Quantity.AREA)
    assert area.value == pytest.approx(area_um2 * UM2)
    assert area.mm2 == pytest.approx(area_um2 * 1e-6)


def test_a_dtype_missing_from_the_table_falls_to_the_scaled_estimator_with_the_reason_kept():
    answer = estimate(mac("int4"), Quantity.ENERGY)
    assert answer.estimator == "significand_scaled"
    assert answer.declined == (("horowitz_table", "Horowitz's table has no int4 mult"),)
    # 8-bit mult x (4/8)^2 + 32-bit add = 0.05 + 0.1 pJ
    assert answer.value == pytest.approx((0.2 / 4 + 0.1) * PJ)
    # bf16: fp16 mult x (8/11)^2 + fp32 add
    assert estimate(mac("bf16"), Quantity.ENERGY).value == pytest.approx((1.1 * (8 / 11) ** 2 + 0.9) * PJ)


def test_priority_order_and_all_declined():
    def declines(component, quantity):
        raise Declined("never")

    pool = {
        "low": Estimator("low", 1.0, frozenset({"widget"}), "test", lambda c, q: 2.0),
        "high": Estimator("high", 5.0, frozenset({"widget"}), "test", declines),
        "best": Estimator("best", 9.0, frozenset({"widget"}), "test", lambda c, q: 7.0),
    }
    assert estimate(Component("widget"), Quantity.AREA, pool).estimator == "best"
    del pool["best"]
    answer = estimate(Component("widget"), Quantity.AREA, pool)
    assert (answer.estimator, answer.value, answer.declined) == ("low", 2.0, (("high", "never"),))
    del pool["low"]
    with pytest.raises(HardwareSpecError, match="high: never"):
        estimate(Component("widget"), Quantity.AREA, pool)
    with pytest.raises(HardwareSpecError, match="no estimator knows component class 'gizmo'"):
        estimate(Component("gizmo"), Quantity.AREA, pool)


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(HardwareSpecError, match="already registered"):
        register(Estimator("horowitz_table", 0.0, frozenset({"mac"}), "dup", lambda c, q: 0.0))


def test_leakage_declines_with_the_reason():
    with pytest.raises(HardwareSpecError, match="dynamic energy and area only"):
        estimate(mac("int8"), Quantity.LEAKAGE)


@pytest.mark.parametrize("dtype", ["int4", "int8", "fp8", "bf16", "fp16", "fp32"])
def test_energy_and_area_grow_with_the_node(dtype):
    nodes = (5, 7, 16, 28, 45, 65, 90)
    energies = [estimate(mac(dtype, n), Quantity.ENERGY).value for n in nodes]
    areas = [estimate(mac(dtype, n), Quantity.AREA).value for n in nodes]
    assert energies == sorted(energies) and areas == sorted(areas)
    # the rule: energy ∝ L, area ∝ L^2
    assert energies[nodes.index(90)] / energies[nodes.index(45)] == pytest.approx(2.0)
    assert areas[nodes.index(90)] / areas[nodes.index(45)] == pytest.approx(4.0)


def test_a_node_outside_the_rule_declines():
    with pytest.raises(HardwareSpecError, match="outside"):
        estimate(mac("int8", 1), Quantity.ENERGY)


def test_sram_fit_reproduces_horowitz_and_grows_with_size():
    # 64-bit reads at 45 nm: 8 kB 10 pJ, 32 kB 20 pJ (exact), 1 MB 113 pJ (table: 100)
    assert estimate(sram(8192), Quantity.ENERGY).value == pytest.approx(10 * PJ)
    assert estimate(sram(32768), Quantity.ENERGY).value == pytest.approx(20 * PJ)
    assert estimate(sram(2**20), Quantity.ENERGY).value == pytest.approx(100 * PJ, rel=0.15)
    sizes = [2**k for k in range(10, 26)]
    energies = [estimate(sram(s), Quantity.ENERGY).value for s in sizes]
    areas = [estimate(sram(s), Quantity.AREA).value for s in sizes]
    assert energies == sorted(energies) and areas == sorted(areas)
    # energy per access is linear in its width
    assert estimate(sram(8192, width=8), Quantity.ENERGY).value == pytest.approx(10 / 8 * PJ)


def test_sram_area_from_bit_cells():
    assert bitcell_um2(65) == pytest.approx(0.57) and bitcell_um2(5) == pytest.approx(0.021)
    # 64 KiB at 22 nm: 524,288 bits x 0.1 µm² / 0.7 array efficiency = 74,898 µm²
    assert estimate(sram(65536, node=22), Quantity.AREA).mm2 == pytest.approx(524288 * 0.1 / 0.7 * 1e-6)


def test_dram_energy_per_byte_and_no_phy_area():
    # HBM2 3.9 pJ/bit (O'Connor et al. MICRO 2017) x 8 bits
    assert estimate(Component("hbm", {"kind": "hbm2"}), Quantity.ENERGY).value == pytest.approx(31.2 * PJ)
    # DDR: Horowitz's 1.3 nJ per 64-bit access, per byte: 1300 / 8 pJ
    ddr = estimate(Component("dram", {"kind": DramKind.DDR4}), Quantity.ENERGY).value
    assert ddr == pytest.approx(162.5 * PJ)
    with pytest.raises(HardwareSpecError, match="no sourced area"):
        estimate(Component("dram", {"kind": "hbm2"}), Quantity.AREA)


def test_wire_and_link_energy():
    # 26 pJ / 256 bits / mm at 28 nm; 2 mm
    wire = Component("wire", {"length_mm": 2, "technology_nm": 28})
    assert estimate(wire, Quantity.ENERGY).value == pytest.approx(2 * 26 / 256 * PJ)
    link = Component("link", {"kind": "nvlink_c2c"})
    assert estimate(link, Quantity.ENERGY).value == pytest.approx(1.3 * PJ)


def test_spec_cost_fields_load_and_validate():
    tpu = load_hardware("tpu_v1_256x256")
    assert (tpu.technology_nm, tpu.dram_kind, tpu.static_power_w) == (28.0, DramKind.DDR3, 28.0)
    assert load_hardware("scalesim_32x32", ["dram_kind=HBM2"]).dram_kind is DramKind.HBM2
    assert load_hardware("h100_sxm").tdp_w == 700.0
    with pytest.raises(HardwareSpecError, match="unknown DRAM kind 'sdr'"):
        load_hardware("scalesim_32x32", ["dram_kind=sdr"])
    with pytest.raises(HardwareSpecError, match="technology_nm"):
        load_hardware("scalesim_32x32", ["technology_nm=0"])
    with pytest.raises(HardwareSpecError, match="tdp_w"):
        load_hardware("h100_sxm", ["tdp_w=-1"])
