"""Check the SCALE-Sim v3 model of SCALESIM_MODEL_NOTES.md against the reference CSV.

Plain python + numpy/pandas; SCALE-Sim itself is not needed.  For every
formula of the notes this prints how many rows of
``tests/data/scalesim_reference.csv`` it reproduces exactly and the worst
absolute error on the others.

Two kinds of checks:

* closed formulas (section "closed"): compute cycles, SRAM access counts and
  utilisation columns for every row; DRAM counts, DRAM start/stop cycles,
  stalls and incl.-prefetch cycles in the regimes where they are closed;
* the replay algorithm (section "replay"): a compact re-implementation of
  SCALE-Sim's memory system (demand streams, read buffers in CALC and USER
  mode, the OFMAP write buffer) that reproduces stall cycles, total cycles,
  DRAM counts and every start/stop cycle.

Usage::

    python benchmarks/scalesim_reference/check_formulas.py [CSV] [--no-replay] [--max-replay-s S]
"""

import argparse
import bisect
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

IFMAP_OFFSET, FILTER_OFFSET, OFMAP_OFFSET = 0, 10_000_000, 20_000_000
READ_HIT_LATENCY = 1  # read_buffer / read_port latency; the write port has none
CALC_IFMAP_FILTER_BW = 10  # ReadBufferEstimateBw's "arbitrary" default bandwidth
DEFAULT_CSV = Path(__file__).resolve().parents[2] / "tests/data/scalesim_reference.csv"


# --------------------------------------------------------------------------- geometry


@dataclass
class Geometry:
    """SCALE-Sim's view of one layer on one array with one dataflow."""

    df: str
    M: int  # ofmap pixels (GEMM M)
    N: int  # filters (GEMM N)
    K: int  # window size (GEMM K)
    R: int  # array rows
    C: int  # array cols
    Sr: int  # spatial dim mapped on the rows
    Sc: int  # spatial dim mapped on the cols
    T: int  # temporal dim
    row_folds: int
    col_folds: int
    lines_per_fold: int

    @property
    def folds(self) -> int:
        """Number of folds (tiles) = demand-matrix blocks."""
        return self.row_folds * self.col_folds


def conv_out(size: int, filt: int, stride: int) -> int:
    """Output size as SCALE-Sim computes it: ceil((size - filt + stride) / stride)."""
    return math.ceil((size - filt + stride) / stride)


def layer_params(row) -> tuple[int, int, int, int, int, int, int]:
    """(H, W, Fh, Fw, Ch, Nf, S) of a row; a GEMM is the conv (M, K, 1, K, 1, N, 1)."""
    if row["kind"] == "gemm":
        m, n, k = int(row["M"]), int(row["N"]), int(row["K"])
        return m, k, 1, k, 1, n, 1
    names = ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "num_filters", "stride")
    return tuple(int(row[name]) for name in names)


def geometry(row) -> Geometry:
    """Fold geometry: OS maps (M, N) spatially and K in time; WS (K, N) / M; IS (K, M) / N."""
    h, w, fh, fw, ch, nf, s = layer_params(row)
    m, n, k = conv_out(h, fh, s) * conv_out(w, fw, s), nf, fh * fw * ch
    r, c, df = int(row["rows"]), int(row["cols"]), row["dataflow"]
    sr, sc, t = {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[df]
    lines = t + r + c - 2 if df == "os" else 2 * r + c + t - 2
    return Geometry(df, m, n, k, r, c, sr, sc, t, math.ceil(sr / r), math.ceil(sc / c), lines)


# --------------------------------------------------------------------------- closed forms


def closed_forms(row) -> dict:
    """Closed-form predictions for one CSV row.

    Compute cycles, SRAM counts and the utilisation columns hold for every
    row.  The DRAM/stall formulas are only emitted in the regimes where they
    are closed (see the notes): CALC epochs that never roll over, USER
    operands that fit in the active half of their SRAM, OFMAP results that
    fit in the drain half of the OFMAP SRAM.
    """
    g = geometry(row)
    m, n, k, r, c = g.M, g.N, g.K, g.R, g.C
    compute_cycles = g.folds * g.lines_per_fold - 1
    if g.df == "os":
        sram = (g.col_folds * m * k, g.row_folds * k * n, m * n + g.folds * (r + c))
        fold_cycles = g.lines_per_fold
    elif g.df == "ws":
        sram = (g.col_folds * m * k, k * n, g.row_folds * m * n)
        fold_cycles = 2 * r + 2 * c + g.T - 3
    else:
        sram = (m * k, g.col_folds * k * n, g.row_folds * m * n)
        fold_cycles = 2 * r + 2 * c + g.T - 3
    mapping = g.Sr * g.Sc / (g.folds * r * c)
    out = {
        "compute_cycles": compute_cycles,
        "sram_ifmap_reads": sram[0],
        "sram_filter_reads": sram[1],
        "sram_ofmap_writes": sram[2],
        "mapping_efficiency_pct": 100 * mapping,
        "compute_util_pct": 100 * mapping * g.T / fold_cycles,
        "overall_util_pct": 100 * m * n * k / (row["total_cycles"] * r * c),
    }
    out.update(dram_closed_forms(g, row, compute_cycles))
    return out


def dram_closed_forms(g: Geometry, row, compute_cycles: int) -> dict:
    """DRAM counts, DRAM start/stop cycles, stalls and incl.-prefetch cycles where closed."""
    user = row["bw_mode"] == "USER"
    ifmap_op = operand_matrices(row)[0]
    valid_ifmap = int((ifmap_op >= 0).sum())
    distinct = {"ifmap": len(np.unique(ifmap_op[ifmap_op >= 0])), "filter": g.K * g.N}
    valid = {"ifmap": valid_ifmap, "filter": g.K * g.N}
    # prefetch-matrix entries (partial folds padded with -1) of the USER-mode fetch
    entries = {
        "os": {"ifmap": g.row_folds * g.R * g.K, "filter": g.col_folds * g.C * g.K},
        "ws": {"ifmap": g.row_folds * g.R * g.M, "filter": g.col_folds * g.C * g.K},
        "is": {"ifmap": g.col_folds * g.C * g.K, "filter": g.row_folds * g.R * g.N},
    }[g.df]
    # first demand line holding a valid request (stationary blocks are loaded bottom row first)
    unused_rows = g.R - min(g.R, g.K)
    first_line = {"os": (0, 0), "ws": (g.R, unused_rows), "is": (unused_rows, g.R)}[g.df]
    out, quiet_reads, prefetch_time = {}, True, {}
    for i, name in enumerate(("ifmap", "filter")):
        words = 1024 * int(row[f"{name}_kb"])
        if user:
            bw = int(row["bandwidth_words_per_cycle"])
            per_set = math.ceil(words / 100)
            first_lines = min(math.ceil(words / 2 / bw), math.ceil(entries[name] / bw))
            out[f"dram_{name}_start_cycle"] = -first_lines
            prefetch_time[name] = first_lines
            if valid[name] // per_set + 1 <= math.ceil(words / 2 / per_set):  # fits: no prefetch
                out[f"dram_{name}_reads"] = bw * first_lines
                out[f"dram_{name}_stop_cycle"] = -1
            else:
                quiet_reads = False
        else:
            set_size = math.floor(words / 100)
            epoch = 50 * set_size
            reads = calc_dram_reads(g, row, name, distinct[name], epoch)
            if reads is not None:
                out[f"dram_{name}_reads"] = reads
                if reads < epoch:
                    start = -math.ceil(math.ceil(reads / set_size) * set_size / 10)
                    out[f"dram_{name}_stop_cycle"] = -1
                else:  # first epoch prefetched at 10 words/cycle before the first request
                    start = first_line[i] - 5 * set_size
                out[f"dram_{name}_start_cycle"] = start
                prefetch_time[name] = -start
            quiet_reads = quiet_reads and distinct[name] < epoch
    results = g.M * g.N * (1 if g.df == "os" else g.row_folds)  # valid OFMAP writes W
    drain_words = 1024 * int(row["ofmap_kb"]) // 2
    if results <= drain_words:  # never drains before the end: one flush of W words
        out["dram_ofmap_writes"] = results
        if quiet_reads and len(prefetch_time) == 2:
            ofmap_bw = int(row["bandwidth_words_per_cycle"]) if user else g.C
            stop = compute_cycles + math.ceil(results / ofmap_bw) - 1
            out.update(stall_cycles=0, total_cycles=compute_cycles)
            out.update(dram_ofmap_start_cycle=compute_cycles, dram_ofmap_stop_cycle=stop)
            out["total_cycles_incl_prefetch"] = stop + max(prefetch_time.values())
    return out


def calc_dram_reads(g: Geometry, row, name: str, distinct: int, epoch: int):
    """CALC-mode DRAM reads from the epoch rule (notes, section (d)); None if not closed.

    E = 50 * floor(1024 * kB / 100) new addresses per epoch.  Fewer than E
    distinct addresses: each is read once.  GEMM operands streamed p times in
    the same order (P distinct words, P >= E): p * P.  The OS filter stream
    repeats each column chunk (K x cols words) row_folds times back to back:
    chunk * row_folds for chunks >= E, chunk for smaller ones (exact unless an
    epoch boundary falls inside the chunk's first pass).
    """
    if distinct < epoch:
        return distinct
    if row["kind"] != "gemm":
        return None
    passes = {"os": (g.col_folds, g.row_folds), "ws": (g.col_folds, 1), "is": (1, g.col_folds)}
    p = passes[g.df][0 if name == "ifmap" else 1]
    if g.df == "os" and name == "filter":
        chunks = [g.K * min(g.C, g.N - fc * g.C) for fc in range(g.col_folds)]
        return sum(b * (p if b >= epoch else 1) for b in chunks)
    return p * distinct


# --------------------------------------------------------------------------- operands and streams


def operand_matrices(row) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SCALE-Sim's address matrices: ifmap (M x K), filter (K x N), ofmap (M x N); -1 = none."""
    h, w, fh, fw, ch, nf, s = layer_params(row)
    ow = conv_out(w, fw, s)
    m, k = conv_out(h, fh, s) * ow, fh * fw * ch
    i, j = np.meshgrid(np.arange(m), np.arange(k), indexing="ij")
    orow, ocol = np.divmod(i, ow)
    crow, rem = np.divmod(j, fw * ch)
    ccol, cch = np.divmod(rem, ch)
    valid = (crow + orow * s < h) & (ccol + ocol * s < w)
    addr = ((orow * s + crow) * w + ocol * s + ccol) * ch + cch + IFMAP_OFFSET
    ifmap = np.where(valid, addr, -1)
    filt = FILTER_OFFSET + np.arange(nf)[None, :] * k + np.arange(k)[:, None]
    ofmap = OFMAP_OFFSET + np.arange(m)[:, None] * nf + np.arange(nf)[None, :]
    return ifmap, filt, ofmap


def fold_ids(g: Geometry):
    """Yield (fold_index, fr, fc) in SCALE-Sim's order: col folds outer, row folds inner."""
    for fc in range(g.col_folds):
        for fr in range(g.row_folds):
            yield fc * g.row_folds + fr, fr, fc


def block_stream(values: np.ndarray, line: np.ndarray, base: int):
    """Flatten one fold block: (line, lane, address) of its valid entries."""
    lane = np.broadcast_to(np.arange(values.shape[1])[None, :], values.shape)
    keep = values >= 0
    return line[keep] + base, lane[keep], values[keep]


def demand_streams(g: Geometry, ops) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Demand streams: per operand, (line, address) of valid requests in service order.

    Lines are global demand-matrix rows; within a line requests are served
    in lane (column) order.  Built per fold from the un-skewed blocks:
    a skewed block puts element (tau, lane) on line tau + lane.
    """
    ifmap, filt, ofmap = ops
    r, c, t, lpf = g.R, g.C, g.T, g.lines_per_fold
    parts = {"ifmap": [], "filter": [], "ofmap": []}

    def pad(block, rows, cols):
        out = np.full((rows, cols), -1, dtype=np.int64)
        out[: block.shape[0], : block.shape[1]] = block
        return out

    tau_r = np.arange(t)[:, None] + np.arange(r)[None, :]
    tau_c = np.arange(t)[:, None] + np.arange(c)[None, :]
    flip_r = np.broadcast_to((r - 1 - np.arange(r))[:, None], (r, c))
    for f, fr, fc in fold_ids(g):
        rs, cs, base = slice(fr * r, fr * r + r), slice(fc * c, fc * c + c), f * lpf
        if g.df == "os":  # ifmap lanes = M rows, filter lanes = N cols, T = K
            parts["ifmap"].append(block_stream(pad(ifmap[rs, :].T, t, r), tau_r, base))
            parts["filter"].append(block_stream(pad(filt[:, cs], t, c), tau_c, base))
            oline = (t - 1) + flip_r + np.arange(c)[None, :]
            parts["ofmap"].append(block_stream(pad(ofmap[rs, cs], r, c), oline, base))
        elif g.df == "ws":  # stationary filter block, ifmap streams M in time
            parts["ifmap"].append(block_stream(pad(ifmap[:, rs], t, r), r + tau_r, base))
            parts["filter"].append(block_stream(pad(filt[rs, cs], r, c), flip_r, base))
            parts["ofmap"].append(block_stream(pad(ofmap[:, cs], t, c), 2 * r - 1 + tau_c, base))
        else:  # IS: stationary ifmap block (K x M), filter streams N in time
            parts["ifmap"].append(block_stream(pad(ifmap[cs, rs].T, r, c), flip_r, base))
            parts["filter"].append(block_stream(pad(filt[rs, :].T, t, r), r + tau_r, base))
            parts["ofmap"].append(block_stream(pad(ofmap[cs, :].T, t, c), 2 * r - 1 + tau_c, base))
    streams = {}
    for name, chunks in parts.items():
        lines = np.concatenate([p[0] for p in chunks])
        lanes = np.concatenate([p[1] for p in chunks])
        addrs = np.concatenate([p[2] for p in chunks])
        order = np.lexsort((lanes, lines))
        streams[name] = (lines[order], addrs[order])
    return streams


def diagonal_order(mat: np.ndarray) -> np.ndarray:
    """SCALE-Sim's diagonal roll-out: by anti-diagonal, then by row descending."""
    rows, cols = np.indices(mat.shape)
    order = np.lexsort((-rows.ravel(), (rows + cols).ravel()))
    return mat.ravel()[order]


def prefetch_order(g: Geometry, ops, name: str) -> np.ndarray:
    """USER-mode fetch order of an operand (the compute unit's prefetch matrix, -1 = padding)."""
    ifmap, filt, _ = ops
    r, c = g.R, g.C

    def stack(blocks, width):
        padded = []
        for block in blocks:
            out = np.full((block.shape[0], width), -1, dtype=np.int64)
            out[:, : block.shape[1]] = block
            padded.append(out)
        return np.concatenate(padded)

    rows = [slice(i * r, i * r + r) for i in range(g.row_folds)]
    cols = [slice(i * c, i * c + c) for i in range(g.col_folds)]
    if g.df == "os":
        if name == "ifmap":
            return diagonal_order(stack([ifmap[s, :].T for s in rows], r))
        return diagonal_order(stack([filt[:, s] for s in cols], c))
    if g.df == "ws":
        if name == "ifmap":
            return diagonal_order(stack([ifmap[:, s] for s in rows], r))
        return stack([filt[:, s] for s in cols], c).ravel()
    if name == "ifmap":
        return stack([ifmap[s, :].T for s in cols], c).ravel()
    return diagonal_order(stack([filt[s, :].T for s in rows], r))


# --------------------------------------------------------------------------- memory replay


class CalcReadBuffer:
    """ReadBufferEstimateBw: counts new addresses per epoch of 50 sets, never stalls."""

    def __init__(self, size_kb: int, addrs: np.ndarray, lines: np.ndarray):
        """Replay the epoch rule over the stream; remember the epoch-boundary lines."""
        self.set_size = math.floor(1024 * size_kb / 100)
        epoch = 50 * self.set_size
        self.boundary_lines = []  # line of the request that completed each 50-set epoch
        distinct = len(np.unique(addrs))
        if distinct < epoch:  # the first epoch never ends
            self.new = distinct
        elif distinct == len(addrs):  # no repeats: every request is new
            self.new = len(addrs)
            self.boundary_lines = list(lines[epoch - 1 :: epoch])
        else:
            seen, count, total = set(), 0, 0
            for addr, line in zip(addrs.tolist(), lines.tolist(), strict=True):
                if addr in seen:
                    continue
                seen.add(addr)
                count += 1
                total += 1
                if count == epoch:
                    self.boundary_lines.append(line)
                    seen, count = set(), 0
            self.new = total
        self.first_line = int(lines[0]) if len(lines) else 0

    def dram(self, line_cycle) -> tuple[int, int, int]:
        """(start, stop, reads) of the DRAM trace; line_cycle maps a line to its cycle."""
        if not self.boundary_lines:
            sets = math.ceil(self.new / self.set_size)
            return -math.ceil(sets * self.set_size / CALC_IFMAP_FILTER_BW), -1, self.new
        start = line_cycle(self.first_line) - math.ceil(50 * self.set_size / CALC_IFMAP_FILTER_BW)
        return start, line_cycle(self.boundary_lines[-1]) + 1, self.new


class UserReadBuffer:
    """read_buffer in USER mode: a window of hashed sets over the fetch order."""

    def __init__(self, size_kb: int, bw: int, fetch: np.ndarray):
        """Build the hashed sets (valid fetch entries in chunks of ceil(words / 100))."""
        words = 1024 * size_kb
        active = math.ceil(words * 0.5)
        prefetch = words - active
        self.bw = bw
        per_set = math.ceil(words / 100)
        valid = fetch[fetch >= 0]
        self.num_sets = len(valid) // per_set + 1
        self.active_sets = min(math.ceil(active / per_set), self.num_sets)
        self.step = min(math.ceil(prefetch / per_set), self.num_sets - self.active_sets)
        set_of = np.arange(len(valid)) // per_set
        self.sets_of = {}
        for addr, s in zip(valid.tolist(), set_of.tolist(), strict=True):
            self.sets_of.setdefault(addr, []).append(s)
        fetch_lines = math.ceil(len(fetch) / bw)
        self.first_lines = min(math.ceil(active / bw), fetch_lines)
        self.prefetch_lines = math.ceil(prefetch / bw)
        self.start = 0
        self.last_prefetch = -1  # prefetch_active_buffer always ends at cycle -1
        self.prefetches = 0

    def hit(self, addr) -> bool:
        """Is one of the sets holding addr inside the active window?"""
        lo, n = self.start, self.num_sets
        hi = (lo + self.active_sets) % n if self.prefetches else self.active_sets
        if lo < hi:
            return any(lo <= s < hi for s in self.sets_of[addr])
        return any(s >= lo or s < hi for s in self.sets_of[addr])

    def serve(self, cycle: int, addrs) -> int:
        """Serve one demand line issued at ``cycle``; return its stall (may be negative)."""
        offset = READ_HIT_LATENCY
        for addr in addrs:
            while not self.hit(addr):
                self.start = (self.start + self.step) % self.num_sets
                self.prefetches += 1
                self.last_prefetch += self.prefetch_lines + 1
                potential = self.last_prefetch - (cycle + offset)
                offset += potential
                if potential > 0:  # SCALE-Sim adds positive stalls twice
                    offset += potential
        return offset - READ_HIT_LATENCY

    def dram(self) -> tuple[int, int, int]:
        """(start, stop, reads): reads count whole fetch lines of ``bw`` words."""
        reads = (self.first_lines + self.prefetches * self.prefetch_lines) * self.bw
        return -self.first_lines, self.last_prefetch, reads


class WriteBuffer:
    """write_buffer: fills, and drains half of the SRAM whenever more than half is used."""

    def __init__(self, size_kb: int, bw: int):
        """Empty buffer of ``size_kb`` kB draining ``bw`` words per cycle."""
        self.total = 1024 * size_kb
        self.drain_size = self.total - math.ceil(self.total * 0.5)
        self.bw = bw
        self.free = self.total
        self.lines = []  # valid words of every DRAM write line built so far
        self.fill = 0  # words in the line being built
        self.drained_lines = 0
        self.drain_end = 0
        self.writes = 0
        self.first_drain = None
        self.last_drain_end = None

    def _push_partial(self) -> None:
        """Close the line being built, padded with -1 (SCALE-Sim's forced append)."""
        if self.fill:
            self.lines.append(self.fill)
            self.fill = 0

    def _drain(self, cycle: int) -> int:
        """Drain up to half the SRAM, one line per cycle from ``cycle``; return the end cycle."""
        count = min(math.ceil(self.drain_size / self.bw), len(self.lines) - self.drained_lines)
        chunk = self.lines[self.drained_lines : self.drained_lines + count]
        data = (count - 1) * self.bw + chunk[-1]  # only the last line's -1s are discounted
        self.writes += data
        self.free += data
        self.drained_lines += count
        if self.first_drain is None:
            self.first_drain = cycle
        end = cycle + count - 1
        self.last_drain_end = end if self.last_drain_end is None else max(self.last_drain_end, end)
        return end

    def serve(self, cycle: int, words: int) -> int:
        """Write ``words`` results issued at ``cycle``; return the stall."""
        current = cycle
        while words:
            if current < self.drain_end:
                take = min(words, self.free) if self.free > 0 else 1
            else:
                take = min(words, max(self.free - (self.total - self.drain_size) + 1, 1))
            self.free -= take
            words -= take
            full, self.fill = divmod(self.fill + take, self.bw)
            self.lines.extend([self.bw] * full)
            if current < self.drain_end:
                if self.free <= 0:
                    current = self.drain_end
            elif self.free < self.total - self.drain_size:
                self._push_partial()
                self.drain_end = self._drain(current)
        return current - cycle

    def finish(self, cycle: int) -> tuple[int, int, int]:
        """Drain everything from ``cycle``; return DRAM (start, stop, writes)."""
        self._push_partial()
        while self.drained_lines < len(self.lines):
            self.drain_end = self._drain(cycle)
            cycle = self.drain_end + 1
        return self.first_drain, self.last_drain_end, self.writes


def run_length_starts(keys: np.ndarray) -> np.ndarray:
    """Indices where ``keys`` changes: a repeat of the previous address always hits."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))


def replay(row) -> dict:
    """Re-run SCALE-Sim's memory system for one CSV row and return the predicted reports."""
    g = geometry(row)
    ops = operand_matrices(row)
    streams = demand_streams(g, ops)
    user = row["bw_mode"] == "USER"
    bw = int(row["bandwidth_words_per_cycle"]) if user else None
    ofmap = WriteBuffer(int(row["ofmap_kb"]), bw if user else g.C)
    events = {}  # line -> {"ifmap": [addr...], "filter": [...], "ofmap": count}
    readers = {}
    for name in ("ifmap", "filter"):
        lines, addrs = streams[name]
        kb = int(row[f"{name}_kb"])
        if user:
            readers[name] = UserReadBuffer(kb, bw, prefetch_order(g, ops, name))
            keep = run_length_starts(addrs)
            for line, addr in zip(lines[keep].tolist(), addrs[keep].tolist(), strict=True):
                events.setdefault(line, {}).setdefault(name, []).append(addr)
        else:
            readers[name] = CalcReadBuffer(kb, addrs, lines)
    olines, _ = streams["ofmap"]
    uniq, counts = np.unique(olines, return_counts=True)
    for line, count in zip(uniq.tolist(), counts.tolist(), strict=True):
        events.setdefault(line, {})["ofmap"] = count

    stalls = 0
    event_lines, before, after = sorted(events), [], []
    out_cycle = {}  # (operand, line) -> serviced cycle, for event lines
    for line in event_lines:
        ev = events[line]
        cycle = line + stalls
        before.append(stalls)
        line_stalls = [0]
        for name in ("ifmap", "filter"):
            if name in ev:
                s = readers[name].serve(cycle, ev[name])
                line_stalls.append(s)
                out_cycle[(name, line)] = cycle + READ_HIT_LATENCY + s
        w = ofmap.serve(cycle, ev["ofmap"]) if "ofmap" in ev else 0
        out_cycle[("ofmap", line)] = cycle + w
        line_stalls.append(w)
        stalls += int(max(line_stalls))
        after.append(stalls)

    def line_cycle(line):
        """Cycle at which a demand line is issued (stalls of earlier lines included)."""
        i = bisect.bisect_left(event_lines, line)
        if i < len(event_lines) and event_lines[i] == line:
            return line + before[i]
        return line + (after[i - 1] if i else 0)

    last = g.folds * g.lines_per_fold - 1
    total = out_cycle.get(("ofmap", last), line_cycle(last))
    pred = {"stall_cycles": stalls, "total_cycles": int(total)}
    for name in ("ifmap", "filter", "ofmap"):
        lines = streams[name][0]
        first, lastl = int(lines[0]), int(lines[-1])
        lat = 0 if name == "ofmap" else READ_HIT_LATENCY
        pred[f"sram_{name}_start_cycle"] = out_cycle.get((name, first), line_cycle(first) + lat)
        pred[f"sram_{name}_stop_cycle"] = out_cycle.get((name, lastl), line_cycle(lastl) + lat)
    for name in ("ifmap", "filter"):
        buf = readers[name]
        start, stop, reads = buf.dram() if user else buf.dram(line_cycle)
        pred.update({f"dram_{name}_start_cycle": start, f"dram_{name}_stop_cycle": stop})
        pred[f"dram_{name}_reads"] = reads
    start, stop, writes = ofmap.finish(int(total))
    pred.update(dram_ofmap_start_cycle=start, dram_ofmap_stop_cycle=stop)
    pred["dram_ofmap_writes"] = writes
    pred["total_cycles_incl_prefetch"] = int(
        stop - min(pred["dram_ifmap_start_cycle"], pred["dram_filter_start_cycle"])
    )
    return pred


# --------------------------------------------------------------------------- reporting


def compare(df: pd.DataFrame, preds: pd.DataFrame, label: str, tol: float = 0.0) -> None:
    """Print rows matched / max abs error for every predicted column."""
    for col in preds.columns:
        pred = preds[col]
        mask = pred.notna()
        truth = df["total_cycles"] - df["stall_cycles"] if col == "compute_cycles" else df[col]
        err = (pred[mask].astype(float) - truth[mask].astype(float)).abs()
        ok = err <= tol + 1e-9 * truth[mask].abs().clip(lower=1)
        bad = err[~ok]
        worst = f"max err {bad.max():.6g} ({df.loc[bad.idxmax(), 'case_id']})" if len(bad) else ""
        print(f"  {label:7s} {col:30s} {int(ok.sum()):4d}/{int(mask.sum()):4d} exact  {worst}")


def main() -> None:
    """Load the CSV, evaluate the closed forms and the replay, print the match table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", nargs="?", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--no-replay", action="store_true", help="closed forms only")
    parser.add_argument(
        "--max-replay-s",
        type=float,
        default=math.inf,
        help="replay only rows whose SCALE-Sim run took at most this long (default: all)",
    )
    args = parser.parse_args()
    df = pd.read_csv(args.csv)
    print(f"{len(df)} rows from {args.csv}")
    closed = pd.DataFrame([closed_forms(row) for _, row in df.iterrows()], index=df.index)
    print("closed formulas:")
    compare(df, closed, "closed", tol=1e-6)
    if args.no_replay:
        return
    start = time.perf_counter()
    rows = df[df["scalesim_wall_s"] <= args.max_replay_s]
    preds = pd.DataFrame([replay(row) for _, row in rows.iterrows()], index=rows.index)
    print(f"replay ({len(rows)} rows, {time.perf_counter() - start:.0f}s):")
    compare(df.loc[rows.index], preds, "replay")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
