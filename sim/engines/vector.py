"""Non-GEMM ops (norms, softmax, activations, elementwise, embedding lookups, copies) on the vector
unit beside the array, as a roofline: an op takes the longer of its arithmetic on the vector unit
and its bytes over DRAM.

Fusion policy: none. Every such op reads its inputs from DRAM and writes its outputs back, as
unfused eager PyTorch does; this is an upper bound on their time (a fused epilogue would hide
most of it behind the GEMMs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwmodels.systolic import SystolicArraySpec
from workloads.op import Op


@dataclass(frozen=True, kw_only=True)
class VectorTiming:
    compute_cycles: float  # FLOPs / vector-unit FLOPs per cycle
    memory_cycles: float  # DRAM bytes / DRAM bytes per cycle
    read_bytes: float
    write_bytes: float
    read_elements: int
    write_elements: int

    @property
    def total_cycles(self) -> float:
        return max(self.compute_cycles, self.memory_cycles)

    @property
    def stall_cycles(self) -> float:
        """Cycles the vector unit waits on DRAM beyond its own arithmetic."""
        return self.total_cycles - self.compute_cycles


def simulate_vector_op(op: Op, spec: SystolicArraySpec) -> VectorTiming:
    """The roofline time of one instance of `op` on `spec`'s vector unit and DRAM."""
    reads = [operand for operand in op.operands if not operand.role.is_written]
    writes = [operand for operand in op.operands if operand.role.is_written]
    read_bytes = sum(operand.bytes for operand in reads)
    write_bytes = sum(operand.bytes for operand in writes)
    bandwidth = spec.dram_bytes_per_cycle()
    return VectorTiming(
        compute_cycles=math.ceil(op.flops / spec.vector_flops),
        memory_cycles=0.0 if math.isinf(bandwidth) else (read_bytes + write_bytes) / bandwidth,
        read_bytes=read_bytes,
        write_bytes=write_bytes,
        read_elements=sum(operand.elements for operand in reads),
        write_elements=sum(operand.elements for operand in writes),
    )
