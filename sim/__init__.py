"""Simulation: the engines, `simulate()`, and the `codesign` command line."""

from sim.simulate import simulate, summarize

__all__ = ["simulate", "summarize"]
