"""Warnings raised under a command go to stderr as one line each, named after the command."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def warnings_to_stderr(command: str) -> Iterator[None]:
    """Collect the warnings raised inside the block; when it ends normally, print each as
    ``codesign COMMAND: warning: MESSAGE`` on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        print(f"codesign {command}: warning: {warning.message}", file=sys.stderr)
