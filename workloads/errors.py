"""The project's base error: every error a user can act on derives from it; and the warning a
traced model's unmodeled ops raise.

The CLI catches `CodesignError` and prints its message as one line on stderr with a non-zero exit;
library code raises it (or a subclass) and never prints or exits.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workloads.op import OpGraph


class CodesignError(ValueError):
    """An input problem the user can fix: the message names the field, the value and what is valid."""


class WorkloadError(CodesignError):
    """A workload (GEMM shape, topology file, op graph, model) is malformed."""


class UnmodeledOpWarning(UserWarning):
    """A traced model ran aten ops that have no formula; they are kept in the graph, flagged."""


def warn_unmodeled(graph: OpGraph) -> None:
    """`UnmodeledOpWarning` listing `graph`'s unmodeled aten ops with their counts, if it has any
    (after a trace, and again when a traced graph is read back from the trace cache)."""
    counts = Counter(op.aten for op in graph.unmodeled)
    if counts:
        listed = ", ".join(f"{aten_op} (x{n})" for aten_op, n in counts.most_common())
        warnings.warn(
            f"{graph.name}: {sum(counts.values())} op(s) have no formula and are kept, flagged "
            f"unmodeled (not counted as zero work): {listed}",
            UnmodeledOpWarning,
            stacklevel=3,
        )
