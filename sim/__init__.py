"""Simulation: the engines, `simulate()`, and the `codesign` command line.

`simulate` and `summarize` are imported on first use (they bring pandas), so the command
line parses its arguments before loading either.
"""

import importlib
import sys
import types

#: Public names, and the module each comes from.
_LAZY_NAMES = {"simulate": "sim.simulate", "summarize": "sim.simulate"}


def __getattr__(name: str):
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


class _Package(types.ModuleType):
    """Keeps `sim.simulate` the function: importing the submodule `sim.simulate` binds the module to
    the package's attribute of the same name, which would hide the function from `__getattr__`."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _LAZY_NAMES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = ["simulate", "summarize"]
