"""Systems of devices, the parallel splits one by one: Megatron's tensor split and its collectives,
sequence parallelism, data-parallel replicas, expert parallelism, and prefill on devices of its own
with the KV cache sent layer by layer."""

from __future__ import annotations

from dataclasses import replace

import pytest
from system_models import TINY, gpus, link, tiny_graph

from hwmodels.loader import load_hardware
from hwmodels.system import DeviceGroup, LinkKind, ParallelPlan, SystemSpec
from mappers.collectives import Collective
from mappers.placement import place, prefill_system
from sim.system_run import run_system, task_of


def _collectives(run, kind: Collective) -> list:
    return [task for task in run.placement.tasks if task.comm is not None and task.comm.collective is kind]


def test_megatron_two_all_reduces_per_layer_and_the_embedding_and_head():
    # per layer: one all-reduce after attention (o_proj), one after the MLP (down_proj): 2 L; plus
    # the vocab-parallel embedding's all-reduce and the LM head's all-gather of the logits
    system = gpus(4)
    run = run_system(place(tiny_graph(batch=4), system), system)
    reduces = _collectives(run, Collective.ALL_REDUCE)
    assert len(reduces) == 2 * TINY.layers + 1
    # each carries the block output: tokens x hidden x 2 B = 4 x 128 x 2
    assert {task.comm.message_bytes for task in reduces} == {4 * TINY.dim * 2}
    assert len(_collectives(run, Collective.ALL_GATHER)) == 1


def test_tensor_split_divides_the_weights():
    # weights per device ~ all weights / tp (norms are replicated: a little more than 1/4)
    one = place(tiny_graph(batch=4), gpus(1)).memory["gpus"].weights_bytes
    four = place(tiny_graph(batch=4), gpus(4)).memory["gpus"].weights_bytes
    assert one / 4 <= four < one / 4 * 1.01


def test_sequence_parallel_trades_each_all_reduce_for_reduce_scatter_and_all_gather():
    system = gpus(2, sequence_parallel=True)
    run = run_system(place(tiny_graph(batch=4), system), system)
    assert not _collectives(run, Collective.ALL_REDUCE)
    scatters = _collectives(run, Collective.REDUCE_SCATTER)
    gathers = _collectives(run, Collective.ALL_GATHER)
    assert len(scatters) == 2 * TINY.layers + 1  # the blocks and the embedding
    assert len(gathers) == len(scatters) + 1  # before each next column-parallel GEMM, and the logits


def test_data_parallel_replicas_serve_more_tokens_at_the_same_step():
    # dp 2 of tp 2: each replica runs half the batch; tokens per step is the whole batch
    system = gpus(4, dp=2, tp=2)
    placement = place(tiny_graph(batch=2), system)
    assert placement.replicas == 2 and placement.batch == 4 and placement.tokens_per_step == 4


def test_expert_parallel_all_to_all_and_experts_per_rank():
    # a tiny MoE (4 experts, top 2) over ep 2 ranks: per MoE layer one dispatch and one combine
    # all-to-all, and a per-rank task in which each rank runs its 2 experts
    graph = tiny_graph(batch=4, experts=4, top_k=2)
    system = gpus(2, ep=2)
    run = run_system(place(graph, system), system)
    assert len(_collectives(run, Collective.ALL_TO_ALL)) == 2 * TINY.layers
    ranked = [task for task in run.placement.tasks if task.rank_ops]
    assert len(ranked) == TINY.layers and all(len(task.rank_ops) == 2 for task in ranked)
    # each all-to-all carries a rank's (token, expert) pairs: 4 tokens x 2 experts x 128 x 2 B / 2
    assert {task.comm.message_bytes for task in _collectives(run, Collective.ALL_TO_ALL)} == {
        4 * 2 * 128 * 2 / 2
    }


def test_prefill_on_its_own_devices_sends_the_kv_cache_layer_by_layer():
    # prefill on one H100, decode on two; per layer the KV cache it wrote goes to the decode group
    # (batch 1, 64 tokens: 64 x 2 x 2 KV heads x 16 x 2 B = 8 KB per layer), overlapping the
    # next layers: the step is shorter than the prefill plus every transfer one after another
    h100 = load_hardware("h100_sxm")
    system = SystemSpec(
        name="disaggregated",
        groups={"decode": DeviceGroup(device=h100, count=2), "prefill": DeviceGroup(device=h100, count=1)},
        links={
            "nvlink": link(LinkKind.NVLINK, ("decode",)),
            "ib": link(LinkKind.IB, ("prefill", "decode"), bytes_per_s=1e9, latency_s=5e-6),
        },
        parallel=ParallelPlan(model_group="decode", prefill_group="prefill"),
    )
    prefill, kv_to = prefill_system(system)
    assert kv_to == "decode" and prefill.groups["prefill"].count == 1
    run = run_system(place(tiny_graph("prefill", batch=1, length=64), prefill, kv_to=kv_to), prefill)
    sends = task_of(run, "send_kv_cache")
    assert len(sends) == TINY.layers
    assert {task.comm.message_bytes for task in sends} == {64 * 2 * TINY.kv_heads * 16 * 2}
    compute = run.timeline.busy_s["prefill"]
    transfers = sum(run.durations_s[run.placement.tasks.index(task)] for task in sends)
    assert max(compute, transfers) <= run.latency_s < compute + transfers


def test_pipeline_more_stages_than_layers_is_refused():
    with pytest.raises(Exception, match="pp 8 is more than the model's 4 layers"):
        place(tiny_graph(), gpus(8, pp=8, tp=1))


def test_group_counts_scale_the_price():
    system = gpus(4)
    eight = replace(system, groups={"gpus": replace(system.groups["gpus"], count=8)})
    assert eight.price_usd_per_hour == pytest.approx(2 * system.price_usd_per_hour)


def test_any_device_kind_runs_in_a_system():
    # the mixed preset: an H100 runs the model, four U280 FPGA overlays the attention; each group's
    # ops are costed by its own kind's engine (the FPGA rows come from sim/engines/fpga)
    from hwmodels.system_loader import load_system
    from sim.system_run import resource_table

    system = load_system("system_h100_u280")
    run = run_system(place(tiny_graph(batch=4), system), system)
    table = resource_table(run).set_index("resource")
    assert table.loc["memory", "kind"] == "fpga" and table.loc["compute", "kind"] == "gpu"
    assert table.loc["memory", "busy_s"] > 0 and run.unmodeled_ops == 0
