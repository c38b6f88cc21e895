"""The CPU spec: cores with SIMD FMA units, caches and a memory bandwidth; and detection of the
machine this runs on.

``peak FLOP/s = cores · (simd_width_bits / dtype bits) · fma_units_per_core · 2 · clock_hz`` (an FMA
is 2 FLOPs). 16-bit floats compute in fp32 lanes (no AMX or AVX512-FP16 assumed), so their peak is
the fp32 one, on CPUs with a vectorized 16-bit matmul at all (`native_16bit_matmul`, detected from
the AVX512-BF16/AMX-BF16 and AVX512-FP16/AMX-FP16 flags). Elsewhere ATen multiplies 16-bit
matrices in a non-vectorized fallback loop whose speed depends on the shape's strides (0.15 to 2.5
GFLOP/s on the CI machine, 2026-11-22): the CPU engine leaves such GEMMs unmodeled and says why.
Efficiencies a library reaches are spec fields, calibrated from measurements in
reference_kernels/data/cpu_ci_small_runs.csv for the preset of the test machine (`cpu_ci`).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from hwmodels.checks import (
    check_fraction,
    check_non_negative_number,
    check_positive_int,
    check_positive_number,
)
from hwmodels.device import MemoryLevel
from hwmodels.errors import HardwareSpecError
from workloads.dtypes import DType

#: Memory bandwidth assumed for a detected host (reading it needs a timed copy, and models never
#: call a clock): the CI machine's, calibrated on reference_kernels/data/cpu_ci_small_runs.csv
#: (hwmodels/presets/cpu_ci.yaml). Override with --set, or calibrate: `codesign calibrate`.
ASSUMED_MEMORY_BYTES_PER_S = 15.81e9
#: FMA units per core assumed when detection cannot tell: two, as on Intel since Haswell and AMD
#: since Zen 2 (Intel and AMD optimization manuals).
ASSUMED_FMA_UNITS = 2
#: AMD family 17h models below 0x30 (Zen, Zen+) split a 256-bit FMA over their two 128-bit FMA
#: pipes: one 256-bit FMA per cycle (AMD Software Optimization Guide for Family 17h, §2.11).
ZEN1_FAMILY, ZEN2_FIRST_MODEL = 0x17, 0x30
#: GEMM efficiency and the per-op overhead assumed for a detected host: the CI machine's calibrated
#: values (hwmodels/presets/cpu_ci.yaml).
ASSUMED_GEMM_EFFICIENCY, ASSUMED_HALF_EFFICIENCY_ROWS, ASSUMED_CALL_OVERHEAD_S = 1.0, 14.41, 2.2e-6
#: The fields a detected host takes from the CI machine's calibration instead of measuring them.
ASSUMED_FIELDS = ("dram_bytes_per_s", "gemm_efficiency", "gemm_half_efficiency_rows", "launch_overhead_s")
#: The CPU those values were calibrated on (hwmodels/presets/cpu_ci.yaml): /proc/cpuinfo's vendor,
#: family and model, and the core count. A host that is this CPU runs at its own calibration.
CALIBRATED_CPU = {"vendor_id": "AuthenticAMD", "cpu family": 0x17, "model": 1, "cores": 2}
HOST_PRESET = "host"


class AssumedValuesWarning(UserWarning):
    """A detected CPU's spec borrows values calibrated on another CPU (`ASSUMED_FIELDS`)."""
#: /proc/cpuinfo flags that give ATen a vectorized matmul for a 16-bit float (oneDNN's bf16 and fp16
#: GEMMs need AVX512-BF16 or AMX-BF16, AVX512-FP16 or AMX-FP16; oneDNN's CPU ISA hints).
NATIVE_16BIT_FLAGS = {
    DType.BF16: ("avx512_bf16", "amx_bf16"),
    DType.FP16: ("avx512_fp16", "amx_fp16"),
}


@dataclass(frozen=True, kw_only=True)
class CPUSpec:
    """A multi-core CPU. `gemm_efficiency` is the fraction of peak a large fp32 ``torch.matmul``
    reaches; `gemm_half_efficiency_rows` the smaller GEMM dimension at which it reaches half that
    (register blocking and threading need rows); `launch_overhead_s` is each op's fixed cost.
    `native_16bit_matmul` lists the 16-bit float dtypes the CPU multiplies in vector units.
    `tdp_w` (datasheet power of the cores used) and `price_usd_per_hour` are 0 where unknown.
    `assumed` names the fields whose values were not measured on this CPU (a detected host that
    is not the CPU `cpu_ci` was calibrated on: `detect_cpu`)."""

    name: str
    cores: int
    simd_width_bits: int
    fma_units_per_core: int
    clock_hz: float
    l1_bytes_per_core: int
    l2_bytes_per_core: int
    l3_bytes: int
    dram_bytes_per_s: float
    gemm_efficiency: float
    gemm_half_efficiency_rows: float
    launch_overhead_s: float
    native_16bit_matmul: tuple[DType, ...] = ()
    assumed: tuple[str, ...] = ()
    default_dtype: DType = DType.FP32
    tdp_w: float = 0.0
    price_usd_per_hour: float = 0.0
    source: str = ""
    description: str = ""

    @property
    def board_power_w(self) -> float:
        """The most the package draws: its TDP (a CPU spec has no power limit of its own)."""
        return self.tdp_w

    def __post_init__(self) -> None:
        where = f"hardware {self.name!r}: "
        for name in (
            "cores",
            "simd_width_bits",
            "fma_units_per_core",
            "l1_bytes_per_core",
            "l2_bytes_per_core",
            "l3_bytes",
        ):
            check_positive_int(self, name, where)
        if self.simd_width_bits % 32:
            raise HardwareSpecError(
                f"{where}field 'simd_width_bits' = {self.simd_width_bits}: must be a multiple of 32 "
                "(128 SSE, 256 AVX2, 512 AVX-512)"
            )
        for name in ("clock_hz", "dram_bytes_per_s", "gemm_half_efficiency_rows"):
            check_positive_number(self, name, where)
        check_fraction(self, "gemm_efficiency", where)
        for name in ("launch_overhead_s", "tdp_w", "price_usd_per_hour"):
            check_non_negative_number(self, name, where)

    def peak_flops(self, dtype: DType = DType.FP32) -> float:
        """FLOP/s of every core's FMA units on `dtype` (16-bit floats and fp32 in fp32 lanes)."""
        bits = 64 if dtype is DType.FP64 else 32
        return self.cores * (self.simd_width_bits // bits) * self.fma_units_per_core * 2 * self.clock_hz

    # The `hwmodels.device.Device` interface beyond the fields.
    def achievable_flops(self, dtype: DType = DType.FP32) -> float:
        """FLOP/s a large GEMM reaches: the peak times `gemm_efficiency`."""
        return self.peak_flops(dtype) * self.gemm_efficiency

    @property
    def achievable_dram_bytes_per_s(self) -> float:
        """A copy's rate: `dram_bytes_per_s` is already the calibrated, achieved figure."""
        return self.dram_bytes_per_s

    #: Main memory is not a capacity the CPU model checks; no idle power is charged.
    dram_capacity_bytes = 0.0
    static_power_w = 0.0

    def memory_levels(self) -> tuple[MemoryLevel, ...]:
        """L1 and L2 (all cores), L3, DRAM; caches at the DRAM rate (the model streams from DRAM)."""
        inf = float("inf")
        return (
            MemoryLevel("l1", self.l1_bytes_per_core * self.cores, inf),
            MemoryLevel("l2", self.l2_bytes_per_core * self.cores, inf),
            MemoryLevel("l3", self.l3_bytes, inf),
            MemoryLevel("dram", self.dram_capacity_bytes, self.dram_bytes_per_s),
        )


CACHE_DIR = Path("/sys/devices/system/cpu/cpu0/cache")


def detect_cpu(cpuinfo: str | None = None, cache_dir: Path = CACHE_DIR) -> CPUSpec:
    """This machine's CPU from /proc/cpuinfo (model, clock, flags, family), ``os.cpu_count()`` and
    the cache sizes in /sys; memory bandwidth, efficiencies and overhead are the `ASSUMED_*`
    values (the CI machine's calibration), as `source` says. On a CPU other than that one
    (`CALIBRATED_CPU`) they are borrowed: the spec's `assumed` names them and an
    `AssumedValuesWarning` says so (the command line prints it as one line)."""
    text = cpuinfo if cpuinfo is not None else _read("/proc/cpuinfo")
    first = _first_block(text)
    flags = set(first.get("flags", "").split())
    simd = 512 if "avx512f" in flags else 256 if "avx2" in flags or "avx" in flags else 128
    family, model = _int(first.get("cpu family", "0")), _int(first.get("model", "0"))
    zen1 = first.get("vendor_id") == "AuthenticAMD" and family == ZEN1_FAMILY and model < ZEN2_FIRST_MODEL
    caches = _caches(cache_dir)
    name = first.get("model name", "unknown CPU")
    cores = os.cpu_count() or 1
    identity = {"vendor_id": first.get("vendor_id", ""), "cpu family": family, "model": model, "cores": cores}
    assumed = () if identity == CALIBRATED_CPU else ASSUMED_FIELDS
    if assumed:
        warnings.warn(
            f"host: {name} (family {family} model {model}, {cores} cores) is not the CPU cpu_ci was "
            "calibrated on (AMD family 23 model 1, Zen, 2 cores); ASSUMED from it: "
            f"{', '.join(assumed)} (codesign calibrate fits them to codesign measure --device cpu)",
            AssumedValuesWarning,
            stacklevel=2,
        )
    return CPUSpec(
        name=HOST_PRESET,
        cores=cores,
        simd_width_bits=simd,
        fma_units_per_core=1 if zen1 or "fma" not in flags else ASSUMED_FMA_UNITS,
        clock_hz=float(first.get("cpu MHz", "2000")) * 1e6,
        l1_bytes_per_core=caches.get(1, 32 * 1024),
        l2_bytes_per_core=caches.get(2, 512 * 1024),
        l3_bytes=caches.get(3, 8 * 2**20),
        dram_bytes_per_s=ASSUMED_MEMORY_BYTES_PER_S,
        gemm_efficiency=ASSUMED_GEMM_EFFICIENCY,
        gemm_half_efficiency_rows=ASSUMED_HALF_EFFICIENCY_ROWS,
        launch_overhead_s=ASSUMED_CALL_OVERHEAD_S,
        native_16bit_matmul=tuple(
            dtype for dtype, names in NATIVE_16BIT_FLAGS.items() if flags.intersection(names)
        ),
        assumed=assumed,
        source="detected: cores (os.cpu_count), clock, SIMD width, FMA units and 16-bit matmul flags "
        "(/proc/cpuinfo), caches "
        "(/sys); assumed: memory bandwidth, efficiencies, overhead (hwmodels/presets/cpu_ci.yaml)",
        description=f"{name}, detected on this machine",
    )


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _first_block(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        return 0


def _caches(cache_dir: Path) -> dict[int, int]:
    """Data/unified cache size per level in bytes, from /sys (``size`` like ``512K``)."""
    sizes: dict[int, int] = {}
    for index in sorted(cache_dir.glob("index*")):
        kind = _read(str(index / "type")).strip()
        if kind == "Instruction":
            continue
        level, size = _int(_read(str(index / "level")).strip()), _read(str(index / "size")).strip()
        multiplier = {"K": 2**10, "M": 2**20, "G": 2**30}.get(size[-1:], 1)
        digits = size.rstrip("KMG")
        if level and digits.isdigit():
            sizes[level] = int(digits) * multiplier
    return sizes
