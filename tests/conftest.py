"""Shared fixtures: small hardware specs built in code (no files), so tests state their inputs."""

from __future__ import annotations

import atexit
import math
import os
import shutil
import tempfile

import pytest
import torch

# Without a GPU the Triton kernels run in Triton's interpreter. `triton.jit` reads TRITON_INTERPRET
# when a kernel is defined, so it is set before any test module imports a kernel, whatever order
# the tests run in (tests/test_triton_compile.py compiles private copies with it unset).
if not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"
# Traced graphs go to a cache of this run's own (workloads/trace_cache.py), not the user's ~/.cache:
# made by the run unless the environment names one, and then removed when the run exits (the
# commands the tests start as subprocesses inherit the variable).
if "CODESIGN_CACHE_DIR" not in os.environ:
    os.environ["CODESIGN_CACHE_DIR"] = tempfile.mkdtemp(prefix="codesign_test_trace_cache_")
    atexit.register(shutil.rmtree, os.environ["CODESIGN_CACHE_DIR"], ignore_errors=True)

from hwmodels.systolic import Dataflow, SystolicArraySpec


def make_array(
    *,
    rows: int = 32,
    cols: int = 32,
    dataflow: Dataflow = Dataflow.OS,
    sram_bytes: int = 64 * 1024,
    dram_bytes_per_cycle: float = math.inf,
    clock_hz: float = 1e9,
    **fields,
) -> SystolicArraySpec:
    """A SCALE-Sim-like array: three equal SRAMs, bandwidth given per cycle."""
    return SystolicArraySpec(
        name="test_array",
        rows=rows,
        cols=cols,
        dataflow=dataflow,
        ifmap_sram_bytes=sram_bytes,
        filter_sram_bytes=sram_bytes,
        ofmap_sram_bytes=sram_bytes,
        dram_bytes_per_s=dram_bytes_per_cycle * clock_hz,
        clock_hz=clock_hz,
        **fields,
    )


@pytest.fixture
def array():
    return make_array
