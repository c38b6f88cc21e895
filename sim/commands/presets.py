"""`codesign presets`: the hardware presets, with where their numbers come from."""

from __future__ import annotations

import argparse

from hwmodels import list_presets, load_hardware


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("presets", help="list hardware presets")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print("Hardware presets (use with --hw NAME; --set field=value overrides a field):")
    for name in list_presets():
        spec = load_hardware(name)
        print(f"  {name:<20} {spec.description}")
        print(f"  {'':<20} source: {spec.source}")
    return 0
