"""Place an attention op on an array with a vector unit: two batched GEMMs and a softmax.

An ATTENTION op (dims ``B, H, Hkv, Sq, Skv, D, Dv``; see workloads/formulas/attention.py) becomes

1. ``S = Q · Kᵀ``: per batch and KV head, the ``g = H / Hkv`` query heads that share a K/V head are
   stacked into M (grouped-query attention reads each K/V head once for its whole group, as
   flash-decoding kernels do): M = g·Sq, N = Skv, K = D, repeated B·Hkv times;
2. ``P = softmax(S)`` on the vector unit, `SOFTMAX_FLOPS_PER_ELEMENT` per score;
3. ``O = P · V``: M = g·Sq, N = Dv, K = Skv, repeated B·Hkv times.

Scores and probabilities stay in the query's dtype; K and V keep theirs (the KV cache's). A causal
mask does not skip work here: an array computes whole folds, and the mask is applied in the
softmax, so the GEMMs do the full ``Sq × Skv`` square (the op's `flops` counts only the kept pairs).
"""

from __future__ import annotations

from workloads.op import Op, Operand, OpKind, Role, gemm_op

#: Vector-unit FLOPs per score of a softmax: a running max (1 compare), subtract the max (1),
#: exponentiate (1, one special-function op), accumulate the sum (1), and scale by 1/sum (1) —
#: the three-pass algorithm's element work (Dukhan & Ablavatski, "The Two-Pass Softmax
#: Algorithm", 2020, §2).
SOFTMAX_FLOPS_PER_ELEMENT = 5


def lower_attention(op: Op) -> tuple[Op, ...]:
    """The QKᵀ GEMM, the softmax and the PV GEMM that run `op` (see the module docstring)."""
    b, h, hkv = op.dim("B"), op.dim("H"), op.dim("Hkv")
    sq, skv, d, dv = op.dim("Sq"), op.dim("Skv"), op.dim("D"), op.dim("Dv")
    group = h // hkv
    q, k, v = (_named(op, name) for name in ("Q", "K", "V"))
    out = op.operand(Role.OUTPUT)
    instances = b * hkv
    rows = group * sq
    common = {"module": op.module, "aten": op.aten, "count": op.count, "batch": instances}
    not_param = (("weight_is_param", 0),)
    scores = gemm_op(
        rows, skv, d, name=f"{op.name}.qk", input_dtype=q.dtype, weight_dtype=k.dtype,
        output_dtype=q.dtype, attrs=not_param, **common,
    )
    mixed = gemm_op(
        rows, dv, skv, name=f"{op.name}.pv", input_dtype=q.dtype, weight_dtype=v.dtype,
        output_dtype=out.dtype, attrs=not_param, **common,
    )
    elements = instances * rows * skv
    softmax = Op(
        name=f"{op.name}.softmax",
        kind=OpKind.SOFTMAX,
        dims=(("B", instances), ("M", rows), ("Skv", skv)),
        operands=(
            Operand(name="S", role=Role.INPUT, dims=("B", "M", "Skv"), elements=elements, dtype=q.dtype),
            Operand(name="P", role=Role.OUTPUT, dims=("B", "M", "Skv"), elements=elements, dtype=q.dtype),
        ),
        flops=SOFTMAX_FLOPS_PER_ELEMENT * elements,
        module=op.module,
        aten=op.aten,
        count=op.count,
    )
    return scores, softmax, mixed


def _named(op: Op, name: str) -> Operand:
    for operand in op.operands:
        if operand.name == name:
            return operand
    raise KeyError(f"attention op {op.name!r} has no operand {name!r}")
