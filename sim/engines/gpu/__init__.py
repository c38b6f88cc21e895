"""The GPU engine: tiled GEMMs (`gemm`) and attention kernels (`attention`) timed per CTA wave
(`timing`), every op's row (`engine`).

`MODEL` registers it for specs of kind ``gpu`` (`sim.engines.registry`).
"""

from __future__ import annotations

from hwmodels.gpu import GPUSpec
from mappers.gpu_attention import attention_problem
from mappers.gpu_gemm import gemm_problem
from sim.cost import tdp_energy
from sim.engines.gpu.engine import kernel_fractions, simulate_on_gpu
from sim.engines.gpu.knobs import calibration_knobs
from sim.engines.gpu.timing import mac_rate_per_sm
from sim.engines.registry import DeviceModel
from workloads.dtypes import DType
from workloads.op import Op, OpKind


def math_dtype(op: Op) -> DType:
    """The dtype the tensor cores multiply in, as the GEMM and attention mappers decide."""
    if op.kind is OpKind.ATTENTION:
        return attention_problem(op).math_dtype
    return gemm_problem(op).math_dtype


def matrix_rates(spec: GPUSpec, dtype: DType) -> tuple[float, float, float, float]:
    """Dense GEMMs at the dtype's `GPUSpec.tensor_fraction` (FP8's partial sums promoted as cuBLAS
    does by default, `GPUSpec.promoted_macs_per_s`), 2:4 sparse ones at the sparse rate (the dense
    one where the GPU has no sparse path, as cuSPARSELt falls back), attention's matmuls at
    `attention_tensor_fraction`, and the datasheet peak; the fractions as the GPU's tensor rate
    carries them from its reference SM's (`mac_rate_per_sm`, `GPUSpec.transferred_fraction`)."""
    per_sm = 2 * spec.sm_count  # FLOPs per MAC times SMs

    def gemm_rate(sparse: bool) -> float:  # FP8 with its partial sums promoted, as cuBLAS by default
        rate = mac_rate_per_sm(spec, dtype, sparse=sparse, fraction=spec.tensor_fraction(dtype))
        return spec.promoted_macs_per_s(dtype, rate) * per_sm

    dense = gemm_rate(sparse=False)
    sparse = dense
    if dtype in spec.sparse_tensor_speedup:
        sparse = gemm_rate(sparse=True)
    attention = mac_rate_per_sm(spec, dtype, sparse=False, fraction=spec.attention_tensor_fraction) * per_sm
    return dense, sparse, attention, mac_rate_per_sm(spec, dtype, sparse=False, fraction=1.0) * per_sm


MODEL = DeviceModel(
    simulate_op=simulate_on_gpu,
    math_dtype=math_dtype,
    matrix_rates=matrix_rates,
    vector_flops=lambda spec: spec.peak_cuda_core_flops,
    energy=tdp_energy,
    energy_is_upper_bound=True,
    kernel_fractions=kernel_fractions,
    calibration_knobs=calibration_knobs,
    validated_on_published=True,
    datasheet_peaks=True,
)
