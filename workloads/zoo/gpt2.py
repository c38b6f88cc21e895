"""GPT-2 (small and XL): pre-norm LayerNorm blocks, learned positions, tanh-GELU MLP, tied LM head.

Numbers (`workloads.zoo.configs`) from the checkpoints' ``config.json`` (named in `source`); the MLP is
``4·n_embd`` wide (``n_inner`` is null in both configs). Radford et al. 2019, "Language Models are
Unsupervised Multitask Learners".
"""

from __future__ import annotations

import torch
from torch import nn

from workloads.zoo.configs import GPT2Config
from workloads.zoo.layers import Attention, GeluMLP, allocate_kv_caches

#: GPT-2's MLP width is 4× the model width (``n_inner = null`` in config.json means 4·n_embd).
MLP_RATIO = 4


class GPT2Block(nn.Module):
    def __init__(self, config: GPT2Config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.dim, eps=config.norm_eps)
        self.attn = Attention(config.dim, config.heads, config.heads, bias=True)
        self.ln_2 = nn.LayerNorm(config.dim, eps=config.norm_eps)
        self.mlp = GeluMLP(config.dim, MLP_RATIO * config.dim, approximate="tanh")

    def forward(self, x: torch.Tensor, start: int) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), start)
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    """``forward(ids [B, S], start)`` → next-token logits [B, 1, vocab] (last position only)."""

    def __init__(self, config: GPT2Config):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab, config.dim)
        self.wpe = nn.Embedding(config.max_positions, config.dim)
        self.h = nn.ModuleList(GPT2Block(config) for _ in range(config.layers))
        self.ln_f = nn.LayerNorm(config.dim, eps=config.norm_eps)
        self.lm_head = nn.Linear(config.dim, config.vocab, bias=False)
        self.lm_head.weight = self.wte.weight  # tied, as in the checkpoint

    def allocate_kv_cache(self, batch: int, length: int, dtype: torch.dtype) -> list[torch.Tensor]:
        return allocate_kv_caches((block.attn for block in self.h), batch, length, dtype)

    def forward(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        x = self.wte(ids) + self.wpe(positions)  # [B, S, dim]
        for block in self.h:
            x = block(x, start)
        return self.lm_head(self.ln_f(x[:, -1:]))
