"""Mapping one op onto a FlightLLM-style FPGA overlay (`hwmodels.fpga.FPGASpec`): what its compiler
decides, not how long it takes (the engine, `sim.engines.fpga`, times it).

* `weight_format`: how a GEMM's weights are stored and unpacked: bits per weight (the workload's
  dtype, or the overlay's `weight_bits`), group scales, N:M sparsity (the workload's, or the
  overlay's `sparsity_n:sparsity_m`) with its index metadata, and the dtype the MPE multiplies in.
* `chain_allocation`: the configurable sparse DSP chain. Dense, a chain of L DSPs reduces L
  products of one output per cycle (one output per cycle). Under N:M the chain splits into
  groups of N DSPs (rounded up to the 2-DSP group), each group picking its N activations out of M
  through the sparse multiplexer and ending in a reduction node: floor(L / N) outputs per cycle,
  each covering M of the reduction dim. Chains longer than 8 DSPs need the overflow-adjust stage
  for the packed 18-bit lanes.
* `gemv_tiling`: FlightLLM's GEMV rule, the largest power-of-two parallelism pK × pN with memory
  time ≤ compute time, T_mem = (MK + KN + MN) / BW and T_cmp = MKN / (pM·pK·pN) (M = 1), BW the
  core's stream (`hwmodels.fpga.FPGASpec.core_streams`: own channels at the same-channel
  efficiency, or interleaved over all channels at the cross-channel one).
* `gemm_tiling`: rows tiled by pM (the activation tile stays in its buffer), weight columns
  streamed in chunks that fill half the weight buffer (double buffering).
* `mapping_candidates`: GEMV and GEMM mode for a GEMM-shaped op; the engine costs each and keeps
  the faster.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from hwmodels.errors import HardwareSpecError
from hwmodels.fpga import (
    DSP_GROUP,
    INT8_GEMV_MACS_PER_DSP,
    CoreStreams,
    FPGASpec,
    check_nm,
)
from workloads.dtypes import DType
from workloads.op import Op, Role, SparsityKind

#: Weights per group scale when the overlay's `weight_bits` quantizes: 128 along K, as GPTQ/AWQ
#: (workloads.annotate.QUANT_SCHEMES for int4); FlightLLM's mixed precision stores group scales too.
GROUP_SIZE = 128
#: Bytes of one group scale (fp16) and of one group zero point at the weight's bits (as int4's).
SCALE_BYTES = 2
#: Chains of more than this many DSPs need FlightLLM's overflow-adjust unit: the two INT8 products
#: packed in a DSP48E2 sit in 18-bit lanes whose guard bits overflow past 8 accumulations (FlightLLM,
#: FPGA 2024, Sec. 4.1; AMD WP486 on packing).
OVERFLOW_FREE_CHAIN = 8
#: Pipeline stages the overflow-adjust unit adds to a chain's output (ASSUMED: one register stage
#: splitting the lanes and one correcting the upper lane).
OVERFLOW_ADJUST_CYCLES = 2
#: The dtypes whose products the MPE forms on its INT8 path (int4 weights unpacked to int8).
INT8_PATH = (DType.INT8, DType.INT4)


class MatrixMode(enum.Enum):
    """Which mode of the matrix processing engine runs a GEMM-shaped op."""

    GEMV = "gemv"
    GEMM = "gemm"


@dataclass(frozen=True)
class WeightFormat:
    """How one GEMM's weights are stored and multiplied.

    `bits`: stored bits per kept weight (16 for an fp16 weight). `side_bytes_per_weight`: scales
    and zero points per dense weight. `density`: kept fraction (N/M, or a block/unstructured
    density). `nm`: the (N, M) pattern or None. `index_bits`: metadata bits per kept weight.
    `math_dtype`: int8 or fp16. `unpack`: whether the MMU unpacks the weights (low-bit).
    """

    bits: float
    side_bytes_per_weight: float
    density: float
    nm: tuple[int, int] | None
    index_bits: float
    math_dtype: DType
    unpack: bool

    @property
    def hbm_bytes_per_weight(self) -> float:
        """Bytes streamed from HBM per dense weight: kept values, their indices, group scales."""
        return self.density * (self.bits + self.index_bits) / 8 + self.side_bytes_per_weight

    @property
    def buffer_bytes_per_weight(self) -> float:
        """Bytes in the weight buffer per dense weight: kept values after the MMU (INT8, or 2 for
        FP16), plus their indices."""
        value = 1.0 if self.math_dtype is DType.INT8 else 2.0
        return self.density * (value + self.index_bits / 8)

    @property
    def label(self) -> str:
        sparsity = f" {self.nm[0]}:{self.nm[1]}" if self.nm else (
            f" density {self.density:.2f}" if self.density < 1 else "")
        return f"w{self.bits:g}{sparsity}"


def weight_format(op: Op, spec: FPGASpec) -> WeightFormat:
    """The `WeightFormat` of a GEMM-shaped op's weight on `spec` (module docstring); an error for
    N:M the chain cannot take or bits the MMU cannot unpack."""
    overlay = spec.overlay
    weight = op.operand(Role.WEIGHT)
    activations = op.operand(Role.INPUT).dtype
    is_param = dict(op.attrs).get("weight_is_param", 1) == 1
    k, n = op.dim("K"), op.dim("N")
    batch = op.dim("B") if "B" in op.dim_names else 1
    dense = batch * k * n
    side = sum(o.bytes for o in op.operands if o.role is Role.METADATA and "sparse" not in o.name)
    index_operand = sum(o.bytes for o in op.operands if o.role is Role.METADATA and "sparse" in o.name)
    bits = float(weight.dtype.bits)
    side_per_weight = side / dense
    if overlay.weight_bits and is_param:
        bits = float(overlay.weight_bits)
        side_per_weight = (SCALE_BYTES + bits / 8) / GROUP_SIZE if bits < 16 else 0.0
    unpack = bits < 8
    if unpack and bits not in overlay.unpack_bits:
        raise HardwareSpecError(
            f"{op.name or op.kind.value}: {bits:g}-bit weights: the overlay's MMU unpacks "
            f"{', '.join(str(b) for b in overlay.unpack_bits)}-bit weights (and 8/16-bit natively); "
            "set overlay.unpack_bits or use --weights int8"
        )
    if weight.dtype not in (*INT8_PATH, DType.FP16, DType.BF16) and not overlay.weight_bits:
        raise HardwareSpecError(
            f"{op.name or op.kind.value}: {weight.dtype.value} weights: the MPE multiplies int8 "
            "(low-bit unpacked to it) or fp16"
        )
    nm, density, index_bits = None, weight.sparsity.kept_fraction, 0.0
    if overlay.sparsity_m and is_param:
        nm, density = (overlay.sparsity_n, overlay.sparsity_m), overlay.sparsity_n / overlay.sparsity_m
    elif weight.sparsity.kind is SparsityKind.N_OF_M:
        nm = (weight.sparsity.n, weight.sparsity.m)
        check_nm(*nm, where=f"{op.name or op.kind.value}: N:M sparsity ")
    if nm and nm[0] < nm[1]:
        index_bits = math.log2(nm[1])
        if index_operand and not overlay.sparsity_m:  # the workload's own index bytes
            index_bits = index_operand * 8 / (dense * density)
    elif nm:
        nm = None  # N = M: dense
    narrow = bits <= 8 and activations in (*INT8_PATH, DType.FP8)
    math_dtype = DType.INT8 if narrow else DType.FP16
    return WeightFormat(
        bits=bits,
        side_bytes_per_weight=side_per_weight,
        density=density,
        nm=nm,
        index_bits=index_bits,
        math_dtype=math_dtype,
        unpack=unpack,
    )


@dataclass(frozen=True)
class ChainAllocation:
    """How a chain of `length` DSPs is split for an N:M pattern: `group_dsps` DSPs per sparse
    group (N rounded up to the 2-DSP group; the whole chain when dense), `outputs_per_cycle`
    (groups, each ending in a reduction node), `k_per_cycle` (reduction-dim elements the chain
    covers per cycle, dense-equivalent), and whether it needs the overflow-adjust stage."""

    length: int
    group_dsps: int
    outputs_per_cycle: float
    k_per_cycle: float
    overflow_adjust: bool

    @property
    def speedup(self) -> float:
        """Dense-equivalent reduction elements per cycle over a dense chain's."""
        return self.k_per_cycle / self.length


def chain_allocation(length: int, density: float, nm: tuple[int, int] | None) -> ChainAllocation:
    """The sparse DSP chain under a weight pattern (module docstring).

    N:M: a group holds the N kept weights of one M-segment, one DSP each, rounded up to the 2-DSP
    group; the chain holds floor(L / group) groups, each emitting one output per cycle covering M
    reduction elements, so k_per_cycle = floor(L / group) · M (a group longer than the chain
    takes ceil(group / L) cycles per output). A block or unstructured density d is FlightLLM's
    mix of N:16 blocks (FSB): k_per_cycle = L / d. Dense: L.
    """
    overflow = length > OVERFLOW_FREE_CHAIN
    if nm is None:
        if density >= 1:
            return ChainAllocation(length, length, 1.0, float(length), overflow)
        return ChainAllocation(length, length, 1.0 / density, length / density, overflow)
    n, m = nm
    group = max(DSP_GROUP, math.ceil(n / DSP_GROUP) * DSP_GROUP)
    if group <= length:
        groups = length // group
        return ChainAllocation(length, group, float(groups), float(groups * m), overflow)
    cycles = math.ceil(group / length)
    return ChainAllocation(length, group, 1.0 / cycles, m / cycles, overflow)


def k_pieces(k: int, splits: int, block: int) -> tuple[int, ...]:
    """The reduction dim in `splits` pieces as FlightLLM's compiler cuts it: K in `block`-wide blocks,
    each piece floor(blocks / splits) blocks, and what is left a last, smaller piece (the artifact's
    `tiling_to_list(0, blocks, blocks // splits)`: K = 11008 in 3 gives 229, 229, 229 and 1 blocks).
    A short last piece leaves the double-buffered load of the next tile less to hide behind."""
    blocks = math.ceil(k / block)
    size = max(1, blocks // max(splits, 1))
    pieces = [size * block] * (blocks // size)
    if blocks % size:
        pieces.append((blocks % size) * block)
    pieces[-1] -= blocks * block - k  # K not a multiple of the block: the last piece is short
    return tuple(p for p in pieces if p > 0)


@dataclass(frozen=True)
class GemvTiling:
    """GEMV mode on one core: `pk` × `pn` MACs per cycle (kept weights), `tile_n` output columns
    per instruction, `k_split` instructions per tile along K (each tile's weights fill at most
    half the weight buffer), the chain allocation, and whether the parallelism was re-tiled."""

    pk: int
    pn: int
    tile_n: int
    k_split: int
    chain: ChainAllocation
    retiled: bool
    pieces: tuple[int, ...] = ()

    @property
    def describe(self) -> str:
        how = "re-tiled" if self.retiled else "fixed"
        return f"gemv {self.pk}x{self.pn} ({how}), tile {self.tile_n}, k-split {self.k_split}"


def gemv_limit(spec: FPGASpec, fmt: WeightFormat) -> int:
    """Kept-weight MACs per cycle one core's DSPs can do in GEMV mode (one activation row), capped
    by the MMU's unpack rate for low-bit weights."""
    if fmt.math_dtype is DType.INT8:
        per_dsp = INT8_GEMV_MACS_PER_DSP[spec.device.dsp_type]
    else:
        per_dsp = spec.macs_per_dsp(fmt.math_dtype)
    limit = int(spec.mpe_dsps_per_core * per_dsp)
    if fmt.unpack:
        limit = min(limit, spec.overlay.dequant_weights_per_cycle)
    return max(limit, 1)


def gemv_tiling(spec: FPGASpec, fmt: WeightFormat, k: int, streams: CoreStreams) -> GemvTiling:
    """FlightLLM's GEMV tiling of a weight with reduction dim `k` on one core (its share of each
    tile's `gemv_tile_n` output columns).

    pK is the chain's reduction width (`gemm_pk`); pN the largest power of two with
    pK·pN·speedup ≤ E, where E is the dense-equivalent weights per cycle the core's stream
    delivers, ``weight_bytes_per_s / hbm_bytes_per_weight / clock_hz``: T_mem ≤ T_cmp with M = 1
    (the vector terms MK and MN are K and N, negligible beside KN). pN = 1 when even that outruns
    the stream (the GEMV is then memory-bound). The overlay's `gemv_pk`/`gemv_pn` fix it instead.
    """
    overlay = spec.overlay
    chain = chain_allocation(overlay.chain_length, fmt.density, fmt.nm)
    tile_n = overlay.gemv_tile_n
    if overlay.gemv_pk:
        pk, pn, retiled = overlay.gemv_pk, overlay.gemv_pn, False
    else:
        pk, retiled = overlay.gemm_pk, True
        feed = streams.weight_bytes_per_s / fmt.hbm_bytes_per_weight / spec.clock_hz
        limit = gemv_limit(spec, fmt)
        pn = 1
        while pk * pn * 2 <= limit and pk * pn * 2 * chain.speedup <= feed:
            pn *= 2
    tile_bytes = k * tile_n * fmt.buffer_bytes_per_weight
    k_split = max(1, math.ceil(tile_bytes / (overlay.weight_buffer_bytes / 2)))
    pieces = k_pieces(k, k_split, overlay.chain_length)
    return GemvTiling(pk=pk, pn=pn, tile_n=tile_n, k_split=len(pieces), chain=chain, retiled=retiled,
                      pieces=pieces)


@dataclass(frozen=True)
class GemmTiling:
    """GEMM mode on one core: rows in tiles of `tile_m` (pM), each tile's activations resident;
    weight columns in chunks of `chunk_n` (one GEMM instruction's columns), re-streamed per row
    tile, each cut along K into `pieces` (`k_pieces`) so two fit GEMM mode's weight buffer, and
    `slots` pieces in flight (at least 2: double buffering)."""

    tile_m: int
    chunk_n: int
    m_tiles: int
    n_chunks: int
    slots: int
    chain: ChainAllocation
    pieces: tuple[int, ...] = ()

    @property
    def describe(self) -> str:
        return f"gemm {self.tile_m}-row tiles x {self.n_chunks} chunks of {self.chunk_n} columns"


def gemm_tiling(spec: FPGASpec, fmt: WeightFormat, m: int, k: int, n_per_core: int) -> GemmTiling:
    """Row tiles of pM; weight chunks of `gemm_tile_n` columns (the artifact's 16-column MM
    instruction), as many in flight as GEMM mode's weight buffer holds; an error when one row
    tile's activations do not fit the activation buffer."""
    overlay = spec.overlay
    chain = chain_allocation(overlay.chain_length, fmt.density, fmt.nm)
    tile_m = overlay.gemm_pm
    act_bytes = 1 if fmt.math_dtype is DType.INT8 else 2
    if tile_m * k * act_bytes > overlay.activation_buffer_bytes:
        raise HardwareSpecError(
            f"GEMM with K = {k}: a {tile_m}-row activation tile needs {tile_m * k * act_bytes:,} bytes, "
            f"the overlay's activation buffer holds {overlay.activation_buffer_bytes:,}"
        )
    chunk_n = min(max(overlay.gemm_tile_n, overlay.gemm_pn), max(n_per_core, 1))
    buffer = overlay.gemm_weight_buffer_bytes or overlay.weight_buffer_bytes
    chunk_bytes = k * chunk_n * fmt.buffer_bytes_per_weight
    pieces = k_pieces(k, max(1, math.ceil(chunk_bytes / (buffer / 2))), overlay.chain_length)
    slots = max(2, int(buffer // max(max(pieces) * chunk_n * fmt.buffer_bytes_per_weight, 1)))
    return GemmTiling(
        tile_m=tile_m,
        chunk_n=chunk_n,
        m_tiles=math.ceil(m / tile_m),
        n_chunks=math.ceil(n_per_core / chunk_n),
        slots=slots,
        chain=chain,
        pieces=pieces,
    )


def mapping_candidates(op: Op) -> tuple[MatrixMode, ...]:
    """The MPE modes a GEMM-shaped op may run in: one activation row runs in GEMV mode (GEMM
    mode would pad it to pM rows); a few rows (each a pass of the GEMV array) try both; more rows
    run in GEMM mode."""
    rows = op.dim("M")
    if rows == 1:
        return (MatrixMode.GEMV,)
    return (MatrixMode.GEMV, MatrixMode.GEMM) if rows <= 16 else (MatrixMode.GEMM,)
