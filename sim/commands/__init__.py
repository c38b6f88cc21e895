"""Subcommands of `codesign`: each module has `add_parser(subparsers)`, which sets `run`."""

from sim.commands import calibrate, compare, measure, plot, presets, simulate, sweep, trace

COMMANDS = (presets, simulate, trace, sweep, plot, measure, compare, calibrate)
