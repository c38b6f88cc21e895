"""The project's base error: every error a user can act on derives from it.

The CLI catches `CodesignError` and prints its message as one line on stderr with a non-zero exit;
library code raises it (or a subclass) and never prints or exits.
"""


class CodesignError(ValueError):
    """An input problem the user can fix: the message names the field, the value and what is valid."""


class WorkloadError(CodesignError):
    """A workload (GEMM shape, topology file, op graph, model) is malformed."""
