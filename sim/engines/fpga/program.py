"""One op as the instruction stream of one core (`timeline.Program`), with its traffic and work.

Cores run in lock-step: every instruction is split over the `cores` cores (each takes 1/cores of
a tile's output columns, FlightLLM's column split; the artifact's profiler divides every
instruction's time the same way), so one core's program, scheduled, is the op's time. Every
cycle count is divided by the core's stream `share` (`hwmodels.fpga.FPGASpec.core_streams`): when the cores
drive more channel streams than there are channels, each core is served that fraction of the
time and its in-order units wait the rest.

Programs by op kind (the formulas are written beside each builder):

* GEMM-shaped op, GEMV mode (`gemv`): per output tile and K split, LD of the weights (kept
  values, indices, scales) then MV; the load of tile i + D waits for the MV of tile i (D tiles fit
  the weight buffer, ≥ 2). Input and output stay on chip when they fit the activation buffer
  (always-on-chip decode), else LD before and ST after.
* GEMM mode (`gemm`): per row tile (pM rows) and weight chunk: LD weights, MM, and ST of the
  output block when the output does not stay on chip.
* attention, one query row (decode): per head, QKᵀ as GEMV tiles over the keys (K loaded), the
  softmax on the SFU (2 passes), P·V as a GEMV over the values (V loaded); output tiles padded to
  `gemv_tile_n` as FlightLLM's compiler pads them.
* attention, many rows (prefill): SDDMM and P·V as block GEMMs over the causal block mask
  (`attention_block`), pM query rows per tile.
* SFU ops (norms, softmax, element-wise, reductions): passes × elements / lanes.
* KV-cache writes: ST; other copies: an on-chip move through the SFU; embeddings: LD of rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hwmodels.fpga import CoreStreams, FPGASpec
from mappers.fpga import (
    OVERFLOW_ADJUST_CYCLES,
    MatrixMode,
    WeightFormat,
    gemm_tiling,
    gemv_tiling,
    weight_format,
)
from sim.engines.fpga.timeline import Program, Unit
from workloads.dtypes import DType
from workloads.kernel_ops import causal_offset
from workloads.op import Op, OpKind, Role

#: HBM read latency paid once per op, by the load that starts its pipeline (later loads are
#: pipelined behind it). ASSUMED: 100 ns, the order of an HBM read on an FPGA (Wang et al.,
#: "Shuhai", FCCM 2020, characterize the U280's in tens of 450 MHz cycles); not measured here.
HBM_LATENCY_S = 100e-9
#: What an activation load or store costs the weight stream it interleaves with on the same
#: pseudo-channels (activations spilled to HBM: always-on-chip decode off, or too big for the
#: activation buffer): the weight stream keeps its DRAM rows open; the activation access closes
#: them and opens its own (tRP + tRCD), and the stream reopens them when it resumes (tRP + tRCD
#: again); a store also turns the bus around, read to write (CL + BL/2 - CWL) and write to read
#: (CWL + BL/2 + tWTR_L). All channels switch at once, so each instruction pays this once. HBM2
#: timings in ns from DRAMsim3's HBM2_8Gb_x128.ini (umd-memsys/DRAMsim3, a JESD235 HBM2 die at
#: tCK = 1 ns): tRP = tRCD = 14, CL = 14, CWL = 4, BL = 4 (2 clocks), tWTR_L = 8. Applied to every
#: board's HBM, the VHK158's HBM2E included (ASSUMED: no HBM2E timing set at hand; its row timings
#: in ns are of the same order), and to every load or store the program interleaves with a weight
#: stream: embedding gathers and KV-cache appends too, with always-on-chip decode on.
HBM_ROW_SWITCH_S = (14 + 14) * 1e-9
HBM_READ_TO_WRITE_S = (14 + 2 - 4) * 1e-9
HBM_WRITE_TO_READ_S = (4 + 2 + 8) * 1e-9
#: Cost of one spilled activation load and one store, on top of their bytes.
ACTIVATION_LOAD_SWITCH_S = 2 * HBM_ROW_SWITCH_S
ACTIVATION_STORE_SWITCH_S = 2 * HBM_ROW_SWITCH_S + HBM_READ_TO_WRITE_S + HBM_WRITE_TO_READ_S
#: SFU passes over the data: softmax and norms read once for the max / sum of squares, then
#: normalize (the artifact's profiler: "pass all data once first, so x2"); element-wise ops once.
SFU_PASSES = {OpKind.SOFTMAX: 2, OpKind.NORM: 2}
#: Buffers a double-buffered stream needs at least.
DOUBLE_BUFFER = 2


@dataclass
class OpPlan:
    """What one op does on the overlay: its core program, mode and mapping text, the MACs the MPE
    executes (padding and kept weights), HBM bytes read and written by all cores, bytes through
    the on-chip buffers, whether activations stayed on chip, the weight format, and busy cycles per
    unit that overlap an earlier op (a fused epilogue's) and so add no time."""

    program: Program
    mode: str
    mapping: str
    executed_macs: float
    read_bytes: float
    write_bytes: float
    buffer_bytes: float
    on_chip: bool
    weights: WeightFormat | None = None
    metadata_bytes: float = 0.0
    overlapped: dict[Unit, float] = field(default_factory=dict)


class _Builder:
    """Cycle arithmetic of one core: bytes at the core's stream rate, over its share."""

    def __init__(self, spec: FPGASpec, streams: CoreStreams) -> None:
        self.spec, self.streams = spec, streams
        # spilled activations, gathers and KV appends move over the core's own channels, at the
        # rate its weight stream reaches there
        self.activation_bytes_per_s = streams.weight_bytes_per_s
        self.clock = spec.clock_hz
        self.share = streams.share
        self.program = Program()
        self.latency_paid = False
        self.overlapped: dict[Unit, float] = {}

    def load(
        self,
        nbytes: float,
        deps: tuple[int, ...] = (),
        *,
        activation: bool = False,
        issued: int = 1,
        rate: float = 0.0,
    ) -> int:
        if not rate:
            rate = self.activation_bytes_per_s if activation else self.streams.weight_bytes_per_s
        cycles = nbytes / rate * self.clock / self.share
        if not self.latency_paid:
            cycles += HBM_LATENCY_S * self.clock
            self.latency_paid = True
        if activation and nbytes:
            cycles += ACTIVATION_LOAD_SWITCH_S * self.clock
        return self.program.add(Unit.LD, cycles, deps, issued=issued)

    def store(self, nbytes: float, deps: tuple[int, ...] = (), *, issued: int = 1) -> int:
        cycles = nbytes / self.activation_bytes_per_s * self.clock / self.share
        if nbytes:
            cycles += ACTIVATION_STORE_SWITCH_S * self.clock
        return self.program.add(Unit.ST, cycles, deps, issued=issued)

    def run(self, unit: Unit, cycles: float, deps: tuple[int, ...] = (), *, issued: int = 1) -> int:
        return self.program.add(unit, cycles / self.share, deps, issued=issued)

    def sync(self, deps: tuple[int, ...]) -> int:
        return self.program.add(Unit.SYS, self.spec.overlay.sync_cycles, deps)

    def fits(self, nbytes: float) -> bool:
        overlay = self.spec.overlay
        return overlay.always_on_chip and nbytes <= overlay.activation_buffer_bytes


def _bytes(op: Op, role: Role) -> float:
    return sum(o.bytes for o in op.operands if o.role is role)


def _dtype_bytes(dtype: DType) -> float:
    return 1.0 if dtype.bits <= 8 else 2.0


def gemv_plan(op: Op, spec: FPGASpec, streams: CoreStreams) -> OpPlan:
    """GEMV mode. Per core: tiles = ceil(N / tile_n), cols = ceil(tile_n / cores) each; per tile
    and K split s (k_s = K / splits): LD k_s·cols·hbm_bytes_per_weight, MV
    ceil(k_s / (pK·speedup)) · ceil(cols / pN) · rows cycles (rows: activation rows, ≤ 16)."""
    b = _Builder(spec, streams)
    cores, fmt = spec.overlay.cores, weight_format(op, spec)
    batch = op.dim("B") if "B" in op.dim_names else 1
    rows, n, k = op.dim("M"), op.dim("N"), op.dim("K")
    tiles, cols = math.ceil(n / spec.overlay.gemv_tile_n), math.ceil(spec.overlay.gemv_tile_n / cores)
    tiling = gemv_tiling(spec, fmt, k, streams)
    act = _dtype_bytes(op.operand(Role.INPUT).dtype)
    in_bytes, out_bytes = rows * k * act, rows * cols * tiles * _dtype_bytes(op.operand(Role.OUTPUT).dtype)
    on_chip = b.fits(batch * (in_bytes + out_bytes))
    ld_in = None if on_chip else b.load(in_bytes, activation=True)
    tile_buffer = max(tiling.pieces) * cols * fmt.buffer_bytes_per_weight
    slots = max(DOUBLE_BUFFER, int(spec.overlay.weight_buffer_bytes // max(tile_buffer, 1)))
    issued = spec.overlay.hbm_channels_per_core * (1 + (fmt.nm is not None) + (fmt.side_bytes_per_weight > 0))
    k_rate = tiling.pk * tiling.chain.speedup
    mvs: list[int] = []
    for _ in range(batch):
        for t in range(tiles):
            valid = min(cols, max(0, math.ceil((n - t * spec.overlay.gemv_tile_n) / cores)))
            for k_s in tiling.pieces:
                wait = mvs[-slots] if len(mvs) >= slots else None
                ld = b.load(k_s * valid * fmt.hbm_bytes_per_weight, (wait,), issued=issued)
                cycles = math.ceil(k_s / k_rate) * math.ceil(cols / tiling.pn) * rows
                if not mvs and tiling.chain.overflow_adjust:
                    cycles += OVERFLOW_ADJUST_CYCLES
                mvs.append(b.run(Unit.MV, cycles, (ld, ld_in)))
    last = mvs[-1]
    if not on_chip:
        last = b.store(out_bytes * batch, (last,))
    b.sync((last,))
    weight_total = batch * k * n * fmt.hbm_bytes_per_weight
    executed = batch * tiles * cols * cores * k * rows / tiling.chain.speedup
    return OpPlan(
        program=b.program,
        mode=MatrixMode.GEMV.value,
        mapping=f"{tiling.describe}, {fmt.label}, chain {tiling.chain.outputs_per_cycle:g} out/cycle",
        executed_macs=executed,
        read_bytes=weight_total + (0 if on_chip else cores * batch * in_bytes),
        write_bytes=0 if on_chip else cores * batch * out_bytes,
        buffer_bytes=batch * k * n * fmt.buffer_bytes_per_weight * 2 + cores * batch * (in_bytes + out_bytes),
        on_chip=on_chip,
        weights=fmt,
        metadata_bytes=batch * k * n * fmt.density * fmt.index_bits / 8,
    )


def gemm_plan(op: Op, spec: FPGASpec, streams: CoreStreams) -> OpPlan:
    """GEMM mode. Per core n_core = ceil(N / cores / pN)·pN columns; per row tile (pM rows,
    activations LD once unless on chip), weight chunk (chunk_n columns) and K piece k_s: LD
    k_s·chunk_n·hbm_bytes_per_weight, MM ceil(k_s / (pK·speedup)) · ceil(chunk_n / pN) cycles (pM
    rows at once); ST of the chunk's output block unless the output stays on chip. Weights come over
    `gemm_weight_channels` crossed channels when the overlay gives them (the artifact's B buffer)."""
    b = _Builder(spec, streams)
    overlay, fmt = spec.overlay, weight_format(op, spec)
    cores = overlay.cores
    batch = op.dim("B") if "B" in op.dim_names else 1
    m, n, k = op.dim("M"), op.dim("N"), op.dim("K")
    n_core = math.ceil(n / cores / overlay.gemm_pn) * overlay.gemm_pn
    tiling = gemm_tiling(spec, fmt, m, k, n_core)
    act, out = _dtype_bytes(op.operand(Role.INPUT).dtype), _dtype_bytes(op.operand(Role.OUTPUT).dtype)
    on_chip = b.fits(batch * (m * k * act + m * n_core * out))
    k_rate = overlay.gemm_pk * tiling.chain.speedup
    weight_rate = 0.0  # the core's weight channels, unless GEMM mode's weight buffer has its own
    if overlay.gemm_weight_channels:
        per_channel = spec.device.channel_bytes_per_s * overlay.cross_channel_efficiency
        weight_rate = overlay.gemm_weight_channels * per_channel
    mms: list[int] = []
    last_mm_of_tile = None
    for _ in range(batch):
        for r in range(tiling.m_tiles):
            tile_rows = min(tiling.tile_m, m - r * tiling.tile_m)
            ld_a = (
                None
                if on_chip
                else b.load(
                    tile_rows * k * act,
                    (last_mm_of_tile,),
                    activation=True,
                    issued=overlay.hbm_channels_per_core,
                )
            )
            for c in range(tiling.n_chunks):
                cols = min(tiling.chunk_n, n_core - c * tiling.chunk_n)
                blocks = math.ceil(cols / overlay.gemm_tile_n)  # ISA instructions: one per column block
                for k_s in tiling.pieces:
                    wait = mms[-tiling.slots] if len(mms) >= tiling.slots else None
                    nbytes = k_s * cols * fmt.hbm_bytes_per_weight
                    ld = b.load(nbytes, (wait,), issued=blocks, rate=weight_rate)
                    cycles = math.ceil(k_s / k_rate) * math.ceil(cols / overlay.gemm_pn)
                    mm = b.run(Unit.MM, cycles, (ld, ld_a), issued=blocks)
                    mms.append(mm)
                if not on_chip:
                    b.store(tile_rows * cols * out, (mm,), issued=blocks * overlay.hbm_channels_per_core)
            last_mm_of_tile = mms[-1]
    b.sync((len(b.program) - 1,))
    executed = batch * tiling.m_tiles * tiling.tile_m * n_core * cores * k / tiling.chain.speedup
    weight_total = batch * k * n * fmt.hbm_bytes_per_weight * tiling.m_tiles
    return OpPlan(
        program=b.program,
        mode=MatrixMode.GEMM.value,
        mapping=f"{tiling.describe}, {fmt.label}, chain {tiling.chain.outputs_per_cycle:g} out/cycle",
        executed_macs=executed,
        read_bytes=weight_total + (0 if on_chip else batch * m * k * act * cores),
        write_bytes=0 if on_chip else batch * m * n * out,
        buffer_bytes=2 * weight_total + 2 * batch * m * (k * act * cores + n * out),
        on_chip=on_chip,
        weights=fmt,
        metadata_bytes=batch * k * n * fmt.density * fmt.index_bits / 8 * tiling.m_tiles,
    )


def _named(op: Op, name: str):
    return next(o for o in op.operands if o.name == name)


def attention_plan(op: Op, spec: FPGASpec, streams: CoreStreams) -> OpPlan:
    """One query row (decode) on the GEMV unit, several (prefill) as block GEMMs (module docstring)."""
    if op.dim("Sq") == 1:
        return _attention_gemv(op, spec, streams)
    return _attention_blocks(op, spec, streams)


def _attention_gemv(op: Op, spec: FPGASpec, streams: CoreStreams) -> OpPlan:
    """Per query head (B·H of them), the artifact's compiler: QKᵀ over ceil(Skv / tile_n) tiles of
    cols = ceil(tile_n / cores) keys per core, MV ceil(D / pK) · ceil(cols / pN) cycles each, LD
    of D·(valid keys)·kv bytes; softmax 2 · ceil(Skv / cores) / lanes cycles; P·V with the Dv
    outputs padded to one tile: MV ceil(Skv / pK) · ceil(cols / pN), LD Skv·ceil(Dv / cores)·kv
    bytes. K/V are loaded once per K/V head and reused by its group of query heads. With
    `kv_append_reads_cache` the past K and V are first loaded whole (the artifact's KV concat)."""
    b = _Builder(spec, streams)
    overlay, cores = spec.overlay, spec.overlay.cores
    batch, heads, kv_heads = op.dim("B"), op.dim("H"), op.dim("Hkv")
    skv, d, dv = op.dim("Skv"), op.dim("D"), op.dim("Dv")
    kv = _dtype_bytes(_named(op, "K").dtype)
    tile = overlay.gemv_tile_n
    cols = math.ceil(tile / cores)
    pk, pn = _gemv_parallelism(spec, streams, kv)
    group, channels = heads // kv_heads, overlay.hbm_channels_per_core
    qk_tiles = math.ceil(skv / tile)
    slots = max(DOUBLE_BUFFER, int(overlay.weight_buffer_bytes // max(d * cols, 1)))
    mvs: list[int] = []
    softmaxes = []
    q_bytes, o_bytes = _named(op, "Q").bytes, op.operand(Role.OUTPUT).bytes
    on_chip = b.fits(q_bytes + o_bytes)
    reread, start = 0.0, None if on_chip else b.load(q_bytes, activation=True)
    if overlay.kv_append_reads_cache:  # the artifact's KV concat: the past K, then V, loaded whole
        reread = batch * kv_heads * (skv - 1) * (d + dv) * kv
        k_in = b.load(batch * kv_heads * (skv - 1) * d * kv / cores, (start,), issued=channels)
        v_in = b.load(
            batch * kv_heads * (skv - 1) * dv * kv / cores,
            (b.sync((k_in,)),),
            issued=overlay.hbm_channels_per_core,
        )
        start = b.sync((v_in,))
    for h in range(batch * heads):
        first_of_group = h % group == 0
        for t in range(qk_tiles):
            keys = min(cols, max(0, math.ceil((skv - t * tile) / cores)))
            wait = mvs[-slots] if len(mvs) >= slots else None
            ld = b.load(d * keys * kv, (wait, start), issued=channels) if first_of_group else None
            mvs.append(b.run(Unit.MV, math.ceil(d / pk) * math.ceil(cols / pn), (ld, start)))
        softmaxes.append(b.run(Unit.SFU, 2 * math.ceil(skv / cores) / overlay.sfu_lanes, (mvs[-1],)))
    b.sync((softmaxes[-1],))
    pv_tiles = math.ceil(dv / tile)
    for h in range(batch * heads):
        first_of_group = h % group == 0
        for t in range(pv_tiles):
            outs = min(cols, max(0, math.ceil((dv - t * tile) / cores)))
            wait = mvs[-slots] if len(mvs) >= slots else None
            ld = b.load(skv * outs * kv, (wait,), issued=channels) if first_of_group else None
            mvs.append(b.run(Unit.MV, math.ceil(skv / pk) * math.ceil(cols / pn), (ld, softmaxes[h])))
    b.sync((mvs[-1] if on_chip else b.store(o_bytes, (mvs[-1],)),))
    kv_bytes = _bytes(op, Role.KV_CACHE) or (_named(op, "K").bytes + _named(op, "V").bytes)
    executed = batch * heads * cols * cores * (qk_tiles * d + pv_tiles * skv)
    return OpPlan(
        program=b.program,
        mode="attention_gemv",
        mapping=f"attention gemv {pk}x{pn}, {qk_tiles}+{pv_tiles} tiles of {tile} per head, kv {kv:g} B",
        executed_macs=executed,
        read_bytes=kv_bytes + reread + (0.0 if on_chip else cores * q_bytes),
        write_bytes=0.0 if on_chip else o_bytes,
        buffer_bytes=2 * kv_bytes + reread + cores * q_bytes + o_bytes,
        on_chip=on_chip,
    )


def _gemv_parallelism(spec: FPGASpec, streams: CoreStreams, kv_bytes: float) -> tuple[int, int]:
    """The GEMV array for attention: the overlay's fixed pK × pN, or re-tiled to the KV stream as
    `mappers.fpga.gemv_tiling` re-tiles weights (kv bytes per element, no scales)."""
    overlay = spec.overlay
    if overlay.gemv_pk:
        return overlay.gemv_pk, overlay.gemv_pn
    fmt = WeightFormat(
        bits=kv_bytes * 8,
        side_bytes_per_weight=0.0,
        density=1.0,
        nm=None,
        index_bits=0.0,
        math_dtype=DType.INT8 if kv_bytes == 1 else DType.FP16,
        unpack=False,
    )
    tiling = gemv_tiling(spec, fmt, 1, streams)
    return tiling.pk, tiling.pn


def _attention_blocks(op: Op, spec: FPGASpec, streams: CoreStreams) -> OpPlan:
    """Prefill attention: per head and row tile of pM query rows, the kept key blocks (causal:
    the blocks up to the tile's last row, in `attention_block`s) are SDDMM'd and multiplied by V:
    MM ceil(D / pK)·ceil(kept / cores / pN) + ceil(kept / pK)·ceil(Dv / cores / pN) cycles,
    softmax 2·pM·kept / cores / lanes. K and V (per head) are loaded unless on chip."""
    b = _Builder(spec, streams)
    overlay, cores = spec.overlay, spec.overlay.cores
    batch, heads, kv_heads = op.dim("B"), op.dim("H"), op.dim("Hkv")
    sq, skv, d, dv = op.dim("Sq"), op.dim("Skv"), op.dim("D"), op.dim("Dv")
    causal = dict(op.attrs).get("causal") == 1
    offset = causal_offset(op)  # 0 for torch's top-left mask, Skv − Sq for a chunk after its cache
    block, pm, pk, pn = overlay.attention_block, overlay.gemm_pm, overlay.gemm_pk, overlay.gemm_pn
    kv = _dtype_bytes(_named(op, "K").dtype)
    head_kv = skv * (d + dv) * kv
    on_chip = b.fits(batch * kv_heads * head_kv)
    kept_total = 0.0
    last = None
    for h in range(batch * heads):
        ld = None if on_chip or h % (heads // kv_heads) else b.load(head_kv, (last,))
        for r in range(math.ceil(sq / pm)):
            row_end = min(sq, (r + 1) * pm) + offset  # a bottom-right mask's cached keys before row 0
            kept = min(skv, math.ceil(row_end / block) * block) if causal else skv
            kept_total += pm * kept
            per_core = math.ceil(kept / cores)
            cycles = math.ceil(d / pk) * math.ceil(per_core / pn) + math.ceil(kept / pk) * math.ceil(
                math.ceil(dv / cores) / pn
            )
            mm = b.run(Unit.MM, cycles, (ld,))
            last = b.run(Unit.SFU, 2 * pm * per_core / overlay.sfu_lanes, (mm,))
    b.sync((last,))
    read = 0.0 if on_chip else batch * kv_heads * head_kv
    return OpPlan(
        program=b.program,
        mode="attention_gemm",
        mapping=f"attention block gemm, {block}-token mask blocks, {'causal' if causal else 'full'}",
        executed_macs=kept_total * (d + dv),  # kept_total already sums every (batch, head)
        read_bytes=read,
        write_bytes=0.0,
        buffer_bytes=2 * batch * heads * kept_total / max(batch * heads, 1) * (d + dv) * kv,
        on_chip=on_chip,
    )


#: Op kinds FlightLLM's compiler fuses into the output stage of the matrix op that produces their
#: input (the artifact fuses a linear layer with the SiLU or element-wise layers after it, RoPE's
#: three included, inst_generator.py): they run on the SFU per output tile while the matrix unit
#: computes the next one. Copies (RoPE's concatenation, the KV-cache append) move data the same way.
FUSED_KINDS = (OpKind.ELEMENTWISE, OpKind.COPY)


def sfu_plan(op: Op, spec: FPGASpec, streams: CoreStreams) -> OpPlan:
    """Norms, softmax, element-wise, reductions: passes · ceil(elements / cores) / lanes cycles.

    Element-wise ops and copies, with always-on-chip decode and their data on chip, are fused into
    the producing matrix op's output stage (`FUSED_KINDS`): their SFU work (and a KV append's ST)
    overlaps the producer's later tiles, and only the last tile's share, the pipeline drain, adds
    time: passes · ceil(min(elements, gemv_tile_n) / cores) / lanes. Otherwise the op stands
    alone: LD of its inputs unless on chip, the SFU passes, ST of its outputs (a KV append always
    stores), SYS. An embedding is an LD of the rows it gathers.
    """
    b = _Builder(spec, streams)
    overlay, cores = spec.overlay, spec.overlay.cores
    reads = sum(o.bytes for o in op.operands if not o.role.is_written and o.role is not Role.KV_CACHE)
    cache_writes = _bytes(op, Role.KV_CACHE_WRITE)
    writes = _bytes(op, Role.OUTPUT)
    elements = max((o.elements for o in op.operands), default=0)
    if op.kind in (OpKind.EMBEDDING, OpKind.GATHER):
        ld = b.load(writes, activation=True)
        b.sync((ld,))
        return OpPlan(b.program, "gather", "rows gathered from HBM", 0.0, writes, 0.0, writes, True)
    on_chip = b.fits(reads + writes)
    passes = SFU_PASSES.get(op.kind, 1)
    full = passes * math.ceil(elements / cores) / overlay.sfu_lanes
    store_full = cache_writes / cores
    if on_chip and op.kind in FUSED_KINDS:
        share = min(1.0, overlay.gemv_tile_n / max(elements, 1))
        sfu = b.run(Unit.SFU, full * share)
        last = b.store(store_full * share, (sfu,)) if cache_writes else sfu
        b.sync((last,))
        b.overlapped = {Unit.SFU: full * (1 - share) / b.share}
        if cache_writes:
            rest = store_full * (1 - share)
            b.overlapped[Unit.ST] = rest / b.activation_bytes_per_s * b.clock / b.share
        mode, mapping = "fused", f"fused into the producer's output stage, sfu {passes} pass"
    else:
        ld = None if on_chip else b.load(reads, activation=True)
        sfu = b.run(Unit.SFU, full, (ld,))
        last = sfu
        if cache_writes:
            last = b.store(store_full, (sfu,))
        elif not on_chip:
            last = b.store(writes, (sfu,))
        b.sync((last,))
        mode = "sfu"
        mapping = f"sfu {passes} pass{'es' if passes > 1 else ''}, {overlay.sfu_lanes} lanes x {cores} cores"
    return OpPlan(
        program=b.program,
        mode="kv_write" if cache_writes else mode,
        mapping=mapping,
        executed_macs=0.0,
        read_bytes=0.0 if on_chip else reads,
        write_bytes=cache_writes + (0.0 if on_chip or cache_writes else writes),
        buffer_bytes=reads + writes,
        on_chip=on_chip,
        overlapped=b.overlapped,
    )
