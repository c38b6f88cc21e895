"""Turn a row of the SCALE-Sim reference data (tests/data/scalesim_reference.csv, made by
benchmarks/scalesim_reference/generate_reference.py) into our hardware spec and op, and our results
into SCALE-Sim's terms, so tests and benchmarks compare like with like.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from hwmodels.scalesim_cfg import (
    SCALESIM_CALC_PREFETCH_WORDS_PER_CYCLE,
    SCALESIM_CFG_FREQ_HZ,
    SCALESIM_KB,
    SCALESIM_WORD_BYTES,
)
from hwmodels.systolic import Dataflow, SystolicArraySpec
from workloads.op import Op, conv2d_op, gemm_op

REFERENCE_CSV = Path(__file__).parent / "data" / "scalesim_reference.csv"

#: SCALE-Sim's USER mode gives ifmap, filter and ofmap a DRAM port each (see hwmodels.scalesim_cfg).
SCALESIM_USER_PORTS = 3


def load_reference() -> pd.DataFrame:
    frame = pd.read_csv(REFERENCE_CSV)
    return frame[frame.get("error").isna()] if "error" in frame.columns else frame


def spec_for(case: pd.Series) -> SystolicArraySpec:
    """The spec `hwmodels.scalesim_cfg` reads from the case's `.cfg`."""
    prefetch_words_per_cycle = 0
    if case["bw_mode"] == "CALC":
        words_per_cycle = math.inf
        prefetch_words_per_cycle = SCALESIM_CALC_PREFETCH_WORDS_PER_CYCLE
    else:
        words_per_cycle = SCALESIM_USER_PORTS * float(case["bandwidth_words_per_cycle"])
    return SystolicArraySpec(
        name=str(case["case_id"]),
        rows=int(case["rows"]),
        cols=int(case["cols"]),
        dataflow=Dataflow(case["dataflow"]),
        ifmap_sram_bytes=int(case["ifmap_kb"]) * SCALESIM_KB,
        filter_sram_bytes=int(case["filter_kb"]) * SCALESIM_KB,
        ofmap_sram_bytes=int(case["ofmap_kb"]) * SCALESIM_KB,
        dram_bytes_per_s=words_per_cycle * SCALESIM_WORD_BYTES * SCALESIM_CFG_FREQ_HZ,
        calc_prefetch_bytes_per_s=prefetch_words_per_cycle * SCALESIM_WORD_BYTES * SCALESIM_CFG_FREQ_HZ,
        clock_hz=SCALESIM_CFG_FREQ_HZ,
    )


def op_for(case: pd.Series) -> Op:
    if case["kind"] == "gemm":
        return gemm_op(int(case["M"]), int(case["N"]), int(case["K"]), name=str(case["name"]))
    stride = int(case["stride"])
    return conv2d_op(
        ifmap_h=int(case["ifmap_h"]),
        ifmap_w=int(case["ifmap_w"]),
        filter_h=int(case["filter_h"]),
        filter_w=int(case["filter_w"]),
        channels=int(case["channels"]),
        num_filters=int(case["num_filters"]),
        stride_h=stride,
        stride_w=stride,
        name=str(case["name"]),
    )


def scalesim_ofmap_writes_artifact(case: pd.Series, folds: int) -> int:
    """SCALE-Sim's os dataflow adds ``arr_row + arr_col`` to its ofmap SRAM write count per fold
    (systolic_compute_os.create_ofmap_demand_mat adds the padded demand's shape[0] + shape[1]);
    no element is written there. Our count leaves it out; comparisons add it back."""
    if case["dataflow"] != "os":
        return 0
    return folds * (int(case["rows"]) + int(case["cols"]))
