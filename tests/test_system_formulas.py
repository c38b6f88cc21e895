"""Systems of devices, formula by formula, with the arithmetic written out: collectives on a link,
a pipeline's bubble, the KV cache partitioned by heads, the batch that fits, the transfers of an
offloaded attention, and Lamina's minimum network bandwidth."""

from __future__ import annotations

import math

import pytest
from system_models import TINY, gpus, link, offload, tiny_graph

from hwmodels.system import CollectiveAlgorithm, LinkKind, Overlap
from mappers.collectives import Collective, Comm, comm_cost
from mappers.placement import place
from sim.serving import max_batch, memory_check
from sim.system_run import run_system, task_of
from sim.timeline import schedule

NVLINK = link(
    LinkKind.NVLINK, ("gpus",), bytes_per_s=450e9, latency_s=0.6e-6, overhead_s=6.6e-6, efficiency=0.8
)
BETA = 450e9 * 0.8  # 360 GB/s achievable per direction


def test_ring_all_reduce_bytes_and_time():
    # 8 devices, S = 1 MB: 2(n-1) = 14 steps, each device sends 2(n-1)/n·S = 1.75 MB;
    # time = 6.6 us + 14 × 0.6 us + 1.75e6 / 360e9 = 6.6 + 8.4 + 4.861 = 19.861 us
    cost = comm_cost(Comm(Collective.ALL_REDUCE, 1e6, "nvlink", ranks=8), NVLINK, CollectiveAlgorithm.RING)
    assert cost.steps == 14
    assert cost.wire_bytes == pytest.approx(1.75e6)
    assert cost.time_s == pytest.approx(6.6e-6 + 14 * 0.6e-6 + 1.75e6 / BETA)


def test_tree_all_reduce_and_auto():
    # tree over 8: 2·log2(8) = 6 steps, 2·S on the wire: 6.6 + 3.6 + 2e6/360e9 = 15.756 us (large S:
    # 1 GB: ring 2(7/8)·1e9/360e9 = 4.861 ms beats tree's 5.556 ms); auto takes the faster each time
    small = Comm(Collective.ALL_REDUCE, 1e6, "nvlink", ranks=8)
    tree = comm_cost(small, NVLINK, CollectiveAlgorithm.TREE)
    assert tree.steps == 6 and tree.time_s == pytest.approx(6.6e-6 + 6 * 0.6e-6 + 2e6 / BETA)
    assert comm_cost(small, NVLINK, CollectiveAlgorithm.AUTO).algorithm == "tree"
    large = Comm(Collective.ALL_REDUCE, 1e9, "nvlink", ranks=8)
    assert comm_cost(large, NVLINK, CollectiveAlgorithm.AUTO).algorithm == "ring"


@pytest.mark.parametrize(
    "collective", [Collective.REDUCE_SCATTER, Collective.ALL_GATHER, Collective.ALL_TO_ALL]
)
def test_single_pass_collectives(collective):
    # n - 1 = 3 steps and (n-1)/n·S = 0.75 MB each over 4 devices; a tree is never used for them
    cost = comm_cost(Comm(collective, 1e6, "nvlink", ranks=4), NVLINK, CollectiveAlgorithm.TREE)
    assert cost.steps == 3 and cost.algorithm == "ring"
    assert cost.time_s == pytest.approx(6.6e-6 + 3 * 0.6e-6 + 0.75e6 / BETA)


def test_transfer_uses_the_ports_of_the_smaller_side():
    # 10 MB from 2 senders to 4 receivers: 2 ports carry it, 5 MB each: o + α + 5e6/β
    cost = comm_cost(
        Comm(Collective.TRANSFER, 10e6, "nic", senders=2, receivers=4), NVLINK, CollectiveAlgorithm.RING
    )
    assert cost.wire_bytes == pytest.approx(5e6)
    assert cost.time_s == pytest.approx(6.6e-6 + 0.6e-6 + 5e6 / BETA)


def test_one_device_communicates_nothing():
    cost = comm_cost(Comm(Collective.ALL_REDUCE, 1e6, "nvlink", ranks=1), NVLINK, CollectiveAlgorithm.RING)
    assert cost.time_s == 0.0 and cost.wire_bytes == 0.0


@pytest.mark.parametrize(("stages", "micro"), [(2, 1), (2, 4), (4, 4), (4, 8)])
def test_pipeline_bubble(stages, micro):
    # p equal stages of t seconds, m micro-batches: (m + p - 1)·t, so the bubble (idle share of a
    # stage) is (p - 1)/(m + p - 1)
    t = 1e-3
    resources, durations, deps = [], [], []
    index = {}
    for m in range(micro):
        for s in range(stages):
            index[m, s] = len(durations)
            resources.append(f"stage{s}")
            durations.append(t)
            deps.append((index[m, s - 1],) if s else ())
    timeline = schedule(resources, durations, deps)
    assert timeline.latency_s == pytest.approx((micro + stages - 1) * t)
    bubble = 1 - timeline.busy_s["stage0"] / timeline.latency_s
    assert bubble == pytest.approx((stages - 1) / (micro + stages - 1))


def test_pipeline_placement_splits_layers_and_micro_batches():
    # tiny (4 layers) on 4 GPUs as pp 2 x tp 2 with 2 micro-batches: each micro-batch crosses one
    # stage boundary (one pp_send each), and both stages run both micro-batches
    system = gpus(4, pp=2, tp=2, micro_batches=2)
    run = run_system(place(tiny_graph(batch=2), system), system)
    assert len(task_of(run, "pp_send")) == 2
    assert {"gpus/stage0", "gpus/stage1"} <= set(run.timeline.busy_s)
    assert run.placement.batch == 4


def test_heads_partitioned_kv_bytes():
    # the KV cache per attention device: batch · context · 2 (K, V) · KV heads · head dim · 2 B ·
    # layers / devices = 4 · 256 · 2 · 2 · 16 · 2 · 4 / 2 = 262,144 B with 2 devices
    system = offload(compute=1, memory=2)
    placement = place(tiny_graph(batch=4, length=256), system)
    head_dim = TINY.dim // TINY.heads
    expected = 4 * 256 * 2 * TINY.kv_heads * head_dim * 2 * TINY.layers / 2
    assert placement.memory["memory"].kv_bytes == pytest.approx(expected)
    assert placement.memory["compute"].kv_bytes == 0


def test_offload_transfers_per_layer():
    # per layer, out: q (B·H·D) + new k, v (2·B·Hkv·D) elements; back: the output (B·H·D); 2 B each:
    # with B = 4, d = 128, G = 4: (2 + 2/G)·e·d·B = 2.5 · 2 · 128 · 4 = 2,560 B per layer in all
    system = offload(compute=1, memory=2)
    run = run_system(place(tiny_graph(batch=4), system), system)
    sent = [task.comm.message_bytes for task in task_of(run, "send_qkv")]
    back = [task.comm.message_bytes for task in task_of(run, "send_out")]
    assert len(sent) == len(back) == TINY.layers
    assert sent[0] == 4 * (TINY.heads + 2 * TINY.kv_heads) * 16 * 2
    assert sent[0] + back[0] == (2 + 2 / 4) * 2 * TINY.dim * 4


def test_eager_q_splits_the_send_and_the_attention():
    system = offload(compute=1, memory=2, overlap=Overlap.EAGER_Q)
    run = run_system(place(tiny_graph(batch=4), system), system)
    assert len(task_of(run, "send_q")) == len(task_of(run, "send_kv")) == TINY.layers
    assert not task_of(run, "send_qkv")


def test_max_batch_from_capacity():
    # The memory group holds only the KV cache and attention's activations, both linear in the
    # batch: need(B) = B · need(1), so the largest batch is floor(usable / need(1)) where usable =
    # capacity · (1 - reserve); an H20 cut to 1 MB of memory makes it the limit
    from dataclasses import replace

    system = offload(compute=1, memory=2)
    small_memory = replace(system.groups["memory"].device, dram_capacity_bytes=1_000_000)
    system = replace(
        system, groups={**system.groups, "memory": replace(system.groups["memory"], device=small_memory)}
    )
    one = place(tiny_graph(batch=1), system).memory["memory"].total_bytes
    usable = 1_000_000 * (1 - system.memory_reserve_fraction)
    expected = math.floor(usable / one)
    assert max_batch(lambda b: tiny_graph(batch=b), system) == expected
    fits = place(tiny_graph(batch=expected), system)
    assert all(use.fits for use in memory_check(fits, system))
    assert not all(use.fits for use in memory_check(place(tiny_graph(batch=expected + 1), system), system))


def test_eager_q_splits_a_merged_qkv_projection():
    # --fusion serving merges q, k and v into one GEMM of N = (H + 2·H_kv)·D = (8 + 4)·16 = 192;
    # the eager send splits it: q's 128 columns first, then k and v's 64, and q goes out alone
    from workloads.serving import fuse_for_serving

    system = offload(compute=1, memory=2, overlap=Overlap.EAGER_Q)
    run = run_system(place(fuse_for_serving(tiny_graph(batch=4)), system), system)
    sent_q = task_of(run, "send_q")
    assert len(sent_q) == TINY.layers
    assert sent_q[0].comm.message_bytes == 4 * TINY.heads * 16 * 2
    widths = sorted({op.dim("N") for task in run.placement.tasks for op in task.ops if "q_proj" in op.module})
    assert widths == [64, 128]
