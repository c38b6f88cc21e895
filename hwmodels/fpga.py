"""The FPGA spec in two layers: the device (`FPGADevice`) and the accelerator overlay built on it
(`FPGAOverlay`, FlightLLM-style), joined in `FPGASpec` with a resource check.

The device is what a datasheet gives: DSP slices and their type, LUTs, BRAM36 and URAM blocks,
super logic regions (SLRs), the fabric clock the design closes at, off-chip memory as channels
(HBM pseudo-channels or DDR controllers: count, bytes/s and capacity each), board power and price.
The overlay is the design a bitstream holds: cores (FlightLLM puts one per SLR), per core a matrix
processing engine (MPE) of pM × pK × pN MACs/cycle in GEMM mode, re-tiled for GEMV, built of DSP
chains of `chain_length` DSPs (in groups of 2), a special-function unit (SFU) of FP16 lanes, a
memory-management unit (MMU) that unpacks low-bit weights, on-chip buffers, and the HBM channels
each core streams from.

Resources (`FPGASpec.resources`): DSPs (MPE + SFU), on-chip buffer bytes (against BRAM + URAM)
and exclusive memory channels. An overlay that needs more than the device has is refused with one
line naming the resource, what is needed and what is there. Streams (`FPGASpec.core_streams`): the
bandwidth one core's channel streams reach and the share of time they are served. Both are
computed once per spec (cached properties of the frozen spec).

Units are in field names (SI): hertz, bytes, bytes per second, watts.
"""

from __future__ import annotations

import enum
import functools
import math
from dataclasses import dataclass

from hwmodels.checks import (
    check_fraction,
    check_non_negative_number,
    check_positive_int,
    check_positive_number,
)
from hwmodels.cost.memory import DramKind
from hwmodels.device import MemoryLevel
from hwmodels.errors import HardwareSpecError
from workloads.dtypes import DType


class DSPType(enum.Enum):
    """The hard multiplier slice of a device family."""

    DSP48E2 = "dsp48e2"  # UltraScale+: 27×18 multiplier, 48-bit accumulator (UG579)
    DSP58 = "dsp58"  # Versal: 27×24 multiplier, 58-bit accumulator (AM004, UG1273)

    @classmethod
    def parse(cls, text: object) -> DSPType:
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            valid = ", ".join(kind.value for kind in cls)
            raise HardwareSpecError(f"unknown DSP type {text!r}; valid: {valid}") from None


class HBMPlacement(enum.Enum):
    """Where a core's weights live: on the channels it owns (`own`, FlightLLM's partitioned
    placement, at the same-channel efficiency) or striped over every channel (`interleaved`,
    each access crossing the memory switch, at the cross-channel efficiency)."""

    OWN = "own"
    INTERLEAVED = "interleaved"

    @classmethod
    def parse(cls, text: object) -> HBMPlacement:
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            valid = ", ".join(kind.value for kind in cls)
            raise HardwareSpecError(f"unknown HBM placement {text!r}; valid: {valid}") from None


class FPGATiming(enum.Enum):
    """How the engine times an op: the instruction-level `timeline` (in-order units with
    dependencies and double buffering) or the `closed_form` (the busiest unit, for fast sweeps).
    Rows carry both times either way (`closed_form_s`)."""

    TIMELINE = "timeline"
    CLOSED_FORM = "closed_form"

    @classmethod
    def parse(cls, text: object) -> FPGATiming:
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            valid = ", ".join(kind.value for kind in cls)
            raise HardwareSpecError(f"unknown FPGA timing {text!r}; valid: {valid}") from None


#: Data bytes of one BRAM36 block (36 Kb = 4K × 9 bits: 4 KiB of bytes, the ninth bit parity) and
#: of one URAM block (288 Kb = 4K × 72 bits: 32 KiB of 64-bit words). AMD UG573 (UltraScale
#: memory resources) and AM007 (Versal memory resources).
BRAM36_DATA_BYTES = 4096
URAM_DATA_BYTES = 32768

#: INT8 MACs one DSP does per cycle in GEMM mode: a DSP48E2 packs two INT8 multiplies that share
#: one weight into its 27×18 multiplier (AMD WP486, "Deep Learning with INT8 Optimization on
#: Xilinx Devices"; FlightLLM packs two MACs per DSP the same way); a DSP58 does a three-element
#: INT8 dot product (UG1273, "DSP engines ... three element vector/INT8 dot product").
INT8_MACS_PER_DSP = {DSPType.DSP48E2: 2, DSPType.DSP58: 3}
#: INT8 MACs per DSP per cycle when the activation matrix has one row (GEMV): the DSP48E2's two
#: packed multiplies share the weight and need two activation rows, so one row uses one of them;
#: the DSP58's dot product takes three weights and three activations of the same row.
INT8_GEMV_MACS_PER_DSP = {DSPType.DSP48E2: 1, DSPType.DSP58: 3}
#: DSPs per FP16 multiply-add. DSP48E2: one for the multiply and one for the add in AMD's
#: Floating-Point Operator in its full-DSP configuration (PG060 resource tables, half precision),
#: ASSUMED 2. DSP58: one, in its native floating-point mode (UG1273: "single precision floating
#: point"), fp16 carried in fp32.
DSPS_PER_FP16_MAC = {DSPType.DSP48E2: 2, DSPType.DSP58: 1}
#: DSPs in one group of a chain: FlightLLM cascades DSP48s through PCOUT→PCIN in groups of 2, with a
#: reduction node at each group's end (FlightLLM, FPGA 2024, Sec. 4.1).
DSP_GROUP = 2


@dataclass(frozen=True, kw_only=True)
class FPGADevice:
    """One FPGA board: its device's resources and its off-chip memory.

    `memory_channels` are independent channels (an HBM pseudo-channel, a DDR controller), each
    `channel_bytes_per_s` and `channel_capacity_bytes`. `fabric_clock_hz` is the clock the overlay
    closes timing at on this device. `technology_nm` is the process node (for the energy
    estimators). `board_power_w` is the board's rated power (0: unknown), `static_power_w` the
    idle power charged while it runs (0: not modeled), `price_usd_per_hour` a rental or amortized
    price (0: unknown).
    """

    part: str
    dsp_slices: int
    dsp_type: DSPType
    luts: int
    bram36_blocks: int
    uram_blocks: int
    slrs: int
    fabric_clock_hz: float
    memory_kind: DramKind
    memory_channels: int
    channel_bytes_per_s: float
    channel_capacity_bytes: float
    technology_nm: float = 16.0
    board_power_w: float = 0.0
    static_power_w: float = 0.0
    price_usd_per_hour: float = 0.0

    def __post_init__(self) -> None:
        where = f"device {self.part!r}: "
        for name in ("dsp_slices", "luts", "slrs", "memory_channels"):
            check_positive_int(self, name, where)
        for name in ("bram36_blocks", "uram_blocks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise HardwareSpecError(f"{where}field {name!r} = {value!r}: must be an integer >= 0")
        for name in ("fabric_clock_hz", "channel_bytes_per_s", "channel_capacity_bytes", "technology_nm"):
            check_positive_number(self, name, where)
        for name in ("board_power_w", "static_power_w", "price_usd_per_hour"):
            check_non_negative_number(self, name, where)
        if not isinstance(self.dsp_type, DSPType):
            raise HardwareSpecError(f"{where}field 'dsp_type' = {self.dsp_type!r}: not a DSPType")
        if not isinstance(self.memory_kind, DramKind):
            raise HardwareSpecError(f"{where}field 'memory_kind' = {self.memory_kind!r}: not a DramKind")

    @property
    def onchip_bytes(self) -> int:
        """BRAM36 and URAM data bytes together."""
        return self.bram36_blocks * BRAM36_DATA_BYTES + self.uram_blocks * URAM_DATA_BYTES

    @property
    def dram_bytes_per_s(self) -> float:
        return self.memory_channels * self.channel_bytes_per_s

    @property
    def dram_capacity_bytes(self) -> float:
        return self.memory_channels * self.channel_capacity_bytes


@dataclass(frozen=True, kw_only=True)
class FPGAOverlay:
    """A FlightLLM-style accelerator overlay; every count is per core unless it says otherwise.

    Matrix processing engine: GEMM mode `gemm_pm` × `gemm_pk` × `gemm_pn` MACs per cycle (rows of
    activations × reduction depth × weight columns). GEMV mode: `gemv_pk` × `gemv_pn`, or 0 for
    both to re-tile per op so memory time does not exceed compute time (`mappers.fpga`);
    `gemv_tile_n` outputs per GEMV instruction (the compiler pads an op's output columns to it).
    `gemm_tile_n` output columns per GEMM instruction (the instruction count, not the time).
    `chain_length` DSPs per chain (a multiple of the 2-DSP group). `sfu_lanes` FP16 lanes of the
    special-function unit. `dequant_weights_per_cycle` weights the MMU unpacks per cycle (its
    throughput limit); `unpack_bits` the low-bit widths it unpacks (8-bit and 16-bit weights need
    no unpacking). Buffers: `weight_buffer_bytes` (weights, dequantized to INT8 on the way in),
    `activation_buffer_bytes` (activations kept on chip), `gemm_weight_buffer_bytes` (the weights
    GEMM mode streams through; 0: it shares the weight buffer), `meta_buffer_bytes` (N:M indices,
    scales), `instruction_buffer_bytes`.

    Memory: `hbm_channels_per_core` channels each core owns for its weight and KV stream;
    `aux_channels_per_core` further channel streams each core drives (activations and metadata,
    instructions) that share the channels with the weight streams rather than owning one;
    `same_channel_efficiency` / `cross_channel_efficiency` the fraction of a channel's bandwidth
    an access within its own channel / across channels reaches; `placement` own or interleaved.
    `gemm_weight_channels`: the channels that feed GEMM mode's weight buffer, each access crossing
    channels (the artifact's B buffer: one channel, `B_BUFFER_HBM_CHANNEL_NUM: 1`, loaded
    cross-channel); 0: the core's own weight channels.

    Compilation: `weight_bits` stores every parameter weight at that many bits with group scales
    (0: as the workload says); `sparsity_n`:`sparsity_m` prunes every parameter weight N:M (0: as
    the workload says). `always_on_chip` keeps activations on chip between ops when they fit.
    `attention_block` is the block of the attention mask (SDDMM as block GEMMs).
    `length_step` the token-length step instructions are shared over (length-adaptive
    compilation), up to `max_length`. `sync_cycles` the cost of the cross-core barrier (SYS) at
    each op's end. `kv_append_reads_cache`: the compiler appends a token's K and V by loading the
    whole past cache (as FlightLLM's artifact compiler emits a KV concat: profile/inst_gen/
    layer_support/IR_concat.py loads the cache over the core's channels and stores nothing); off,
    only the new row is written.
    """

    cores: int
    gemm_pm: int
    gemm_pk: int
    gemm_pn: int
    gemv_pk: int = 0
    gemv_pn: int = 0
    gemv_tile_n: int = 512
    gemm_tile_n: int = 16
    chain_length: int = 16
    sfu_lanes: int = 16
    dequant_weights_per_cycle: int = 2048
    unpack_bits: tuple[int, ...] = (2, 3, 4)
    weight_buffer_bytes: int
    activation_buffer_bytes: int
    gemm_weight_buffer_bytes: int = 0
    meta_buffer_bytes: int = 0
    instruction_buffer_bytes: int = 0
    hbm_channels_per_core: int
    aux_channels_per_core: int = 0
    gemm_weight_channels: int = 0
    same_channel_efficiency: float
    cross_channel_efficiency: float
    placement: HBMPlacement = HBMPlacement.OWN
    weight_bits: int = 0
    sparsity_n: int = 0
    sparsity_m: int = 0
    always_on_chip: bool = True
    attention_block: int = 64
    length_step: int = 16
    max_length: int = 2048
    sync_cycles: int = 1
    kv_append_reads_cache: bool = False

    def __post_init__(self) -> None:
        where = "overlay: "
        for name in (
            "cores",
            "gemm_pm",
            "gemm_pk",
            "gemm_pn",
            "gemv_tile_n",
            "gemm_tile_n",
            "chain_length",
            "sfu_lanes",
            "dequant_weights_per_cycle",
            "weight_buffer_bytes",
            "activation_buffer_bytes",
            "hbm_channels_per_core",
            "attention_block",
            "length_step",
            "max_length",
        ):
            check_positive_int(self, name, where)
        for name in ("gemv_pk", "gemv_pn", "gemm_weight_buffer_bytes", "meta_buffer_bytes",
                     "instruction_buffer_bytes",
                     "aux_channels_per_core", "gemm_weight_channels", "weight_bits", "sparsity_n",
                     "sparsity_m", "sync_cycles"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise HardwareSpecError(f"{where}field {name!r} = {value!r}: must be an integer >= 0")
        if (self.gemv_pk == 0) != (self.gemv_pn == 0):
            raise HardwareSpecError(
                f"{where}fields 'gemv_pk' = {self.gemv_pk}, 'gemv_pn' = {self.gemv_pn}: give both, or "
                "0 for both to re-tile GEMV per op"
            )
        if self.chain_length % DSP_GROUP:
            raise HardwareSpecError(
                f"{where}field 'chain_length' = {self.chain_length}: must be a multiple of the "
                f"{DSP_GROUP}-DSP group"
            )
        for name in ("same_channel_efficiency", "cross_channel_efficiency"):
            check_fraction(self, name, where)
        if not isinstance(self.placement, HBMPlacement):
            raise HardwareSpecError(f"{where}field 'placement' = {self.placement!r}: not an HBMPlacement")
        for name in ("always_on_chip", "kv_append_reads_cache"):
            if not isinstance(getattr(self, name), bool):
                raise HardwareSpecError(f"{where}field {name!r} = {getattr(self, name)!r}: true or false")
        bad = [bits for bits in self.unpack_bits if isinstance(bits, bool) or bits not in range(1, 8)]
        if bad:
            raise HardwareSpecError(
                f"{where}field 'unpack_bits' = {list(self.unpack_bits)}: each must be 1-7 bits "
                "(8- and 16-bit weights need no unpacking)"
            )
        if self.weight_bits and self.weight_bits not in (*self.unpack_bits, 8, 16):
            raise HardwareSpecError(
                f"{where}field 'weight_bits' = {self.weight_bits}: this overlay's MMU cannot unpack "
                f"{self.weight_bits}-bit weights (unpack_bits: {list(self.unpack_bits)}; 8 and 16 are native)"
            )
        if (self.sparsity_n == 0) != (self.sparsity_m == 0):
            raise HardwareSpecError(
                f"{where}fields 'sparsity_n' = {self.sparsity_n}, 'sparsity_m' = {self.sparsity_m}: give "
                "both (N:M) or 0 for both"
            )
        if self.sparsity_m:
            check_nm(self.sparsity_n, self.sparsity_m, where=f"{where}sparsity ")

    @property
    def macs_per_cycle(self) -> int:
        """GEMM-mode MACs per cycle of one core."""
        return self.gemm_pm * self.gemm_pk * self.gemm_pn

    @property
    def onchip_bytes(self) -> int:
        """Buffer bytes of one core."""
        return (
            self.weight_buffer_bytes
            + self.activation_buffer_bytes
            + self.gemm_weight_buffer_bytes
            + self.meta_buffer_bytes
            + self.instruction_buffer_bytes
        )


def check_nm(n: int, m: int, *, where: str = "") -> None:
    """N:M as the sparse DSP chain takes it: M a power of two, N dividing M (N = M is dense)."""
    if m < 1 or m & (m - 1):
        raise HardwareSpecError(
            f"{where}{n}:{m}: M must be a power of two (the chain's sparse mux picks 1 of M)"
        )
    if n < 1 or n > m or m % n:
        raise HardwareSpecError(f"{where}{n}:{m}: N must divide M (1 <= N <= M)")


@dataclass(frozen=True)
class FPGAResources:
    """What an overlay uses of a device: DSPs (MPE and SFU), buffer bytes (against BRAM + URAM),
    exclusive memory channels, and the channel streams its cores drive (exclusive and shared)."""

    dsps: int
    onchip_bytes: int
    channels: int
    channel_streams: int


def overlay_resources(device: FPGADevice, overlay: FPGAOverlay) -> FPGAResources:
    """The `FPGAResources` of `overlay` on `device`.

    DSPs per core: the MPE's ``ceil(pM·pK·pN / INT8 MACs per DSP)`` (GEMV mode reuses them) plus
    the SFU's FP16 lanes at `DSPS_PER_FP16_MAC` each; the MMU's unpackers are LUT logic.
    Channels: the ones the cores own; with interleaved placement every core reads every channel and
    owns none, so the count is the channels the weights are striped over (all of them).
    """
    mpe = math.ceil(overlay.macs_per_cycle / INT8_MACS_PER_DSP[device.dsp_type])
    sfu = overlay.sfu_lanes * DSPS_PER_FP16_MAC[device.dsp_type]
    owned = overlay.cores * overlay.hbm_channels_per_core
    channels = owned if overlay.placement is HBMPlacement.OWN else min(owned, device.memory_channels)
    return FPGAResources(
        dsps=overlay.cores * (mpe + sfu),
        onchip_bytes=overlay.cores * overlay.onchip_bytes,
        channels=channels,
        channel_streams=overlay.cores * (overlay.hbm_channels_per_core + overlay.aux_channels_per_core),
    )


@dataclass(frozen=True)
class CoreStreams:
    """Per core: `weight_bytes_per_s` its channel streams reach (own channels or interleaved; the
    weights and the KV cache stream at it, and the activations it moves share those channels), and
    `share` (≤ 1), the fraction of time its channel streams are served when all cores drive more
    streams than the device has channels."""

    weight_bytes_per_s: float
    share: float


def overlay_streams(device: FPGADevice, overlay: FPGAOverlay) -> CoreStreams:
    """Bandwidth of one core's streams. Own placement: ``hbm_channels_per_core · channel_bytes_per_s
    · same_channel_efficiency``; interleaved: the device's channels shared by the cores,
    ``memory_channels / cores · channel_bytes_per_s · cross_channel_efficiency``. Share:
    ``min(1, memory_channels / (cores · (hbm_channels_per_core + aux_channels_per_core)))``."""
    if overlay.placement is HBMPlacement.OWN:
        weight = overlay.hbm_channels_per_core * device.channel_bytes_per_s * overlay.same_channel_efficiency
    else:
        per_core = device.memory_channels / overlay.cores
        weight = per_core * device.channel_bytes_per_s * overlay.cross_channel_efficiency
    streams = overlay_resources(device, overlay).channel_streams
    share = min(1.0, device.memory_channels / streams) if streams else 1.0
    return CoreStreams(weight_bytes_per_s=weight, share=share)


def check_fits(device: FPGADevice, overlay: FPGAOverlay, *, where: str = "") -> FPGAResources:
    """The overlay's resources, or an error naming the first resource it needs more of than the
    device has (need and have)."""
    used = overlay_resources(device, overlay)
    for resource, need, have in (
        ("DSP slices", used.dsps, device.dsp_slices),
        ("on-chip buffer bytes (BRAM + URAM)", used.onchip_bytes, device.onchip_bytes),
        ("memory channels", used.channels, device.memory_channels),
    ):
        if need > have:
            raise HardwareSpecError(
                f"{where}overlay needs {need:,} {resource}, {device.part} has {have:,} "
                f"({overlay.cores} cores)"
            )
    return used


@dataclass(frozen=True, kw_only=True)
class FPGASpec:
    """An FPGA board with an accelerator overlay; implements `hwmodels.device.Device`.

    `timing` picks the engine's timing (`FPGATiming`). The default dtype is INT8, the MPE's native
    format.
    """

    name: str
    device: FPGADevice
    overlay: FPGAOverlay
    timing: FPGATiming = FPGATiming.TIMELINE
    default_dtype: DType = DType.INT8
    source: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        where = f"hardware {self.name!r}: "
        if not isinstance(self.device, FPGADevice) or not isinstance(self.overlay, FPGAOverlay):
            raise HardwareSpecError(f"{where}'device' and 'overlay' must be an FPGADevice and an FPGAOverlay")
        if not isinstance(self.timing, FPGATiming):
            raise HardwareSpecError(f"{where}field 'timing' = {self.timing!r}: not an FPGATiming")
        check_fits(self.device, self.overlay, where=where)

    @functools.cached_property
    def resources(self) -> FPGAResources:
        """What the overlay uses of the device (`overlay_resources`), computed on first use."""
        return overlay_resources(self.device, self.overlay)

    @functools.cached_property
    def core_streams(self) -> CoreStreams:
        """One core's stream bandwidth and share (`overlay_streams`), computed on first use."""
        return overlay_streams(self.device, self.overlay)

    # The `hwmodels.device.Device` interface.
    @property
    def clock_hz(self) -> float:
        return self.device.fabric_clock_hz

    @property
    def dram_bytes_per_s(self) -> float:
        return self.device.dram_bytes_per_s

    @property
    def achievable_dram_bytes_per_s(self) -> float:
        """Every channel at the same-channel efficiency (weights on their own channels)."""
        return self.dram_bytes_per_s * self.overlay.same_channel_efficiency

    @property
    def dram_capacity_bytes(self) -> float:
        return self.device.dram_capacity_bytes

    #: Per-instruction and per-op costs are the engine's (instruction issue, SYS barriers).
    launch_overhead_s = 0.0
    #: An overlay keeps weights and the KV cache in board memory, with no host fallback: `codesign
    #: simulate` refuses a model that does not fit instead of warning.
    memory_must_hold_model = True

    @property
    def tdp_w(self) -> float:
        return self.device.board_power_w

    @property
    def board_power_w(self) -> float:
        return self.device.board_power_w

    @property
    def static_power_w(self) -> float:
        return self.device.static_power_w

    @property
    def price_usd_per_hour(self) -> float:
        return self.device.price_usd_per_hour

    def macs_per_dsp(self, dtype: DType) -> float:
        """GEMM-mode MACs per DSP per cycle on `dtype` (INT8 packed; FP16 on `DSPS_PER_FP16_MAC`
        DSPs); an error for a dtype the MPE does not multiply."""
        kind = self.device.dsp_type
        if dtype in (DType.INT8, DType.INT4):
            return INT8_MACS_PER_DSP[kind]
        if dtype in (DType.FP16, DType.BF16):
            return 1 / DSPS_PER_FP16_MAC[kind]
        raise HardwareSpecError(
            f"hardware {self.name!r}: the MPE multiplies int8 (int4 unpacked to it) or fp16/bf16, "
            f"not {dtype.value}"
        )

    @property
    def mpe_dsps_per_core(self) -> int:
        return math.ceil(self.overlay.macs_per_cycle / INT8_MACS_PER_DSP[self.device.dsp_type])

    def peak_flops(self, dtype: DType) -> float:
        """2 · cores · MPE DSPs · MACs/DSP[dtype] · clock (INT8: pM·pK·pN MACs per core-cycle)."""
        macs = self.overlay.cores * self.mpe_dsps_per_core * self.macs_per_dsp(dtype)
        return 2 * macs * self.clock_hz

    def achievable_flops(self, dtype: DType) -> float:
        """The peak: the engine models what keeps the MPE from it (re-tiling, padding, stalls)."""
        return self.peak_flops(dtype)

    def memory_levels(self) -> tuple[MemoryLevel, ...]:
        """Every core's buffers (read by its units at their own rates, never the modeled limit),
        then the off-chip memory."""
        inf = float("inf")
        cores = self.overlay.cores
        return (
            MemoryLevel("weight_buffer", cores * self.overlay.weight_buffer_bytes, inf),
            MemoryLevel("activation_buffer", cores * self.overlay.activation_buffer_bytes, inf),
            MemoryLevel("dram", self.dram_capacity_bytes, self.dram_bytes_per_s),
        )
