"""A model's step as a software stack runs it on a GPU (`workloads.stacks`).

A stack changes four things about a step beside its kernels' fusion (which the graph carries):

* how its kernels are launched (`Stack.timing`): replayed from a CUDA graph, dispatched one by one
  by an eager framework, or launched by a native runtime; a stack that captures graphs for decode
  only runs its prefill eagerly. The spec is put in that state as a measured row's `timing` puts
  it (`sim.measured.compare.timed_as`);
* which attention and weight-only GEMM implementations run (`workloads.stacks.stack_kernels`):
  their traits where the model holds them, their calibrated fractions where the preset has them;
* the host work each step waits for (`Stack.step_host_s`: a synchronous engine loop scheduling the
  next step, preparing its inputs and turning the sampled tokens into Python objects), one row of
  its own (`with_host_wait`) so that the step's total is still the sum of its rows;
* how many prefill steps its scheduler makes of a batch of prompts (`Stack.prefill_steps`: whole
  prompts up to its token budget): the command line simulates each distinct step once and repeats
  its rows (`repeated`), the host row once a step.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from hwmodels.gpu import GPUSpec
from sim.columns import SUM_COLUMNS
from sim.cost import with_energy
from sim.engines.gpu.engine import host_wait_row
from sim.measured.compare import timed_as
from workloads.op import OpGraph
from workloads.stacks import Stack, module_gemm_kernels


def launched_as(hardware: GPUSpec, stack: Stack, phase: str) -> GPUSpec:
    """`hardware` as `stack` launches a `phase` step's kernels (`Stack.timing`)."""
    return timed_as(hardware, stack.timing(phase))


def with_stack_module_kernels(graph: OpGraph, stack_name: str, weights: str) -> OpGraph:
    """`graph` with the weight GEMMs `stack_name` runs as a kernel of their own by module
    (`workloads.stacks.MODULE_GEMM_KERNELS`)."""
    return with_module_kernels(graph, module_gemm_kernels(stack_name, weights))


def with_module_kernels(graph: OpGraph, assignments: str) -> OpGraph:
    """`graph` with each weight GEMM whose module name ends with a ``module=kernel`` pair's module
    (pairs joined by ``;``: `workloads.stacks.MODULE_GEMM_KERNELS`) run as that kernel (its
    ``kernel`` attr, which `sim.engines.gpu` takes over the spec-wide one)."""
    kernels = dict(pair.split("=", 1) for pair in assignments.split(";") if pair)
    if not kernels:
        return graph
    ops = []
    for op in graph.ops:
        kernel = next((k for module, k in kernels.items() if op.module.endswith(module)), "")
        if kernel and op.is_gemm_shaped and dict(op.attrs).get("weight_is_param") == 1:
            op = dataclasses.replace(op, attrs=(*op.attrs, ("kernel", kernel)))
        ops.append(op)
    return dataclasses.replace(graph, ops=tuple(ops))


def with_host_wait(
    results: pd.DataFrame, hardware: GPUSpec, seconds: float, why: str, steps: int = 1
) -> pd.DataFrame:
    """`results` (a step's rows from `sim.simulate.simulate`) with one more row: the `seconds` each
    of `steps` steps waits for its engine's host work, the GPU idle (`host_wait_row`); none when
    `seconds` is 0."""
    if seconds <= 0:
        return results
    row = with_energy(pd.DataFrame([host_wait_row(hardware, seconds, why)]), hardware)
    return pd.concat([results, repeated(row, steps, "") if steps > 1 else row], ignore_index=True)


#: Result columns that count what a step does (a total sums them): `repeated` multiplies them.
REPEATED_COLUMNS = (*SUM_COLUMNS, "peak_macs", "launches")


def repeated(results: pd.DataFrame, times: int, label: str) -> pd.DataFrame:
    """`results` for `times` identical steps: every counted column (`REPEATED_COLUMNS`) times
    `times`, ratios (utilization) as they are, each layer prefixed ``{times}x {label}: `` where
    it repeats, so a total is still the sum of the rows."""
    if times == 1 and not label:
        return results
    results = results.copy()
    for column in REPEATED_COLUMNS:
        if column in results.columns:
            results[column] = results[column] * times
    prefix = f"{times}x {label}: " if label else f"{times}x "
    results["layer"] = prefix + results["layer"].astype(str)
    return results
