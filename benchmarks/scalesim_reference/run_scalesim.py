"""Run SCALE-Sim v3 on a list of cases and print one JSON record per case.

This script is meant to be executed by the python of the separate SCALE-Sim
virtual environment (see ``setup_venv.sh``); it is the only file of the
project that imports ``scalesim``.  ``generate_reference.py`` drives it as a
subprocess.

Input: a JSON list of case objects, read from the file given as the first
argument or from stdin.  Each case has

* ``case_id`` (str), ``kind`` (``"gemm"`` or ``"conv"``), ``name`` (str);
* for GEMM: ``M``, ``N``, ``K`` -- ``(M x K) @ (K x N)``;
* for conv: ``ifmap_h``, ``ifmap_w``, ``filter_h``, ``filter_w``,
  ``channels``, ``num_filters``, ``stride``;
* ``dataflow`` (``os``/``ws``/``is``), ``rows``, ``cols``,
  ``ifmap_kb``, ``filter_kb``, ``ofmap_kb``,
  ``bw_mode`` (``CALC``/``USER``) and ``bandwidth_words_per_cycle``
  (used in USER mode only);
* optionally ``timeout_s``: the case is abandoned (reported as an error)
  when SCALE-Sim runs longer than this.

Output: one JSON line per case on stdout, holding the case's fields, every
column of SCALE-Sim's COMPUTE_REPORT.csv and DETAILED_ACCESS_REPORT.csv
(snake_case), ``scalesim_wall_s`` and ``scalesim_version``.  A case that
fails yields ``{"case_id": ..., "error": ...}`` instead.
"""

import contextlib
import csv
import importlib.metadata
import io
import json
import re
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from scalesim.scale_sim import scalesim

GEMM_HEADER = "Layer, M, N, K,"
CONV_HEADER = (
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"
)
CONV_FIELDS = ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "num_filters", "stride")
RUN_NAME = "run"


class CaseTimeout(Exception):
    """Raised by the SIGALRM handler when a case exceeds its ``timeout_s``."""


def _alarm(signum, frame):
    """SIGALRM handler: abandon the running case."""
    raise CaseTimeout("SCALE-Sim exceeded the case's timeout_s")


def snake_case(column: str) -> str:
    """Turn a SCALE-Sim report header such as ``Overall Util %`` into ``overall_util_pct``."""
    column = column.strip().replace("%", "pct").replace("(incl. prefetch)", "incl prefetch")
    return re.sub(r"[^0-9a-zA-Z]+", "_", column).strip("_").lower()


def config_text(case: dict) -> str:
    """Return the SCALE-Sim .cfg file contents for ``case``.

    In USER mode SCALE-Sim takes the ifmap/filter DRAM bandwidths from the
    ``[layout]`` bank bandwidths and only the ofmap one from ``Bandwidth``, so
    all three are set to the case's bandwidth (with one bank, so the bank
    divisibility assertion holds).  In CALC mode these values are ignored.
    """
    bw = int(case.get("bandwidth_words_per_cycle") or 10)
    return f"""[general]
run_name = {RUN_NAME}

[architecture_presets]
ArrayHeight : {case["rows"]}
ArrayWidth : {case["cols"]}
IfmapSramSzkB : {case["ifmap_kb"]}
FilterSramSzkB : {case["filter_kb"]}
OfmapSramSzkB : {case["ofmap_kb"]}
IfmapOffset : 0
FilterOffset : 10000000
OfmapOffset : 20000000
Bandwidth : {bw}
Dataflow : {case["dataflow"]}
ReadRequestBuffer : 32
WriteRequestBuffer : 32

[layout]
IfmapCustomLayout : False
IfmapSRAMBankBandwidth : {bw}
IfmapSRAMBankNum : 1
IfmapSRAMBankPort : 2
FilterCustomLayout : False
FilterSRAMBankBandwidth : {bw}
FilterSRAMBankNum : 1
FilterSRAMBankPort : 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth : {case["bw_mode"]}
UseRamulatorTrace : False
"""


def topology_text(case: dict) -> str:
    """Return the topology CSV for ``case``.

    SCALE-Sim drops the last comma-separated field of each row, hence the
    trailing commas.
    """
    name = case["name"]
    if case["kind"] == "gemm":
        return f"{GEMM_HEADER}\n{name}, {case['M']}, {case['N']}, {case['K']},\n"
    values = ", ".join(str(case[field]) for field in CONV_FIELDS)
    return f"{CONV_HEADER}\n{name}, {values},\n"


def read_report(path: Path) -> dict:
    """Read the single data row of a SCALE-Sim report into a snake_case dict."""
    with path.open(newline="") as handle:
        header, row = list(csv.reader(handle))[:2]
    record = {}
    for column, value in zip(header, row, strict=True):
        key = snake_case(column)
        if key and key != "layerid":
            record[key] = float(value)
    return record


def run_case(case: dict, version: str) -> dict:
    """Simulate one case with SCALE-Sim and return its JSON record."""
    with tempfile.TemporaryDirectory(prefix="scalesim_") as tmp:
        tmpdir = Path(tmp)
        cfg = tmpdir / "case.cfg"
        topo = tmpdir / "topology.csv"
        cfg.write_text(config_text(case))
        topo.write_text(topology_text(case))
        start = time.perf_counter()
        signal.alarm(int(case.get("timeout_s") or 0))
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                sim = scalesim(
                    save_disk_space=True,
                    verbose=False,
                    config=str(cfg),
                    topology=str(topo),
                    layout=str(topo),
                    input_type_gemm=case["kind"] == "gemm",
                )
                sim.run_scale(top_path=str(tmpdir))
        finally:
            signal.alarm(0)
        wall = time.perf_counter() - start
        record = {key: value for key, value in case.items() if key != "timeout_s"}
        record.update(read_report(tmpdir / RUN_NAME / "COMPUTE_REPORT.csv"))
        record.update(read_report(tmpdir / RUN_NAME / "DETAILED_ACCESS_REPORT.csv"))
    record["scalesim_wall_s"] = round(wall, 4)
    record["scalesim_version"] = version
    return record


def main() -> None:
    """Read the cases, run them one after another, print one JSON line each."""
    text = Path(sys.argv[1]).read_text() if len(sys.argv) > 1 else sys.stdin.read()
    cases = json.loads(text)
    version = importlib.metadata.version("scalesim")
    signal.signal(signal.SIGALRM, _alarm)
    for case in cases:
        try:
            record = run_case(case, version)
        except CaseTimeout:
            record = {"case_id": case.get("case_id"), "error": "timeout"}
        except (Exception, SystemExit):  # SCALE-Sim calls exit() on bad input
            record = {"case_id": case.get("case_id"), "error": traceback.format_exc()}
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
