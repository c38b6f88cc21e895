"""GPT-J-6B (Wang and Komatsuzaki 2021, mesh-transformer-jax; Hugging Face's ``GPTJForCausalLM``).

Each block applies one LayerNorm and feeds its output to attention and to the MLP side by side
(a parallel residual: ``x + attn(ln(x)) + mlp(ln(x))``). Attention has no biases and rotates only
the first ``rotary_dim`` = 64 of each head's 256 dims (RoPE, base 10000); the MLP is
``fc_out(gelu_new(fc_in(x)))`` of width ``4·n_embd`` with biases (``n_inner = null``;
``gelu_new`` is the tanh approximation); the LM head is untied and has a bias. No position table.

Numbers (`workloads.zoo.configs`) from the ``EleutherAI/gpt-j-6b`` checkpoint's config.json (named
in `source`); nothing is downloaded. GPT-J interleaves its rotated pairs (``rotate_every_two``)
where LLaMA rotates halves: the same elementwise work, so `apply_rope`'s layout stands in for it.
"""

from __future__ import annotations

import torch
from torch import nn

from workloads.zoo.configs import GPTJConfig
from workloads.zoo.layers import Attention, GeluMLP, allocate_kv_caches, rope_tables

#: The MLP is 4x the model width (``n_inner = null`` in config.json means 4·n_embd).
MLP_RATIO = 4
#: RoPE base (mesh-transformer-jax's ``fixed_pos_embedding``; Hugging Face's GPT-J uses 10000).
ROPE_THETA = 10000.0


class GPTJBlock(nn.Module):
    def __init__(self, config: GPTJConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.dim, eps=config.norm_eps)
        self.attn = Attention(config.dim, config.heads, config.heads)
        self.mlp = GeluMLP(config.dim, MLP_RATIO * config.dim, approximate="tanh")

    def forward(self, x: torch.Tensor, start: int, rope) -> torch.Tensor:
        h = self.ln_1(x)
        return x + self.attn(h, start, rope) + self.mlp(h)


class GPTJ(nn.Module):
    """``forward(ids [B, S], start)`` → next-token logits [B, 1, vocab] (last position only)."""

    def __init__(self, config: GPTJConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab, config.dim)
        self.h = nn.ModuleList(GPTJBlock(config) for _ in range(config.layers))
        self.ln_f = nn.LayerNorm(config.dim, eps=config.norm_eps)
        self.lm_head = nn.Linear(config.dim, config.vocab, bias=True)

    def allocate_kv_cache(self, batch: int, length: int, dtype: torch.dtype) -> list[torch.Tensor]:
        return allocate_kv_caches((block.attn for block in self.h), batch, length, dtype)

    def forward(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        x = self.wte(ids)  # [B, S, dim]
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        rope = rope_tables(positions, self.config.rotary_dim, ROPE_THETA, x.dtype)
        for block in self.h:
            x = block(x, start, rope)
        return self.lm_head(self.ln_f(x[:, -1:]))
