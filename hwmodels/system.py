"""A system of devices: named groups of devices of any kind, the links that join them, and how a
model is spread over them (`ParallelPlan`).

A `SystemSpec` is not a `Device`: it holds devices. Each `DeviceGroup` is one device spec (a GPU,
an FPGA, a systolic array, ... as `hwmodels.loader` builds it) and a count. Each `LinkSpec` joins
the devices inside one group (``between: [gpus]``, e.g. NVLink) or the devices of two groups
(``between: [compute, memory]``, e.g. a RoCE NIC per device), with its bandwidth per direction and
per device port, its one-way small-message latency, a per-message software overhead and the
fraction of the line rate a communication stack reaches. `ParallelPlan` says which group runs the
model and how (tensor, pipeline, data and expert parallel degrees, sequence parallelism, attention
offloaded to a memory group, prefill on a group of its own, the overlap mode); `mappers.placement`
turns it into placed ops. The YAML form and the ``--set`` paths are in `hwmodels.system_loader`.

Units are SI in the field names. Nothing here simulates.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from hwmodels.checks import check_non_negative_number, check_positive_int, check_positive_number
from hwmodels.device import Device
from hwmodels.errors import HardwareSpecError

#: The memory a serving engine leaves unused on each device, as a fraction of its capacity:
#: vLLM's default ``gpu_memory_utilization = 0.9`` (vllm/engine/arg_utils.py, EngineArgs) leaves
#: 10% for the CUDA context, NCCL buffers and fragmentation.
VLLM_MEMORY_RESERVE_FRACTION = 0.1


class LinkKind(enum.Enum):
    """What a link is; a label for tables (the numbers are the link's fields)."""

    NVLINK = "nvlink"
    PCIE = "pcie"
    ROCE = "roce"
    IB = "ib"
    ETHERNET = "ethernet"


class CollectiveAlgorithm(enum.Enum):
    """How a collective is run (`mappers.collectives`): ``ring``, ``tree``, or ``auto`` (the faster
    of the two for each message, as NCCL's tuner picks)."""

    RING = "ring"
    TREE = "tree"
    AUTO = "auto"


class Overlap(enum.Enum):
    """How an offloaded attention overlaps the model's work (`mappers.placement`):

    * ``none``: per layer, q, k and v are computed, sent, attended, and the output returned before
      the next op starts;
    * ``eager_q``: Lamina's resource-utilization overlapping: q is sent as soon as it is projected
      and the memory devices attend over the cached KV while k and v are projected and sent; the
      new token's keys are attended after and the two partial softmaxes merged;
    * ``rotational``: Lamina's rotational staggered pipelining (its section 4.3):
      `ParallelPlan.rotation_batches` (n) micro-batches over n − 1 model replicas, the k-th model
      slice of micro-batch j on replica (j + k) mod (n − 1), so while one micro-batch is in
      attention the replicas run the others (n = 2: one replica, two batches in turn). Without the
      eager q send: with it, the timeline's first-ready-first-served order puts one micro-batch's
      short attention tail behind the other's whole attention, which is slower than either alone.
    """

    NONE = "none"
    EAGER_Q = "eager_q"
    ROTATIONAL = "rotational"


@dataclass(frozen=True, kw_only=True)
class LinkSpec:
    """A link joining the devices of one group (`between` names it) or of two groups.

    `bytes_per_s` is the line rate per direction of one device's port (an H100's NVLink: 450e9; a
    400 Gbps NIC: 50e9); `efficiency` the fraction of it a communication stack reaches on large
    messages (NCCL over RoCE: 35.5 / 50 = 0.71, Lamina's host-bypassing stack 45.7 / 50 = 0.914);
    `latency_s` the one-way time of a small message through the stack (per hop of a ring step);
    `per_message_overhead_s` what each collective or send call adds once (a kernel launch, a
    proxy's setup)."""

    kind: LinkKind
    between: tuple[str, ...]
    bytes_per_s: float
    latency_s: float
    per_message_overhead_s: float = 0.0
    efficiency: float = 1.0
    source: str = ""

    def __post_init__(self) -> None:
        where = "link: "
        check_positive_number(self, "bytes_per_s", where)
        for name in ("latency_s", "per_message_overhead_s"):
            check_non_negative_number(self, name, where)
        if not (isinstance(self.efficiency, int | float) and 0 < self.efficiency <= 1):
            raise HardwareSpecError(f"{where}field 'efficiency' = {self.efficiency!r}: must be in (0, 1]")
        if not 1 <= len(self.between) <= 2 or len(set(self.between)) != len(self.between):
            raise HardwareSpecError(
                f"{where}field 'between' = {list(self.between)!r}: name one group (a link inside it) "
                "or two different groups (a link between them)"
            )

    @property
    def achievable_bytes_per_s(self) -> float:
        """What the stack moves per second per direction per device: line rate × efficiency."""
        return self.bytes_per_s * self.efficiency

    def joins(self, first: str, second: str) -> bool:
        """Whether this link joins groups `first` and `second` (the same name: inside a group)."""
        return set(self.between) == {first, second}


@dataclass(frozen=True, kw_only=True)
class DeviceGroup:
    """`count` devices of one spec (any kind implementing `hwmodels.device.Device`). `ref` is how
    the YAML named the device (a preset, a file), for tables; `device_set` the overrides it applied."""

    device: Any
    count: int
    ref: str = ""
    device_set: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_positive_int(self, "count", "group: ")
        if not isinstance(self.device, Device):
            raise HardwareSpecError(
                f"group: field 'device' = {self.device!r}: must be a device spec (a preset name, a "
                ".yaml file or a mapping with its kind)"
            )

    @property
    def price_usd_per_hour(self) -> float:
        """The group's rental price per hour (NaN when its device's price is unknown)."""
        price = self.device.price_usd_per_hour
        return self.count * price if price > 0 else math.nan

    @property
    def power_w(self) -> float:
        """The most the group's devices draw (NaN when unknown): each device's `board_power_w`,
        its power limit where one is set below its TDP (an H100 capped at 500 W draws at most
        500 W, not its 700 W TDP), else its TDP."""
        power = self.device.board_power_w
        return self.count * power if power > 0 else math.nan


@dataclass(frozen=True, kw_only=True)
class ParallelPlan:
    """How a model is spread over a system (`mappers.placement` does it; see docs/systems.md).

    `model_group` runs the model (empty: the first group). Its devices are split into `dp`
    data-parallel replicas of `pp` pipeline stages of `tp` tensor-parallel devices (`tp` 0: the
    devices left, count / (pp · dp)); `ep` > 1 spreads an MoE layer's experts over that many of a
    stage's devices instead of splitting each expert by `tp`. `sequence_parallel` runs the norms
    and residual adds split over `tp` with reduce-scatter/all-gather in place of each all-reduce.
    `micro_batches` splits a step's batch for the pipeline. `attention_group` (empty: none) runs
    the attention and holds the KV cache, partitioned by heads over its devices; `overlap` says how
    that overlaps the model's work, `rotation_batches` (n) is the micro-batches of ``rotational``
    (over n − 1 replicas of the model). `prefill_group` (empty: the model group) runs prefill, the
    KV cache then moved to the decode devices layer by layer. `collective` picks the algorithm of
    the collectives.
    """

    model_group: str = ""
    tp: int = 0
    pp: int = 1
    dp: int = 1
    ep: int = 1
    sequence_parallel: bool = False
    micro_batches: int = 1
    attention_group: str = ""
    prefill_group: str = ""
    overlap: Overlap = Overlap.NONE
    rotation_batches: int = 2
    collective: CollectiveAlgorithm = CollectiveAlgorithm.RING

    def __post_init__(self) -> None:
        where = "parallel: "
        for name, kind in (("overlap", Overlap), ("collective", CollectiveAlgorithm)):
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, kind(getattr(value, "value", value)))
            except ValueError:
                valid = ", ".join(member.value for member in kind)
                raise HardwareSpecError(f"{where}field {name!r} = {value!r}: valid: {valid}") from None
        for name in ("pp", "dp", "ep", "micro_batches"):
            check_positive_int(self, name, where)
        if isinstance(self.tp, bool) or not isinstance(self.tp, int) or self.tp < 0:
            raise HardwareSpecError(f"{where}field 'tp' = {self.tp!r}: must be an integer >= 0 (0: all)")
        if (
            isinstance(self.rotation_batches, bool)
            or not isinstance(self.rotation_batches, int)
            or (self.rotation_batches < 2)
        ):
            raise HardwareSpecError(
                f"{where}field 'rotation_batches' = {self.rotation_batches!r}: must be an integer >= 2 "
                "(n micro-batches over n - 1 model replicas)"
            )


@dataclass(frozen=True, kw_only=True)
class SystemSpec:
    """Groups of devices by name, links by name, the parallel plan, and the fraction of each
    device's memory a serving engine keeps free (`memory_reserve_fraction`)."""

    name: str
    groups: Mapping[str, DeviceGroup]
    links: Mapping[str, LinkSpec] = field(default_factory=dict)
    parallel: ParallelPlan = field(default_factory=ParallelPlan)
    memory_reserve_fraction: float = VLLM_MEMORY_RESERVE_FRACTION
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        where = f"system {self.name!r}: "
        if not self.groups:
            raise HardwareSpecError(f"{where}field 'groups' is empty: give at least one group of devices")
        reserved = {f.name for f in fields(self)}
        for name in self.groups:
            if not isinstance(name, str) or not name or "." in name or name in reserved:
                raise HardwareSpecError(
                    f"{where}group name {name!r}: must be a non-empty name without '.', and not one of "
                    f"the system's fields ({', '.join(sorted(reserved))})"
                )
        known = ", ".join(self.groups)
        for link_name, link in self.links.items():
            for group in link.between:
                if group not in self.groups:
                    raise HardwareSpecError(
                        f"{where}link {link_name!r}: unknown group {group!r}; groups: {known}"
                    )
        plan = self.parallel
        for label, group in (
            ("model_group", plan.model_group),
            ("attention_group", plan.attention_group),
            ("prefill_group", plan.prefill_group),
        ):
            if group and group not in self.groups:
                raise HardwareSpecError(
                    f"{where}parallel.{label} = {group!r}: unknown group; groups: {known}"
                )
        if plan.attention_group and plan.attention_group == self.model_group:
            raise HardwareSpecError(
                f"{where}parallel.attention_group = {plan.attention_group!r} is the model group: offload "
                "attention to another group"
            )
        value = self.memory_reserve_fraction
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 1:
            raise HardwareSpecError(f"{where}field 'memory_reserve_fraction' = {value!r}: must be in [0, 1)")
        object.__setattr__(self, "groups", MappingProxyType(dict(self.groups)))
        object.__setattr__(self, "links", MappingProxyType(dict(self.links)))

    def __hash__(self) -> int:
        return hash(
            (
                self.name,
                tuple(self.groups.items()),
                tuple(self.links.items()),
                self.parallel,
                self.memory_reserve_fraction,
            )
        )

    @property
    def model_group(self) -> str:
        """The group that runs the model: `ParallelPlan.model_group`, else the first group."""
        return self.parallel.model_group or next(iter(self.groups))

    @property
    def device_count(self) -> int:
        return sum(group.count for group in self.groups.values())

    @property
    def price_usd_per_hour(self) -> float:
        """Every device's rental price per hour, summed (NaN if any device's price is unknown)."""
        return sum(group.price_usd_per_hour for group in self.groups.values())

    @property
    def power_w(self) -> float:
        """Every device's board power (its power limit where below its TDP), summed (NaN if any
        is unknown)."""
        return sum(group.power_w for group in self.groups.values())

    def with_devices(self, change: Callable[[Any], Any]) -> SystemSpec:
        """This system with `change` applied to every group's device (a GPU's launch mode,
        `GPUSpec.with_cuda_graphs`); `change` returns a device unchanged where it does not apply."""
        groups = {name: replace(group, device=change(group.device)) for name, group in self.groups.items()}
        return replace(self, groups=groups)

    def link(self, first: str, second: str) -> tuple[str, LinkSpec]:
        """The name and spec of the link joining groups `first` and `second` (the same name: the
        link inside that group); an error naming the links there are."""
        for name, link in self.links.items():
            if link.joins(first, second):
                return name, link
        inside = first == second
        what = f"inside group {first!r}" if inside else f"between groups {first!r} and {second!r}"
        have = ", ".join(f"{name} ({' <-> '.join(link.between)})" for name, link in self.links.items())
        raise HardwareSpecError(
            f"system {self.name!r}: no link {what}, which the parallel plan needs; links: {have or 'none'}"
        )
