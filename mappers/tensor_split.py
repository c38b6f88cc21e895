"""How one op of a traced model splits over the devices of a tensor-parallel group (Megatron-LM).

Each op gets a `Split` from its module path and kind (`classify`), then `shard` gives the op one
device runs: its loop dim divided by the degree, and every operand indexed by that dim divided with
it (an operand's `dims` say which dims index it, so a broadcast operand such as a RoPE table keeps
its size):

==============  ==========================================================  ===================
split           ops                                                         divides
==============  ==========================================================  ===================
COLUMN          q/k/v, gate/up, fc1, c_fc, c_attn, w1/w3 projections         GEMM N
ROW             o_proj, out_proj, down_proj, fc2, c_proj, w2                 GEMM K (an
                                                                            all-reduce follows)
VOCAB_HEAD      lm_head                                                      GEMM N (the vocab)
VOCAB_EMBED     the token embedding (vocab-parallel: an all-reduce follows)  its table only
HEADS           attention (H, and Hkv), and the attention block's other ops  the head dim
                (RoPE, the KV-cache writes)
HIDDEN          a dense MLP's activations; an expert's                       the FFN dim
REPLICATED      norms, residual adds, the MoE router, everything else        nothing
==============  ==========================================================  ===================

With sequence parallelism the REPLICATED ops inside a layer (norms, residual adds) run on
1/degree of the tokens instead (`shard_tokens`).

A dim that the degree does not divide is refused with one line naming the op, the dim and the
degree (heads not divisible by the tensor-parallel degree, a hidden size, a vocab).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace

from hwmodels.errors import HardwareSpecError
from workloads.fusion import EXPERT_PATH
from workloads.op import Op, OpKind, Role


class Split(enum.Enum):
    COLUMN = "column"
    ROW = "row"
    VOCAB_HEAD = "vocab_head"
    VOCAB_EMBED = "vocab_embed"
    HEADS = "heads"
    HIDDEN = "hidden"
    REPLICATED = "replicated"


#: Last module-path parts of column-parallel GEMMs (LLaMA/Mistral/Mixtral, GPT-2, OPT, BERT names).
COLUMN_LEAVES = frozenset(
    {"q_proj", "k_proj", "v_proj", "gate_proj", "up_proj", "fc1", "c_fc", "c_attn", "w1", "w3",
     "query", "key", "value", "qkv_proj", "gate_up_proj"}
)  # fmt: skip
#: Last module-path parts of row-parallel GEMMs (each followed by an all-reduce of its output).
ROW_LEAVES = frozenset({"o_proj", "out_proj", "down_proj", "fc2", "c_proj", "w2", "dense"})
#: Module-path parts that mark the attention block and the MLP block of a layer.
ATTENTION_PARTS = frozenset({"self_attn", "attn", "attention"})
MLP_PARTS = frozenset({"mlp", "block_sparse_moe", "feed_forward", "ffn"})
#: A layer's index in a module path: ``layers.3``, ``h.3`` (GPT-2), ``layer.3`` (BERT), ``blocks.3``.
LAYER = re.compile(r"(?:^|\.)(?:layers|h|layer|blocks)\.(\d+)(?:\.|$)")


@dataclass(frozen=True)
class ModelShape:
    """What the splits need of the whole model: attention heads and KV heads (0: no attention),
    and whether it is a mixture of experts (its router's ops are replicated, its experts' split)."""

    heads: int
    kv_heads: int
    moe: bool


def model_shape(ops: tuple[Op, ...]) -> ModelShape:
    """Heads and KV heads from the first attention op; MoE if any module has experts."""
    heads = kv_heads = 0
    for op in ops:
        if op.kind is OpKind.ATTENTION:
            names = op.dim_names
            heads = op.dim("H") if "H" in names else 0
            kv_heads = op.dim("Hkv") if "Hkv" in names else heads
            break
    return ModelShape(heads=heads, kv_heads=kv_heads, moe=any(EXPERT_PATH.search(op.module) for op in ops))


def layer_of(op: Op) -> int | None:
    """The layer index in `op`'s module path, or None (embedding, final norm, head)."""
    found = LAYER.search(op.module)
    return int(found.group(1)) if found else None


def block_of(module: str) -> str:
    """The attention or MLP block a module belongs to (``layers.3.mlp.experts.1.w2`` →
    ``layers.3.mlp``); empty when it is in neither."""
    parts = module.split(".")
    for index, part in enumerate(parts):
        if part in ATTENTION_PARTS or part in MLP_PARTS:
            return ".".join(parts[: index + 1])
    return ""


def classify(op: Op, shape: ModelShape) -> Split:
    """The `Split` of `op` (module docstring)."""
    parts = op.module.split(".") if op.module else []
    leaves = set(parts[-1].split("+")) if parts else set()
    if op.kind is OpKind.EMBEDDING:
        return Split.VOCAB_EMBED
    if op.is_gemm_shaped and op.kind is OpKind.GEMM and dict(op.attrs).get("weight_is_param", 1):
        if parts and parts[-1] == "lm_head":
            return Split.VOCAB_HEAD
        if leaves and leaves <= COLUMN_LEAVES:
            return Split.COLUMN
        if leaves and leaves <= ROW_LEAVES:
            return Split.ROW
        return Split.REPLICATED  # the MoE router, an unnamed projection
    if op.kind is OpKind.ATTENTION or any(part in ATTENTION_PARTS for part in parts):
        return Split.HEADS
    in_mlp = any(part in MLP_PARTS for part in parts)
    if in_mlp and (not shape.moe or EXPERT_PATH.search(op.module)):
        return Split.HIDDEN
    return Split.REPLICATED


def split_dim(op: Op, dim: str, degree: int, *, flops: bool = True) -> Op:
    """`op` with loop dim `dim` divided by `degree`, every operand that `dim` indexes divided with
    it, and its FLOPs divided (unless `flops` is False: a second dim of the same work, such as the
    KV heads of an attention whose heads were divided already)."""
    if degree == 1:
        return op
    size = op.dim(dim)
    if size % degree:
        raise HardwareSpecError(
            f"{op.name} ({op.module or op.kind.value}): dim {dim} = {size} is not divisible by the "
            f"parallel degree {degree}"
        )
    operands = tuple(replace(o, elements=o.elements // degree) if dim in o.dims else o for o in op.operands)
    dims = tuple((name, value // degree if name == dim else value) for name, value in op.dims)
    return replace(op, dims=dims, operands=operands, flops=op.flops // degree if flops else op.flops)


def shard(op: Op, split: Split, degree: int, shape: ModelShape) -> Op:
    """The op one of `degree` tensor-parallel devices runs (module docstring)."""
    if degree == 1 or split is Split.REPLICATED:
        return op
    if split is Split.COLUMN:
        return split_dim(op, "N", degree)
    if split is Split.VOCAB_HEAD:  # the vocab padded to a multiple of the degree, as Megatron-LM
        # (--make-vocab-size-divisible-by) and vLLM (VocabParallelEmbedding's padding) pad it
        return resize_dim(op, "N", -(-op.dim("N") // degree))
    if split is Split.ROW:
        return split_dim(op, "K", degree)
    if split is Split.VOCAB_EMBED:
        return replace(
            op,
            operands=tuple(
                replace(o, elements=-(-o.elements // degree)) if o.role is Role.WEIGHT else o
                for o in op.operands
            ),
        )
    if op.kind is OpKind.ATTENTION:
        return shard_attention(op, degree)
    if split is Split.HEADS:
        kv_op = any(o.role is Role.KV_CACHE_WRITE for o in op.operands)
        return split_evenly(op, kv_degree(shape, degree) if kv_op else degree, (shape.heads, shape.kv_heads))
    return split_evenly(op, degree, ())


def shard_attention(op: Op, degree: int) -> Op:
    """An attention op split by heads over `degree` devices: H / degree query heads each, and the
    KV heads split with them (H_kv / degree), or, where there are fewer KV heads than devices, one
    KV head per device (each KV head replicated on degree / H_kv devices, as Megatron and vLLM do)."""
    heads = op.dim("H")
    if heads % degree:
        raise HardwareSpecError(
            f"{op.name} ({op.module}): {heads} attention heads are not divisible by the parallel "
            f"degree {degree}"
        )
    split = split_dim(op, "H", degree)
    if "Hkv" not in op.dim_names:
        return split
    kv = op.dim("Hkv")
    if kv % degree == 0:
        return split_dim(split, "Hkv", degree, flops=False)
    if degree % kv == 0:
        return split_dim(split, "Hkv", kv, flops=False)
    raise HardwareSpecError(
        f"{op.name} ({op.module}): {kv} KV heads neither divide nor are a multiple of the parallel "
        f"degree {degree}"
    )


def kv_degree(shape: ModelShape, degree: int) -> int:
    """How many ways the KV heads (and the KV cache) split over `degree` devices: `degree`, or the
    KV head count when there are fewer KV heads than devices (each replicated)."""
    kv = shape.kv_heads or degree
    return degree if kv % degree == 0 else min(kv, degree)


def shard_tokens(op: Op, degree: int) -> Op:
    """A REPLICATED op of a layer run on 1/`degree` of the tokens (sequence parallelism)."""
    return split_evenly(op, degree, ())


def split_evenly(op: Op, degree: int, prefer: tuple[int, ...] = ()) -> Op:
    """A non-matrix op divided by `degree` along a dim of a preferred size (the heads), else along
    the largest dim `degree` divides; an op no dim of which divides is left whole (it is small:
    a scalar, a table)."""
    if degree == 1 or op.is_gemm_shaped:
        return op
    candidates = [name for name, size in op.dims if size in prefer and size % degree == 0]
    if not candidates:
        candidates = sorted(
            (name for name, size in op.dims if size % degree == 0 and size >= degree),
            key=lambda name: -op.dim(name),
        )
    return split_dim(op, candidates[0], degree) if candidates else op


def resize_dim(op: Op, dim: str, size: int) -> Op:
    """`op` with loop dim `dim` set to `size` (≥ 1), the operands it indexes and the FLOPs scaled
    in proportion: an attention over part of its keys (the cached ones, or the new token's)."""
    old = op.dim(dim)
    if size == old:
        return op
    operands = tuple(
        replace(o, elements=o.elements * size // old) if dim in o.dims else o for o in op.operands
    )
    dims = tuple((name, size if name == dim else value) for name, value in op.dims)
    return replace(op, dims=dims, operands=operands, flops=op.flops * size // old)
