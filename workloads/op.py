"""The workload data contract: an `Op` is one loop nest stored as data, an `OpGraph` an ordered list.

An op's loop dims are named sizes (an einsum-like nest, as ZigZag stores layers): a GEMM is
``C[M][N] += A[M][K] * B[K][N]`` with dims ``(("M", m), ("N", n), ("K", k))``. Each operand says which
dims index it, how many distinct elements it stores (a convolution's input stores fewer than the
product of its dims, since windows overlap), its dtype and its sparsity. Mappers read the dims;
nothing here knows any hardware.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from workloads.dtypes import DType
from workloads.errors import WorkloadError


class OpKind(enum.Enum):
    GEMM = "gemm"
    CONV = "conv"
    ATTENTION = "attention"
    ELEMENTWISE = "elementwise"
    REDUCTION = "reduction"
    NORM = "norm"
    SOFTMAX = "softmax"
    EMBEDDING = "embedding"
    GATHER = "gather"
    COPY = "copy"
    OTHER = "other"


class Role(enum.Enum):
    """What an operand is to the op; the systolic engine's ifmap/filter/ofmap are INPUT/WEIGHT/OUTPUT.

    KV_CACHE is attention's K or V read from the cache; KV_CACHE_WRITE the cache slots a step writes.
    BIAS is a bias vector added to a GEMM's output. METADATA is stored beside a weight and read with
    it: quantization scales and zero points, the indices of an N:M sparse weight.
    """

    INPUT = "input"
    WEIGHT = "weight"
    OUTPUT = "output"
    KV_CACHE = "kv_cache"
    KV_CACHE_WRITE = "kv_cache_write"
    BIAS = "bias"
    METADATA = "metadata"

    @property
    def is_written(self) -> bool:
        """True for operands the op writes (OUTPUT, KV_CACHE_WRITE); every other role is read."""
        return self in (Role.OUTPUT, Role.KV_CACHE_WRITE)


class SparsityKind(enum.Enum):
    DENSE = "dense"
    N_OF_M = "n:m"
    BLOCK = "block"
    UNSTRUCTURED = "unstructured"


@dataclass(frozen=True, kw_only=True)
class Sparsity:
    """Which fraction of an operand's elements are stored: dense, N of every M, blocks, or a density."""

    kind: SparsityKind = SparsityKind.DENSE
    n: int = 0
    m: int = 0
    density: float = 1.0

    @property
    def kept_fraction(self) -> float:
        if self.kind is SparsityKind.N_OF_M:
            return self.n / self.m
        return self.density


DENSE = Sparsity()


@dataclass(frozen=True, kw_only=True)
class Operand:
    name: str
    role: Role
    dims: tuple[str, ...]
    elements: int
    dtype: DType
    sparsity: Sparsity = DENSE

    @property
    def bytes(self) -> float:
        """Bytes stored: elements kept by the sparsity pattern times the dtype's size."""
        return self.elements * self.sparsity.kept_fraction * self.dtype.bytes


@dataclass(frozen=True, kw_only=True)
class TensorUse:
    """One tensor an op reads or writes, as the tracer saw it: which tensor (`tensor`, an id unique
    within one trace; an in-place write makes a new one), how many elements the op touched, their
    dtype, and the role the op's operand plays (a written role for the tensors it writes)."""

    tensor: int
    elements: int
    dtype: DType
    role: Role


#: The loop dims of a GEMM ``C[M, N] += A[M, K] · B[K, N]``; an op's further dims (a bmm's batch)
#: repeat the GEMM.
GEMM_DIMS = ("M", "N", "K")


@dataclass(frozen=True, kw_only=True)
class Op:
    """One operator: a named loop nest with its operands, the work it does and where it came from.

    `flops` counts a multiply-accumulate as 2. `count` repeats the op (identical layers).
    `unmodeled` ops are kept and flagged, never silently counted as zero work. `dataflow` is the
    tracer's record of which tensors the op read and wrote (empty for ops not traced, e.g. a
    topology file's); only graph rewrites read it (`workloads.serving`), so it takes no part in an
    op's equality and is not exported.
    """

    name: str
    kind: OpKind
    dims: tuple[tuple[str, int], ...]
    operands: tuple[Operand, ...]
    flops: int
    module: str = ""
    aten: str = ""
    count: int = 1
    unmodeled: bool = False
    attrs: tuple[tuple[str, int | str], ...] = field(default=())
    dataflow: tuple[TensorUse, ...] = field(default=(), compare=False, repr=False)

    def dim(self, name: str) -> int:
        for dim_name, size in self.dims:
            if dim_name == name:
                return size
        raise KeyError(f"op {self.name!r} has no loop dim {name!r} (has {self.dim_names})")

    @property
    def dim_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.dims)

    @property
    def macs(self) -> int:
        return self.flops // 2

    @property
    def is_gemm_shaped(self) -> bool:
        """Whether the op has the GEMM dims M, N and K: a GEMM, a batched GEMM, a convolution as
        an implicit GEMM (what every engine runs on its matrix unit)."""
        return all(name in self.dim_names for name in GEMM_DIMS)

    @property
    def gemm_instances(self) -> int:
        """GEMM instances in one op: the product of its dims other than M, N, K (a bmm's batch,
        a grouped GEMM's groups; 1 for a plain GEMM)."""
        return math.prod(size for name, size in self.dims if name not in GEMM_DIMS)

    def operand(self, role: Role) -> Operand:
        for operand in self.operands:
            if operand.role is role:
                return operand
        raise KeyError(f"op {self.name!r} has no {role.value} operand")


def positive_int(value: object, *, field: str, where: str = "") -> int:
    """Parse `value` as an integer >= 1, or raise an error naming the field (and the file/line)."""
    location = f"{where}: " if where else ""
    try:
        number = int(str(value).strip())
    except ValueError:
        raise WorkloadError(f"{location}{field} must be a positive integer, got {value!r}") from None
    if number < 1:
        raise WorkloadError(f"{location}{field} must be a positive integer, got {number}")
    return number


def gemm_op(
    m: int,
    n: int,
    k: int,
    *,
    name: str = "gemm",
    input_dtype: DType = DType.INT8,
    weight_dtype: DType = DType.INT8,
    output_dtype: DType = DType.INT8,
    weight_sparsity: Sparsity = DENSE,
    module: str = "",
    aten: str = "",
    count: int = 1,
    batch: int = 0,
    attrs: tuple[tuple[str, int | str], ...] = (),
) -> Op:
    """``C[M][N] += A[M][K] * B[K][N]``: A is the input (ifmap), B the weight (filter), C the output.

    With ``batch > 0`` (a bmm) a dim ``B`` comes first and indexes every operand: ``batch``
    independent GEMMs. A bmm's B operand may be an activation rather than a parameter; the tracer
    says which in the attr ``weight_is_param`` (1 or 0), so annotations quantize only parameters.
    """
    for dim_name, size in (("M", m), ("N", n), ("K", k)):
        positive_int(size, field=f"GEMM {dim_name}", where=name)
    lead: tuple[str, ...] = ("B",) if batch else ()
    batch_dims: tuple[tuple[str, int], ...] = (("B", batch),) if batch else ()
    repeats = batch or 1
    return Op(
        name=name,
        kind=OpKind.GEMM,
        dims=(*batch_dims, ("M", m), ("N", n), ("K", k)),
        operands=(
            Operand(
                name="A",
                role=Role.INPUT,
                dims=(*lead, "M", "K"),
                elements=repeats * m * k,
                dtype=input_dtype,
            ),
            Operand(
                name="B",
                role=Role.WEIGHT,
                dims=(*lead, "K", "N"),
                elements=repeats * k * n,
                dtype=weight_dtype,
                sparsity=weight_sparsity,
            ),
            Operand(
                name="C",
                role=Role.OUTPUT,
                dims=(*lead, "M", "N"),
                elements=repeats * m * n,
                dtype=output_dtype,
            ),
        ),
        flops=2 * repeats * m * n * k,
        module=module,
        aten=aten,
        count=count,
        attrs=attrs,
    )


def conv2d_op(
    *,
    ifmap_h: int,
    ifmap_w: int,
    filter_h: int,
    filter_w: int,
    channels: int,
    num_filters: int,
    stride_h: int = 1,
    stride_w: int = 1,
    batch: int = 1,
    name: str = "conv",
    dtype: DType = DType.INT8,
    module: str = "",
    aten: str = "",
    pad_h: int = 0,
    pad_w: int = 0,
    groups: int = 1,
    attrs: tuple[tuple[str, int | str], ...] = (),
    out_h: int = 0,
    out_w: int = 0,
) -> Op:
    """A 2-D convolution lowered to GEMM as SCALE-Sim does (im2col).

    Output size per axis is ``ceil((ifmap + 2·pad - filter + stride) / stride)``, SCALE-Sim's
    ``topo_calc_hyperparams`` on the zero-padded ifmap (no padding by default, as SCALE-Sim). The
    lowered GEMM has M = batch·out_h·out_w output pixels, N = num_filters and
    K = filter_h·filter_w·channels/groups (the window); the input operand stores the ifmap once
    (batch·ifmap_h·ifmap_w·channels elements), not once per window. Padding and groups, when set,
    are added to `attrs` after the geometry.

    SCALE-Sim rounds a strided output size up; PyTorch rounds it down,
    ``floor((ifmap + 2·pad - filter) / stride) + 1``. A caller that knows the output size (the
    tracer) passes `out_h`/`out_w`, which then replace the SCALE-Sim formula.
    """
    if filter_h > ifmap_h + 2 * pad_h or filter_w > ifmap_w + 2 * pad_w:
        raise WorkloadError(
            f"{name}: filter {filter_h}x{filter_w} is larger than the ifmap {ifmap_h}x{ifmap_w}"
        )
    if channels % groups or num_filters % groups:
        raise WorkloadError(
            f"{name}: groups={groups} must divide channels={channels} and filters={num_filters}"
        )
    out_h = out_h or math.ceil((ifmap_h + 2 * pad_h - filter_h + stride_h) / stride_h)
    out_w = out_w or math.ceil((ifmap_w + 2 * pad_w - filter_w + stride_w) / stride_w)
    m = batch * out_h * out_w
    n = num_filters
    k = filter_h * filter_w * channels // groups
    extra = tuple(
        (key, value)
        for key, value, default in (("pad_h", pad_h, 0), ("pad_w", pad_w, 0), ("groups", groups, 1))
        if value != default
    )
    return Op(
        name=name,
        kind=OpKind.CONV,
        dims=(("M", m), ("N", n), ("K", k)),
        operands=(
            Operand(
                name="ifmap",
                role=Role.INPUT,
                dims=("M", "K"),
                elements=batch * ifmap_h * ifmap_w * channels,
                dtype=dtype,
            ),
            Operand(name="filter", role=Role.WEIGHT, dims=("K", "N"), elements=k * n, dtype=dtype),
            Operand(name="ofmap", role=Role.OUTPUT, dims=("M", "N"), elements=m * n, dtype=dtype),
        ),
        flops=2 * m * n * k,
        module=module,
        aten=aten,
        attrs=(
            ("ifmap_h", ifmap_h),
            ("ifmap_w", ifmap_w),
            ("filter_h", filter_h),
            ("filter_w", filter_w),
            ("channels", channels),
            ("num_filters", num_filters),
            ("stride_h", stride_h),
            ("stride_w", stride_w),
            *extra,
            *attrs,
        ),
    )


class TextEnum(str, enum.Enum):
    """An enum whose members are their text: they compare equal to it, hash as it, and print and
    format as it (so a column of such values reads, groups and writes as plain strings)."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Phase(TextEnum):
    """The step of an LLM a graph is: the prompt's prefill or one decode step."""

    PREFILL = "prefill"
    DECODE = "decode"

    @classmethod
    def parse(cls, text: object, *, field: str = "--phase") -> Phase:
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            raise WorkloadError(f"{field} {text!r}: must be prefill or decode") from None


@dataclass(frozen=True, kw_only=True)
class OpGraph:
    """Ordered ops plus model-level facts (name, params, phase, batch, sequence/context length)."""

    name: str
    ops: tuple[Op, ...]
    params: int = 0
    phase: Phase | None = None  # None: not an LLM step (a GEMM list, a CNN)
    batch: int = 1
    seq_len: int = 0
    context_len: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.phase, str) and not isinstance(self.phase, Phase):  # "decode" from a caller
            object.__setattr__(self, "phase", Phase.parse(self.phase, field="phase") if self.phase else None)

    def __len__(self) -> int:
        return len(self.ops)

    @property
    def unmodeled(self) -> tuple[Op, ...]:
        return tuple(op for op in self.ops if op.unmodeled)
