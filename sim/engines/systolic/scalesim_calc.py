"""SCALE-Sim's CALC mode: DRAM sized so nothing stalls, yet time before the first fold and after the
last, which its "Total Cycles (incl. prefetch)" counts and `total_cycles_incl_prefetch` then does.

Read from SCALE-Sim 3.0.0 (`memory/read_buffer_estimate_bw.py`, `memory/write_buffer.py`) and
checked on the reference grid (benchmarks/scalesim_reference/SCALESIM_MODEL_NOTES.md, (b) and (d));
a word is one element of the operand's dtype (SCALE-Sim's word is a byte, its only dtype):

* **Prefetch.** An input SRAM of ``w`` words is a read buffer of sets of ``S = floor(w / 100)``
  words; its first epoch, ``E = 50 S`` new words (about half the SRAM), is fetched at the spec's
  `calc_prefetch_bytes_per_s` (SCALE-Sim: 10 words per cycle) before the first request, in whole
  sets. An operand of ``D < E`` distinct words is fetched whole: ``ceil(ceil(D / S) S / rate)``
  cycles before cycle 0. A larger one fills an epoch that ends at the first cycle that needs it,
  ``f``: ``E / rate - f`` cycles before cycle 0, where ``f`` is 0 for os and, for ws and is, the
  array height ``R`` for the streamed operand and ``R - min(R, Sr)`` for the stationary one (it is
  loaded bottom row first). The two SRAMs fill in parallel, so the prefetch is the longer fill.
* **Drain.** The ofmap SRAM writes to DRAM at one word per array column per cycle and drains its
  half, ``H`` words, whenever more than that is held; after the last fold the ``L`` words still
  held are flushed: ``ceil(L / C) - 1`` cycles after the last compute cycle when all ``L`` words
  written fit ``H``; otherwise ``L`` is what the drains of ``H`` words leave, and the line SCALE-Sim
  padded and closed when the last drain began is flushed too, one cycle more.

The prefetch and the drain of a layer whose outputs fit half the ofmap SRAM equal SCALE-Sim's on
every such CALC row of the grid; SCALE-Sim's drains during a layer depend on its line padding and on
when the outputs of a fold arrive, so on the other rows the drain is approximate
(tests/test_scalesim_reference.py states by how much). SCALE-Sim writes every partial sum of a ws/is
output to DRAM; here they accumulate in the ofmap SRAM when the tile fits (docs/systolic_model.md,
difference 1), so the words flushed are this engine's, not SCALE-Sim's.
"""

from __future__ import annotations

import math

from hwmodels.systolic import SystolicArraySpec
from mappers.systolic import PRELOAD_ROWS, SystolicMapping
from workloads.op import Op, Role

#: SCALE-Sim's read-buffer set: ``floor(words / SETS_PER_SRAM)`` words (read_buffer_estimate_bw).
SETS_PER_SRAM = 100
#: Sets in one prefetch epoch, about half the SRAM (read_buffer_estimate_bw).
SETS_PER_EPOCH = 50


def prefetch_and_drain(
    op: Op, spec: SystolicArraySpec, mapping: SystolicMapping, *, written_bytes: float, side_bytes: float
) -> tuple[float, float]:
    """(prefetch cycles, drain cycles) of one GEMM instance of `op` under SCALE-Sim's CALC mode.
    `written_bytes` is what the layer writes to DRAM; `side_bytes` (bias, scales: no SCALE-Sim
    counterpart) are fetched after the longer fill at the same rate."""
    bytes_per_cycle = spec.calc_prefetch_bytes_per_s / spec.clock_hz
    instances = op.gemm_instances
    fills = []
    for role, sram_bytes in ((Role.INPUT, spec.ifmap_sram_bytes), (Role.WEIGHT, spec.filter_sram_bytes)):
        operand = op.operand(role)
        rate = bytes_per_cycle / operand.dtype.bytes  # words per cycle
        set_words = max(1, int(sram_bytes // operand.dtype.bytes) // SETS_PER_SRAM)
        epoch = SETS_PER_EPOCH * set_words
        distinct = math.ceil(operand.elements / instances)
        if distinct < epoch:
            fills.append(math.ceil(math.ceil(distinct / set_words) * set_words / rate))
        else:
            fills.append(math.ceil(epoch / rate) - _first_request_cycle(operand.dims, mapping))
    prefetch = max(fills) + side_bytes / bytes_per_cycle

    output = op.operand(Role.OUTPUT)
    words = written_bytes / output.dtype.bytes
    half = int(spec.ofmap_sram_bytes // output.dtype.bytes) // 2
    if words <= half:  # nothing drained during the layer: all of it is flushed at the end
        drain = max(0, math.ceil(words / mapping.array_cols) - 1)
    else:  # drains of `half` words ran; the line padded when the last began is flushed too
        left = words - half * math.floor((words - 1) / half)
        drain = math.ceil(left / mapping.array_cols)
    return float(prefetch), float(drain)


def _first_request_cycle(dims: tuple[str, ...], mapping: SystolicMapping) -> int:
    """The first cycle an operand is read by the array: os at once; ws/is stream their moving
    operand after the R cycles of preload, and load the stationary one bottom row first, so its
    first row arrives after the rows the fold leaves unused."""
    if not PRELOAD_ROWS[mapping.dataflow]:
        return 0
    stationary = mapping.row_dim in dims and mapping.col_dim in dims
    if stationary:
        return mapping.array_rows - min(mapping.array_rows, mapping.spatial_rows)
    return mapping.array_rows
