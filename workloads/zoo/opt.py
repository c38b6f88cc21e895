"""OPT (Zhang et al. 2022, "OPT: Open Pre-trained Transformer Language Models"): OPT-6.7B.

Pre-norm LayerNorm blocks (``do_layer_norm_before = true``), learned absolute positions, multi-head
attention with biases, a ReLU MLP ``fc2(relu(fc1(x)))`` of width ``ffn_dim``, a final LayerNorm and
an LM head tied to the token embedding. The position table has ``max_positions + 2`` rows: OPT
offsets position ids by 2 (a fairseq/metaseq padding convention kept by Hugging Face's
``OPTLearnedPositionalEmbedding``), so OPT-6.7B's table is 2050 × 4096.

Numbers (`workloads.zoo.configs`) from the ``facebook/opt-6.7b`` checkpoint's config (named in
`source`; locators in reference_kernels/data/PUBLISHED_SYSTEMS.md); nothing is downloaded. The
GPT-2 blocks of `workloads.zoo.gpt2` do not fit: they use a tanh-GELU MLP and a position table
without the offset.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workloads.zoo.configs import OPTConfig
from workloads.zoo.layers import Attention, allocate_kv_caches

#: OPT's learned positions are looked up at position + 2 (rows 0 and 1 are never used for tokens).
POSITION_OFFSET = 2


class OPTDecoderLayer(nn.Module):
    """Module names as in Hugging Face's ``OPTDecoderLayer`` (fc1 and fc2 sit on the layer), but for
    the shared `Attention`'s ``o_proj`` (``out_proj`` there)."""

    def __init__(self, config: OPTConfig):
        super().__init__()
        self.self_attn_layer_norm = nn.LayerNorm(config.dim, eps=config.norm_eps)
        self.self_attn = Attention(config.dim, config.heads, config.heads, bias=True)
        self.final_layer_norm = nn.LayerNorm(config.dim, eps=config.norm_eps)
        self.fc1 = nn.Linear(config.dim, config.ffn)
        self.fc2 = nn.Linear(config.ffn, config.dim)

    def forward(self, x: torch.Tensor, start: int) -> torch.Tensor:
        x = x + self.self_attn(self.self_attn_layer_norm(x), start)
        return x + self.fc2(F.relu(self.fc1(self.final_layer_norm(x))))


class OPT(nn.Module):
    """``forward(ids [B, S], start)`` → next-token logits [B, 1, vocab] (last position only)."""

    def __init__(self, config: OPTConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab, config.dim)
        self.embed_positions = nn.Embedding(config.max_positions + POSITION_OFFSET, config.dim)
        self.layers = nn.ModuleList(OPTDecoderLayer(config) for _ in range(config.layers))
        self.final_layer_norm = nn.LayerNorm(config.dim, eps=config.norm_eps)
        self.lm_head = nn.Linear(config.dim, config.vocab, bias=False)
        self.lm_head.weight = self.embed_tokens.weight  # tied, as in the checkpoint

    def allocate_kv_cache(self, batch: int, length: int, dtype: torch.dtype) -> list[torch.Tensor]:
        return allocate_kv_caches((layer.self_attn for layer in self.layers), batch, length, dtype)

    def forward(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        positions = torch.arange(start, start + ids.shape[1], device=ids.device) + POSITION_OFFSET
        x = self.embed_tokens(ids) + self.embed_positions(positions)  # [B, S, dim]
        for layer in self.layers:
            x = layer(x, start)
        return self.lm_head(self.final_layer_norm(x[:, -1:]))
