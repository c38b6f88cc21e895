"""The FPGA engine: FlightLLM-style overlays (`hwmodels.fpga.FPGASpec`) timed by instruction
streams on in-order units (`timeline`), built per op (`program`) from the compiler's mapping
(`mappers.fpga`); energy from the component estimators (`cost`); instruction storage of
length-adaptive compilation (`storage`). `MODEL` registers it for specs of kind ``fpga``.
"""

from __future__ import annotations

from hwmodels.fpga import FPGASpec
from mappers.fpga import chain_allocation, weight_format
from sim.engines.fpga.cost import fpga_energy
from sim.engines.fpga.engine import simulate_on_fpga
from sim.engines.fpga.summary import run_note
from sim.engines.registry import DeviceModel
from workloads.annotate import SPARSE_2_4
from workloads.dtypes import DType
from workloads.op import Op, Role


def math_dtype(op: Op) -> DType:
    """INT8 when the activations are 8-bit or narrower (weights are unpacked to INT8), else FP16."""
    inputs = [o.dtype for o in op.operands if o.role is Role.INPUT]
    return DType.INT8 if inputs and all(d.bits <= 8 for d in inputs) else DType.FP16


def matrix_rates(spec: FPGASpec, dtype: DType) -> tuple[float, float, float, float]:
    """The MPE's peak on `dtype` for dense GEMMs and attention; 2:4 weights at the sparse chain's
    rate (`mappers.fpga.chain_allocation`)."""
    dense = spec.peak_flops(dtype)
    sparse = dense * chain_allocation(spec.overlay.chain_length, 0.5, (SPARSE_2_4.n, SPARSE_2_4.m)).speedup
    return dense, sparse, dense, dense


def stored_weights(op: Op, spec: FPGASpec) -> tuple[float, float]:
    """A GEMM's weight as the overlay's compiler stores it (`mappers.fpga.weight_format`: the
    workload's or `weight_bits` bits, group scales, N:M kept values and their indices): bytes per
    run, batch · K · N · hbm_bytes_per_weight, and the sparse DSP chain's speedup over a dense
    chain (`chain_allocation`), which multiplies the dense matrix rate."""
    fmt = weight_format(op, spec)
    batch = op.dim("B") if "B" in op.dim_names else 1
    chain = chain_allocation(spec.overlay.chain_length, fmt.density, fmt.nm)
    return batch * op.dim("K") * op.dim("N") * fmt.hbm_bytes_per_weight, chain.speedup


def vector_flops(spec: FPGASpec) -> float:
    """The SFUs: one FP16 operation per lane per cycle on every core."""
    return spec.overlay.sfu_lanes * spec.overlay.cores * spec.clock_hz


MODEL = DeviceModel(
    simulate_op=simulate_on_fpga,
    math_dtype=math_dtype,
    matrix_rates=matrix_rates,
    vector_flops=vector_flops,
    energy=fpga_energy,
    run_note=run_note,
    stored_weights=stored_weights,
)
