"""Communication as ops of their own (`Comm`), and what each costs on a link (`comm_cost`).

A collective over n devices of a message of S bytes (the buffer each device holds), on a link of
`bytes_per_s` × `efficiency` = β per direction per device, one-way step latency α and a
per-call overhead o (`hwmodels.system.LinkSpec`), costed as NCCL's tuner does
(src/graph/tuning.cc: a base latency, a latency per step, bytes over the bus bandwidth):

==============  =======  ===================  ====================================================
collective      algo     steps                time
==============  =======  ===================  ====================================================
all-reduce      ring     2(n − 1)             o + 2(n − 1)·α + 2(n − 1)/n · S / β
all-reduce      tree     2·⌈log2 n⌉           o + 2⌈log2 n⌉·α + 2·S / β  (up the tree, then down)
reduce-scatter  ring     n − 1                o + (n − 1)·α + (n − 1)/n · S / β
all-gather      ring     n − 1                o + (n − 1)·α + (n − 1)/n · S / β  (S: the gathered)
all-to-all      pairwise n − 1                o + (n − 1)·α + (n − 1)/n · S / β
transfer        —        1                    o + α + S / (min(senders, receivers) · β)
==============  =======  ===================  ====================================================

A transfer moves S bytes in all from `senders` devices to `receivers` devices (offloaded
attention's q, k, v and its output; a pipeline stage's activations; the KV cache of a
disaggregated prefill), each device over its own port, so as many ports as the smaller side has
carry it. Only all-reduce has a tree here (NCCL runs the others as rings); ``auto`` takes the
faster of ring and tree per message, as NCCL's tuner does. One device: no communication, 0 s.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from hwmodels.system import CollectiveAlgorithm, LinkSpec


class Collective(enum.Enum):
    ALL_REDUCE = "all_reduce"
    REDUCE_SCATTER = "reduce_scatter"
    ALL_GATHER = "all_gather"
    ALL_TO_ALL = "all_to_all"
    TRANSFER = "transfer"


@dataclass(frozen=True)
class Comm:
    """One communication op: a `collective` of `message_bytes` (S, the module docstring) over
    `ranks` devices on link `link`; a transfer from `senders` to `receivers` devices instead."""

    collective: Collective
    message_bytes: float
    link: str
    ranks: int = 1
    senders: int = 1
    receivers: int = 1


@dataclass(frozen=True)
class CommCost:
    """Seconds a `Comm` takes, the bytes each device sends (`wire_bytes`), the steps, the
    algorithm run."""

    time_s: float
    wire_bytes: float
    steps: int
    algorithm: str


def comm_cost(comm: Comm, link: LinkSpec, algorithm: CollectiveAlgorithm) -> CommCost:
    """What `comm` costs on `link` (module docstring)."""
    if comm.collective is Collective.TRANSFER:
        ports = max(1, min(comm.senders, comm.receivers))
        wire = comm.message_bytes / ports
        time = link.per_message_overhead_s + link.latency_s + wire / link.achievable_bytes_per_s
        return CommCost(time_s=time, wire_bytes=wire, steps=1, algorithm="p2p")
    n = comm.ranks
    if n <= 1 or comm.message_bytes <= 0:
        return CommCost(time_s=0.0, wire_bytes=0.0, steps=0, algorithm="none")
    ring = _ring(comm.collective, comm.message_bytes, n, link)
    if comm.collective is not Collective.ALL_REDUCE or algorithm is CollectiveAlgorithm.RING:
        return ring
    tree = _tree(comm.message_bytes, n, link)
    if algorithm is CollectiveAlgorithm.TREE:
        return tree
    return min(ring, tree, key=lambda cost: cost.time_s)


def _ring(collective: Collective, size: float, n: int, link: LinkSpec) -> CommCost:
    rounds = 2 if collective is Collective.ALL_REDUCE else 1
    steps = rounds * (n - 1)
    wire = rounds * (n - 1) / n * size
    time = link.per_message_overhead_s + steps * link.latency_s + wire / link.achievable_bytes_per_s
    return CommCost(time_s=time, wire_bytes=wire, steps=steps, algorithm="ring")


def _tree(size: float, n: int, link: LinkSpec) -> CommCost:
    steps = 2 * math.ceil(math.log2(n))
    wire = 2 * size
    time = link.per_message_overhead_s + steps * link.latency_s + wire / link.achievable_bytes_per_s
    return CommCost(time_s=time, wire_bytes=wire, steps=steps, algorithm="tree")
