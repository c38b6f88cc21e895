"""Layers of any size on the systolic engine: the fold walk costs the same for 10^6 folds as for one
(closed forms per fold class, `sim.engines.systolic.folds`), it equals a fold-by-fold walk, and a
layer whose counts would pass 2^53 is refused with one line before it is simulated."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest
from conftest import make_array

from hwmodels.systolic import Dataflow
from sim.cli import main
from sim.engines.systolic.folds import Fetch, OperandWalk, walk_folds
from sim.simulate import simulate
from workloads.op import gemm_op


def test_a_million_row_gemm_is_closed_form_and_fast():
    # os on 32x32, unlimited DRAM: folds ceil(10^6/32) = 31,250 x ceil(64/32) = 2 = 62,500;
    # per fold T + R + C - 2 = 64 + 32 + 32 - 2 = 126; 62,500 * 126 - 1 = 7,874,999 cycles.
    # SRAM: A re-read per column fold 2 * 10^6 * 64, B per row fold 31,250 * 64 * 64.
    start = time.perf_counter()
    result = simulate(gemm_op(10**6, 64, 64), make_array()).iloc[0]
    assert time.perf_counter() - start < 3.0
    assert result["folds"] == 62_500
    assert result["total_cycles"] == result["compute_cycles"] == 62_500 * 126 - 1
    assert result["ifmap_sram_reads"] == 2 * 10**6 * 64
    assert result["filter_sram_reads"] == 31_250 * 64 * 64


def test_a_million_row_gemm_bound_by_dram_is_closed_form():
    # Same GEMM at 8 B/cycle, int8. ifmap (10^6 x 64 = 64 MB) does not fit the 32 kB working half:
    # 32 x 64 = 2,048 B every fold; filter column tile 64 x 32 = 2,048 B fits: read when a column
    # fold starts; ofmap 32 x 32 = 1,024 B written every fold; H = 32,768 B.
    # Preload: ifmap folds 0-15 (16 x 2,048 = 32,768 <= H), both filter tiles (4,096):
    #   prefetch = 36,864 / 8 = 4,608 cycles.
    # A fold waits for the next fold's reads: folds 15..62,498 read 2,048 B = 256 cycles > 126:
    #   62,484 folds x 130 = 8,122,920 cycles.
    # ofmap backlog: fold 0 -> 1,024; folds 1-14 the idle channel writes 126 x 8 = 1,008 B a fold:
    #   +16 each -> 1,248; from fold 15 the channel never idles: +1,024 a fold; folds 15-44 end at
    #   31,968, fold 45 overflows H by 224, folds 46..62,498 by 1,024 each (62,453 folds), the
    #   last fold by 16: 224 + 62,453 x 1,024 + 16 = 63,952,112 B = 7,994,014 cycles.
    # stall = 8,122,920 + 7,994,014 = 16,116,934; drain = 32,768 / 8 = 4,096 cycles.
    # (The channel is the bottleneck: 62,500 x (2,048 + 1,024) / 8 = 24,000,000 cycles.)
    result = simulate(gemm_op(10**6, 64, 64), make_array(dram_bytes_per_cycle=8)).iloc[0]
    assert result["stall_cycles"] == 16_116_934
    assert result["total_cycles"] == 7_874_999 + 16_116_934
    assert result["prefetch_cycles"] == 4_608
    assert result["drain_cycles"] == 4_096
    assert result["total_cycles_incl_prefetch"] == 4_608 + 23_991_933 + 4_096


def test_a_gemm_of_a_trillion_rows_runs():
    # 10^12 x 64 x 64 = 4.1e15 MACs, under 2^53: 31,250,000,000 x 2 folds of 126 cycles
    result = simulate(gemm_op(10**12, 64, 64), make_array(dram_bytes_per_cycle=30)).iloc[0]
    assert result["compute_cycles"] == 62_500_000_000 * 126 - 1


def test_an_absurd_gemm_is_one_line_and_exit_2(capsys):
    code = main(["simulate", "--hw", "scalesim_32x32", "--gemm", "1000000000000000000,64,64"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "M = 1000000000000000000 is too large for the systolic engine" in err
    assert "2^53" in err and "M may be at most about 2.2e+12" in err


def _fold_by_fold(spatial_rows, spatial_cols, array_rows, array_cols, cycles_per_fold, params, side, width):
    """The fold walk one fold at a time, in absolute cycles (the engine's former numba loop)."""
    row_folds = -(-spatial_rows // array_rows)
    col_folds = -(-spatial_cols // array_cols)
    folds = row_folds * col_folds
    read, written, dram = [0.0] * folds, [0.0] * folds, [0.0] * 3
    psum, preloaded, preloading, prefetch_bytes = 0.0, [0.0, 0.0], [True, True], side
    for fc in range(col_folds):
        cols = min(array_cols, spatial_cols - fc * array_cols)
        for fr in range(row_folds):
            rows = min(array_rows, spatial_rows - fr * array_rows)
            f = fc * row_folds + fr
            for i in range(3):
                has_r, has_c, per_row, per_col, other, per_element, fetch, spills, half = params[i]
                tile = other * (rows * per_row if has_r else 1) * (cols * per_col if has_c else 1)
                size = tile * per_element
                moved = (fetch, True) in ((0, True), (1, fc == 0), (2, fr == 0), (3, fr == row_folds - 1))
                if moved:
                    dram[i] += size
                    if i == 2:
                        written[f] += size
                    elif preloading[i] and preloaded[i] + size <= half:
                        preloaded[i] += size
                        prefetch_bytes += size
                    else:
                        preloading[i] = False
                        read[f] += size
                if spills and fr > 0:
                    psum += size
                    read[f] += size
    if width == 0.0:
        return (*dram, psum, 0.0, 0.0, 0.0)
    prefetch = (prefetch_bytes + read[0]) / width
    start = read_free = prefetch
    backlog = stall = 0.0
    for f in range(folds):
        end = start + cycles_per_fold
        if f + 1 < folds:
            read_free = max(start, read_free) + read[f + 1] / width
        reading = max(0.0, min(end, read_free) - start)
        backlog = max(0.0, backlog - (end - start - reading) * width) + written[f]
        ready = max(end, read_free)
        if backlog > params[2][8]:
            ready += (backlog - params[2][8]) / width
            backlog = params[2][8]
        stall += ready - end
        start = ready
    return (*dram, psum, prefetch, stall, backlog / width)


@pytest.mark.parametrize("seed", range(4))
def test_closed_form_equals_the_fold_by_fold_walk(seed):
    rng = random.Random(seed)
    for _ in range(100):
        array_rows, array_cols = rng.choice([1, 3, 8, 32]), rng.choice([1, 5, 8, 32])
        spatial_rows = rng.randint(1, rng.choice([12, 60]) * array_rows)
        spatial_cols = rng.randint(1, rng.choice([12, 60]) * array_cols)
        params = np.zeros((3, 9))
        for i in range(3):
            params[i] = (
                rng.random() < 0.6,  # has the rows dim
                rng.random() < 0.6,  # has the cols dim
                rng.choice([1, 2, 0.5]),
                rng.choice([1, 3]),
                rng.choice([1, 17, 100]),
                rng.choice([1.0, 2.0, 0.37]),  # bytes per element
                rng.choice([0, 1, 2]) if i < 2 else rng.choice([0, 3]),  # Fetch
                i == 2 and rng.random() < 0.3,  # spills partial sums
                rng.choice([16, 100, 2000, 1e5, 1e9]),  # working half of the SRAM
            )
        args = (spatial_rows, spatial_cols, array_rows, array_cols, rng.randint(1, 200), params)
        side, width = rng.choice([0.0, 100.0]), rng.choice([0.0, 0.25, 1.0, 10.0, 1000.0])
        operands = [
            OperandWalk(has_rows=bool(r[0]), has_cols=bool(r[1]), per_row=r[2], per_col=r[3], other=r[4],
                        per_element=r[5], fetch=Fetch(int(r[6])), spills=bool(r[7]), half=r[8])
            for r in params.tolist()
        ]  # fmt: skip
        walk = walk_folds(*args[:5], operands, side, width)
        got = (*walk.dram_bytes, walk.psum_read_bytes, walk.prefetch_cycles, walk.stall_cycles,
               walk.drain_cycles)  # fmt: skip
        # the fold-by-fold walk adds in absolute cycles and rounds more: agreement to 1e-7
        assert got == pytest.approx(_fold_by_fold(*args, side, width), rel=1e-7, abs=1e-7), args


@pytest.mark.parametrize("dataflow", list(Dataflow))
def test_fold_walk_time_does_not_grow_with_the_layer(dataflow):
    array = make_array(dataflow=dataflow, dram_bytes_per_cycle=10)
    times = []
    for rows in (10**3, 10**9):
        start = time.perf_counter()
        simulate(gemm_op(rows, 300, 200), array)
        times.append(time.perf_counter() - start)
    assert times[1] < 10 * times[0] + 0.05
