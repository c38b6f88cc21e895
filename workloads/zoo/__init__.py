"""The model zoo: architectures built from their published configs, on meta tensors, never weights.

Each `ZooEntry` names its source config. LLMs (GPT-2, OPT, GPT-J, LLaMA-1/2/3, Mistral, Mixtral) trace a
prefill or a decode step; BERT a bidirectional pass over a sequence; ViT-B/16 and ResNet-50 a batch
of images. The entries come from `workloads.zoo.configs` and need no torch; a family's torch module
is imported when one of its models is built.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workloads.errors import WorkloadError
from workloads.zoo.configs import (
    ENCODER_CONFIGS,
    GPT2_CONFIGS,
    GPTJ_CONFIGS,
    LLAMA_CONFIGS,
    OPT_CONFIGS,
    RESNET50_IMAGE_SIZE,
    RESNET50_SOURCE,
)

if TYPE_CHECKING:
    from torch import nn


class Task(enum.Enum):
    CAUSAL_LM = "causal-lm"  # prefill or decode, with a KV cache
    ENCODER = "encoder"  # one bidirectional pass over token ids
    VISION = "vision"  # one pass over a batch of images


@dataclass(frozen=True, kw_only=True)
class ZooEntry:
    """A zoo model: how to build it (on the caller's default device) and what it takes."""

    name: str
    task: Task
    source: str
    build: Callable[[], nn.Module]
    max_positions: int = 0  # the longest sequence its config allows (token models)
    sliding_window: int = 0  # attention window (Mistral), 0 for none
    image_size: int = 0  # input resolution (vision models)
    channels: int = 0


def _family(name: str):
    """A family's torch module (`workloads.zoo.llama`, ...), imported when a model is built: the
    zoo lists its models from `workloads.zoo.configs` without torch."""
    return importlib.import_module(f"workloads.zoo.{name}")


def _entries() -> dict[str, ZooEntry]:
    # decoder-only language models: (family module, its model class, the family's configs)
    causal = (
        ("llama", "Llama", LLAMA_CONFIGS),
        ("gpt2", "GPT2", GPT2_CONFIGS),
        ("opt", "OPT", OPT_CONFIGS),
        ("gptj", "GPTJ", GPTJ_CONFIGS),
    )
    entries = [
        ZooEntry(
            name=name,
            task=Task.CAUSAL_LM,
            source=config.source,
            build=lambda family=family, model=model, config=config: getattr(_family(family), model)(config),
            max_positions=config.max_positions,
            sliding_window=getattr(config, "sliding_window", 0),  # only LLaMA-family configs have one
        )
        for family, model, configs in causal
        for name, config in configs.items()
    ]
    for name, config in ENCODER_CONFIGS.items():
        vision = bool(config.image_size)
        entries.append(
            ZooEntry(
                name=name,
                task=Task.VISION if vision else Task.ENCODER,
                source=config.source,
                build=(lambda c=config: _family("encoder").ViT(c))
                if vision
                else (lambda c=config: _family("encoder").Bert(c)),
                max_positions=config.max_positions,
                image_size=config.image_size,
                channels=config.channels,
            )
        )
    entries.append(
        ZooEntry(
            name="resnet-50",
            task=Task.VISION,
            source=RESNET50_SOURCE,
            build=lambda: _family("resnet").ResNet50(),
            image_size=RESNET50_IMAGE_SIZE,
            channels=3,
        )
    )
    return {entry.name: entry for entry in entries}


ZOO = _entries()


def list_models() -> tuple[str, ...]:
    return tuple(ZOO)


def get_model(name: str) -> ZooEntry:
    """The zoo entry called `name` (case-insensitive), or an error listing the zoo."""
    try:
        return ZOO[name.strip().lower()]
    except KeyError:
        raise WorkloadError(
            f"unknown model {name!r}; the zoo has: {', '.join(ZOO)} (or give path/to/file.py:factory)"
        ) from None


def context_length(name: str) -> int:
    """The longest sequence a zoo model's config allows (its positions); 0 for a name the zoo does
    not have (a model from a file)."""
    entry = ZOO.get(name.strip().lower())
    return entry.max_positions if entry is not None else 0


__all__ = ["ZOO", "Task", "ZooEntry", "context_length", "get_model", "list_models"]
