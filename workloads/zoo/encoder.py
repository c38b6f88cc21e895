"""Bidirectional encoders: BERT (base, large) and ViT-B/16, sharing one transformer layer.

BERT (Devlin et al. 2019) normalizes after each residual add (post-norm); ViT (Dosovitskiy et al.
2021) before each sublayer (pre-norm). Numbers from the Hugging Face checkpoints' ``config.json``
(named in `source`), kept in `workloads.zoo.configs`.
"""

from __future__ import annotations

import torch
from torch import nn

from workloads.zoo.configs import EncoderConfig
from workloads.zoo.layers import Attention, GeluMLP


class EncoderLayer(nn.Module):
    def __init__(self, config: EncoderConfig, *, pre_norm: bool):
        super().__init__()
        self.pre_norm = pre_norm
        self.attention = Attention(config.dim, config.heads, config.heads, bias=True, causal=False)
        self.norm_1 = nn.LayerNorm(config.dim, eps=config.norm_eps)
        self.mlp = GeluMLP(config.dim, config.ffn)
        self.norm_2 = nn.LayerNorm(config.dim, eps=config.norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.attention(self.norm_1(x))
            return x + self.mlp(self.norm_2(x))
        x = self.norm_1(x + self.attention(x))
        return self.norm_2(x + self.mlp(x))


class Bert(nn.Module):
    """``forward(ids [B, S])`` → (hidden states [B, S, dim], pooled [B, dim]); BertModel's outputs."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        self.word_embeddings = nn.Embedding(config.vocab, config.dim)
        self.position_embeddings = nn.Embedding(config.max_positions, config.dim)
        self.token_type_embeddings = nn.Embedding(config.type_vocab, config.dim)
        self.embeddings_norm = nn.LayerNorm(config.dim, eps=config.norm_eps)
        self.layers = nn.ModuleList(EncoderLayer(config, pre_norm=False) for _ in range(config.layers))
        self.pooler = nn.Linear(config.dim, config.dim)

    def forward(self, ids: torch.Tensor):
        positions = torch.arange(ids.shape[1], device=ids.device)
        token_types = torch.zeros_like(ids)  # one segment
        x = self.word_embeddings(ids) + self.position_embeddings(positions)
        x = self.embeddings_norm(x + self.token_type_embeddings(token_types))  # [B, S, dim]
        for layer in self.layers:
            x = layer(x)
        return x, torch.tanh(self.pooler(x[:, 0]))


class ViT(nn.Module):
    """``forward(images [B, C, H, W])`` → class logits [B, classes] from the [CLS] token."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        patches = (config.image_size // config.patch_size) ** 2
        self.patch_embed = nn.Conv2d(config.channels, config.dim, config.patch_size, stride=config.patch_size)
        self.cls_token = nn.Parameter(torch.empty(1, 1, config.dim))
        self.position_embeddings = nn.Parameter(torch.empty(1, patches + 1, config.dim))
        self.layers = nn.ModuleList(EncoderLayer(config, pre_norm=True) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.dim, eps=config.norm_eps)
        self.classifier = nn.Linear(config.dim, config.classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(images).flatten(2).transpose(1, 2)  # [B, patches, dim]
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat((cls, x), dim=1) + self.position_embeddings  # [B, patches + 1, dim]
        for layer in self.layers:
            x = layer(x)
        return self.classifier(self.norm(x)[:, 0])
