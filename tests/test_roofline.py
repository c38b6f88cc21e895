"""The roofline engine: per-op formulas with the arithmetic written out, then invariants (a lower
bound of the cycle engines on GEMMs, vectorized equals one at a time, unsupported dtypes named)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_array

from hwmodels import load_hardware
from sim.engines.roofline import device_rates, evaluate, prepare_workload
from sim.simulate import simulate, summarize
from workloads.annotate import SPARSE_2_4
from workloads.dtypes import DType
from workloads.op import Op, Operand, OpGraph, OpKind, Role, gemm_op

BF16 = DType.BF16


def run(graph: OpGraph, *specs):
    rates, errors = device_rates(specs, prepare_workload(graph, type(specs[0])).dtypes)
    return evaluate(prepare_workload(graph, type(specs[0])), rates), errors


def gemm(m: int, n: int, k: int, dtype: DType = BF16, **kwargs) -> OpGraph:
    op = gemm_op(m, n, k, input_dtype=dtype, weight_dtype=dtype, output_dtype=dtype, **kwargs)
    return OpGraph(name="g", ops=(op,))


def test_systolic_gemm_is_the_longer_of_compute_and_memory():
    array = make_array(rows=32, cols=32, clock_hz=1e9, dram_bytes_per_cycle=16)
    metrics, errors = run(gemm(128, 256, 512), array)
    # FLOPs = 2·128·256·512 = 33,554,432; peak = 32·32 PEs · 1 MAC · 2 · 1e9 = 2.048e12 FLOP/s
    assert metrics["compute_s"][0] == pytest.approx(33_554_432 / 2.048e12)  # 16.384 µs
    # bytes = (128·512 + 512·256 + 128·256) · 2 B = 458,752 B at 16 B/cycle · 1e9 = 16e9 B/s
    assert metrics["memory_s"][0] == pytest.approx(458_752 / 16e9)  # 28.672 µs
    assert metrics["latency_s"][0] == pytest.approx(28.672e-6)  # memory-bound
    assert metrics["total_cycles"][0] == pytest.approx(28_672)
    # the array is busy 16.384 of 28.672 µs at its peak
    assert metrics["utilization"][0] == pytest.approx(16.384 / 28.672)
    assert errors == [None]


def test_an_op_repeated_count_times_costs_count_times_as_much():
    array = make_array(rows=32, cols=32, dram_bytes_per_cycle=16)
    once, _ = run(gemm(128, 256, 512), array)
    thrice, _ = run(gemm(128, 256, 512, count=3), array)
    assert thrice["latency_s"][0] == pytest.approx(3 * once["latency_s"][0])


def test_vector_ops_run_on_the_vector_unit():
    # an elementwise op of 1,048,576 fp16 elements, 4 FLOPs each, in and out
    elements = 1 << 20
    op = Op(
        name="gelu",
        kind=OpKind.ELEMENTWISE,
        dims=(("d0", elements),),
        operands=(
            Operand(name="x", role=Role.INPUT, dims=("d0",), elements=elements, dtype=DType.FP16),
            Operand(name="y", role=Role.OUTPUT, dims=("d0",), elements=elements, dtype=DType.FP16),
        ),
        flops=4 * elements,
    )
    array = make_array(rows=32, cols=32, clock_hz=1e9, dram_bytes_per_cycle=1024)
    metrics, _ = run(OpGraph(name="v", ops=(op,)), array)
    # compute: 4,194,304 FLOPs / (32 lanes · 1e9) = 131.072 µs; memory: 4 MiB / 1.024e12 B/s = 4.096 µs
    assert metrics["latency_s"][0] == pytest.approx(131.072e-6)
    assert metrics["utilization"][0] == 0.0  # no matrix work


def test_gpu_gemm_at_the_achievable_tensor_rate_plus_a_launch():
    h100 = load_hardware("h100_sxm")
    metrics, _ = run(gemm(8192, 8192, 8192), h100)
    # 2·8192³ = 1.0995e12 FLOPs at 2 · 2048 MACs · 132 SMs · 1.83e9 Hz · 0.8669 = 830.0 TFLOP/s
    rate = 2 * 2048 * 132 * 1.83e9 * 0.8669
    assert metrics["compute_s"][0] == pytest.approx(2 * 8192**3 / rate)
    # bytes: 3 · 8192² · 2 B = 402.7 MB at 3.0 TB/s = 134 µs, under the 1.326 ms of compute
    assert metrics["memory_s"][0] == pytest.approx(3 * 8192**2 * 2 / 3.0e12)
    assert metrics["latency_s"][0] == pytest.approx(2 * 8192**3 / rate + 3.0e-6)  # + one launch


def test_gpu_2_4_sparse_weights_run_at_the_sparse_rate():
    h100 = load_hardware("h100_sxm")
    dense_s, _ = run(gemm(8192, 8192, 8192), h100)
    sparse_s, _ = run(gemm(8192, 8192, 8192, weight_sparsity=SPARSE_2_4), h100)
    # sparse_tensor_speedup bf16 = 2.0 (H100 datasheet): half the compute time
    assert sparse_s["compute_s"][0] == pytest.approx(dense_s["compute_s"][0] / 2)


def test_cpu_gemm_at_peak_times_gemm_efficiency():
    cpu = load_hardware("cpu_ci")
    metrics, _ = run(gemm(1024, 1024, 1024, DType.FP32), cpu)
    rate = cpu.peak_flops(DType.FP32) * cpu.gemm_efficiency
    assert metrics["compute_s"][0] == pytest.approx(2 * 1024**3 / rate)
    assert metrics["overhead_s"][0] == pytest.approx(cpu.launch_overhead_s)


def test_a_dtype_the_array_cannot_multiply_is_an_error_for_that_config_only():
    int8_only = make_array(macs_per_pe_per_cycle={DType.INT8: 1}, default_dtype=DType.INT8)
    metrics, errors = run(gemm(64, 64, 64), make_array(), int8_only)
    assert errors[0] is None and "dtype 'bf16' is not supported" in errors[1]
    assert np.isfinite(metrics["latency_s"][0]) and np.isnan(metrics["latency_s"][1])


def test_many_configs_at_once_equal_each_one_alone():
    graph = OpGraph(name="g", ops=(gemm(1, 4096, 4096).ops[0], gemm(512, 1024, 256, count=4).ops[0]))
    specs = [
        make_array(rows=r, cols=c, dram_bytes_per_cycle=b)
        for r, c, b in ((8, 8, 4), (64, 32, 64), (128, 128, 8))
    ]
    together, _ = run(graph, *specs)
    for i, spec in enumerate(specs):
        alone, _ = run(graph, spec)
        assert {k: v[i] for k, v in together.items()} == {k: v[0] for k, v in alone.items()}


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("bandwidth", [4.0, 64.0, float("inf")])
def test_roofline_is_a_lower_bound_of_the_systolic_engine_on_gemms(dataflow, bandwidth):
    from hwmodels.systolic import Dataflow

    array = make_array(rows=32, cols=16, dataflow=Dataflow(dataflow), dram_bytes_per_cycle=bandwidth)
    for m, n, k in ((1, 4096, 4096), (128, 128, 128), (100, 37, 250), (2048, 64, 512)):
        graph = gemm(m, n, k)
        bound, _ = run(graph, array)
        cycle = summarize(simulate(graph, array), array)["latency_s"]
        assert bound["latency_s"][0] <= cycle, (m, n, k)


def test_roofline_is_a_lower_bound_of_the_gpu_engine_on_llm_gemms():
    h100 = load_hardware("h100_sxm")
    for m, n, k in ((1, 4096, 4096), (16, 11008, 4096), (2048, 4096, 4096), (8192, 8192, 8192)):
        graph = gemm(m, n, k)
        bound, _ = run(graph, h100)
        assert bound["latency_s"][0] <= summarize(simulate(graph, h100), h100)["latency_s"], (m, n, k)
