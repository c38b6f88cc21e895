"""The `codesign` command line: one program, one subcommand per module in `sim.commands`.

The command-line layer only parses and prints; each subcommand calls a public function. Any
`CodesignError` (bad preset, field, file, shape) becomes one line on stderr and exit status 2; Ctrl-C
one line and exit status 130 (a command that keeps what it finished says so in the exception).
"""

from __future__ import annotations

import argparse
import functools
import sys
import warnings
from collections.abc import Sequence

from sim.commands import COMMANDS
from sim.commands.stderr import EXIT_INTERRUPTED, warning_line
from workloads.errors import CodesignError

#: Exit status for input errors (argparse uses the same for usage errors).
EXIT_INPUT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codesign",
        description="Hardware simulation and accelerator co-design for ML workloads.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.showwarning = functools.partial(_warning_line, args.command)
    try:
        return args.run(args)
    except CodesignError as error:
        print(f"codesign {args.command}: error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except BrokenPipeError:  # e.g. `codesign simulate ... | head`
        return 0
    except KeyboardInterrupt as interrupt:  # Ctrl-C; a command may say what it kept, e.g. measure
        kept = f": {interrupt}" if str(interrupt) else ""
        print(f"codesign {args.command}: interrupted{kept}", file=sys.stderr)
        return EXIT_INTERRUPTED


def _warning_line(command: str, message: Warning | str, *_: object, **__: object) -> None:
    """Any warning not collected by a command prints as one line, ``codesign CMD: warning: ...``."""
    warning_line(command, message)


if __name__ == "__main__":
    sys.exit(main())
