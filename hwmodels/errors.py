"""Errors raised while loading or validating hardware specs."""

from workloads.errors import CodesignError


class HardwareSpecError(CodesignError):
    """A hardware spec, preset or override is invalid; the message names the field and the value."""
