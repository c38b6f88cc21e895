"""LLaMA-style decoders: LLaMA-1 (33B/65B), LLaMA-2 (7B/13B/70B), LLaMA-3 (8B/70B), Mistral-7B and
Mixtral-8x7B.

Pre-norm (RMSNorm) blocks with rotary positions, grouped-query attention where ``kv_heads <
heads``, a SwiGLU feed-forward or (Mixtral) a top-2-of-8 sparse MoE, an untied LM head. The
numbers are the published ``config.json`` values of each Hugging Face checkpoint named in
`source`; nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from workloads.zoo.layers import Attention, MoE, SwiGLU, rope_tables


@dataclass(frozen=True, kw_only=True)
class LlamaConfig:
    """A decoder's hyperparameters, named as in the checkpoints' config.json (in comments)."""

    source: str
    vocab: int  # vocab_size
    dim: int  # hidden_size
    layers: int  # num_hidden_layers
    heads: int  # num_attention_heads
    kv_heads: int  # num_key_value_heads
    ffn: int  # intermediate_size
    max_positions: int  # max_position_embeddings
    rope_theta: float = 10_000.0  # rope_theta
    norm_eps: float = 1e-5  # rms_norm_eps
    sliding_window: int = 0  # sliding_window (0: none)
    experts: int = 0  # num_local_experts (0: a dense SwiGLU)
    top_k: int = 0  # num_experts_per_tok


CONFIGS = {
    "llama-2-7b": LlamaConfig(
        source="meta-llama/Llama-2-7b-hf config.json",
        vocab=32000, dim=4096, layers=32, heads=32, kv_heads=32, ffn=11008, max_positions=4096,
    ),
    "llama-2-13b": LlamaConfig(
        source="meta-llama/Llama-2-13b-hf config.json",
        vocab=32000, dim=5120, layers=40, heads=40, kv_heads=40, ffn=13824, max_positions=4096,
    ),
    "llama-2-70b": LlamaConfig(
        source="meta-llama/Llama-2-70b-hf config.json",
        vocab=32000, dim=8192, layers=80, heads=64, kv_heads=8, ffn=28672, max_positions=4096,
    ),
    "llama-3-8b": LlamaConfig(
        source="meta-llama/Meta-Llama-3-8B config.json",
        vocab=128256, dim=4096, layers=32, heads=32, kv_heads=8, ffn=14336, max_positions=8192,
        rope_theta=500_000.0,
    ),
    "llama-3-70b": LlamaConfig(
        source="meta-llama/Meta-Llama-3-70B config.json",
        vocab=128256, dim=8192, layers=80, heads=64, kv_heads=8, ffn=28672, max_positions=8192,
        rope_theta=500_000.0,
    ),
    "mistral-7b": LlamaConfig(
        source="mistralai/Mistral-7B-v0.1 config.json",
        vocab=32000, dim=4096, layers=32, heads=32, kv_heads=8, ffn=14336, max_positions=32768,
        sliding_window=4096,
    ),
    "mixtral-8x7b": LlamaConfig(
        source="mistralai/Mixtral-8x7B-v0.1 config.json (MoE: top-2 of 8 experts per token)",
        vocab=32000, dim=4096, layers=32, heads=32, kv_heads=8, ffn=14336, max_positions=32768,
        rope_theta=1_000_000.0, experts=8, top_k=2,
    ),
    # LLaMA-1 (Touvron et al. 2023, Table 2: dim, heads, layers): multi-head attention, a SwiGLU
    # of width 256·ceil(int(8·dim/3)/256), 2048 positions; locators in
    # reference_kernels/data/PUBLISHED_SYSTEMS.md.
    "llama-33b": LlamaConfig(
        source="LLaMA-1 33B, released as 30B (Touvron et al. 2023 Table 2; huggyllama/llama-30b config)",
        vocab=32000, dim=6656, layers=60, heads=52, kv_heads=52, ffn=17920, max_positions=2048,
        norm_eps=1e-6,
    ),
    "llama-65b": LlamaConfig(
        source="LLaMA-1 65B (Touvron et al. 2023 Table 2; huggyllama/llama-65b config)",
        vocab=32000, dim=8192, layers=80, heads=64, kv_heads=64, ffn=22016, max_positions=2048,
    ),
}  # fmt: skip


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
        caches = [layer.self_attn.allocate_cache(batch, length, dtype) for layer in self.layers]
        return [tensor for cache in caches for tensor in (cache.k, cache.v)]

    def forward(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        x = self.embed_tokens(ids)  # [B, S, dim]
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        head_dim = self.config.dim // self.config.heads
        rope = rope_tables(positions, head_dim, self.config.rope_theta, x.dtype)
        for layer in self.layers:
            x = layer(x, start, rope)
        return self.lm_head(self.norm(x[:, -1:]))
