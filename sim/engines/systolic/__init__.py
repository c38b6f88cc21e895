"""The systolic-array engine: SCALE-Sim's fold-by-fold accounting, in closed form per fold
(`layer`), the result rows of each op (`rows`) and the array's cost model (`cost`).

`MODEL` registers it for specs of kind ``systolic`` (`sim.engines.registry`).
"""

from __future__ import annotations

from hwmodels.systolic import SystolicArraySpec
from mappers.systolic import compute_dtype
from sim.engines.registry import DeviceModel
from sim.engines.systolic.cost import systolic_design_cost, systolic_energy
from sim.engines.systolic.rows import simulate_on_array
from workloads.dtypes import DType
from workloads.op import Op, OpKind


def math_dtype(op: Op) -> DType:
    """The dtype the array multiplies in: attention's wider of Q and K; a GEMM's `compute_dtype`."""
    if op.kind is OpKind.ATTENTION:
        q, k = (next(o for o in op.operands if o.name == name) for name in ("Q", "K"))
        return max(q.dtype, k.dtype, key=lambda d: d.bits)
    return compute_dtype(op)


def matrix_rates(spec: SystolicArraySpec, dtype: DType) -> tuple[float, float, float, float]:
    """The array's peak for every class of matrix op: no sparse path, attention's matmuls on it too."""
    dense = spec.peak_flops(dtype)
    return dense, dense, dense, dense


MODEL = DeviceModel(
    simulate_op=simulate_on_array,
    math_dtype=math_dtype,
    matrix_rates=matrix_rates,
    vector_flops=lambda spec: spec.vector_flops * spec.clock_hz,
    energy=systolic_energy,
    design_cost=systolic_design_cost,
)
