"""`codesign sweep SPEC.yaml --out DIR`: a design-space sweep into a Parquet dataset, with a progress
bar on stderr and a summary (configs done, failed and reused, rate, the best config per objective
and workload) when it ends.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from sim.commands.stderr import EXIT_INTERRUPTED, warnings_to_stderr

if TYPE_CHECKING:
    from sim.sweep import SweepResult
    from sim.sweep.spec import SweepSpec
    from sim.sweep.system_sweep import SystemSweepSpec


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="run a design-space sweep from a YAML spec into a Parquet dataset",
        description="Evaluate every config of a sweep spec (base hardware, axes, constraints, "
        "workloads, fidelity, objectives) on every workload; one Parquet part per finished chunk "
        "in --out, so an interrupted sweep finishes with --resume.",
    )
    parser.add_argument("spec", metavar="SPEC.yaml", help="the sweep spec (see examples/sweep_quick.yaml)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (a Parquet dataset)")
    parser.add_argument(
        "--engine",
        default="local",
        choices=["local", "ray"],
        help="local process pool (default) or a Ray cluster",
    )
    parser.add_argument("--address", help="Ray cluster address (--engine ray; default: a local instance)")
    parser.add_argument("--workers", type=int, help="worker processes or Ray CPUs (default: all CPUs)")
    parser.add_argument("--resume", action="store_true", help="finish the sweep already in --out")
    parser.add_argument("--force", action="store_true", help="replace another sweep's results in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # pandas, numpy, pyarrow, yaml: imported here, so the parser needs none of them
    from sim.sweep import SweepInterrupted, sweep
    from sim.sweep.system_sweep import SystemSweepSpec, load_any_sweep_spec

    spec = load_any_sweep_spec(args.spec)
    if isinstance(spec, SystemSweepSpec):  # a system of devices as the base (sim/sweep/system_sweep.py)
        return _run_system_sweep(args, spec)
    bar = _ProgressBar(spec.name, enabled=not args.no_progress)
    try:
        with warnings_to_stderr("sweep"):  # printed only when the sweep finishes, after the bar
            try:
                result = sweep(
                    spec,
                    args.out,
                    engine=args.engine,
                    workers=args.workers,
                    resume=args.resume,
                    force=args.force,
                    address=args.address,
                    progress=bar.update,
                    announce=_announce,
                )
            finally:
                bar.close()
    except SweepInterrupted as error:
        print(f"codesign sweep: {error}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(summary(spec, result))
    return 0


def _run_system_sweep(args: argparse.Namespace, spec: SystemSweepSpec) -> int:
    """A sweep over a system's fields: in this process (its placements and op costs are shared
    across configs; a thousand configs take seconds at roofline fidelity)."""
    from sim.sweep.system_sweep import sweep_system

    bar = _ProgressBar(spec.name, enabled=not args.no_progress)
    try:
        with warnings_to_stderr("sweep"):
            result = sweep_system(spec, args.out, resume=args.resume, force=args.force, progress=bar.update)
    finally:
        bar.close()
    print(summary(spec, result))
    return 0


def summary(spec: SweepSpec, result: SweepResult) -> str:
    """Counts, rate and the best config per objective and workload, as text."""
    from sim.cost import TDP_BOUNDED_COLUMNS, TDP_ENERGY_NOTE
    from sim.sweep.store import best_configs, read_sweep

    frame = read_sweep(result.path)
    failed = frame.loc[frame["error"].notna(), "config_id"].nunique()
    rate = result.ran / result.seconds if result.seconds else 0.0
    lines = [
        f"sweep {spec.name!r} ({spec.fidelity.value}): {result.configs:,} configs x {len(spec.workloads)} "
        f"workloads -> {result.path}",
        f"  ran {result.ran:,} configs in {result.seconds:.1f} s ({rate:,.1f} configs/s); "
        f"{result.reused:,} already done; {failed:,} failed; {result.excluded:,} left out by constraints",
    ]
    if failed:
        first = frame.loc[frame["error"].notna()].iloc[0]
        lines.append(f"  e.g. config {first['config_id']}: {first['error']}")
    objectives = {objective.column: objective.goal.value for objective in spec.objectives}
    for _, row in best_configs(frame, objectives).iterrows():
        fields = ", ".join(f"{name}={row[name]}" for name in spec.swept_fields)
        value = f"{row[row['objective']]:.6g}"
        if row.get("energy_basis") == TDP_ENERGY_NOTE and row["objective"] in TDP_BOUNDED_COLUMNS:
            value += f" ({TDP_BOUNDED_COLUMNS[row['objective']]})"  # energy as TDP × time
        lines.append(
            f"  best {row['objective']} ({row['goal']}) on {row['workload']}: {value} "
            f"at config {row['config_id']} ({fields})"
        )
    return "\n".join(lines)


def _announce(line: str) -> None:
    """What the sweep does before its progress bar appears (tracing workloads), on stderr."""
    print(f"codesign sweep: {line}", file=sys.stderr, flush=True)


class _ProgressBar:
    """A tqdm bar on stderr (rate and time left), made when the sweep knows how many configs run."""

    def __init__(self, name: str, *, enabled: bool) -> None:
        self.name, self.enabled, self.bar = name, enabled, None

    def update(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.name, unit="config", file=sys.stderr, smoothing=0.05)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
