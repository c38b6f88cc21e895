"""A traced model placed on a system of devices: tasks on resources, with their dependencies.

`place(graph, system)` reads the system's `ParallelPlan` and returns a `Placement`:

* **resources**: each set of devices that runs in lockstep (a tensor-parallel group: every device
  runs its own shard of the same op at the same time; a pipeline stage; a replica of the model;
  the attention devices, partitioned by heads) and each link direction that carries traffic;
* **tasks**, in program order per micro-batch: a run of ops on a device resource (what one of its
  devices runs), or a communication op (`mappers.collectives.Comm`) on a link resource; each after
  the tasks it depends on. `sim.timeline` schedules them;
* **memory** per device of each device resource: its share of the weights, its KV cache, and the
  largest activation an op of it holds.

The model group's devices are `dp` replicas × `pp` stages × `tp` tensor-parallel devices
(`rotational` overlap: × n − 1 model replicas); a plan that does not multiply out to the group's
count is refused, naming both. `graph` is what one micro-batch of one data-parallel replica runs
(`plan_batch` says what batch to trace it at); the `Placement` holds one replica's tasks
(`replicas` copies run side by side).

Attention offloading (`attention_group`): the attention ops and the KV-cache writes run on the
attention group, split by heads over all of its devices (the heads and KV heads must divide, or
the KV heads be a whole fraction of them); per layer q, k and v go out over the link joining the
groups and the attention output comes back (`Overlap` for how they overlap).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from hwmodels.errors import HardwareSpecError
from hwmodels.system import Overlap, SystemSpec
from mappers.collectives import Collective, Comm
from mappers.streams import Item, step_tokens, tp_stream
from mappers.tensor_split import (
    ModelShape,
    kv_degree,
    layer_of,
    model_shape,
    resize_dim,
    shard_attention,
    split_evenly,
)
from workloads.op import Op, OpGraph, OpKind, Phase, Role
from workloads.summary import param_bytes, resident_bytes


@dataclass(frozen=True)
class Resource:
    """Devices that run in lockstep (`devices` of group `group`), or one direction of a link
    (`link` names it)."""

    name: str
    group: str = ""
    devices: int = 0
    link: str = ""

    @property
    def is_link(self) -> bool:
        return bool(self.link)


@dataclass(frozen=True)
class Task:
    """Work on a device resource (`ops`, what one of its devices runs in order; or `rank_ops`, one
    tuple per device where they differ, the slowest deciding) or a `comm` on a link resource."""

    name: str
    resource: str
    deps: tuple[int, ...] = ()
    ops: tuple[Op, ...] = ()
    rank_ops: tuple[tuple[Op, ...], ...] = ()
    comm: Comm | None = None
    micro_batch: int = 0


@dataclass(frozen=True)
class DeviceMemory:
    """Bytes one device of a resource holds: weights, KV cache, activations (the largest input +
    output of any one op it runs: a lower bound of what is live at once)."""

    weights_bytes: float = 0.0
    kv_bytes: float = 0.0
    activation_bytes: float = 0.0

    @property
    def total_bytes(self) -> float:
        return self.weights_bytes + self.kv_bytes + self.activation_bytes


@dataclass(frozen=True)
class Placement:
    tasks: tuple[Task, ...]
    resources: Mapping[str, Resource]
    memory: Mapping[str, DeviceMemory]
    replicas: int
    micro_batches: int
    batch: int
    tokens_per_step: int = 0
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Layout:
    """How the model group's devices divide: `tp` per shard group, `stages`, `replicas` of the
    model inside one data-parallel copy (rotational overlap), `dp` copies, `micro_batches`."""

    tp: int
    stages: int
    model_replicas: int
    dp: int
    micro_batches: int


def layout(system: SystemSpec) -> Layout:
    """The model group's split (module docstring); an error when it does not multiply out."""
    plan, group = system.parallel, system.model_group
    count = system.groups[group].count
    rotational = plan.overlap is Overlap.ROTATIONAL and plan.attention_group
    model_replicas = plan.rotation_batches - 1 if rotational else 1
    micro = plan.rotation_batches if rotational else plan.micro_batches
    if rotational and plan.pp > 1:
        raise HardwareSpecError("parallel: rotational overlap runs whole model replicas; set pp = 1")
    if plan.attention_group and plan.dp > 1:
        raise HardwareSpecError(
            "parallel: dp > 1 with offloaded attention would share one attention group between "
            "replicas; model one replica (dp 1) and scale its figures, or use rotational overlap"
        )
    others = plan.pp * plan.dp * model_replicas
    tp = plan.tp or count // others
    if tp < 1 or tp * others != count:
        replicas = f" x {model_replicas} model replicas" if rotational else ""
        raise HardwareSpecError(
            f"parallel: tp {tp} x pp {plan.pp} x dp {plan.dp}{replicas} = {tp * others} devices, but "
            f"group {group!r} has {count}"
        )
    if plan.ep > 1 and tp % plan.ep:
        raise HardwareSpecError(f"parallel: ep {plan.ep} must divide the tensor-parallel degree {tp}")
    return Layout(tp=tp, stages=plan.pp, model_replicas=model_replicas, dp=plan.dp, micro_batches=micro)


def plan_batch(system: SystemSpec, batch: int) -> int:
    """The batch one micro-batch of one data-parallel replica runs (the graph to trace for
    `place`); an error when `batch` does not split evenly."""
    shape = layout(system)
    parts = shape.dp * shape.micro_batches
    if batch % parts:
        raise HardwareSpecError(
            f"--batch {batch}: must be a multiple of dp {shape.dp} x micro-batches "
            f"{shape.micro_batches} = {parts}"
        )
    return batch // parts


def prefill_system(system: SystemSpec) -> tuple[SystemSpec, str]:
    """The system a prefill runs on, and the group its KV cache then goes to ("" if the same):
    the prefill group, tensor parallel over all of it, if the plan has one; else one replica of
    the model group (offloaded attention and rotation off: a prefill attends over its own prompt)."""
    plan = system.parallel
    decode_side = plan.attention_group or system.model_group
    if plan.prefill_group:
        group = plan.prefill_group
        count = system.groups[group].count
        kv_to = decode_side
    else:
        group, shape = system.model_group, layout(system)
        count, kv_to = shape.tp * shape.model_replicas * shape.stages, ""
    plan = replace(
        plan,
        model_group=group,
        tp=0,
        pp=1 if plan.prefill_group else plan.pp,
        dp=1,
        ep=1,
        micro_batches=1,
        attention_group="",
        prefill_group="",
        overlap=Overlap.NONE,
    )
    groups = {**system.groups, group: replace(system.groups[group], count=count)}
    return replace(system, groups=groups, parallel=plan), kv_to


def place(graph: OpGraph, system: SystemSpec, *, kv_to: str = "") -> Placement:
    """`graph` (one micro-batch of one replica) placed on `system` (module docstring). `kv_to`
    names a group the KV cache each layer writes is sent to as soon as the layer is done
    (prefill/decode disaggregation); the transfers overlap the next layers."""
    shape_of = layout(system)
    plan = system.parallel
    model = model_shape(graph.ops)
    offload = bool(plan.attention_group)
    if offload:
        _check_heads(model, system.groups[plan.attention_group].count, plan.attention_group)
    items = list(
        tp_stream(
            graph,
            model,
            tp=shape_of.tp,
            sequence_parallel=plan.sequence_parallel,
            ep=plan.ep,
            offload=offload,
        )
    )
    builder = _Builder(system, shape_of, model, graph, kv_to)
    for micro in range(shape_of.micro_batches):
        builder.micro_batch(items, micro)
    batch = graph.batch * shape_of.micro_batches * shape_of.dp
    tokens = step_tokens(graph) * shape_of.micro_batches * shape_of.dp
    return Placement(
        tasks=tuple(builder.tasks),
        resources=dict(builder.resources),
        memory=builder.memory(),
        replicas=shape_of.dp,
        micro_batches=shape_of.micro_batches,
        batch=batch,
        tokens_per_step=batch if graph.phase is Phase.DECODE else tokens,
    )


def in_steps(
    sizes: Sequence[int], place_step: Callable[[int], Placement], memory_of: Placement
) -> Placement:
    """Steps of `sizes` prompts each run one after another, as a serving engine's scheduler runs
    the prefill steps it makes of a batch (`workloads.stacks.Stack.prefill_steps`), each distinct
    size placed once by ``place_step(size)``. Each step's tasks keep their own dependencies, and
    its first tasks (those that wait on none) wait for every task of the step before, so no step
    starts before the one before it has finished. Task names get the step's label
    (``"step 2 b4: "``); the batch and tokens are the steps' sums; memory is `memory_of`'s (the
    whole batch's: an engine keeps the KV cache of the prompts it has prefilled)."""
    placed = {size: place_step(size) for size in set(sizes)}
    tasks: list[Task] = []
    before: tuple[int, ...] = ()
    for number, size in enumerate(sizes, 1):
        offset = len(tasks)
        for task in placed[size].tasks:
            deps = tuple(offset + dep for dep in task.deps) if task.deps else before
            tasks.append(replace(task, name=f"step {number} b{size}: {task.name}", deps=deps))
        before = tuple(range(offset, len(tasks)))
    return replace(
        placed[sizes[0]],
        tasks=tuple(tasks),
        memory=memory_of.memory,
        batch=sum(placed[size].batch for size in sizes),
        tokens_per_step=sum(placed[size].tokens_per_step for size in sizes),
    )


def _check_heads(model: ModelShape, devices: int, group: str) -> None:
    if model.heads and model.heads % devices:
        raise HardwareSpecError(
            f"parallel.attention_group {group!r}: {model.heads} attention heads are not divisible by its "
            f"{devices} devices (attention is partitioned by heads)"
        )
    kv = model.kv_heads
    if kv and kv % devices and devices % kv:
        raise HardwareSpecError(
            f"parallel.attention_group {group!r}: {kv} KV heads neither divide nor are a multiple of its "
            f"{devices} devices"
        )


class _Builder:
    """Tasks, resources and memory, filled one micro-batch at a time."""

    def __init__(
        self, system: SystemSpec, shape: Layout, model: ModelShape, graph: OpGraph, kv_to: str
    ) -> None:
        self.system, self.shape, self.model, self.graph = system, shape, model, graph
        self.kv_to = kv_to
        self.kv_by_layer: dict[int | None, float] = {}
        for op in graph.ops:
            written = sum(o.bytes for o in op.operands if o.role is Role.KV_CACHE_WRITE) * op.count
            if written:
                self.kv_by_layer[layer_of(op)] = self.kv_by_layer.get(layer_of(op), 0.0) + written
        self.plan = system.parallel
        self.group = system.model_group
        self.tasks: list[Task] = []
        self.resources: dict[str, Resource] = {}
        self.weights: dict[str, dict[str, float]] = {}
        self.kv: dict[str, float] = {}
        self.activations: dict[str, float] = {}
        layers = sorted({layer for op in graph.ops if (layer := layer_of(op)) is not None})
        if shape.stages > max(1, len(layers)):
            raise HardwareSpecError(
                f"parallel: pp {shape.stages} is more than the model's {len(layers)} layers"
            )
        self.stage_of = {
            layer: index * shape.stages // max(1, len(layers)) for index, layer in enumerate(layers)
        }
        self.kv_from_writes = not any(o.role is Role.KV_CACHE for op in graph.ops for o in op.operands)
        read = resident_bytes(graph)
        stored = sum(param_bytes(op) * op.count for op in graph.ops)
        self.unread_scale = read["weights"] / stored if stored else 1.0

    # resources -----------------------------------------------------------------------------
    def device(self, name: str, group: str, devices: int) -> str:
        self.resources.setdefault(name, Resource(name=name, group=group, devices=devices))
        return name

    def link(self, first: str, second: str, label: str) -> tuple[str, str]:
        """The link joining two groups, and a resource for one direction of it (`label`)."""
        link_name, _ = self.system.link(first, second)
        name = f"{link_name}:{label}"
        self.resources.setdefault(name, Resource(name=name, link=link_name))
        return link_name, name

    def model_resource(self, stage: int, replica: int) -> str:
        parts = [self.group]
        if self.shape.stages > 1:
            parts.append(f"stage{stage}")
        if self.shape.model_replicas > 1:
            parts.append(f"replica{replica}")
        return self.device("/".join(parts), self.group, self.shape.tp)

    # tasks ---------------------------------------------------------------------------------
    def add(self, task: Task) -> int:
        self.tasks.append(task)
        return len(self.tasks) - 1

    def work(
        self,
        resource: str,
        ops: list[Op] | tuple[Op, ...],
        deps: tuple[int, ...],
        micro: int,
        rank_ops: tuple[tuple[Op, ...], ...] = (),
    ) -> int:
        ops = tuple(ops)
        heaviest = max(rank_ops, key=lambda rank: sum(param_bytes(op) for op in rank), default=())
        for op in (*ops, *heaviest):  # expert parallelism: the rank holding the most weights
            self.account(resource, op)
        name = ops[0].name if ops else "experts"
        return self.add(
            Task(name=name, resource=resource, deps=deps, ops=ops, rank_ops=rank_ops, micro_batch=micro)
        )

    def comm(self, resource: str, comm: Comm, deps: tuple[int, ...], micro: int, name: str) -> int:
        return self.add(Task(name=name, resource=resource, deps=deps, comm=comm, micro_batch=micro))

    def account(self, resource: str, op: Op) -> None:
        weights = self.weights.setdefault(resource, {})
        if op.name not in weights:
            weights[op.name] = param_bytes(op) * op.count * self.unread_scale
        kv_role = Role.KV_CACHE_WRITE if self.kv_from_writes else Role.KV_CACHE
        self.kv[resource] = self.kv.get(resource, 0.0) + op.count * sum(
            o.bytes for o in op.operands if o.role is kv_role
        )
        live = sum(o.bytes for o in op.operands if o.role in (Role.INPUT, Role.OUTPUT))
        self.activations[resource] = max(self.activations.get(resource, 0.0), live)

    def memory(self) -> dict[str, DeviceMemory]:
        return {
            name: DeviceMemory(
                weights_bytes=sum(self.weights.get(name, {}).values()),
                kv_bytes=self.kv.get(name, 0.0),
                activation_bytes=self.activations.get(name, 0.0),
            )
            for name, resource in self.resources.items()
            if not resource.is_link
        }

    # one micro-batch -----------------------------------------------------------------------
    def micro_batch(self, items: list[Item], micro: int) -> None:
        last: tuple[int, ...] = ()
        segment: list[Op] = []
        attention: list[Op] = []
        stage, hop = 0, 0  # hop: compute segments between offloaded attentions (rotational)
        resource = self.model_resource(0, micro % self.shape.model_replicas)

        def close() -> None:
            nonlocal last, segment
            if segment:
                last = (self.work(resource, segment, last, micro),)
                segment = []

        layer = None
        for item in items:
            if self.kv_to and item.layer != layer:
                close()
                self.send_kv(layer, last, micro)
                layer = item.layer
            wanted = self.stage_of.get(item.layer, stage) if item.layer is not None else stage
            if wanted != stage:
                close()
                last = (self.stage_send(stage, wanted, last, micro),)
                stage = wanted
                resource = self.model_resource(stage, (micro + hop) % self.shape.model_replicas)
            if item.offloaded:
                attention.append(item.op)
                if item.op.kind is OpKind.ATTENTION:
                    pre, segment = segment, []
                    last = self.offload(pre, attention, last, micro, resource)
                    attention = []
                    hop += 1
                    moved = self.model_resource(stage, (micro + hop) % self.shape.model_replicas)
                    if moved != resource:
                        last = (self.replica_send(resource, moved, last, micro),)
                        resource = moved
                continue
            if item.collective is not None:
                close()
                link_name, link_resource = self.link(self.group, self.group, _label(resource))
                comm = Comm(
                    collective=item.collective,
                    message_bytes=item.message_bytes,
                    link=link_name,
                    ranks=self.shape.tp,
                )
                last = (self.comm(link_resource, comm, last, micro, item.collective.value),)
            elif item.rank_ops:
                close()
                last = (self.work(resource, (), last, micro, rank_ops=item.rank_ops),)
            else:
                segment.append(item.op)
        close()
        if self.kv_to:
            self.send_kv(layer, last, micro)

    def send_kv(self, layer: int | None, last: tuple[int, ...], micro: int) -> None:
        """A finished layer's KV cache to the decode devices (disaggregated prefill): off the
        critical chain, so the next layers run while it moves."""
        size = self.kv_by_layer.get(layer, 0.0)
        if not size:
            return
        link_name, resource = self.link(self.group, self.kv_to, f"{self.group}->{self.kv_to}")
        comm = Comm(
            collective=Collective.TRANSFER,
            message_bytes=size,
            link=link_name,
            senders=self.shape.tp,
            receivers=self.system.groups[self.kv_to].count,
        )
        self.comm(resource, comm, last, micro, "send_kv_cache")

    def stage_send(self, stage: int, to: int, last: tuple[int, ...], micro: int) -> int:
        """The hidden state from one pipeline stage to the next (a transfer on the group's link)."""
        return self._hidden_send(f"stage{stage}->stage{to}", last, micro, "pp_send")

    def replica_send(self, source: str, target: str, last: tuple[int, ...], micro: int) -> int:
        """The hidden state from one model replica to the next (rotational overlap)."""
        return self._hidden_send(f"{_label(source)}->{_label(target)}", last, micro, "replica_send")

    def _hidden_send(self, route: str, last: tuple[int, ...], micro: int, name: str) -> int:
        """One step's hidden state sent within the group, tensor-parallel ranks to ranks."""
        size = step_tokens(self.graph) * _hidden_bytes(self.graph)
        link_name, resource = self.link(self.group, self.group, route)
        comm = Comm(
            collective=Collective.TRANSFER,
            message_bytes=size,
            link=link_name,
            senders=self.shape.tp,
            receivers=self.shape.tp,
        )
        return self.comm(resource, comm, last, micro, name)

    def offload(
        self, pre: list[Op], attention: list[Op], last: tuple[int, ...], micro: int, resource: str
    ) -> tuple[int, ...]:
        """One layer's offloaded attention (`Overlap`): the model's ops before it, q, k, v out,
        the attention on the attention group, its output back."""
        group = self.plan.attention_group
        devices = self.system.groups[group].count
        target = self.device(group, group, devices)
        link_name, out = self.link(self.group, group, f"{self.group}->{group}")
        _, back = self.link(self.group, group, f"{group}->{self.group}")
        attn = next(op for op in attention if op.kind is OpKind.ATTENTION)
        writes = [op for op in attention if op is not attn]
        q_bytes = next(o.bytes for o in attn.operands if o.role is Role.INPUT)  # Q, the first input
        kv_bytes = sum(o.bytes for op in writes for o in op.operands if o.role is Role.KV_CACHE_WRITE)
        o_bytes = sum(o.bytes for o in attn.operands if o.role is Role.OUTPUT)
        kv_split = kv_degree(self.model, devices)
        writes = [split_evenly(op, kv_split, (self.model.kv_heads,)) for op in writes]

        def send(size: float, direction: str, deps: tuple[int, ...], name: str) -> int:
            senders, receivers = (self.shape.tp, devices) if direction == out else (devices, self.shape.tp)
            comm = Comm(
                collective=Collective.TRANSFER,
                message_bytes=size,
                link=link_name,
                senders=senders,
                receivers=receivers,
            )
            return self.comm(direction, comm, deps, micro, name)

        pre, q_index = self.split_q(pre)
        eager = self.plan.overlap is Overlap.EAGER_Q and q_index >= 0 and attn.dim("Skv") > 1
        if not eager:
            if pre:
                last = (self.work(resource, pre, last, micro),)
            sent = send(q_bytes + kv_bytes, out, last, "send_qkv")
            done = self.work(target, [*writes, shard_attention(attn, devices)], (sent,), micro)
            return (send(o_bytes, back, (done,), "send_out"),)
        context = attn.dim("Skv")
        cached = shard_attention(resize_dim(attn, "Skv", context - 1), devices)
        new = shard_attention(resize_dim(attn, "Skv", 1), devices)
        q_done = self.work(resource, pre[: q_index + 1], last, micro)
        q_sent = send(q_bytes, out, (q_done,), "send_q")
        main = self.work(target, [cached], (q_sent,), micro)
        kv_deps = (q_done,)
        if pre[q_index + 1 :]:
            kv_deps = (self.work(resource, pre[q_index + 1 :], (q_done,), micro),)
        kv_sent = send(kv_bytes, out, kv_deps, "send_kv")
        tail = self.work(target, [*writes, new], (main, kv_sent), micro)
        return (send(o_bytes, back, (tail,), "send_out"),)

    def split_q(self, pre: list[Op]) -> tuple[list[Op], int]:
        """`pre` with the q projection on its own, and its index (-1: none). A merged q/k/v GEMM
        (``--fusion serving``) is split by its output columns into q (H of H + 2·H_kv heads) and k,
        v, each reading the input: the eager q send needs q before k and v."""
        for index, op in enumerate(pre):
            leaves = op.module.split(".")[-1].split("+")
            if leaves == ["q_proj"]:
                return pre, index
            if "q_proj" in leaves and op.is_gemm_shaped and self.model.heads:
                heads, kv = self.model.heads, self.model.kv_heads or self.model.heads
                width = op.dim("N")
                q_width = width * heads // (heads + 2 * kv)
                q_part = resize_dim(op, "N", q_width)
                kv_part = replace(resize_dim(op, "N", width - q_width), name=f"{op.name}_kv")
                return [*pre[:index], q_part, kv_part, *pre[index + 1 :]], index
        return pre, -1


def _label(resource: str) -> str:
    return resource.replace("/", ".")


def _hidden_bytes(graph: OpGraph) -> float:
    """Bytes of one token's hidden state: the embedding's D, else the first GEMM's K, × 2 B."""
    for op in graph.ops:
        if op.kind is OpKind.EMBEDDING and "D" in op.dim_names:
            return op.dim("D") * op.operand(Role.OUTPUT).dtype.bytes
    for op in graph.ops:
        if op.kind is OpKind.GEMM:
            return op.dim("K") * op.operand(Role.INPUT).dtype.bytes
    return 0.0
