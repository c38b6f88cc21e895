"""What a command says on stderr besides its errors: warnings, one line each named after the
command, and the exit status of an interrupted run."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

#: Exit status after Ctrl-C, as a shell reports a process ended by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130


def warning_line(command: str, message: object) -> None:
    """Print ``codesign COMMAND: warning: MESSAGE`` on stderr."""
    print(f"codesign {command}: warning: {message}", file=sys.stderr)


@contextmanager
def warnings_to_stderr(command: str) -> Iterator[None]:
    """Collect the warnings raised inside the block; when it ends normally, print each as
    ``codesign COMMAND: warning: MESSAGE`` on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        warning_line(command, warning.message)
