"""Read SCALE-Sim ``.cfg`` files as they are, so existing SCALE-Sim users bring their configs.

SCALE-Sim counts cycles only and has no clock or word size: a word is one byte (its
``single_layer_sim.run`` sets ``word_size = 1``) and the clock here is `SCALESIM_CFG_FREQ_HZ`, so
latency in seconds is cycles × 1 ns. In ``InterfaceBandwidth: CALC`` mode SCALE-Sim sizes the DRAM
bandwidth so that nothing stalls, which is an infinite ``dram_bytes_per_s`` here; it still fetches
each input SRAM's first half before the array starts, at `SCALESIM_CALC_PREFETCH_WORDS_PER_CYCLE`,
and drains the outputs after it, which `calc_prefetch_bytes_per_s` models. In ``USER`` mode
SCALE-Sim v3 gives each operand its own DRAM port: ifmap reads at ``IfmapSRAMBankBandwidth``, filter
reads at ``FilterSRAMBankBandwidth`` (both in ``[layout]``) and ofmap writes at ``Bandwidth``
words/cycle (``single_layer_sim.run``); the single shared DRAM interface modeled here gets the sum.
"""

from __future__ import annotations

import configparser
import math
from pathlib import Path

from hwmodels.errors import HardwareSpecError
from hwmodels.systolic import Dataflow, SystolicArraySpec
from workloads.dtypes import DType
from workloads.files import read_text

#: SCALE-Sim has no clock; 1 GHz makes one cycle one nanosecond.
SCALESIM_CFG_FREQ_HZ = 1.0e9
#: SCALE-Sim's word size in bytes (``single_layer_sim.run``: ``word_size = 1``).
SCALESIM_WORD_BYTES = 1
#: SCALE-Sim's SRAM sizes are in kB of 1024 bytes (``ifmap_buf_size_bytes = 1024 * ifmap_buf_size_kb``).
SCALESIM_KB = 1024
#: The rate of SCALE-Sim's CALC-mode first prefetch (``read_buffer_estimate_bw.py``: "arbitrary"
#: ``default_bandwidth = 10`` words per cycle, used before the first request).
SCALESIM_CALC_PREFETCH_WORDS_PER_CYCLE = 10


def read_scalesim_cfg(path: str | Path) -> SystolicArraySpec:
    """A `SystolicArraySpec` from a SCALE-Sim v2/v3 config file."""
    path = Path(path)
    parser = configparser.ConfigParser()
    text = read_text(path, what="a SCALE-Sim .cfg file", error=HardwareSpecError)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as error:
        raise HardwareSpecError(f"{path}: not a valid SCALE-Sim config: {error}") from None

    def get(section: str, key: str, default: str | None = None) -> str:
        if parser.has_option(section, key):
            return parser.get(section, key).strip()
        if default is not None:
            return default
        raise HardwareSpecError(f"{path}: missing [{section}] {key}")

    def integer(section: str, key: str, default: str | None = None) -> int:
        text = get(section, key, default)
        try:
            value = int(text)
        except ValueError:
            raise HardwareSpecError(
                f"{path}: [{section}] {key} = {text!r}: must be a positive integer"
            ) from None
        if value < 1:
            raise HardwareSpecError(f"{path}: [{section}] {key} = {value}: must be positive")
        return value

    arch = "architecture_presets"
    mode = get("run_presets", "InterfaceBandwidth", "CALC").upper()
    calc_prefetch_words_per_cycle = 0
    if mode == "CALC":
        dram_words_per_cycle = math.inf
        calc_prefetch_words_per_cycle = SCALESIM_CALC_PREFETCH_WORDS_PER_CYCLE
    elif mode == "USER":
        ofmap_bw = integer(arch, "Bandwidth")
        ifmap_bw = integer("layout", "IfmapSRAMBankBandwidth", str(ofmap_bw))
        filter_bw = integer("layout", "FilterSRAMBankBandwidth", str(ofmap_bw))
        dram_words_per_cycle = ifmap_bw + filter_bw + ofmap_bw
    else:
        raise HardwareSpecError(
            f"{path}: [run_presets] InterfaceBandwidth = {mode!r}: valid: CALC, USER"
        )
    return SystolicArraySpec(
        name=get("general", "run_name", path.stem),
        rows=integer(arch, "ArrayHeight"),
        cols=integer(arch, "ArrayWidth"),
        dataflow=Dataflow.parse(get(arch, "Dataflow"), where=f"{path}: "),
        ifmap_sram_bytes=integer(arch, "IfmapSramSzkB") * SCALESIM_KB,
        filter_sram_bytes=integer(arch, "FilterSramSzkB") * SCALESIM_KB,
        ofmap_sram_bytes=integer(arch, "OfmapSramSzkB") * SCALESIM_KB,
        dram_bytes_per_s=dram_words_per_cycle * SCALESIM_WORD_BYTES * SCALESIM_CFG_FREQ_HZ,
        calc_prefetch_bytes_per_s=calc_prefetch_words_per_cycle * SCALESIM_WORD_BYTES * SCALESIM_CFG_FREQ_HZ,
        clock_hz=SCALESIM_CFG_FREQ_HZ,
        default_dtype=DType.INT8,
        source=f"SCALE-Sim config {path} ({mode} bandwidth mode)",
    )
