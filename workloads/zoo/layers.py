"""Transformer building blocks for the zoo: attention with a static KV cache, RoPE, MLPs, top-k MoE.

Compact modules written for tracing on meta tensors (no weights are ever loaded), following the
published architectures: multi-head/grouped-query attention calls
``F.scaled_dot_product_attention`` (which the tracer records as one ATTENTION op), the KV cache is a
pair of preallocated buffers written in place, as in static-cache inference servers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention.bias import causal_lower_right

from workloads.errors import WorkloadError


class KVCache(nn.Module):
    """A static KV cache: buffers ``k``, ``v`` of shape [B, Hkv, L, D], written in place."""

    def __init__(self, batch: int, kv_heads: int, length: int, head_dim: int, dtype: torch.dtype):
        super().__init__()
        shape = (batch, kv_heads, length, head_dim)
        self.register_buffer("k", torch.empty(shape, dtype=dtype), persistent=False)
        self.register_buffer("v", torch.empty(shape, dtype=dtype), persistent=False)

    def forward(self, start: int, k: torch.Tensor, v: torch.Tensor):
        """Write k, v [B, Hkv, S, D] at positions start…start+S; return the cache up to there."""
        end = start + k.shape[2]
        self.k[:, :, start:end].copy_(k)
        self.v[:, :, start:end].copy_(v)
        return self.k[:, :, :end], self.v[:, :, :end]  # [B, Hkv, end, D] each


def allocate_kv_caches(
    attentions: Iterable[Attention], batch: int, length: int, dtype: torch.dtype
) -> list[torch.Tensor]:
    """A static cache for each of `attentions` (a decoder's layers, in order); their K and V
    buffers, layer by layer (what a zoo model's ``allocate_kv_cache`` returns)."""
    caches = [attention.allocate_cache(batch, length, dtype) for attention in attentions]
    return [tensor for cache in caches for tensor in (cache.k, cache.v)]


def rope_tables(positions: torch.Tensor, head_dim: int, theta: float, dtype: torch.dtype):
    """cos, sin [S, D] of rotary embeddings (Su et al. 2021, RoFormer) at `positions` [S]."""
    steps = torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device)
    inv_freq = 1.0 / theta ** (steps / head_dim)
    angles = torch.outer(positions.float(), inv_freq)  # [S, D/2]
    angles = torch.cat((angles, angles), dim=-1)  # [S, D], the rotate-half layout of LLaMA
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x·cos + rotate_half(x)·sin for x [B, H, S, D]; where the tables are narrower than the head
    (GPT-J rotates only the first ``rotary_dim`` of each head's dims), the rest passes unrotated."""
    width = cos.shape[-1]
    if width < x.shape[-1]:
        return torch.cat((apply_rope(x[..., :width], cos, sin), x[..., width:]), dim=-1)
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class Attention(nn.Module):
    """Self-attention with `heads` query heads and `kv_heads` K/V heads (GQA when fewer).

    Prefill (start = 0, S > 1) attends causally over its own S tokens and writes their K/V into
    the cache; decode (S = 1 at position `start`) writes its token's K/V into the cache and attends
    over the start + 1 cached positions; S > 1 tokens at `start` > 0 (a chunked prefill, or a decode
    step of a speculative decoder's drafts) write their K/V after the cache and attend over all
    start + S positions under a bottom-right causal mask (torch's ``causal_lower_right``). A
    sliding window W (Mistral) keeps a rolling cache of W positions, so decode reads min(start + 1,
    W) of them; several tokens that would pass the window (overwriting the rolling cache) are
    refused.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        kv_heads: int,
        *,
        bias: bool = False,
        causal: bool = True,
        sliding_window: int = 0,
    ):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        self.causal, self.sliding_window = causal, sliding_window
        self.q_proj = nn.Linear(dim, heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(dim, kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(dim, kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(heads * self.head_dim, dim, bias=bias)
        self.cache: KVCache | None = None

    def allocate_cache(self, batch: int, length: int, dtype: torch.dtype) -> KVCache:
        if self.sliding_window:
            length = min(length, self.sliding_window)
        self.cache = KVCache(batch, self.kv_heads, length, self.head_dim, dtype)
        return self.cache

    def forward(self, x: torch.Tensor, start: int = 0, rope=None) -> torch.Tensor:
        b, s, _ = x.shape  # x: [B, S, dim]
        q = self.q_proj(x).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        chunk = bool(start) and s > 1  # several new tokens after a cached context
        if chunk and self.sliding_window and start + s > self.sliding_window:
            raise WorkloadError(
                f"{s} new tokens after {start} cached ones pass the {self.sliding_window}-token "
                "sliding window, whose rolling cache a chunk would overwrite: not modeled"
            )
        if self.cache is not None:
            slot = min(start, self.sliding_window - 1) if self.sliding_window else start
            cached_k, cached_v = self.cache(slot, k, v)
            if s == 1 or chunk:  # attend over the cache, the new tokens included
                k, v = cached_k, cached_v
        grouped = self.kv_heads != self.heads
        # a chunk's queries follow the cache: query i sees keys j <= i + start (bottom-right)
        mask = causal_lower_right(s, start + s) if chunk and self.causal else None
        o = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=self.causal and s > 1 and not chunk, enable_gqa=grouped
        )  # [B, H, S, D]
        return self.o_proj(o.transpose(1, 2).reshape(b, s, self.heads * self.head_dim))


class SwiGLU(nn.Module):
    """LLaMA's feed-forward: down(silu(gate(x)) · up(x)) (Shazeer 2020, GLU variants)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class GeluMLP(nn.Module):
    """GPT-2/BERT/ViT feed-forward: fc2(gelu(fc1(x))), with biases."""

    def __init__(self, dim: int, hidden: int, approximate: str = "none"):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.approximate = approximate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate=self.approximate))


def experts_touched(tokens: int, experts: int, top_k: int) -> int:
    """Expected number of distinct experts a batch of `tokens` routes to, rounded to the nearest.

    With each token choosing k of E experts uniformly at random, an expert is missed by one token
    with probability C(E−1, k)/C(E, k) = 1 − k/E, so by all T tokens with (1 − k/E)^T; the expected
    number touched is E·(1 − (1 − k/E)^T). One token touches exactly k; a long prefill, all E.
    """
    expected = experts * (1 - (1 - top_k / experts) ** tokens)
    return max(top_k, min(experts, math.floor(expected + 0.5)))


class MoE(nn.Module):
    """Mixtral's sparse MoE feed-forward: a router picks top-k of E SwiGLU experts per token.

    Routing is data-dependent and meta tensors hold no data, so the load is stated: the T·k
    (token, expert) pairs are split evenly over the `experts_touched` experts expected for T
    tokens. FLOPs are those of k experts per token; the expert weights read are those of the
    experts touched.
    """

    def __init__(self, dim: int, hidden: int, experts: int, top_k: int):
        super().__init__()
        self.top_k = top_k
        self.gate = nn.Linear(dim, experts, bias=False)
        self.experts = nn.ModuleList(SwiGLU(dim, hidden) for _ in range(experts))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        tokens = x.reshape(-1, shape[-1])  # [T, dim]
        t, k = tokens.shape[0], self.top_k
        weights, _ = torch.topk(self.gate(tokens).softmax(dim=-1), k)  # [T, k]
        weights = weights / weights.sum(dim=-1, keepdim=True)
        slots = tokens.index_select(0, torch.arange(t, device=x.device).repeat(k))  # [k·T, dim]
        touched = experts_touched(t, len(self.experts), k)
        sizes = [k * t // touched + (i < k * t % touched) for i in range(touched)]
        routed = torch.cat([self.experts[i](part) for i, part in enumerate(slots.split(sizes))])
        combined = (routed.view(k, t, -1) * weights.t().unsqueeze(-1).to(x.dtype)).sum(dim=0)
        return combined.view(shape)
