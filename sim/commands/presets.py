"""`codesign presets`: the hardware presets, the systems, the serving stacks and the model zoo, with
where their numbers come from."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "presets", help="list hardware presets, systems, serving stacks and zoo models"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hwmodels import list_presets, load_hardware

    print("Hardware presets (use with --hw NAME; --set field=value overrides a field):")
    for name in list_presets():
        spec = load_hardware(name)
        print(f"  {name:<20} {spec.description}")
        print(f"  {'':<20} source: {spec.source}")
        for field, label in (("kernel_fractions", "tensor"), ("kernel_bandwidth_fractions", "bandwidth")):
            if kernels := getattr(spec, field, {}):  # the names --attention-kernel / --gemm-kernel take
                named = ", ".join(f"{name} {fraction:g}" for name, fraction in sorted(kernels.items()))
                print(f"  {'':<20} kernel {label} fractions: {named}")
    from hwmodels.system_loader import list_system_presets, load_system

    print("\nSystems of devices (use with simulate --system NAME; --set group.count=N, links.NAME.FIELD=V):")
    for name in list_system_presets():
        system = load_system(name)
        print(f"  {name:<20} {system.description}")
        print(f"  {'':<20} source: {system.source}")
    from workloads.stacks import STACKS

    print("\nServing stacks (use with simulate --model M --stack NAME on a GPU or a system of GPUs):")
    for name, stack in STACKS.items():
        extras = []
        if stack.step_host_s:
            extras.append(f"host time {stack.step_host_s * 1e3:g} ms a step")
        if stack.prefill_token_budget and stack.budget_covers_model_len:
            budget = f"the model's context length, at least {stack.prefill_token_budget:,}"
            extras.append(f"prefill steps of whole prompts up to {budget} tokens")
        elif stack.prefill_token_budget:
            extras.append(f"prefill steps of whole prompts up to {stack.prefill_token_budget:,} tokens")
        print(f"  {name:<27} {stack.why}" + (f"; {'; '.join(extras)}" if extras else ""))
    from workloads.zoo import ZOO  # its names and sources, without torch (workloads.zoo.configs)

    print("\nModels (use with --model NAME; or --model path/to/file.py:factory):")
    for name, entry in ZOO.items():
        print(f"  {name:<20} {entry.task.value:<10} source: {entry.source}")
    return 0
