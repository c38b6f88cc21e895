"""A preset's ``base:`` (hwmodels.loader._with_base): a child's field replaces the base's, a nested
spec (an FPGA's ``device`` and ``overlay``) merges field by field, and a plain mapping (a GPU's
``kernel_fractions``) is replaced whole."""

from __future__ import annotations

import dataclasses

from hwmodels import load_hardware

VHK158 = load_hardware("vhk158_flightllm")


def test_the_u280_preset_is_the_vhk158_core_with_its_own_cores_and_aux_channels():
    # u280_flightllm.yaml gives overlay {cores: 3, aux_channels_per_core: 0} over the VHK158's
    u280 = load_hardware("u280_flightllm")
    assert u280.overlay == dataclasses.replace(VHK158.overlay, cores=3, aux_channels_per_core=0)
    assert u280.device.part == "xcu280" and u280.timing == VHK158.timing


def test_a_nested_spec_merges_field_by_field_through_a_chain_of_bases(tmp_path):
    # mine -> u280_flightllm -> vhk158_flightllm: each level names only what it changes
    variant = tmp_path / "mine.yaml"
    variant.write_text(
        "base: u280_flightllm\nname: mine\noverlay: {gemv_tile_n: 256}\ndevice: {static_power_w: 5.0}\n"
    )
    mine = load_hardware(variant)
    u280 = load_hardware("u280_flightllm")
    assert mine.overlay == dataclasses.replace(u280.overlay, gemv_tile_n=256)
    assert mine.device == dataclasses.replace(u280.device, static_power_w=5.0)


def test_a_plain_mapping_field_is_replaced_whole_not_merged(tmp_path):
    # h100_sxm ships four kernel_fractions entries; a child giving one keeps only that one
    variant = tmp_path / "mine.yaml"
    variant.write_text("base: h100_sxm\nname: mine\nkernel_fractions: {flash_attention_3: 0.5}\n")
    assert len(load_hardware("h100_sxm").kernel_fractions) > 1
    assert dict(load_hardware(variant).kernel_fractions) == {"flash_attention_3": 0.5}
