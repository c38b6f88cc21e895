"""Memory estimators: on-chip SRAM (energy per access, area) and off-chip DRAM (energy per byte).

SRAM energy, a CACTI-like fit (`sram_fit`): Horowitz's table (ISSCC 2014, 45 nm) gives a 64-bit
cache read as 10 pJ at 8 kB, 20 pJ at 32 kB and 100 pJ at 1 MB. Energy ∝ √capacity (bit- and
word-line length grow with the side of a square array) fits them as

    E₆₄(C) = 10 pJ · √(C / 8 KiB)      → 10, 20 and 113 pJ (the last 13% above the table),

scaled linearly to the access width (energy per bit read) and to the node by
`technology.CAPACITANCE_SCALING`. Writes are charged as reads (the table gives reads only).
Outside 8 KiB–1 MiB the fit is an extrapolation.

SRAM area: bits × the 6T bit-cell area of the node ÷ `ARRAY_EFFICIENCY`. Cell areas are published
high-density cells (`BITCELL_UM2`), interpolated log-log between nodes.

DRAM: energy per bit moved by memory kind (`DRAM_PJ_PER_BIT`). No sourced figure for a DRAM PHY's
area was found, so the DRAM estimator declines area (the reason says so) and designs' areas leave
the PHY out.
"""

from __future__ import annotations

import enum
import math
from types import MappingProxyType

from hwmodels.cost.estimate import Component, Declined, Estimator, Quantity, register
from hwmodels.cost.technology import CAPACITANCE_SCALING, energy_scale, node_nm
from hwmodels.errors import HardwareSpecError

PJ = 1e-12
UM2 = 1e-12  # m² per µm²
BITS_PER_BYTE = 8

#: Horowitz ISSCC 2014 (45 nm): a 64-bit read of an 8 kB SRAM costs 10 pJ; the fit's anchor.
SRAM_REFERENCE_BYTES, SRAM_REFERENCE_PJ, SRAM_REFERENCE_WIDTH_BITS = 8 * 1024, 10.0, 64
SRAM_SOURCE = (
    "fit E = 10 pJ·sqrt(C/8KiB) per 64-bit access to Horowitz ISSCC 2014 (8 kB 10 pJ, 32 kB 20 pJ, "
    f"1 MB 100 pJ at 45 nm); node scaling: {CAPACITANCE_SCALING}"
)
#: High-density 6T SRAM bit cells (µm²) by node (nm): Intel 65 nm, 0.57 µm² (Intel 70 Mb SRAM
#: announcement, 2004); IBM 22 nm, 0.1 µm² (IBM announcement, 2008); TSMC N5, 0.021 µm² (IEDM 2019,
#: as quoted by legitlads.com's SRAM area calculator).
BITCELL_UM2 = MappingProxyType({65.0: 0.57, 22.0: 0.1, 5.0: 0.021})
#: Fraction of an SRAM macro that is bit cells (the rest: decoders, sense amplifiers, redundancy):
#: 0.6–0.8 per legitlads.com's SRAM area calculator, which uses 0.7.
ARRAY_EFFICIENCY = 0.7


class DramKind(enum.Enum):
    """Off-chip memory technology of a design (its energy per bit moved)."""

    DDR3 = "ddr3"
    DDR4 = "ddr4"
    GDDR6 = "gddr6"
    HBM2 = "hbm2"
    HBM2E = "hbm2e"
    HBM3 = "hbm3"

    @classmethod
    def parse(cls, text: object) -> DramKind:
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            valid = ", ".join(kind.value for kind in cls)
            raise HardwareSpecError(f"unknown DRAM kind {text!r}; valid: {valid}") from None


#: Energy per bit moved between DRAM and the chip (pJ/bit), device and interface together.
DRAM_PJ_PER_BIT = MappingProxyType({
    # Horowitz ISSCC 2014: a 64-bit DRAM read is 1.3-2.6 nJ (45 nm era DDR3); the low end / 64 bits
    DramKind.DDR3: 1300.0 / 64,
    DramKind.DDR4: 1300.0 / 64,  # ASSUMED: as DDR3 (no DDR4 figure in the same accounting found)
    # O'Connor et al., "Fine-Grained DRAM", MICRO 2017: HBM2 at 3.9 pJ/bit
    DramKind.HBM2: 3.9,
    # kylolab.com memory comparison ("average device power", pJ/bit): HBM2E 6.0, GDDR6 7.5
    DramKind.HBM2E: 6.0,
    DramKind.GDDR6: 7.5,
    DramKind.HBM3: 6.0,  # ASSUMED: as HBM2E (no sourced HBM3 figure found)
})
DRAM_SOURCE = "Horowitz ISSCC 2014 (DDR); O'Connor et al. MICRO 2017 (HBM2); kylolab.com (HBM2E, GDDR6)"


def sram_energy_pj_45nm(size_bytes: float, width_bits: float) -> float:
    """pJ per access of `width_bits` to an SRAM of `size_bytes` at 45 nm (the √capacity fit)."""
    per_64 = SRAM_REFERENCE_PJ * math.sqrt(size_bytes / SRAM_REFERENCE_BYTES)
    return per_64 * width_bits / SRAM_REFERENCE_WIDTH_BITS


def bitcell_um2(node: float) -> float:
    """6T bit-cell area at `node` nm, log-log interpolated in `BITCELL_UM2` (extrapolated as
    node² beyond its ends)."""
    points = sorted(BITCELL_UM2.items())
    if node <= points[0][0]:
        return points[0][1] * (node / points[0][0]) ** 2
    if node >= points[-1][0]:
        return points[-1][1] * (node / points[-1][0]) ** 2
    (low_nm, low_um2), (high_nm, high_um2) = next(
        (low, high) for low, high in zip(points, points[1:], strict=False) if low[0] <= node <= high[0]
    )
    slope = math.log(high_um2 / low_um2) / math.log(high_nm / low_nm)
    return low_um2 * (node / low_nm) ** slope


def _positive(component: Component, name: str) -> float:
    value = component.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise Declined(f"{name} = {value!r} is not a positive number")
    return float(value)


def _sram(component: Component, quantity: Quantity) -> float:
    size, node = _positive(component, "size_bytes"), node_nm(component)
    if quantity is Quantity.ENERGY:
        width = _positive(component, "width_bits")
        return sram_energy_pj_45nm(size, width) * energy_scale(node) * PJ
    if quantity is Quantity.AREA:
        return size * BITS_PER_BYTE * bitcell_um2(node) / ARRAY_EFFICIENCY * UM2
    raise Declined("the fit covers access energy and area; no sourced leakage per bit")


def _dram(component: Component, quantity: Quantity) -> float:
    kind = component.get("kind")
    try:
        kind = kind if isinstance(kind, DramKind) else DramKind.parse(kind)
    except HardwareSpecError as error:
        raise Declined(str(error)) from None
    if quantity is not Quantity.ENERGY:
        raise Declined(f"energy per byte only; no sourced {quantity.name.lower()} for a {kind.value} PHY")
    return DRAM_PJ_PER_BIT[kind] * BITS_PER_BYTE * PJ


SRAM_FIT = register(
    Estimator(
        name="sram_fit",
        priority=1.0,
        component_classes=frozenset({"sram"}),
        source=f"{SRAM_SOURCE}; area: bit cells {dict(BITCELL_UM2)} µm² / {ARRAY_EFFICIENCY}",
        estimate_fn=_sram,
    )
)
DRAM_TABLE = register(
    Estimator(
        name="dram_energy_per_bit",
        priority=1.0,
        component_classes=frozenset({"dram", "hbm"}),
        source=DRAM_SOURCE,
        estimate_fn=_dram,
    )
)
