"""The op a measured kernel row stands for (docs/measured_format.md), built without torch.

`codesign compare` joins each measured row with the simulation of the same work; this module names
that work as an `Op` from the row's family and shape columns only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from workloads.annotate import annotate
from workloads.dtypes import DType
from workloads.errors import WorkloadError
from workloads.op import Op, Operand, OpGraph, OpKind, Role, TextEnum, gemm_op, positive_int


class KernelFamily(TextEnum):
    """The kind of work a measured kernel row times (docs/measured_format.md); a measured file's
    ``family`` column compares, groups and prints as the value."""

    GEMM = "gemm"
    GEMM_FP8 = "gemm_fp8"
    GEMM_INT8 = "gemm_int8"
    GEMM_W4A16 = "gemm_w4a16"
    GEMM_W8A16 = "gemm_w8a16"
    GEMM_SPARSE24 = "gemm_sparse24"
    ATTENTION_PREFILL = "attention_prefill"
    ATTENTION_DECODE = "attention_decode"
    COPY = "copy"


F = KernelFamily
GEMM_FAMILIES = (F.GEMM, F.GEMM_FP8, F.GEMM_INT8, F.GEMM_W4A16, F.GEMM_W8A16, F.GEMM_SPARSE24)
ATTENTION_FAMILIES = (F.ATTENTION_PREFILL, F.ATTENTION_DECODE)
FAMILIES = tuple(KernelFamily)


def causal_pairs(sq: int, skv: int, *, bottom_right: bool = False) -> int:
    """(query, key) pairs kept by a causal mask: top-left (torch's ``is_causal``) keeps key j for
    query i iff ``j <= i``, ``sum_{i<Sq} min(i + 1, Skv)``; bottom-right (FlashAttention's since
    2.1, cuDNN's ``diagonal_alignment`` BOTTOM_RIGHT, a chunked prefill over its cache) iff ``j <= i
    + Skv − Sq``, so a chunk of 256 queries over 8192 keys keeps ``256·7936 + 256·257/2``. Both are
    ``S·(S+1)/2`` for a square ``S × S`` prefill."""
    if bottom_right:
        if sq <= skv:
            return sq * (skv - sq) + sq * (sq + 1) // 2
        return skv * (skv + 1) // 2
    if sq <= skv:
        return sq * (sq + 1) // 2
    return skv * (skv + 1) // 2 + (sq - skv) * skv


#: The causal masks' alignments (`causal_pairs`): torch's top-left ``is_causal``, and bottom-right,
#: which an attention op names in its ``causal_align`` attr (`causal_offset`).
TOP_LEFT = "top_left"
BOTTOM_RIGHT = "bottom_right"
#: The `causal` column's values (docs/measured_format.md): no mask, then the two alignments.
CAUSAL_MASKS = {"0": "", "1": TOP_LEFT, "2": BOTTOM_RIGHT}


def causal_attrs(causal: bool, *, bottom_right: bool = False) -> tuple[tuple[str, object], ...]:
    """An attention op's mask attrs: ``causal`` (0 or 1) and, for a bottom-right mask,
    ``causal_align`` (`causal_offset` reads it)."""
    return (("causal", int(causal)), *((("causal_align", BOTTOM_RIGHT),) if causal and bottom_right else ()))


def bottom_right_refusal(sq: int, skv: int) -> str:
    """Why a bottom-right mask cannot take `sq` queries over `skv` keys ('' where it can): a chunk
    after its cache has at most as many queries as keys."""
    if sq <= skv:
        return ""
    return f"a bottom-right causal mask of {sq} queries > {skv} keys (a chunk after its cache has no more)"


def causal_offset(op: Op) -> int:
    """Keys every query row of a causal attention op sees beyond its top-left diagonal: ``Skv − Sq``
    for a bottom-right mask (a chunk's queries follow the cache), 0 for top-left."""
    attrs = dict(op.attrs)
    if attrs.get("causal_align") != BOTTOM_RIGHT:
        return 0
    return max(0, op.dim("Skv") - op.dim("Sq"))


def op_for_measurement(row: Mapping[str, object]) -> Op:
    """The op of one measured row, its attrs naming the row's ``kernel`` and ``family`` (a GPU
    spec may hold that implementation's own tensor fraction); `WorkloadError` naming the column
    for a bad or missing value."""
    op = _op(row)
    if not _present(row, "kernel"):
        return op
    named = (("kernel", str(row["kernel"]).strip()), ("family", str(row["family"]).strip()))
    return dataclasses.replace(op, attrs=(*op.attrs, *named))


def _op(row: Mapping[str, object]) -> Op:
    family = str(row.get("family", "")).strip()
    if family in GEMM_FAMILIES:
        return _gemm(row, family)
    if family in ATTENTION_FAMILIES:
        return _attention(row, family)
    if family == KernelFamily.COPY:
        size = _int(row, "bytes")
        return Op(
            name="copy",
            kind=OpKind.COPY,
            dims=(("E", size),),
            operands=(
                Operand(name="src", role=Role.INPUT, dims=("E",), elements=size, dtype=DType.INT8),
                Operand(name="dst", role=Role.OUTPUT, dims=("E",), elements=size, dtype=DType.INT8),
            ),
            flops=0,
        )
    raise WorkloadError(f"family {family!r} is not modeled; modeled families: {', '.join(FAMILIES)}")


def _present(row: Mapping[str, object], column: str) -> bool:
    """True when the row has a value in `column` (CSV blanks read as None, NaN or '')."""
    value = row.get(column)
    return value is not None and value == value and str(value).strip() != ""  # NaN != NaN


def _int(row: Mapping[str, object], column: str) -> int:
    """A positive whole number from `column` (``4096`` or ``4096.0``, as pandas reads a column with
    blanks); an error naming the column and the value otherwise."""
    value = row.get(column)
    if not _present(row, column):
        raise WorkloadError(f"column {column!r} is empty in a {row.get('family')} row")
    try:
        number = float(str(value).strip())
    except ValueError:
        raise WorkloadError(f"{column} = {value!r}: must be a positive whole number") from None
    if not number.is_integer():
        raise WorkloadError(f"{column} = {value!r}: must be a positive whole number")
    return positive_int(int(number), field=column)


def _causal(row: Mapping[str, object]) -> str:
    """The `causal` column's mask alignment (`CAUSAL_MASKS`; blank, or 0, is no mask: ''); an error
    naming the valid values."""
    if not _present(row, "causal"):
        return ""
    value = str(row["causal"]).strip().removesuffix(".0")
    if value not in CAUSAL_MASKS:
        raise WorkloadError(
            f"causal = {row['causal']!r}: must be 0 (no mask), 1 (causal, top-left: torch's is_causal) "
            "or 2 (causal, bottom-right: a chunk's queries after its cache)"
        )
    return CAUSAL_MASKS[value]


def _dtype(row: Mapping[str, object], column: str, default: DType) -> DType:
    value = row.get(column)
    if not _present(row, column):
        return default
    return DType.parse(str(value), field=column)


def _gemm(row: Mapping[str, object], family: str) -> Op:
    m, n, k = (_int(row, column) for column in ("M", "N", "K"))
    groups = _int(row, "batch") if _present(row, "batch") else 1
    a = _dtype(row, "a_dtype", DType.FP16)
    b = _dtype(row, "b_dtype", a)
    out = _dtype(row, "out_dtype", a if a.bits >= 16 else DType.FP16)
    # block-scaled FP8 (DeepGEMM's and torchao's recipe): one scale per `group_size` K values,
    # applied to the accumulators once per block of K (`mappers.gpu_gemm.GemmProblem.scale_block_k`)
    block = (("scale_block_k", _int(row, "group_size")),) if family == "gemm_fp8" and _present(
        row, "group_size") else ()
    op = gemm_op(
        m,
        n,
        k,
        name=family,
        input_dtype=a,
        weight_dtype=b,
        output_dtype=out,
        batch=groups if groups > 1 else 0,  # a grouped GEMM: each group its own weight
        attrs=(("weight_is_param", 1), *block),
    )
    graph = OpGraph(name=family, ops=(op,))
    if family == "gemm_w4a16":
        group = _int(row, "group_size") if _present(row, "group_size") else None
        graph = annotate(graph, weights="int4", group_size=group)
    elif family == "gemm_w8a16":  # per output channel unless the row gives a group along K
        group = _int(row, "group_size") if _present(row, "group_size") else None
        graph = annotate(graph, weights="int8", group_size=group)
    elif family == "gemm_sparse24":
        graph = annotate(graph, sparsity="2:4")
    return graph.ops[0]


def _attention(row: Mapping[str, object], family: str) -> Op:
    b, h, d = (_int(row, column) for column in ("batch", "heads", "head_dim"))
    # V's and the output's head dim where it differs from Q's and K's (DeepSeek's MLA prefill: 192 / 128)
    dv = _int(row, "head_dim_v") if _present(row, "head_dim_v") else d
    hkv = _int(row, "kv_heads") if _present(row, "kv_heads") else h
    skv = _int(row, "seq_kv")
    # a decode step's new query tokens: one, or several (speculative decoding, a multi-token step),
    # which see the cache and each other under a bottom-right causal mask; the op counts their whole
    # rectangle (the masked triangle is sq·(sq−1)/2 of sq·skv pairs: 0.4% at 16 tokens over 2048 keys)
    decode = family == KernelFamily.ATTENTION_DECODE
    sq = (_int(row, "seq_q") if _present(row, "seq_q") else 1) if decode else _int(row, "seq_q")
    align = _causal(row) if family == "attention_prefill" else ""
    causal = bool(align)
    if align == BOTTOM_RIGHT and bottom_right_refusal(sq, skv):
        raise WorkloadError(
            f"causal = 2 (bottom-right) with seq_q = {sq} > seq_kv = {skv}: a chunk after its cache has at "
            "most as many queries as keys (use causal = 1 for torch's top-left mask)"
        )
    if h % hkv:
        raise WorkloadError(f"heads = {h} is not a multiple of kv_heads = {hkv}")
    q_dtype = _dtype(row, "a_dtype", DType.FP16)
    kv_dtype = _dtype(row, "b_dtype", q_dtype)
    kv_role = Role.KV_CACHE if decode else Role.INPUT
    # a kernel with one work partition (FlashAttention before 2.2 had no split-KV) says which
    partition = (("partition", str(row["partition"]).strip()),) if _present(row, "partition") else ()
    pairs = causal_pairs(sq, skv, bottom_right=align == BOTTOM_RIGHT) if causal else sq * skv
    q_elements, o_elements = b * h * sq * d, b * h * sq * dv
    k_elements, v_elements = b * hkv * skv * d, b * hkv * skv * dv
    q_dims, o_dims = ("B", "H", "Sq", "D"), ("B", "H", "Sq", "Dv")
    k_dims, v_dims = ("B", "Hkv", "Skv", "D"), ("B", "Hkv", "Skv", "Dv")
    return Op(
        name=family,
        kind=OpKind.ATTENTION,
        dims=(("B", b), ("H", h), ("Hkv", hkv), ("Sq", sq), ("Skv", skv), ("D", d), ("Dv", dv)),
        operands=(
            Operand(name="Q", role=Role.INPUT, dims=q_dims, elements=q_elements, dtype=q_dtype),
            Operand(name="K", role=kv_role, dims=k_dims, elements=k_elements, dtype=kv_dtype),
            Operand(name="V", role=kv_role, dims=v_dims, elements=v_elements, dtype=kv_dtype),
            Operand(name="O", role=Role.OUTPUT, dims=o_dims, elements=o_elements, dtype=q_dtype),
        ),
        flops=2 * b * h * pairs * (d + dv),  # Q·Kᵀ (D) and P·V (Dv), 2 FLOPs per MAC each
        attrs=(*causal_attrs(causal, bottom_right=align == BOTTOM_RIGHT), *partition),
    )
