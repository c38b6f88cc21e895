"""Serving on a system: whether a batch fits the devices' memory, the largest batch that does, and
the figures a serving deployment is judged by.

* **Memory** (`memory_check`): each device's weights shard, KV cache and activations
  (`mappers.placement.DeviceMemory`) against its `dram_capacity_bytes` less the system's
  `memory_reserve_fraction`. A placement that does not fit names the device, what it needs and
  what it has.
* **The largest batch** (`max_batch`): a paged KV cache (vLLM's) holds exactly the tokens the
  requests have, so a device's need grows linearly with the batch: fixed weights plus, per
  sequence, its KV cache and activations. Two placements (at the smallest batch the plan allows and
  twice it) give each device's slope and intercept; the largest batch under every device's
  capacity is then checked with a placement of its own, stepping down if it does not fit.
* **Figures** (`serving_figures`): time between tokens (a decode step), tokens/s, time to first
  token (a prefill of one request at the mix's prompt length, on the prefill devices, without
  queueing), $/h, tokens per dollar and per joule.
* **Request lengths** (`RequestMix`): fixed, the published means of the traces Lamina used (its
  Table 4), or the means of a CSV in the Azure LLM inference trace format (`read_request_trace`).
  A decode step is simulated at the mix's mean context over a request's decode, prompt + generated
  / 2.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hwmodels.errors import HardwareSpecError
from hwmodels.system import SystemSpec
from mappers.placement import Placement, layout, place
from sim.system_run import SystemRun
from workloads.errors import WorkloadError
from workloads.op import OpGraph

SECONDS_PER_HOUR = 3600.0
#: Mean prompt and generated tokens of the traces Lamina evaluates on (arXiv 2405.01814v2, Table 4).
LAMINA_TRACES = {
    "azure-conv": (1154.7, 211.1),
    "azure-code": (2047.8, 27.9),
    "kimi-conv": (12035.1, 342.6),
    "kimi-ta": (8560.0, 182.1),
}
#: Column names of the Azure LLM inference trace CSVs (AzurePublicDataset, AzureLLMInferenceTrace_
#: {conv,code}.csv): arrival time, prompt tokens, generated tokens.
AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


@dataclass(frozen=True)
class RequestMix:
    """Mean prompt and generated tokens of the requests served, where they come from, and how many
    requests the means are over (0: published means)."""

    name: str
    prompt_tokens: float
    generated_tokens: float
    requests: int = 0

    @property
    def decode_context(self) -> int:
        """The mean context a decode step attends over: the prompt and half the generated tokens."""
        return max(1, round(self.prompt_tokens + self.generated_tokens / 2))


def request_mix(text: str) -> RequestMix:
    """A Lamina trace's published means by name (`LAMINA_TRACES`), or a trace file's means."""
    key = text.strip().lower()
    if key in LAMINA_TRACES:
        prompt, generated = LAMINA_TRACES[key]
        return RequestMix(name=key, prompt_tokens=prompt, generated_tokens=generated)
    if not Path(text).is_file():
        raise WorkloadError(
            f"--requests {text!r}: not a trace name ({', '.join(LAMINA_TRACES)}) nor a CSV file"
        )
    return read_request_trace(text)


def read_request_trace(path: str | Path) -> RequestMix:
    """The means of a CSV trace with the Azure LLM inference trace's columns (`AZURE_COLUMNS`);
    a missing column, or a row with a missing, non-numeric or negative length, is one error naming
    the file and the row."""
    path = Path(path)
    from workloads.files import read_text

    text = read_text(path, what="a request trace CSV", error=WorkloadError)
    reader = csv.DictReader(text.splitlines())
    columns = [name.strip() for name in reader.fieldnames or []]
    for column in AZURE_COLUMNS[1:]:
        if column not in columns:
            raise WorkloadError(
                f"{path}: no column {column!r}; a request trace has {', '.join(AZURE_COLUMNS)} "
                f"(found: {', '.join(columns) or 'no header'})"
            )
    prompts, generated = [], []
    for line, row in enumerate(reader, start=2):
        row = {(key or "").strip(): value for key, value in row.items()}
        for column, into in ((AZURE_COLUMNS[1], prompts), (AZURE_COLUMNS[2], generated)):
            value = (row.get(column) or "").strip()
            if not value:
                raise WorkloadError(f"{path}, line {line}: {column} is missing")
            try:
                number = float(value)
            except ValueError:
                raise WorkloadError(f"{path}, line {line}: {column} = {value!r} is not a number") from None
            if number < 0 or not math.isfinite(number):
                raise WorkloadError(f"{path}, line {line}: {column} = {value} must be a length >= 0")
            into.append(number)
    if not prompts:
        raise WorkloadError(f"{path}: no requests (a header and no rows)")
    return RequestMix(
        name=path.stem,
        prompt_tokens=sum(prompts) / len(prompts),
        generated_tokens=sum(generated) / len(generated),
        requests=len(prompts),
    )


@dataclass(frozen=True)
class MemoryUse:
    """One device resource's need per device against what it may use."""

    resource: str
    device: str
    need_bytes: float
    usable_bytes: float
    capacity_bytes: float

    @property
    def fits(self) -> bool:
        return not self.usable_bytes or self.need_bytes <= self.usable_bytes


def memory_check(placement: Placement, system: SystemSpec) -> list[MemoryUse]:
    """Each device resource's need per device and usable capacity (capacity × (1 − reserve); a
    device that states no capacity is never short)."""
    uses = []
    for name, memory in placement.memory.items():
        group = placement.resources[name].group
        device = system.groups[group].device
        capacity = float(device.dram_capacity_bytes or 0.0)
        usable = capacity * (1 - system.memory_reserve_fraction)
        uses.append(
            MemoryUse(
                resource=name,
                device=device.name,
                need_bytes=memory.total_bytes,
                usable_bytes=usable,
                capacity_bytes=capacity,
            )
        )
    return uses


def require_fit(placement: Placement, system: SystemSpec) -> list[MemoryUse]:
    """Each device resource's memory use (`memory_check`); an error naming the first device that
    is short of memory, its need and what it has."""
    uses = memory_check(placement, system)
    for use in uses:
        if not use.fits:
            memory = placement.memory[use.resource]
            raise HardwareSpecError(
                f"does not fit: {use.resource} ({use.device}) needs {use.need_bytes / 1e9:.1f} GB per "
                f"device (weights {memory.weights_bytes / 1e9:.1f}, KV cache {memory.kv_bytes / 1e9:.1f}, "
                f"activations {memory.activation_bytes / 1e9:.2f}) and has {use.usable_bytes / 1e9:.1f} GB "
                f"({use.capacity_bytes / 1e9:.0f} GB less the {system.memory_reserve_fraction:.0%} reserve); "
                "lower --batch or --context, or add devices"
            )
    return uses


def batch_step(system: SystemSpec) -> int:
    """The batches a plan can run are multiples of this: data-parallel replicas × micro-batches."""
    shape = layout(system)
    return shape.dp * shape.micro_batches


def max_batch(trace: Callable[[int], OpGraph], system: SystemSpec, *, limit: int = 1 << 16) -> int:
    """The largest batch whose placement fits every device (module docstring). `trace(b)` is the
    graph one micro-batch of `b` sequences runs. An error when not even the smallest batch fits."""
    step = batch_step(system)
    small = place(trace(1), system)
    small_uses = require_fit(small, system)  # not even the smallest batch: say which device is short
    large = place(trace(2), system)
    best = limit
    for use_small, use_large in zip(small_uses, memory_check(large, system), strict=True):
        if not use_small.usable_bytes:
            continue
        per_step = use_large.need_bytes - use_small.need_bytes  # bytes per `step` sequences
        if per_step <= 0:
            continue
        room = use_small.usable_bytes - use_small.need_bytes
        best = min(best, step + int(room // per_step) * step)
    best = max(step, best // step * step)
    while best > step:
        candidate = place(trace(best // step), system)
        if all(use.fits for use in memory_check(candidate, system)):
            return best
        best -= step
    return best


@dataclass(frozen=True)
class ServingFigures:
    """A decode deployment's figures (see the module docstring): per step and per hour."""

    batch: int
    context: int
    tbt_s: float
    tokens_per_s: float
    ttft_s: float
    usd_per_hour: float
    tokens_per_usd: float
    power_w: float
    tokens_per_j: float
    tokens_per_s_with_prefill: float


def serving_figures(
    run: SystemRun,
    *,
    context: int,
    ttft_s: float = math.nan,
    generated_tokens: float = math.nan,
    prefill_shared: bool = True,
    first_token_decodes: int = 0,
    prefill_s: float = math.nan,
) -> ServingFigures:
    """The figures of a decode step `run` (module docstring). With a prefill time and the mean
    generated tokens ``n``: tokens/s counting prefill too, on the same devices (`prefill_shared`:
    each request's prefill takes the devices for `prefill_s`, the part of `ttft_s` that is not a
    decode step; all of it by default) or on devices of its own (the slower of the two pipelines
    sets the rate). A request's ``n`` tokens take its prefill and ``n − 1 + first_token_decodes``
    of the batch's decode steps: the prefill gives the first token, unless the stack decodes the
    prompt's last token (`workloads.stacks.Stack.first_token_steps`, TurboMind v0.1:
    `first_token_decodes` 1), whose decode step gives it, batched with the others as every decode
    step is. B requests on shared devices so give ``B·n / (B·prefill_s + (n − 1 +
    first_token_decodes)·step)`` tokens/s: 128 requests of 20 tokens, 50 ms prefills and 20 ms
    steps, ``2560 / (6.4 + 19·0.02) = 377.6``."""
    system, placement = run.system, run.placement
    latency = run.latency_s
    tokens = placement.tokens_per_step
    rate = tokens / latency if latency > 0 else math.nan
    price = system.price_usd_per_hour
    power = system.power_w
    with_prefill = math.nan
    prefill = ttft_s if prefill_s != prefill_s else prefill_s
    if prefill == prefill and generated_tokens == generated_tokens and generated_tokens > 0:
        batch, n = placement.batch, generated_tokens
        steps = max(0.0, n - 1 + first_token_decodes)
        if prefill_shared:
            with_prefill = batch * n / (batch * prefill + steps * latency)
        else:  # the prefill devices start a request every `prefill` seconds
            with_prefill = min(rate, n / prefill) if prefill > 0 else rate
    return ServingFigures(
        batch=placement.batch,
        context=context,
        tbt_s=latency,
        tokens_per_s=rate,
        ttft_s=ttft_s,
        usd_per_hour=price,
        tokens_per_usd=rate * SECONDS_PER_HOUR / price if price == price and price > 0 else math.nan,
        power_w=power,
        tokens_per_j=rate / power if power == power and power > 0 else math.nan,
        tokens_per_s_with_prefill=with_prefill,
    )
