"""The FPGA engine: one row per op on an `FPGASpec`, timed by its instruction stream.

Each op becomes one core's program (`program`), scheduled on in-order units (`timeline`). A
GEMM-shaped op is planned in each candidate mode of the matrix engine (`mappers.fpga`) and the
faster kept. The row's time is the timeline's makespan, or the busiest unit's total when the spec
asks for the closed form (`FPGATiming`); rows carry both (`timeline_s`, `closed_form_s`), so the
gap between the two is read off any result.

Columns of FPGA rows only: `mode`, `mapping`, `bottleneck` (the busiest unit), `timeline_s`,
`closed_form_s`, busy seconds per unit (`ld_busy_s`, `st_busy_s`, `mm_busy_s`, `mv_busy_s`,
`sfu_busy_s`), `hbm_utilization` (bytes over the time at the datasheet rate), `dsp_utilization`
(useful MACs over the MPE's peak for the time), `activations_on_chip`, `executed_macs` (MAC slots
the MPE spent, padding included, sparse weights skipped), `sram_bytes` (buffer traffic),
`metadata_bytes` (N:M indices read), `instructions`, `instruction_bytes`, `core_share`, and the
resources the overlay uses (`dsps_used`, `onchip_bytes_used`, `channels_used`).
"""

from __future__ import annotations

import math

from hwmodels.fpga import FPGASpec, FPGATiming
from mappers.fpga import MatrixMode, mapping_candidates
from sim.columns import op_columns
from sim.engines.fpga.program import OpPlan, attention_plan, gemm_plan, gemv_plan, sfu_plan
from sim.engines.fpga.timeline import Schedule, Unit, schedule
from workloads.op import Op, OpKind

ENGINE = "fpga"
_PLANNERS = {MatrixMode.GEMV: gemv_plan, MatrixMode.GEMM: gemm_plan}
#: Unit busy-time columns of a row.
BUSY_COLUMNS = {unit: f"{unit.label}_busy_s" for unit in Unit if unit is not Unit.SYS}


def plan_op(op: Op, spec: FPGASpec) -> tuple[OpPlan, Schedule]:
    """The op's plan and schedule: for a GEMM-shaped op the faster of its candidate modes."""
    streams = spec.core_streams
    if op.kind is OpKind.ATTENTION:
        plan = attention_plan(op, spec, streams)
        return plan, schedule(plan.program)
    if op.is_gemm_shaped:
        best: tuple[OpPlan, Schedule] | None = None
        for mode in mapping_candidates(op):
            plan = _PLANNERS[mode](op, spec, streams)
            timed = schedule(plan.program)
            if best is None or _seconds(timed, spec) < _seconds(best[1], spec):
                best = (plan, timed)
        assert best is not None
        return best
    plan = sfu_plan(op, spec, streams)
    return plan, schedule(plan.program)


def _seconds(timed: Schedule, spec: FPGASpec) -> float:
    cycles = timed.closed_form if spec.timing is FPGATiming.CLOSED_FORM else timed.makespan
    return cycles / spec.clock_hz


def simulate_on_fpga(op: Op, spec: FPGASpec) -> list[dict[str, object]]:
    """The row of one op on `spec` (module docstring)."""
    if op.unmodeled:
        return [_unmodeled(op, spec)]
    plan, timed = plan_op(op, spec)
    clock, n = spec.clock_hz, op.count
    seconds = _seconds(timed, spec)
    compute = max((timed.busy.get(u, 0.0) for u in (Unit.MM, Unit.MV, Unit.SFU)), default=0.0)
    total_cycles = seconds * clock
    compute_cycles = min(compute, total_cycles)
    math_dtype = plan.weights.math_dtype if plan.weights else spec.default_dtype
    peak_macs_per_s = spec.peak_flops(math_dtype) / 2
    macs = op.macs if op.kind in (OpKind.GEMM, OpKind.CONV, OpKind.ATTENTION) else 0
    dram = plan.read_bytes + plan.write_bytes
    used = spec.resources
    row = {
        **op_columns(op, spec.name, ENGINE),
        "count": n,
        "compute_cycles": compute_cycles * n,
        "stall_cycles": (total_cycles - compute_cycles) * n,
        "total_cycles": total_cycles * n,
        "latency_s": seconds * n,
        "macs": macs * n,
        "flops": op.flops * n,
        "dram_read_bytes": plan.read_bytes * n,
        "dram_write_bytes": plan.write_bytes * n,
        "dram_bytes": dram * n,
        "sram_bytes": plan.buffer_bytes * n,
        "utilization": macs / (peak_macs_per_s * seconds) if seconds > 0 else 0.0,
        "peak_macs": peak_macs_per_s * seconds * n,
        "mode": plan.mode,
        "mapping": plan.mapping,
        "math_dtype": math_dtype.value,
        "bottleneck": timed.bottleneck.label if timed.bottleneck else "",
        "timeline_s": timed.makespan / clock * n,
        "closed_form_s": timed.closed_form / clock * n,
        **{
            column: (timed.busy.get(unit, 0.0) + plan.overlapped.get(unit, 0.0)) / clock * n
            for unit, column in BUSY_COLUMNS.items()
        },
        "hbm_utilization": dram / (seconds * spec.dram_bytes_per_s) if seconds > 0 else 0.0,
        "dsp_utilization": macs / (peak_macs_per_s * seconds) if seconds > 0 else 0.0,
        "activations_on_chip": plan.on_chip,
        "executed_macs": plan.executed_macs * n,
        "metadata_bytes": plan.metadata_bytes * n,
        "instructions": plan.program.instruction_count * n,
        "instruction_bytes": plan.program.instruction_bytes * n,
        "core_share": spec.core_streams.share,
        "dsps_used": used.dsps,
        "onchip_bytes_used": used.onchip_bytes,
        "channels_used": used.channels,
    }
    return [row]


def _unmodeled(op: Op, spec: FPGASpec) -> dict[str, object]:
    nan = math.nan
    return {
        **op_columns(op, spec.name, "none", unmodeled=True),
        "count": op.count,
        "compute_cycles": nan,
        "stall_cycles": nan,
        "total_cycles": nan,
        "latency_s": nan,
        "macs": op.macs * op.count,
        "flops": op.flops * op.count,
        "dram_read_bytes": nan,
        "dram_write_bytes": nan,
        "dram_bytes": nan,
        "utilization": nan,
        "peak_macs": nan,
        "mapping": f"{op.aten or op.kind.value} is not modeled",
    }
