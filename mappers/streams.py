"""A traced graph as the stream of work one tensor-parallel device runs, with its communication.

`tp_stream` walks a graph's ops in program order and yields `Item`s: each op split for one of
`tp` devices (`mappers.tensor_split`), and the collectives Megatron-LM inserts:

* after a row-parallel GEMM's block (the attention block after o_proj, the MLP block after
  down_proj, an MoE block after its experts and their combine): an all-reduce of the block's output
  (tokens × hidden); with sequence parallelism a reduce-scatter instead, the norms and residual adds
  that follow run on 1/tp of the tokens, and an all-gather comes before the next column-parallel
  GEMM;
* after the vocab-parallel embedding: an all-reduce (sequence parallel: a reduce-scatter);
* after the vocab-parallel LM head: an all-gather of the logits;
* with expert parallelism (`ep` > 1): each MoE layer's experts spread over `ep` ranks (expert e on
  rank e mod ep, split by tp / ep inside), the tokens sent to their experts' ranks by an all-to-all
  and the results returned by another (tokens × top-k × hidden each), in place of the split of
  every expert over all tp devices.

Offloaded attention (`offload=True`): the attention op and the KV-cache writes are yielded whole,
marked for the attention group, which splits them by its own head partition.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from mappers.collectives import Collective
from mappers.tensor_split import (
    ModelShape,
    Split,
    block_of,
    classify,
    layer_of,
    resize_dim,
    shard,
    shard_tokens,
    split_evenly,
)
from workloads.fusion import EXPERT_PATH
from workloads.op import Op, OpGraph, OpKind, Role


@dataclass(frozen=True)
class Item:
    """One step of a device's stream: an op (split for one device, or whole when `offloaded`),
    ops per rank (`rank_ops`, expert parallelism: ranks run different experts), or a collective
    (`collective` of `message_bytes` over the tensor-parallel group). `layer` is the op's layer
    (None outside the layers)."""

    layer: int | None
    op: Op | None = None
    offloaded: bool = False
    rank_ops: tuple[tuple[Op, ...], ...] = field(default=())
    collective: Collective | None = None
    message_bytes: float = 0.0


def step_tokens(graph: OpGraph) -> int:
    """Tokens one step of `graph` runs: the embedding's T, else the first GEMM's M."""
    for op in graph.ops:
        if op.kind is OpKind.EMBEDDING and "T" in op.dim_names:
            return op.dim("T")
    for op in graph.ops:
        if op.kind is OpKind.GEMM and "M" in op.dim_names:
            return op.dim("M")
    return graph.batch


def is_attention_side(op: Op) -> bool:
    """Ops that run where the KV cache lives when attention is offloaded: attention itself and
    the writes of the new K and V into the cache."""
    return op.kind is OpKind.ATTENTION or any(o.role is Role.KV_CACHE_WRITE for o in op.operands)


def tp_stream(
    graph: OpGraph,
    shape: ModelShape,
    *,
    tp: int,
    sequence_parallel: bool = False,
    ep: int = 1,
    offload: bool = False,
) -> Iterator[Item]:
    """The items one of `tp` devices runs (module docstring)."""
    tokens = step_tokens(graph)
    pending: tuple[str, float] | None = None  # (block, bytes) of an all-reduce still to come
    gather: float = 0.0  # bytes of an all-gather owed before the next column-parallel GEMM
    layer: int | None = None
    experts: dict[int, list[Op]] = {}
    for op in graph.ops:
        own_layer, expert = layer_of(op), EXPERT_PATH.search(op.module)  # each pattern run once per op
        layer = own_layer if own_layer is not None else layer
        split = classify(op, shape)
        block = block_of(op.module)
        if experts and not expert:
            yield from _expert_items(experts, layer, shape, tp, ep)
            experts = {}
        if pending is not None and block != pending[0]:
            if tp > 1:
                kind = Collective.REDUCE_SCATTER if sequence_parallel else Collective.ALL_REDUCE
                yield Item(layer=layer, collective=kind, message_bytes=pending[1])
                gather = pending[1] if sequence_parallel else 0.0
            pending = None
        if offload and is_attention_side(op):
            yield Item(layer=layer, op=op, offloaded=True)
            continue
        if ep > 1 and shape.moe and expert:
            experts.setdefault(_expert_index(expert.group(1)), []).append(op)
            continue  # the combine all-to-all returns every token whole: no all-reduce after
        if gather and split in (Split.COLUMN, Split.VOCAB_HEAD) and tp > 1:
            yield Item(layer=layer, collective=Collective.ALL_GATHER, message_bytes=gather)
            gather = 0.0
        if sequence_parallel and split is Split.REPLICATED and own_layer is not None:
            yield Item(layer=layer, op=shard_tokens(op, tp))
        else:
            yield Item(layer=layer, op=shard(op, split, tp, shape))
        if split is Split.ROW:
            pending = (block, _block_bytes(op, tokens))
        elif split is Split.VOCAB_EMBED and tp > 1:
            size = _output_bytes(op)
            kind = Collective.REDUCE_SCATTER if sequence_parallel else Collective.ALL_REDUCE
            yield Item(layer=layer, collective=kind, message_bytes=size)
            gather = size if sequence_parallel else 0.0
        elif split is Split.VOCAB_HEAD and tp > 1:
            yield Item(layer=layer, collective=Collective.ALL_GATHER, message_bytes=_output_bytes(op))
    if experts:
        yield from _expert_items(experts, layer, shape, tp, ep)
    if pending is not None and tp > 1:
        yield Item(layer=layer, collective=Collective.ALL_REDUCE, message_bytes=pending[1])


def _expert_index(text: str) -> int:
    """An expert's index from its module path; -1 for a grouped op over all experts (``*``)."""
    return int(text) if text.isdigit() else -1


def _expert_items(
    experts: dict[int, list[Op]], layer: int | None, shape: ModelShape, tp: int, ep: int
) -> Iterator[Item]:
    """An MoE layer's experts under expert parallelism: dispatch all-to-all, the experts per rank
    (each split by tp / ep), combine all-to-all (module docstring). Grouped ops over all experts
    (``--moe grouped``) are split evenly over the ranks (their experts' B dim, or their largest)."""
    inner = max(1, tp // ep)
    ranks: list[list[Op]] = [[] for _ in range(ep)]
    for index, ops in sorted(experts.items()):
        for op in ops:
            split = shard(op, classify(op, shape), inner, shape)
            if index >= 0:
                ranks[index % ep].append(split)
                continue
            even = (
                resize_dim(split, "B", -(-split.dim("B") // ep))
                if "B" in split.dim_names
                else split_evenly(split, ep)
            )
            for rank in ranks:
                rank.append(even)
    routed = [op for ops in experts.values() for op in ops if op.is_gemm_shaped]
    first_proj = [op for op in routed if classify(op, shape) is Split.COLUMN]
    pairs = sum(op.dim("M") * (op.dim("B") if "B" in op.dim_names else 1) for op in first_proj)
    pairs //= max(1, len({op.module.rsplit(".", 1)[-1] for op in first_proj}))  # gate and up: once
    hidden = routed[0].dim("K") if routed else 0
    element = routed[0].operand(Role.INPUT).dtype.bytes if routed else 2.0
    message = pairs * hidden * element / ep  # each rank's (token, expert) pairs, hidden-sized each
    yield Item(layer=layer, collective=Collective.ALL_TO_ALL, message_bytes=message)
    yield Item(layer=layer, rank_ops=tuple(tuple(ops) for ops in ranks))
    yield Item(layer=layer, collective=Collective.ALL_TO_ALL, message_bytes=message)


def _block_bytes(op: Op, tokens: int) -> float:
    """Bytes of a block's output, tokens × hidden, in the row-parallel GEMM's output dtype."""
    output = op.operand(Role.OUTPUT)
    return tokens * op.dim("N") * output.dtype.bytes


def _output_bytes(op: Op) -> float:
    return sum(o.bytes for o in op.operands if o.role is Role.OUTPUT)
