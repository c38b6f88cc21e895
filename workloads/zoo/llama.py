"""LLaMA-style decoders: LLaMA-1 (33B/65B), LLaMA-2 (7B/13B/70B), LLaMA-3 (8B/70B), Mistral-7B and
Mixtral-8x7B.

Pre-norm (RMSNorm) blocks with rotary positions, grouped-query attention where ``kv_heads <
heads``, a SwiGLU feed-forward or (Mixtral) a top-2-of-8 sparse MoE, an untied LM head. The
numbers (`workloads.zoo.configs`) are the published ``config.json`` values of each Hugging Face
checkpoint named in `source`; nothing is downloaded.
"""

from __future__ import annotations

import torch
from torch import nn

from workloads.zoo.configs import LlamaConfig
from workloads.zoo.layers import Attention, MoE, SwiGLU, allocate_kv_caches, rope_tables


class LlamaLayer(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.input_layernorm = nn.RMSNorm(config.dim, eps=config.norm_eps)
        self.self_attn = Attention(
            config.dim, config.heads, config.kv_heads, sliding_window=config.sliding_window
        )
        self.post_attention_layernorm = nn.RMSNorm(config.dim, eps=config.norm_eps)
        self.mlp = (
            MoE(config.dim, config.ffn, config.experts, config.top_k)
            if config.experts
            else SwiGLU(config.dim, config.ffn)
        )

    def forward(self, x: torch.Tensor, start: int, rope) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), start, rope)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    """``forward(ids [B, S], start)`` → next-token logits [B, 1, vocab] (the last position only, as
    an inference server computes them)."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab, config.dim)
        self.layers = nn.ModuleList(LlamaLayer(config) for _ in range(config.layers))
        self.norm = nn.RMSNorm(config.dim, eps=config.norm_eps)
        self.lm_head = nn.Linear(config.dim, config.vocab, bias=False)

    def allocate_kv_cache(self, batch: int, length: int, dtype: torch.dtype) -> list[torch.Tensor]:
        return allocate_kv_caches((layer.self_attn for layer in self.layers), batch, length, dtype)

    def forward(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        x = self.embed_tokens(ids)  # [B, S, dim]
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        head_dim = self.config.dim // self.config.heads
        rope = rope_tables(positions, head_dim, self.config.rope_theta, x.dtype)
        for layer in self.layers:
            x = layer(x, start, rope)
        return self.lm_head(self.norm(x[:, -1:]))
