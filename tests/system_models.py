"""Small models and systems for the system tests: a tiny LLaMA traced in a blink, and systems of
H100/H20 presets built in code, so each test states its inputs."""

from __future__ import annotations

import functools

from hwmodels.loader import load_hardware
from hwmodels.system import CollectiveAlgorithm, DeviceGroup, LinkKind, LinkSpec, ParallelPlan, SystemSpec
from workloads.op import OpGraph, Phase
from workloads.zoo import Task, ZooEntry
from workloads.zoo.configs import LlamaConfig

#: A LLaMA-shaped decoder small enough to trace in milliseconds: 4 layers, 8 heads over 2 KV heads
#: (GQA group 4), head dim 16, SwiGLU of 256.
TINY = LlamaConfig(
    source="test", vocab=512, dim=128, layers=4, heads=8, kv_heads=2, ffn=256, max_positions=4096
)


@functools.cache
def tiny_graph(phase: str = "decode", batch: int = 4, length: int = 256, **changes) -> OpGraph:
    """`TINY` (with `changes` to its config) traced for a decode step over `length` positions or a
    prefill of `length` tokens."""
    from workloads.model_trace import trace_zoo
    from workloads.zoo import llama

    config = LlamaConfig(**{**TINY.__dict__, **changes})
    entry = ZooEntry(
        name="tiny",
        task=Task.CAUSAL_LM,
        source="test",
        build=lambda: llama.Llama(config),
        max_positions=config.max_positions,
    )
    step = Phase(phase)
    if step is Phase.DECODE:
        return trace_zoo(entry, step, batch, None, length)
    return trace_zoo(entry, step, batch, length, None)


def link(
    kind: LinkKind,
    between: tuple[str, ...],
    bytes_per_s: float = 450e9,
    latency_s: float = 1e-6,
    overhead_s: float = 5e-6,
    efficiency: float = 0.8,
) -> LinkSpec:
    return LinkSpec(
        kind=kind,
        between=between,
        bytes_per_s=bytes_per_s,
        latency_s=latency_s,
        per_message_overhead_s=overhead_s,
        efficiency=efficiency,
    )


def gpus(
    count: int = 4, *, device: str = "h100_sxm", collective=CollectiveAlgorithm.RING, **plan
) -> SystemSpec:
    """`count` GPUs on one NVLink-like link, tensor parallel over all unless `plan` says otherwise."""
    return SystemSpec(
        name="test_gpus",
        groups={"gpus": DeviceGroup(device=load_hardware(device), count=count)},
        links={"nvlink": link(LinkKind.NVLINK, ("gpus",))},
        parallel=ParallelPlan(collective=collective, **plan),
    )


def offload(compute: int = 2, memory: int = 2, *, nic_bytes_per_s: float = 50e9, **plan) -> SystemSpec:
    """Lamina-style: `compute` H100s run the model, `memory` H20s the attention and KV cache."""
    return SystemSpec(
        name="test_offload",
        groups={
            "compute": DeviceGroup(device=load_hardware("h100_sxm"), count=compute),
            "memory": DeviceGroup(device=load_hardware("h20"), count=memory),
        },
        links={
            "nvlink": link(LinkKind.NVLINK, ("compute",)),
            "nic": link(
                LinkKind.ROCE,
                ("compute", "memory"),
                bytes_per_s=nic_bytes_per_s,
                latency_s=16.5e-6,
                overhead_s=0.0,
                efficiency=0.914,
            ),
        },
        parallel=ParallelPlan(model_group="compute", attention_group="memory", **plan),
    )
