"""Systems of devices, invariants: one device is today's simulation, a faster link is never slower,
another memory device never lowers the batch that fits, the critical path lies between the busiest
resource and the sum of all work, and results are deterministic."""

from __future__ import annotations

from dataclasses import replace

import pytest
from system_models import gpus, offload, tiny_graph

from hwmodels.system import CollectiveAlgorithm, Overlap
from mappers.placement import place
from sim.serving import max_batch
from sim.simulate import simulate, summarize
from sim.system_run import run_system, step_lower_bound
from sim.timeline import schedule

SYSTEMS = {
    "tp4": lambda: gpus(4),
    "tp4_tree": lambda: gpus(4, collective=CollectiveAlgorithm.TREE),
    "tp2_sequence_parallel": lambda: gpus(2, sequence_parallel=True),
    "pp2_tp2_m2": lambda: gpus(4, pp=2, tp=2, micro_batches=2),
    "dp2_tp2": lambda: gpus(4, dp=2, tp=2),
    "offload": lambda: offload(2, 2),
    "offload_eager_q": lambda: offload(2, 2, overlap=Overlap.EAGER_Q),
    "offload_rotational": lambda: offload(2, 2, overlap=Overlap.ROTATIONAL, rotation_batches=3),
}


def _run(system, batch=6, **graph):
    from mappers.placement import plan_batch

    return run_system(place(tiny_graph(batch=plan_batch(system, batch), **graph), system), system)


@pytest.mark.parametrize("phase", ["decode", "prefill"])
def test_one_device_without_overlap_is_the_sum_of_the_rows(phase):
    system = gpus(1)
    graph = tiny_graph(phase, batch=2, length=128)
    device = system.groups["gpus"].device
    expected = summarize(simulate(graph, device), device)["latency_s"]
    run = run_system(place(graph, system), system)
    assert len(run.placement.tasks) == 1
    assert run.latency_s == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", SYSTEMS)
def test_critical_path_between_busiest_resource_and_all_work(name):
    run = _run(SYSTEMS[name]())
    assert step_lower_bound(run) <= run.latency_s * (1 + 1e-12)
    assert run.latency_s <= sum(run.durations_s) * (1 + 1e-12)


@pytest.mark.parametrize("name", SYSTEMS)
def test_deterministic(name):
    assert _run(SYSTEMS[name]()).timeline == _run(SYSTEMS[name]()).timeline


@pytest.mark.parametrize("name", ["tp4", "pp2_tp2_m2", "offload", "offload_eager_q", "offload_rotational"])
@pytest.mark.parametrize("factor", [2.0, 10.0])
def test_a_faster_link_is_never_slower(name, factor):
    system = SYSTEMS[name]()
    faster = replace(
        system,
        links={
            key: replace(link, bytes_per_s=link.bytes_per_s * factor) for key, link in system.links.items()
        },
    )
    lower_latency = replace(
        system,
        links={key: replace(link, latency_s=link.latency_s / factor) for key, link in system.links.items()},
    )
    base = _run(system).latency_s
    assert _run(faster).latency_s <= base * (1 + 1e-12)
    assert _run(lower_latency).latency_s <= base * (1 + 1e-12)


def test_another_memory_device_never_lowers_the_batch_that_fits():
    # memory devices cut to 2 MB so that they limit the batch; 1 -> 2 -> 4 of them (8 heads, 2 KV heads:
    # 4 devices hold one KV head each, replicated, which still never lowers the batch)
    batches = []
    for count in (1, 2, 4):
        system = offload(compute=1, memory=count)
        small = replace(system.groups["memory"].device, dram_capacity_bytes=2_000_000)
        system = replace(
            system, groups={**system.groups, "memory": replace(system.groups["memory"], device=small)}
        )
        batches.append(max_batch(lambda b: tiny_graph(batch=b), system))
    assert batches == sorted(batches) and batches[0] < batches[-1]


def test_timeline_refuses_a_dependency_on_a_later_task():
    with pytest.raises(ValueError, match="does not come before"):
        schedule(["a", "b"], [1.0, 1.0], [(1,), ()])


def test_timeline_overlaps_independent_resources():
    # two chains on two resources: 3 s and 2 s of work run side by side, 3 s in all; a chain across
    # both (a -> b) waits: 1 + 2 = 3 s, and b's second task starts at 3 s
    timeline = schedule(["a", "a", "b"], [1.0, 2.0, 2.0], [(), (0,), ()])
    assert timeline.latency_s == 3.0
    chained = schedule(["a", "b", "b"], [1.0, 2.0, 1.0], [(), (0,), (1,)])
    assert chained.start_s == (0.0, 1.0, 3.0) and chained.latency_s == 4.0


def test_roofline_costs_on_one_device_are_the_roofline_engine():
    # one device, no overlap, ops costed at the roofline: the step is sim.engines.roofline's latency
    from sim.engines.roofline import device_rates, evaluate, prepare_workload
    from sim.system_run import roofline_cost

    system = gpus(1)
    graph = tiny_graph(batch=4)
    device = system.groups["gpus"].device
    workload = prepare_workload(graph, type(device))
    rates, _ = device_rates([device], workload.dtypes)
    expected = evaluate(workload, rates)["latency_s"][0]
    run = run_system(place(graph, system), system, coster=roofline_cost)
    assert run.latency_s == pytest.approx(expected, rel=1e-9)
