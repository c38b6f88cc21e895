"""The fold walk of the systolic engine in closed form: work per fold class, not per fold.

Folds run column folds outside, row folds inside. What a fold moves depends only on its class:
whether it is the first, a middle or the last row fold (the last may be partial), the same for its
column fold, and whether an input operand's first tiles are still being preloaded. A layer has at
most nine classes plus the few folds where a preload ends, so every total below is a count times a
per-class value, and a GEMM of 10^12 rows costs what one of 10^3 rows costs.

The double-buffered pipeline on one DRAM channel (docs/systolic_model.md, "Stall cycles"): fold
f+1's data is read while fold f computes, and fold f's outputs drain behind the reads. With ``a``
the next fold's read time, ``c`` the cycles per fold and ``w`` bytes per cycle, fold f waits
``max(0, a - c)`` for its reads, and the ofmap backlog ``b`` (bytes not yet written) follows

    b' = min(H, max(0, b - D) + O),    D = max(0, c - a) * w  (what the idle channel writes),

where O is fold f's output and H the ofmap SRAM's working half; what exceeds H stalls the array
for ``(excess) / w`` cycles. Over a run of identical folds this map moves ``b`` by a constant until
it meets a bound and then stays, so a run is a few arithmetic steps (`_advance`); a repeated column
fold is a composition of such maps, which ramps by a constant or stops changing
(`_repeat_column_fold`).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass


class Fetch(enum.IntEnum):
    """Which folds move an operand's tile over DRAM (the fold loop: column folds outside)."""

    EVERY_FOLD = 0
    FIRST_COLUMN_FOLD = 1  # reused across column folds: fetched during the first pass only
    FIRST_ROW_FOLD = 2  # reused across row folds: fetched when a column fold starts
    LAST_ROW_FOLD = 3  # an output accumulated over row (K) folds: written when it is complete


@dataclass(frozen=True, kw_only=True)
class OperandWalk:
    """One operand (ifmap, filter or ofmap) as the fold walk sees it: whether it has the rows and
    the columns dim, its elements per spatial row and per spatial column, its elements along the
    other dims, its DRAM bytes per element, which folds move its tile (`fetch`), whether its
    partial sums spill (an ofmap), and the bytes of its SRAM's working half."""

    has_rows: bool
    has_cols: bool
    per_row: float
    per_col: float
    other: float
    per_element: float
    fetch: Fetch
    spills: bool
    half: float


@dataclass(frozen=True)
class _Span:
    """Consecutive row (or column) folds of one class: the first index, how many, their size."""

    start: int
    count: int
    size: int  # rows (columns) of the array each of these folds uses
    first: bool
    last: bool


@dataclass(frozen=True)
class FoldTotals:
    """What the fold walk yields for one GEMM instance (bytes and cycles)."""

    dram_bytes: tuple[float, float, float]  # ifmap, filter, ofmap
    psum_read_bytes: float
    prefetch_cycles: float
    stall_cycles: float
    drain_cycles: float


def walk_folds(
    spatial_rows: int,
    spatial_cols: int,
    array_rows: int,
    array_cols: int,
    cycles_per_fold: int,
    operands: Sequence[OperandWalk],
    side_bytes: float,
    bytes_per_cycle: float,
) -> FoldTotals:
    """Each operand's DRAM bytes, the partial-sum read-backs and the (prefetch, stall, drain)
    cycles of the double-buffered pipeline (`bytes_per_cycle` 0: unlimited, no stalls).

    `operands` are the ifmap's, the filter's and the ofmap's `OperandWalk`."""
    walk = _Walk(spatial_rows, spatial_cols, array_rows, array_cols, operands)
    dram = tuple(walk.dram_bytes(i) for i in range(3))
    psum = walk.psum_read_bytes()
    if bytes_per_cycle == 0.0:
        return FoldTotals(dram, psum, 0.0, 0.0, 0.0)  # type: ignore[arg-type]
    preloaded = [walk.preload(i) for i in range(2)]
    stops = tuple(stop for stop, _ in preloaded)
    items = walk.column_items(stops)
    prefetch_bytes = side_bytes + sum(fill for _, fill in preloaded)
    prefetch = (prefetch_bytes + items[0][1][0][1]) / bytes_per_cycle
    stall, backlog = _pipeline(items, float(cycles_per_fold), bytes_per_cycle, operands[2].half)
    return FoldTotals(dram, psum, prefetch, stall, backlog / bytes_per_cycle)  # type: ignore[arg-type]


def _spans(size: int, array: int) -> list[_Span]:
    """The folds of a dim of `size` on `array` PEs, as first / middle / last spans."""
    folds = -(-size // array)
    last = size - (folds - 1) * array
    if folds == 1:
        return [_Span(0, 1, last, True, True)]
    spans = [_Span(0, 1, array, True, False)]
    if folds > 2:
        spans.append(_Span(1, folds - 2, array, False, False))
    return [*spans, _Span(folds - 1, 1, last, False, True)]


def _split(spans: list[_Span], at: int) -> list[_Span]:
    """`spans` with the span holding index `at` cut in two there."""
    out = []
    for span in spans:
        if span.start < at < span.start + span.count:
            head = at - span.start
            out.append(_Span(span.start, head, span.size, span.first, False))
            out.append(_Span(at, span.count - head, span.size, False, span.last))
        else:
            out.append(span)
    return out


class _Walk:
    """The fold classes of one mapping and each operand's tile in each class."""

    def __init__(self, spatial_rows, spatial_cols, array_rows, array_cols, operands) -> None:
        self.rows = _spans(spatial_rows, array_rows)
        self.cols = _spans(spatial_cols, array_cols)
        self.row_folds = -(-spatial_rows // array_rows)
        self.col_folds = -(-spatial_cols // array_cols)
        self.folds = self.row_folds * self.col_folds
        self.operands = operands

    def tile(self, i: int, row: _Span, col: _Span) -> float:
        """Bytes of operand `i`'s tile in a fold of these spans (the fold loop's arithmetic)."""
        operand = self.operands[i]
        tile = operand.other
        if operand.has_rows:
            tile *= row.size * operand.per_row
        if operand.has_cols:
            tile *= col.size * operand.per_col
        return tile * operand.per_element

    def moved(self, i: int, row: _Span, col: _Span) -> bool:
        fetch = self.operands[i].fetch
        return (
            fetch is Fetch.EVERY_FOLD
            or (fetch is Fetch.FIRST_COLUMN_FOLD and col.first)
            or (fetch is Fetch.FIRST_ROW_FOLD and row.first)
            or (fetch is Fetch.LAST_ROW_FOLD and row.last)
        )

    def spills(self) -> bool:
        return self.operands[2].spills

    def dram_bytes(self, i: int) -> float:
        return sum(
            row.count * col.count * self.tile(i, row, col)
            for col in self.cols
            for row in self.rows
            if self.moved(i, row, col)
        )

    def psum_read_bytes(self) -> float:
        if not self.spills():
            return 0.0
        return sum(
            row.count * col.count * self.tile(2, row, col)
            for col in self.cols
            for row in self.rows
            if not row.first
        )

    def preload(self, i: int) -> tuple[int, float]:
        """Input `i`'s first moved tiles fill the working half of its SRAM before the array starts,
        until one does not fit: (the index of the first fold whose tile is not preloaded, or the
        fold count; the bytes preloaded)."""
        half = self.operands[i].half
        filled = 0.0
        for col in self.cols:
            moves = [(row, self.tile(i, row, col)) for row in self.rows if self.moved(i, row, col)]
            per_column_fold = sum(row.count * size for row, size in moves)
            if per_column_fold == 0.0:
                continue
            fc, left = col.start, col.count
            while left > 0:
                whole = _fitting(filled, per_column_fold, left, half)
                filled += whole * per_column_fold
                fc += whole
                left -= whole
                if left == 0:
                    break
                for row, size in moves:  # column fold `fc` holds the first tile that does not fit
                    k = _fitting(filled, size, row.count, half)
                    filled += k * size
                    if k < row.count:
                        return fc * self.row_folds + row.start + k, filled
                fc += 1  # (it fitted after all, tile by tile: rounding)
                left -= 1
        return self.folds, filled

    def column_items(self, stops: tuple[int, ...]) -> list[tuple[int, list[tuple[int, float, float]]]]:
        """The folds in order as (repeats, runs): a column fold's runs of identical folds (count,
        bytes read for each, bytes written by each), repeated `repeats` times. Column folds holding
        the end of a preload stand alone; the others of a class repeat."""
        cut = sorted({stop // self.row_folds for stop in stops if stop < self.folds})
        items = []
        for col in self.cols:  # first and last spans hold one column fold: only middles are cut
            start, end = col.start, col.start + col.count
            for fc in [*(c for c in cut if start <= c < end), end]:
                if fc > start:  # column folds [start, fc): each on the same side of every stop
                    span = _Span(start, fc - start, col.size, col.first, col.last)
                    items.append((fc - start, self._runs(span, start, stops)))
                if fc < end:
                    items.append((1, self._runs(_Span(fc, 1, col.size, col.first, col.last), fc, stops)))
                start = fc + 1
        return items

    def _runs(self, col: _Span, fc: int, stops: tuple[int, ...]) -> list[tuple[int, float, float]]:
        """Column fold `fc`'s runs: (folds, bytes read into the next fold's buffer, bytes out)."""
        rows = self.rows
        for stop in stops:
            if fc * self.row_folds < stop < (fc + 1) * self.row_folds:
                rows = _split(rows, stop - fc * self.row_folds)
        runs = []
        for row in rows:
            first_fold = fc * self.row_folds + row.start
            read = 0.0
            for i in range(2):
                if self.moved(i, row, col) and first_fold >= stops[i]:
                    read += self.tile(i, row, col)
            if self.spills() and not row.first:
                read += self.tile(2, row, col)
            written = self.tile(2, row, col) if self.moved(2, row, col) else 0.0
            runs.append((row.count, read, written))
        return runs


def _fitting(filled: float, size: float, count: int, half: float) -> int:
    """How many of `count` tiles of `size` bytes still fit, added one by one, after `filled`."""
    if size <= 0.0:
        return count
    k = max(0, min(count, math.floor((half - filled) / size)))
    while k < count and filled + (k + 1) * size <= half:
        k += 1
    while k > 0 and filled + k * size > half:
        k -= 1
    return k


def _pipeline(items, cycles: float, width: float, cap: float) -> tuple[float, float]:
    """Stall cycles and the backlog left after the last fold, over the folds of `items`."""
    stall = 0.0
    overflow = 0.0
    backlog = 0.0
    for index, (repeats, runs) in enumerate(items):
        after = items[index + 1][1][0][1] if index + 1 < len(items) else 0.0
        if repeats > 1:  # the next column fold of the repeat reads like this one's first fold
            steps = _steps(runs, runs[0][1], cycles, width)
            backlog, extra, waits = _repeat_column_fold(steps, repeats - 1, backlog, cap)
            overflow += extra
            stall += waits
        steps = _steps(runs, after, cycles, width)
        backlog, extra, waits = _repeat_column_fold(steps, 1, backlog, cap)
        overflow += extra
        stall += waits
    return stall + overflow / width, backlog


def _steps(runs, after: float, cycles: float, width: float) -> list[tuple[int, float, float, float]]:
    """Per run of identical folds: (folds, cycles waiting for the next fold's reads, bytes the
    idle channel can write, bytes written). A fold's wait is set by the next fold's reads."""
    steps = []
    for index, (count, _, written) in enumerate(runs):
        following = runs[index + 1][1] if index + 1 < len(runs) else after
        if count > 1:
            steps.append(_step(count - 1, runs[index][1], written, cycles, width))
        steps.append(_step(1, following, written, cycles, width))
    return steps


def _step(count: int, read: float, written: float, cycles: float, width: float):
    read_cycles = read / width
    reading = min(cycles, read_cycles)
    return count, max(0.0, read_cycles - cycles), (cycles - reading) * width, written


def _repeat_column_fold(steps, repeats: int, backlog: float, cap: float) -> tuple[float, float, float]:
    """`repeats` passes over `steps` from `backlog`: (backlog after, bytes over the cap, read
    waits). The passes compose to ``b -> min(U, max(L, b + S))``: where no bound binds, a pass
    shifts the backlog by S (jumped over in one step); once one binds, the next passes repeat."""
    waits = repeats * sum(count * wait for count, wait, _, _ in steps)
    shift = 0.0
    low, high = -math.inf, math.inf  # backlogs at the start of a pass for which no bound binds
    for count, _, drain, written in steps:
        step = written - drain
        low = max(low, drain - shift - min(0.0, (count - 1) * step))
        high = min(high, cap - step - shift - max(0.0, (count - 1) * step))
        shift += count * step
    overflow = 0.0
    passes = 0
    while repeats > 0:
        if low <= backlog <= high:
            if shift == 0.0:
                break
            free = math.floor(((high - backlog) if shift > 0 else (backlog - low)) / abs(shift)) + 1
            free = min(free, repeats)
            backlog += free * shift
            repeats -= free
            continue
        after, extra = backlog, 0.0
        for count, _, drain, written in steps:
            after, over = _advance(after, count, drain, written, cap)
            extra += over
        overflow += extra
        repeats -= 1
        passes += 1
        if abs(after - backlog) <= 1e-12 * cap or passes > 64:  # a fixed point: passes repeat
            overflow += repeats * extra
            backlog = after
            break
        backlog = after
    return backlog, overflow, waits


def _advance(backlog: float, count: int, drain: float, written: float, cap: float) -> tuple[float, float]:
    """`count` folds of ``b -> min(cap, max(0, b - drain) + written)`` from `backlog`: (the backlog
    after, the bytes that exceeded `cap` on the way)."""
    overflow = 0.0
    step = written - drain
    while count > 0:
        if backlog <= drain or step == 0.0:
            level = max(0.0, backlog - drain) + written
            overflow += max(0.0, level - cap)
            backlog = min(cap, level)
            count -= 1
            if backlog <= drain or step == 0.0:  # the same every fold from here
                overflow += count * max(0.0, max(0.0, backlog - drain) + written - cap)
                return backlog, overflow
            continue
        if step > 0:  # rising by `step` a fold until the cap
            free = _fitting(backlog, step, count, cap)
            backlog += free * step
            count -= free
            if count == 0:
                break
            overflow += backlog + step - cap
            backlog = cap
            count -= 1
            overflow += count * step  # at the cap, every fold overflows by `step`
            return backlog, overflow
        # falling by -step a fold until the channel keeps up
        fall = min(count, math.ceil((backlog - drain) / -step))
        backlog += fall * step
        count -= fall
    return backlog, overflow
