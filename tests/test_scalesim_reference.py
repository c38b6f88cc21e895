"""Golden values from SCALE-Sim 3.0.0: every case of tests/data/scalesim_reference.csv (made by
benchmarks/scalesim_reference/generate_reference.py, a grid of shapes x dataflows x arrays x SRAM
sizes x bandwidth modes) run through our engine, compared with SCALE-Sim's reports.

Where the models differ the test states how, and docs/systolic_model.md says why.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scalesim_cases import load_reference, op_for, scalesim_ofmap_writes_artifact, spec_for

from hwmodels.scalesim_cfg import SCALESIM_KB
from sim.simulate import simulate

#: Relative tolerance where the models agree in principle (the issue's 5%).
AGREEMENT = 0.05
#: A convolution input whose SRAM half cannot hold it: we fetch every im2col element a fold
#: touches, SCALE-Sim's FIFO keeps some pixels shared by neighbouring windows. Measured bound.
CONV_REFETCH_EXCESS = 0.30


@pytest.fixture(scope="module")
def joined() -> pd.DataFrame:
    reference = load_reference()
    rows = []
    for _, case in reference.iterrows():
        ours = simulate(op_for(case), spec_for(case)).iloc[0]
        rows.append(ours.add_prefix("ours_").to_dict())
    return pd.concat([reference.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def test_reference_grid_is_broad(joined):
    assert len(joined) >= 50
    assert set(joined["dataflow"]) == {"os", "ws", "is"}
    assert set(joined["bw_mode"]) == {"CALC", "USER"}
    assert joined[["rows", "cols"]].drop_duplicates().shape[0] >= 3
    assert joined["ifmap_kb"].nunique() >= 2


def test_compute_cycles_equal_scalesim_exactly(joined):
    scalesim = joined["total_cycles"] - joined["stall_cycles"]
    mismatched = joined.loc[joined["ours_compute_cycles"] != scalesim, "case_id"]
    assert mismatched.empty, f"compute cycles differ for {list(mismatched)}"


def test_sram_accesses_equal_scalesim(joined):
    assert (joined["ours_ifmap_sram_reads"] == joined["sram_ifmap_reads"]).all()
    assert (joined["ours_filter_sram_reads"] == joined["sram_filter_reads"]).all()
    artifact = [
        scalesim_ofmap_writes_artifact(case, int(case["ours_folds"])) for _, case in joined.iterrows()
    ]
    assert (joined["ours_ofmap_sram_writes"] + artifact == joined["sram_ofmap_writes"]).all()


def test_calc_mode_total_cycles_equal_scalesim(joined):
    # CALC: SCALE-Sim sizes bandwidth so nothing stalls; we model it as unlimited bandwidth
    calc = joined[joined["bw_mode"] == "CALC"]
    assert (calc["stall_cycles"] == 0).all() and (calc["ours_stall_cycles"] == 0).all()
    assert (calc["ours_total_cycles"] == calc["total_cycles"]).all()


def test_calc_mode_prefetch_equals_scalesim(joined):
    # SCALE-Sim's CALC read buffers fetch their first epoch (or the whole operand, in whole sets) at
    # 10 words/cycle before cycle 0; its "incl. prefetch" span starts at the earlier of the two
    calc = joined[joined["bw_mode"] == "CALC"]
    scalesim = -calc[["dram_ifmap_start_cycle", "dram_filter_start_cycle"]].min(axis=1)
    mismatched = calc.loc[calc["ours_prefetch_cycles"] != scalesim, "case_id"]
    assert mismatched.empty, f"CALC prefetch differs for {list(mismatched)}"


def test_calc_mode_total_cycles_incl_prefetch(joined):
    """CALC mode's "Total Cycles (incl. prefetch)": the prefetch, the layer, and the flush of the
    outputs still in the ofmap SRAM at one word per column per cycle. SCALE-Sim flushes every
    partial sum of a ws/is output (its SRAM ofmap writes); we flush the outputs we write to DRAM,
    accumulated in the ofmap SRAM when the tile fits (docs/systolic_model.md, difference 1)."""
    calc = joined[joined["bw_mode"] == "CALC"]
    ours, theirs = calc["ours_total_cycles_incl_prefetch"], calc["total_cycles_incl_prefetch"]
    cols = calc["cols"]
    scalesim_words = calc["ours_ofmap_sram_writes"]  # SCALE-Sim's valid ofmap writes (1-byte words)
    our_words = calc["ours_dram_write_bytes"]
    extra_flush = (scalesim_words / cols).apply(math.ceil) - (our_words / cols).apply(math.ceil)
    # outputs that fit half the ofmap SRAM are all flushed after the last fold: exact, once
    # SCALE-Sim's extra partial-sum lines are added (130 of the 209 CALC rows)
    fits = scalesim_words <= calc["ofmap_kb"] * SCALESIM_KB // 2
    assert fits.sum() >= 100
    assert (ours + extra_flush)[fits].equals(theirs[fits].astype(float))
    # the rest drain half the SRAM at a time during the layer; what is left at the end depends on
    # SCALE-Sim's line padding and on when a fold's outputs arrive: within 1.5% (19 cycles) where
    # both write the same words, and where SCALE-Sim writes partial sums, shorter by at most its
    # extra lines, never longer than it by more than 0.5% (23 cycles)
    drains = ~fits
    same = drains & (scalesim_words == our_words)
    assert ((ours / theirs - 1)[same].abs() <= 0.015).all()
    psums = drains & ~same
    assert (theirs - ours <= (scalesim_words - our_words) / cols + 2)[psums].all()
    assert (ours / theirs - 1)[psums].max() <= 0.005
    # exactly equal on 127 of the 209 CALC rows; before SCALE-Sim's prefetch was modeled, on none
    assert (ours == theirs).sum() >= 120


def _ratio(ours: pd.Series, theirs: pd.Series) -> pd.Series:
    return ours / theirs.where(theirs > 0, math.nan)


#: Cases where SCALE-Sim's CALC-mode buffer re-fetches a reused tile that fits its working half:
#: it evicts half its sets at once when its window fills (read_buffer_estimate_bw.manage_prefetches
#: advances read_buffer_set_start_id by num_sets_prefetch_buffer), so a tile that straddles that
#: boundary is partly fetched again. We keep a tile that fits: fewer bytes than SCALE-Sim.
SCALESIM_WINDOW_REFETCH = {"large_256x128x512__os__32x32__sram64-64-64__CALC"}
#: A convolution input that does not fit its SRAM half: we fetch every im2col element a fold
#: touches, an upper bound; SCALE-Sim's FIFO keeps some pixels that neighbouring windows share.
#: The largest excess seen on the grid (5x5 stride-2 windows, 2 kB SRAM) is 2.14x.
CONV_IM2COL_BOUND = 2.2


def test_calc_mode_dram_reads(joined):
    calc = joined[joined["bw_mode"] == "CALC"]
    for ours, theirs in (
        ("ours_dram_ifmap_read_bytes", "dram_ifmap_reads"),
        ("ours_dram_filter_read_bytes", "dram_filter_reads"),
    ):
        ratio = _ratio(calc[ours], calc[theirs])
        agree = (ratio - 1).abs() <= AGREEMENT
        conv_input = (calc["kind"] == "conv") & (ours == "ours_dram_ifmap_read_bytes")
        excused = (conv_input & ratio.between(1 - AGREEMENT, CONV_IM2COL_BOUND)) | (
            calc["case_id"].isin(SCALESIM_WINDOW_REFETCH) & (ratio < 1)
        )
        bad = calc.loc[~(agree | excused), ["case_id", ours, theirs]]
        assert bad.empty, f"{ours} outside the bounds:\n{bad}"
    # most rows agree outright
    assert (
        (_ratio(calc["ours_dram_filter_read_bytes"], calc["dram_filter_reads"]) - 1).abs() <= AGREEMENT
    ).mean() > 0.95


def test_ofmap_dram_writes(joined):
    # os writes each output once in both; ws/is: SCALE-Sim writes every K fold's partial sums,
    # we write once when the output tile fits the ofmap SRAM, or every partial sum when it spills
    calc = joined[joined["bw_mode"] == "CALC"]
    k_folds = (calc["ours_ofmap_sram_writes"] / (calc["ours_dram_write_bytes"])).round()
    spills = calc["ours_dram_psum_read_bytes"] > 0
    expected = calc["ours_dram_write_bytes"].where(
        (calc["dataflow"] == "os") | spills, calc["ours_dram_write_bytes"] * k_folds
    )
    ratio = _ratio(expected, calc["dram_ofmap_writes"])
    bad = calc.loc[(ratio - 1).abs() > AGREEMENT, ["case_id", "ours_dram_write_bytes", "dram_ofmap_writes"]]
    assert bad.empty, f"ofmap writes outside 5%:\n{bad}"


def _user_mode(joined: pd.DataFrame) -> pd.DataFrame:
    user = joined[joined["bw_mode"] == "USER"]
    return user.assign(
        total_ratio=_ratio(user["ours_total_cycles"], user["total_cycles"]),
        ifmap_ratio=_ratio(user["ours_dram_ifmap_read_bytes"], user["dram_ifmap_reads"]),
        filter_ratio=_ratio(user["ours_dram_filter_read_bytes"], user["dram_filter_reads"]),
    )


def test_user_mode_total_cycles_without_stalls(joined):
    """USER mode (finite bandwidth) where SCALE-Sim does not stall (188 of its 292 rows): total
    cycles equal SCALE-Sim's on 184 of them; on the other 4 we stall and it does not. This is all
    the USER-mode agreement there is: the stall model is unvalidated (the next test)."""
    quiet = _user_mode(joined).query("stall_cycles == 0")
    assert len(quiet) >= 180
    assert (quiet["ours_total_cycles"] == quiet["total_cycles"]).sum() >= 180
    assert ((quiet["total_ratio"] - 1).abs() <= AGREEMENT).mean() >= 0.97


def test_user_mode_stall_model_is_unvalidated(joined):
    """Where SCALE-Sim stalls (104 USER rows) our stall model agrees within 5% on none: our total
    cycles are a median 0.11x its (0.017x-1.46x). SCALE-Sim is no reference for stalls: on 102 of
    those rows its read buffer fetches more than 5% more bytes than we do, re-fetching data it already
    holds (docs/systolic_model.md, difference 2), and on the 2 whose bytes match ours (tall
    512x64x64, ws and is, 16x64 array) it stalls on ofmap writes alone, where we stall 2x as long
    (ws) or not at all (is). Until a reference for stalls exists, the docs and README call the
    stall model unvalidated; this test pins that state, so a change to either side shows here."""
    stalled = _user_mode(joined).query("stall_cycles > 0")
    assert len(stalled) == 104
    assert ((stalled["total_ratio"] - 1).abs() <= AGREEMENT).sum() == 0
    assert stalled["total_ratio"].median() == pytest.approx(0.11, abs=0.01)
    refetches = (stalled["ifmap_ratio"] < 1 - AGREEMENT) | (stalled["filter_ratio"] < 1 - AGREEMENT)
    assert refetches.sum() == 102
