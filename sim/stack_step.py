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
  prompts up to its token budget): each distinct step is simulated once and its rows repeated
  (`simulate_steps`, `repeated`), the host row once a step.

`stack_spec` and `simulate_steps` are what `codesign simulate --stack` and a sweep's ``stack:``
workloads (`sim.sweep`) both run, so the two give the same number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from hwmodels.gpu import GPUSpec
from sim.columns import SUM_COLUMNS
from sim.cost import with_energy
from sim.engines.gpu.engine import host_wait_row
from sim.measured.compare import timed_as
from workloads.errors import WorkloadError
from workloads.op import Op, OpGraph
from workloads.stacks import STACKS, Stack, module_gemm_kernels, stack_kernels


def launched_as(hardware: GPUSpec, stack: Stack, phase: str) -> GPUSpec:
    """`hardware` as `stack` launches a `phase` step's kernels (`Stack.timing`)."""
    return timed_as(hardware, stack.timing(phase))


def stack_spec(hardware: GPUSpec, stack_name: str, phase: str, *, group: int, weights: str) -> GPUSpec:
    """`hardware` as the stack `stack_name` runs a `phase` step of a model with `group` query heads
    per K/V head and `weights` (a dtype name): its weight-only GEMM and attention kernels
    (`workloads.stacks.stack_kernels`, an error where the GPU cannot run its attention kernel) and
    its launch mode (`launched_as`)."""
    from mappers.gpu_attention import attention_kernel_refusal
    from sim.engines.gpu.engine import modeled_kernels

    stack = STACKS[stack_name]
    gemm, attention = stack_kernels(stack_name, stack, phase, group=group, weights=weights)
    refusal = attention_kernel_refusal(attention, hardware)
    if refusal:
        raise WorkloadError(f"stack {stack_name!r}: attention kernel {attention!r}: {refusal}")
    if gemm or attention:
        known = modeled_kernels()
        hardware = hardware.with_kernels(gemm=gemm or None, attention=attention or None, known=known)
    return launched_as(hardware, stack, phase)


def step_graphs(
    sizes: Sequence[int], whole: OpGraph, trace: Callable[[int], OpGraph]
) -> tuple[tuple[OpGraph, int], ...]:
    """The steps of `sizes` prompts each (`workloads.stacks.Stack.prefill_steps`) as
    `simulate_steps` takes them: each distinct size once, largest first, with how many steps have
    it; the batch's own graph `whole` where a step holds all of it, else ``trace(size)``."""
    return tuple(
        (whole if size == whole.batch else trace(size), list(sizes).count(size))
        for size in sorted(set(sizes), reverse=True)
    )


def simulate_steps(
    steps: Sequence[tuple[OpGraph, int]], hardware: GPUSpec, host_s: float = 0.0, why: str = ""
) -> pd.DataFrame:
    """The rows of a step that runs as `steps`, each (graph, how many times it runs): every
    distinct graph simulated once, its rows `repeated` and labelled with its batch (``4x b4: ``)
    where there are several steps, and the `host_s` each step waits for as one row
    (`with_host_wait`), so the total is the sum of the rows."""
    from sim.simulate import simulate

    if len(steps) == 1 and steps[0][1] == 1:
        results = simulate(steps[0][0], hardware)
    else:
        frames = [repeated(simulate(graph, hardware), count, f"b{graph.batch}") for graph, count in steps]
        results = pd.concat(frames, ignore_index=True)
    return with_host_wait(results, hardware, host_s, why, steps=sum(count for _, count in steps))


def with_stack_module_kernels(graph: OpGraph, stack_name: str, weights: str) -> OpGraph:
    """`graph` with the weight GEMMs `stack_name` runs as a kernel of their own by module
    (`workloads.stacks.MODULE_GEMM_KERNELS`), and its MoE experts as it runs them for `weights` (a
    dtype name; '' for the traced one): `with_stack_experts`."""
    experts = with_stack_experts(graph, stack_name, weights)
    return with_module_kernels(experts, module_gemm_kernels(stack_name, weights))


def with_stack_experts(graph: OpGraph, stack_name: str, weights: str) -> OpGraph:
    """`graph` with its mixture-of-experts experts as the stack `stack_name` runs them with `weights`
    (a dtype name; '' for the traced one): in 16 bits where its quantization to `weights` does not
    reach them (`Stack.unquantized_expert_weights`), and their 16-bit GEMMs as its expert kernel
    (`Stack.expert_gemm_kernel`; a weight-only engine's experts run its own mixed-input kernel, the
    preset's here); as it is for a name no stack has."""
    from workloads.annotate import with_unquantized_experts
    from workloads.fusion import is_expert_module

    stack = STACKS.get(stack_name)
    if stack is None:
        return graph
    unquantized = weights in stack.unquantized_expert_weights
    if unquantized:
        graph = with_unquantized_experts(graph)
    if not stack.expert_gemm_kernel or not (unquantized or weights in SIXTEEN_BIT_WEIGHTS):
        return graph
    ops = tuple(
        with_kernel(op, stack.expert_gemm_kernel)
        if _weight_gemm(op) and is_expert_module(op.module)
        else op
        for op in graph.ops
    )
    return dataclasses.replace(graph, ops=ops)


#: Weight dtype names a graph keeps its 16-bit weights under ('' is the traced dtype, 16 bits in the
#: zoo).
SIXTEEN_BIT_WEIGHTS = frozenset({"", "fp16", "bf16"})


def _weight_gemm(op: Op) -> bool:
    """Whether `op` is a GEMM-shaped op on a parameter weight, which a stack may run as a kernel of
    its own."""
    return op.is_gemm_shaped and dict(op.attrs).get("weight_is_param") == 1


def with_kernel(op: Op, kernel: str) -> Op:
    """`op` run as `kernel` (its ``kernel`` attr, replacing any it had)."""
    attrs = tuple(attr for attr in op.attrs if attr[0] != "kernel")
    return dataclasses.replace(op, attrs=(*attrs, ("kernel", kernel)))


def with_module_kernels(graph: OpGraph, kernels: Mapping[str, str]) -> OpGraph:
    """`graph` with each weight GEMM whose module name ends with one of `kernels`' module suffixes
    (`workloads.stacks.MODULE_GEMM_KERNELS`) run as its kernel (its ``kernel`` attr, which
    `sim.engines.gpu` takes over the spec-wide one)."""
    if not kernels:
        return graph
    ops = []
    for op in graph.ops:
        kernel = next((k for module, k in kernels.items() if op.module.endswith(module)), "")
        if kernel and _weight_gemm(op):
            op = with_kernel(op, kernel)
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
