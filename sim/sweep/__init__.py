"""Design-space sweeps: the spec, its axes and constraints, the configs, the workers and the
Parquet store. `sweep()` runs one (`sim.sweep.run`)."""

from sim.sweep.run import SweepInterrupted, SweepResult, sweep

__all__ = ["SweepInterrupted", "SweepResult", "sweep"]
