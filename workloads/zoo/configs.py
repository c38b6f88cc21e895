"""The zoo's architectures as data: each family's hyperparameters and the published configs.

Plain dataclasses, no torch: listing the zoo (`codesign presets`, `workloads.zoo.ZOO`) reads these
and imports a family's torch module (`workloads.zoo.llama`, ...) only when a model is built. The
numbers are the published ``config.json`` values of each Hugging Face checkpoint named in
`source` (the field each one is called there in a comment); nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

# LLaMA-style decoders (workloads.zoo.llama): LLaMA-1, LLaMA-2, LLaMA-3, Mistral, Mixtral.


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


LLAMA_CONFIGS = {
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


# GPT-2 (workloads.zoo.gpt2).


@dataclass(frozen=True, kw_only=True)
class GPT2Config:
    source: str
    vocab: int  # vocab_size
    dim: int  # n_embd
    layers: int  # n_layer
    heads: int  # n_head
    max_positions: int  # n_positions
    norm_eps: float = 1e-5  # layer_norm_epsilon


GPT2_CONFIGS = {
    "gpt2-small": GPT2Config(
        source="openai-community/gpt2 config.json",
        vocab=50257, dim=768, layers=12, heads=12, max_positions=1024,
    ),
    "gpt2-xl": GPT2Config(
        source="openai-community/gpt2-xl config.json",
        vocab=50257, dim=1600, layers=48, heads=25, max_positions=1024,
    ),
}  # fmt: skip


# OPT (workloads.zoo.opt).


@dataclass(frozen=True, kw_only=True)
class OPTConfig:
    """A decoder's hyperparameters, named as in the checkpoint's config.json (in comments)."""

    source: str
    vocab: int  # vocab_size
    dim: int  # hidden_size (= word_embed_proj_dim for OPT-6.7B: no project_in/out)
    layers: int  # num_hidden_layers
    heads: int  # num_attention_heads
    ffn: int  # ffn_dim
    max_positions: int  # max_position_embeddings
    norm_eps: float = 1e-5  # LayerNorm eps (torch's default, as in OPTDecoderLayer)


OPT_CONFIGS = {
    "opt-6.7b": OPTConfig(
        source="facebook/opt-6.7b config.json (ReLU, pre-LayerNorm, learned positions, tied LM head)",
        vocab=50272, dim=4096, layers=32, heads=32, ffn=16384, max_positions=2048,
    ),
}  # fmt: skip


# GPT-J (workloads.zoo.gptj).


@dataclass(frozen=True, kw_only=True)
class GPTJConfig:
    """GPT-J's hyperparameters, named as in the checkpoint's config.json (in comments)."""

    source: str
    vocab: int  # vocab_size
    dim: int  # n_embd
    layers: int  # n_layer
    heads: int  # n_head
    rotary_dim: int  # rotary_dim: the dims of each head RoPE rotates
    max_positions: int  # n_positions
    norm_eps: float = 1e-5  # layer_norm_epsilon


GPTJ_CONFIGS = {
    "gpt-j-6b": GPTJConfig(
        source="EleutherAI/gpt-j-6b config.json (parallel attention and MLP, partial RoPE, untied LM head)",
        vocab=50400, dim=4096, layers=28, heads=16, rotary_dim=64, max_positions=2048,
    ),
}  # fmt: skip


def query_heads_per_kv(name: str) -> int:
    """A zoo model's GQA group, the query heads per K/V head: ``heads // kv_heads`` for a LLaMA-style
    decoder, 1 for the others (multi-head attention)."""
    config = LLAMA_CONFIGS.get(name)
    return config.heads // config.kv_heads if config is not None else 1


# Bidirectional encoders (workloads.zoo.encoder): BERT and ViT.


@dataclass(frozen=True, kw_only=True)
class EncoderConfig:
    source: str
    dim: int  # hidden_size
    layers: int  # num_hidden_layers
    heads: int  # num_attention_heads
    ffn: int  # intermediate_size
    norm_eps: float = 1e-12  # layer_norm_eps
    vocab: int = 0  # vocab_size (BERT)
    max_positions: int = 0  # max_position_embeddings (BERT)
    type_vocab: int = 0  # type_vocab_size (BERT)
    image_size: int = 0  # image_size (ViT)
    patch_size: int = 0  # patch_size (ViT)
    channels: int = 0  # num_channels (ViT)
    classes: int = 0  # len(id2label) (ViT's ImageNet-1k head)


ENCODER_CONFIGS = {
    "bert-base": EncoderConfig(
        source="google-bert/bert-base-uncased config.json",
        dim=768, layers=12, heads=12, ffn=3072, vocab=30522, max_positions=512, type_vocab=2,
    ),
    "bert-large": EncoderConfig(
        source="google-bert/bert-large-uncased config.json",
        dim=1024, layers=24, heads=16, ffn=4096, vocab=30522, max_positions=512, type_vocab=2,
    ),
    "vit-b16": EncoderConfig(
        source="google/vit-base-patch16-224 config.json",
        dim=768, layers=12, heads=12, ffn=3072, image_size=224, patch_size=16, channels=3,
        classes=1000,
    ),
}  # fmt: skip


# ResNet-50 (workloads.zoo.resnet): its layout is the module's constants (He et al. 2016 Table 1).
RESNET50_SOURCE = "He et al. 2016 Table 1 (50-layer); torchvision.models.resnet50 layout (stride on 3x3)"
#: ImageNet-1k input resolution.
RESNET50_IMAGE_SIZE = 224
