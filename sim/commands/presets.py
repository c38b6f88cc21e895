"""`codesign presets`: the hardware presets and the model zoo, with where their numbers come from."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("presets", help="list hardware presets and zoo models")
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
    from workloads.zoo import ZOO  # its names and sources, without torch (workloads.zoo.configs)

    print("\nModels (use with --model NAME; or --model path/to/file.py:factory):")
    for name, entry in ZOO.items():
        print(f"  {name:<20} {entry.task.value:<10} source: {entry.source}")
    return 0
