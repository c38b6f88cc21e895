"""The SASS-listing helpers the kernel studies share (benchmarks/sass_tools.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

LISTING = """
        /*0000*/                   MOV R1, c[0x0][0x28] ;
        /*0010*/              @!P0 BRA 0x50 ;
        /*0020*/                   LDG.E R2, desc[UR4][R4.64] ;
        /*0030*/                   STS [R3], R2 ;
        /*0040*/                   IADD3 R5, R5, 0x1, RZ ;
        /*0050*/                   FFMA R6, R6, R7, R8 ;
        /*0060*/               @P1 BRA 0x90 ;
        /*0070*/                   SEL R9, R9, RZ, P2 ;
        /*0080*/                   SEL R10, R10, RZ, P2 ;
        /*0090*/                   BRA.DIV 0xb0 ;
        /*00a0*/                   BRA 0xa0 ;
        /*00b0*/               @P3 BRA 0x10 ;
"""


@pytest.fixture
def sass_tools(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "benchmarks"))
    import sass_tools

    return sass_tools


def test_forward_skips_lists_the_predicated_blocks_a_loop_body_jumps_over(sass_tools, tmp_path):
    # the branch at 0x10 skips 0x20-0x40 (an LDG, an STS and an add: a refill), the one at 0x60 skips
    # 0x70-0x80 (two SELs with RZ); BRA.DIV, an unpredicated branch and the backward branch at 0xb0
    # (the loop's) are not conditional blocks
    path = tmp_path / "k.sass"
    path.write_text(LISTING)
    ins = sass_tools.parse(str(path))
    assert len(ins) == 12 and ins[1]["pred"] == "@!P0" and ins[1]["op"] == "BRA"
    every = sass_tools.forward_skips(ins, lambda region: True)
    assert every == [(0x20, 0x40, "@!P0", 3), (0x70, 0x80, "@P1", 2)]
    assert sass_tools.back_branches(ins) == [(0xA0, 0xA0, ""), (0x10, 0xB0, "@P3")]
    # the studies' own filters: FlashInfer's page refill (an LDG and an STS skipped) and vLLM's
    # last-block zeroing (at least 8 SEL ..., RZ: none here)
    studies = Path(__file__).parents[1] / "benchmarks"
    flashinfer = _load(studies / "flashinfer_decode_sass" / "tools" / "sass_loops.py", "fi_sass_loops")
    paged = _load(studies / "vllm_pa_sass" / "tools" / "sass_loops.py", "pa_sass_loops")
    assert flashinfer.refill_regions(ins) == [(0x20, 0x40, "@!P0", 3)]
    assert paged.cold_regions(ins) == []


def _load(path: Path, name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
