"""Precision and sparsity annotations applied to a traced graph, without retracing.

- ``weights``: the dtype of every GEMM/convolution weight that is a parameter (attr
  ``weight_is_param = 1``; activation×activation matmuls, embeddings and norm gains keep theirs),
  with the quantization metadata it needs as METADATA operands (`QUANT_SCHEMES`).
- ``activations``: the dtype of every floating-point input and output (not indices or masks).
- ``gemm_activations``: the dtype a weight GEMM or convolution (``weight_is_param = 1``) reads its
  activation input in, where only that input is quantized: W8A8 as GPU stacks run it, the
  quantization fused into the kernel that produced the input, the GEMM's output and every other
  op left in ``activations``' dtype (or as traced). TensorRT-LLM's FP8 engines quantize each
  GEMM's input and run norms, residuals and attention in fp16 (v0.8, 4bb65f21: no FP8 context
  FMHA; v0.9, 71d8d4d3: ``use_fp8_context_fmha`` off by default in tensorrt_llm/plugin/plugin.py
  and in every build of its performance.md, ``--gpt_attention_plugin float16``); torchao's
  float8 dynamic-activation linear quantizes its input per call, and PyTorch's SDPA takes 16- and
  32-bit inputs only. (Unset, the only quantization is ``activations``', everywhere, as an
  accelerator whose datapath is 8 bits wide runs it: FlightLLM's INT8 overlay, a TPU v1.)
- ``attention_dtype``: the dtype attention multiplies in and holds its Q, K, V and output in (its
  KV cache is ``kv``'s); unset, ``activations``'. FlashAttention-3's FP8 kernels: fp8.
- ``kv``: the dtype of the KV cache, read (KV_CACHE) and written (KV_CACHE_WRITE).
- ``sparsity``: ``N:M`` (``2:4``, ``8:16``, ...) on the same weights as ``weights``, along K (the
  reduction dim), with its index metadata (each kept value's position among M, ceil(log2 M) bits);
  K must be a multiple of M. Which patterns a device runs fast is the device's business (GPUs:
  2:4 only; the FPGA's sparse DSP chain: M a power of two, N dividing M).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from workloads.dtypes import DType
from workloads.errors import WorkloadError
from workloads.fusion import is_expert_module
from workloads.op import Op, Operand, OpGraph, OpKind, Role, Sparsity, SparsityKind, positive_int

#: fp32 for each: a model run in PyTorch's default precision, as on a CPU without a vectorized
#: 16-bit matmul (the zoo traces in fp16).
WEIGHT_DTYPES = (DType.INT4, DType.INT8, DType.FP8, DType.FP16, DType.BF16, DType.FP32)
ACTIVATION_DTYPES = (DType.FP16, DType.BF16, DType.FP8, DType.INT8, DType.FP32)
KV_DTYPES = (DType.FP16, DType.INT8, DType.FP8, DType.FP32)
GEMM_ACTIVATION_DTYPES = ACTIVATION_DTYPES
ATTENTION_DTYPES = ACTIVATION_DTYPES
FLOAT_DTYPES = (DType.FP8, DType.FP16, DType.BF16, DType.TF32, DType.FP32, DType.FP64)


@dataclass(frozen=True, kw_only=True)
class QuantScheme:
    """How a quantized weight is stored beside its values: one scale (and zero point) per group of
    `group_size` consecutive K values per output column; 0 means one group per column (per
    channel), None one scale for the whole tensor."""

    group_size: int | None
    scale_dtype: DType
    zero_point_dtype: DType | None = None


#: int4: GPTQ/AWQ checkpoints (AutoGPTQ's qweight/scales/qzeros): groups of 128 along K, an fp16
#: scale and a 4-bit zero point per group. int8: symmetric per output channel, fp16 scales
#: (LLM.int8(), SmoothQuant's W8). fp8: E4M3 with one fp32 scale per tensor (the FP8 checkpoints of
#: vLLM and TensorRT-LLM). fp16/bf16 need no metadata.
QUANT_SCHEMES = {
    DType.INT4: QuantScheme(group_size=128, scale_dtype=DType.FP16, zero_point_dtype=DType.INT4),
    DType.INT8: QuantScheme(group_size=0, scale_dtype=DType.FP16),
    DType.FP8: QuantScheme(group_size=None, scale_dtype=DType.FP32),
}

#: 2:4 structured sparsity (NVIDIA Ampere sparse tensor cores, A100 whitepaper): 2 values kept in
#: every 4 along K, each with a 2-bit position index, so 4 index bits per group of 4.
SPARSE_2_4 = Sparsity(kind=SparsityKind.N_OF_M, n=2, m=4)
SPARSE_INDEX_DTYPE = DType.INT4  # one 4-bit index word per group of 4


def _parse(text: str | None, valid: tuple[DType, ...], field: str) -> DType | None:
    if text is None:
        return None
    dtype = DType.parse(text, field=field)
    if dtype not in valid:
        raise WorkloadError(f"{field} {text!r}: must be one of {', '.join(d.value for d in valid)}")
    return dtype


def annotate(
    graph: OpGraph,
    *,
    weights: str | None = None,
    group_size: int | None = None,
    activations: str | None = None,
    kv: str | None = None,
    sparsity: str | None = None,
    gemm_activations: str | None = None,
    attention_dtype: str | None = None,
) -> OpGraph:
    """A new graph with the given precisions and sparsity; arguments left None change nothing."""
    weight_dtype = _parse(weights, WEIGHT_DTYPES, "--weights")
    activation_dtype = _parse(activations, ACTIVATION_DTYPES, "--activations")
    gemm_dtype = _parse(gemm_activations, GEMM_ACTIVATION_DTYPES, "--gemm-activations")
    kv_dtype = _parse(kv, KV_DTYPES, "--kv")
    attention = _parse(attention_dtype, ATTENTION_DTYPES, "--attention-dtype") or activation_dtype
    scheme = QUANT_SCHEMES.get(weight_dtype)
    if group_size is not None:
        if scheme is None:
            raise WorkloadError("--group-size applies to int4, int8 or fp8 --weights")
        scheme = replace(scheme, group_size=positive_int(group_size, field="--group-size"))
    pattern = None if sparsity is None else parse_nm(sparsity)
    ops = tuple(
        _annotate_op(
            op,
            weight_dtype,
            scheme,
            _io_dtype(op, activation_dtype, attention),
            gemm_dtype,
            kv_dtype,
            pattern,
        )
        for op in graph.ops
    )
    return replace(graph, ops=ops)


def _io_dtype(op: Op, activations: DType | None, attention: DType | None) -> DType | None:
    """The dtype `op`'s floating-point inputs and outputs take: attention's for an attention op."""
    return attention if op.kind is OpKind.ATTENTION else activations


def parse_nm(text: str) -> Sparsity:
    """``N:M`` as an N-of-M sparsity: N kept in every M (1 <= N < M), or an error naming the text."""
    try:
        n_text, m_text = str(text).strip().split(":")
        n, m = int(n_text), int(m_text)
    except ValueError:
        raise WorkloadError(f"--sparsity {text!r}: expected N:M, e.g. 2:4 or 8:16") from None
    if not 1 <= n < m:
        raise WorkloadError(f"--sparsity {text!r}: N:M keeps N of every M weights, 1 <= N < M")
    return Sparsity(kind=SparsityKind.N_OF_M, n=n, m=m)


def _annotate_op(
    op: Op,
    weight_dtype: DType | None,
    scheme: QuantScheme | None,
    activation_dtype: DType | None,
    gemm_dtype: DType | None,
    kv_dtype: DType | None,
    sparse: Sparsity | None,
) -> Op:
    weight_op = _weight_op(op)
    operands = []
    for operand in op.operands:
        floating = operand.dtype in FLOAT_DTYPES
        if operand.role in (Role.KV_CACHE, Role.KV_CACHE_WRITE) and kv_dtype:
            operand = replace(operand, dtype=kv_dtype)
        elif operand.role is Role.INPUT and weight_op and gemm_dtype and floating:
            operand = replace(operand, dtype=gemm_dtype)
        elif operand.role in (Role.INPUT, Role.OUTPUT) and activation_dtype and floating:
            operand = replace(operand, dtype=activation_dtype)
        operands.append(operand)
    op = replace(op, operands=tuple(operands))
    if weight_op:
        op = _annotate_weight(op, weight_dtype, scheme, sparse)
    return op


def _weight_op(op: Op) -> bool:
    """Whether `op` multiplies by a parameter weight (a GEMM or convolution whose weight is one of
    the model's parameters: attr ``weight_is_param = 1``), the ops ``weights`` annotates."""
    return op.kind in (OpKind.GEMM, OpKind.CONV) and dict(op.attrs).get("weight_is_param") == 1


def _annotate_weight(op: Op, dtype: DType | None, scheme: QuantScheme | None, sparse: Sparsity | None) -> Op:
    """Set the weight's dtype and sparsity and append its metadata (scales, zeros, indices)."""
    k, n = op.dim("K"), op.dim("N")
    batch = op.dim("B") if "B" in op.dim_names else 1
    weight = op.operand(Role.WEIGHT)
    new_weight = weight
    metadata: list[Operand] = []
    if dtype is not None:
        new_weight = replace(new_weight, dtype=dtype)
    if scheme is not None:
        if scheme.group_size is None:
            groups = 1  # one scale per tensor
        else:
            per_column = math.ceil(k / scheme.group_size) if scheme.group_size else 1
            groups = batch * per_column * n  # a last partial group along K still has its scale
        metadata.append(_metadata("B_scales", groups, scheme.scale_dtype))
        if scheme.zero_point_dtype is not None:
            metadata.append(_metadata("B_zeros", groups, scheme.zero_point_dtype))
    if sparse:
        if k % sparse.m:
            raise WorkloadError(
                f"--sparsity {sparse.n}:{sparse.m}: op {op.name} ({op.module or 'model'}) has K = {k}, "
                f"not a multiple of {sparse.m}"
            )
        new_weight = replace(new_weight, sparsity=sparse)
        # each kept value's position among M: ceil(log2 M) bits, in 4-bit index words per group
        words = math.ceil(sparse.n * math.ceil(math.log2(sparse.m)) / SPARSE_INDEX_DTYPE.bits)
        metadata.append(_metadata("B_sparse_index", batch * k * n // sparse.m * words, SPARSE_INDEX_DTYPE))
    replaced = {m.name for m in metadata}  # annotating again replaces earlier metadata
    operands = tuple(
        new_weight if o is weight else o
        for o in op.operands
        if not (o.role is Role.METADATA and o.name in replaced)
    )
    return replace(op, operands=(*operands, *metadata))


#: The dtypes an unquantized expert keeps (`with_unquantized_experts`): its output's where that is
#: one of them, else fp16 (an 8-bit datapath's output, `annotate`'s ``activations``).
UNQUANTIZED_EXPERT_DTYPES = (DType.FP16, DType.BF16, DType.FP32)


def with_unquantized_experts(graph: OpGraph) -> OpGraph:
    """`graph` with each mixture-of-experts expert's weight GEMM (`workloads.fusion.is_expert_module`,
    traced or grouped) back in 16 bits: its weight and its activation input in its output's dtype
    where that is a 16- or 32-bit float (the step's activations), else fp16
    (`UNQUANTIZED_EXPERT_DTYPES`), its quantization metadata dropped, its sparsity kept. An engine
    whose weight quantization replaces the model's linear layers but leaves the experts' own
    weights alone runs them so: TensorRT-LLM 0.8-0.9's FP8 (`workloads.stacks`, the stacks'
    `unquantized_expert_weights`). A traced 16-bit expert is returned as it was."""
    ops = []
    for op in graph.ops:
        if _weight_op(op) and is_expert_module(op.module):
            output = op.operand(Role.OUTPUT).dtype
            dtype = output if output in UNQUANTIZED_EXPERT_DTYPES else DType.FP16
            operands = tuple(
                replace(operand, dtype=dtype) if _unquantized(operand) else operand
                for operand in op.operands
                if operand.role is not Role.METADATA or operand.name == "B_sparse_index"
            )
            op = replace(op, operands=operands)
        ops.append(op)
    return replace(graph, ops=tuple(ops))


def _unquantized(operand: Operand) -> bool:
    """Whether `with_unquantized_experts` returns `operand` to 16 bits: the weight, and a
    floating-point activation input (not an index)."""
    return operand.role is Role.WEIGHT or (operand.role is Role.INPUT and operand.dtype in FLOAT_DTYPES)


def _metadata(name: str, elements: int, dtype: DType) -> Operand:
    return Operand(name=name, role=Role.METADATA, dims=("K", "N"), elements=elements, dtype=dtype)
