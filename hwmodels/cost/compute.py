"""MAC (multiply-accumulate) estimators: energy per MAC and area of one MAC unit, by dtype and node.

A MAC is a multiply in the operand format and an add in the accumulator format: integers
accumulate in int32, floats in fp32 (`ACCUMULATOR`), as TPUs and tensor cores do.

Two estimators, tried in priority order:

* `horowitz_table` (priority 2): the 45 nm, 0.9 V figures of Horowitz's table (M. Horowitz,
  "1.1 Computing's energy problem (and what we can do about it)", ISSCC 2014, pp. 10–14),
  scaled to the node by `technology.CAPACITANCE_SCALING`. It declines dtypes the table lacks
  (int4, fp8, bf16, tf32).
* `significand_scaled` (priority 1): the multiplier of the same family (integer from the table's
  8-bit one, float from its 16-bit one) scaled by (significand bits)², the partial-product count of
  an array multiplier; the adder as in the table. Checked on the table itself: from the 8-bit
  multiply it gives 3.2 pJ for 32 bits (table: 3.1); from the fp16 one it gives 5.2 pJ for fp32
  (table: 3.7), so float answers are good to about 1.5×.

Neither gives leakage: the table holds dynamic energy and area only.
"""

from __future__ import annotations

from types import MappingProxyType

from hwmodels.cost.estimate import Component, Declined, Estimator, Quantity, register
from hwmodels.cost.technology import CAPACITANCE_SCALING, area_scale, energy_scale, node_nm
from workloads.dtypes import DType

PJ = 1e-12
UM2 = 1e-12  # m² per µm²

#: Horowitz ISSCC 2014, 45 nm, 0.9 V: energy per operation (pJ) of (operation, format).
HOROWITZ_ENERGY_PJ = MappingProxyType({
    ("add", DType.INT8): 0.03,
    ("add", DType.INT32): 0.1,
    ("mult", DType.INT8): 0.2,
    ("mult", DType.INT32): 3.1,
    ("add", DType.FP16): 0.4,
    ("mult", DType.FP16): 1.1,
    ("add", DType.FP32): 0.9,
    ("mult", DType.FP32): 3.7,
})
#: Horowitz ISSCC 2014, 45 nm: area (µm²) of (operation, format). The int32 entries (137, 3495)
#: are from the same table; no stored copy of the area column could be checked here (the energies
#: were checked against two reproductions, see docs/cost_model.md).
HOROWITZ_AREA_UM2 = MappingProxyType({
    ("add", DType.INT8): 36.0,
    ("add", DType.INT32): 137.0,
    ("mult", DType.INT8): 282.0,
    ("mult", DType.INT32): 3495.0,
    ("add", DType.FP16): 1360.0,
    ("mult", DType.FP16): 1640.0,
    ("add", DType.FP32): 4184.0,
    ("mult", DType.FP32): 7700.0,
})
HOROWITZ_SOURCE = "Horowitz, 'Computing's energy problem', ISSCC 2014, energy/area table (45 nm, 0.9 V)"

#: The format a MAC on each operand format accumulates in.
ACCUMULATOR = MappingProxyType({
    DType.INT4: DType.INT32,
    DType.INT8: DType.INT32,
    DType.INT32: DType.INT32,
    DType.FP8: DType.FP32,
    DType.FP16: DType.FP32,
    DType.BF16: DType.FP32,
    DType.TF32: DType.FP32,
    DType.FP32: DType.FP32,
})
#: Multiplier width in bits: integers their width, floats their significand with the hidden bit
#: (IEEE 754 fp16 11, fp32 24; bfloat16 8; TF32 11; OCP FP8 E4M3 4).
SIGNIFICAND_BITS = MappingProxyType({
    DType.INT4: 4,
    DType.INT8: 8,
    DType.INT32: 32,
    DType.FP8: 4,
    DType.FP16: 11,
    DType.BF16: 8,
    DType.TF32: 11,
    DType.FP32: 24,
})
#: The table entry each family's multiplier is scaled from.
SCALING_BASE = MappingProxyType({False: DType.INT8, True: DType.FP16})
FLOAT_FORMATS = frozenset({DType.FP8, DType.FP16, DType.BF16, DType.TF32, DType.FP32})


def _dtype(component: Component) -> DType:
    value = component.get("dtype")
    try:
        return value if isinstance(value, DType) else DType(str(value))
    except ValueError:
        raise Declined(f"dtype {value!r} is not a known format") from None


def _table_value(table: MappingProxyType, operation: str, dtype: DType) -> float:
    try:
        return table[(operation, dtype)]
    except KeyError:
        raise Declined(f"Horowitz's table has no {dtype.value} {operation}") from None


def _horowitz(component: Component, quantity: Quantity) -> float:
    dtype, node = _dtype(component), node_nm(component)
    if dtype not in ACCUMULATOR:
        raise Declined(f"no MAC defined for {dtype.value}")
    if quantity is Quantity.LEAKAGE:
        raise Declined("Horowitz's table gives dynamic energy and area only")
    table, unit, scale = (
        (HOROWITZ_ENERGY_PJ, PJ, energy_scale(node))
        if quantity is Quantity.ENERGY
        else (HOROWITZ_AREA_UM2, UM2, area_scale(node))
    )
    mult = _table_value(table, "mult", dtype)
    add = _table_value(table, "add", ACCUMULATOR[dtype])
    return (mult + add) * unit * scale


def _significand_scaled(component: Component, quantity: Quantity) -> float:
    dtype, node = _dtype(component), node_nm(component)
    if dtype not in SIGNIFICAND_BITS:
        raise Declined(f"no multiplier width known for {dtype.value}")
    if quantity is Quantity.LEAKAGE:
        raise Declined("scaled from Horowitz's table, which gives dynamic energy and area only")
    base = SCALING_BASE[dtype in FLOAT_FORMATS]
    table, unit, scale = (
        (HOROWITZ_ENERGY_PJ, PJ, energy_scale(node))
        if quantity is Quantity.ENERGY
        else (HOROWITZ_AREA_UM2, UM2, area_scale(node))
    )
    ratio = (SIGNIFICAND_BITS[dtype] / SIGNIFICAND_BITS[base]) ** 2
    mult = table[("mult", base)] * ratio
    add = table[("add", ACCUMULATOR[dtype])]
    return (mult + add) * unit * scale


HOROWITZ_MAC = register(
    Estimator(
        name="horowitz_table",
        priority=2.0,
        component_classes=frozenset({"mac"}),
        source=f"{HOROWITZ_SOURCE}; node scaling: {CAPACITANCE_SCALING}",
        estimate_fn=_horowitz,
    )
)
SCALED_MAC = register(
    Estimator(
        name="significand_scaled",
        priority=1.0,
        component_classes=frozenset({"mac"}),
        source=f"{HOROWITZ_SOURCE}, multiplier scaled by significand bits squared; "
        f"node scaling: {CAPACITANCE_SCALING}",
        estimate_fn=_significand_scaled,
    )
)
