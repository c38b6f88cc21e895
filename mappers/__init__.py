"""Mappers: for one op on one device, the candidate mappings (mappers yield, sim costs, one picks)."""

from mappers.systolic import DATAFLOW_DIMS, SystolicMapping, candidate_mappings, gemm_dims

__all__ = ["DATAFLOW_DIMS", "SystolicMapping", "candidate_mappings", "gemm_dims"]
