"""The workloads of a sweep spec: zoo models with a phase and precisions, GEMM lists, op-graph CSVs.

Each entry of a spec's ``workloads:`` list is one of

* ``{model: llama-2-7b, phase: decode, context: 4096, batch: 1, weights: int4, ...}``: a traced zoo
  model (or ``file.py:factory``), the arguments of `workloads.model_graph.load_model_graph`; with
  ``stack: vllm`` (cycle fidelity; a GPU base, or a system's GPUs) its step as that serving stack
  runs it, as ``codesign simulate --stack`` does (`sim.stack_step`): the stack's fusion (unless
  ``fusion`` is given), kernels, launch mode and host time per step, a prefill in its scheduler's
  steps; with ``step_host_s: 0.0005`` as well, that host time in place of the stack's (a faster or
  slower engine loop, as ``--step-host-s`` gives it);
* ``{gemm: [[M, N, K], ...], dtype: bf16}``: GEMMs in the given dtype (default: the base hardware's
  `default_dtype`);
* ``{ops: graph.csv}``: an op graph written by ``codesign trace --format csv``.

Any entry may carry a ``name`` (the `workload` column of the results); the default is the model
and phase, ``gemm``/``gemm2``…, or the CSV's stem. Names must be unique.
"""

from __future__ import annotations

import difflib
import enum
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.sweep.expr import SweepSpecError
from workloads.dtypes import DType
from workloads.graph_io import read_graph_csv
from workloads.model_graph import INTEGER_MODEL_KEYS, MODEL_KEYS
from workloads.op import OpGraph, Phase, gemm_op


class WorkloadKind(enum.Enum):
    """What a sweep workload entry names: a traced model, a list of GEMMs, or an op-graph CSV."""

    MODEL = "model"
    GEMM = "gemm"
    OPS = "ops"


_KIND_KEYS = {
    WorkloadKind.MODEL: ("name", "model", *MODEL_KEYS, "stack", "step_host_s"),
    WorkloadKind.GEMM: ("name", "gemm", "dtype"),
    WorkloadKind.OPS: ("name", "ops"),
}


@dataclass(frozen=True, kw_only=True)
class WorkloadSpec:
    """One workload of a sweep. `kind` says which (`WorkloadKind`); `args` the model's
    keyword arguments (sorted pairs); `gemms` the (M, N, K) shapes; `path` the CSV (absolute);
    `file_sha256` the CSV's digest, so an edited file makes a different sweep."""

    name: str
    kind: WorkloadKind
    model: str = ""
    args: tuple[tuple[str, Any], ...] = ()
    gemms: tuple[tuple[int, int, int], ...] = ()
    dtype: str = ""
    path: str = ""
    file_sha256: str = ""
    stack: str = ""
    step_host_s: float | None = None  # the host seconds each step waits for, over the stack's

    @property
    def phase(self) -> str:
        return str(dict(self.args).get("phase", "prefill")) if self.kind is WorkloadKind.MODEL else ""

    def normalized(self) -> dict[str, Any]:
        """The entry as plain data for the spec hash (the CSV by content, not by path)."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "model": self.model,
            "args": dict(self.args),
            "gemms": [list(shape) for shape in self.gemms],
            "dtype": self.dtype,
            "file_sha256": self.file_sha256,
        } | ({"stack": self.stack} if self.stack else {}) | (  # a spec without them hashes as before
            {"step_host_s": self.step_host_s} if self.step_host_s is not None else {}
        )

    def host(self) -> tuple[float, str]:
        """The host seconds each of the stack's steps waits for, and where the figure comes from:
        the entry's ``step_host_s`` where given, else the stack's (`workloads.stacks.host_note`)."""
        from workloads.stacks import STACKS, host_note

        if self.step_host_s is not None:
            return self.step_host_s, "engine host time per step (the workload's step_host_s)"
        return STACKS[self.stack].step_host_s, host_note(self.stack)

    def load(self, default_dtype: DType) -> OpGraph:
        """The op graph: traced (model), built (gemm) or read (ops)."""
        return {
            WorkloadKind.MODEL: self._traced,
            WorkloadKind.GEMM: self._gemms,
            WorkloadKind.OPS: lambda _: read_graph_csv(self.path),
        }[self.kind](default_dtype)

    def _traced(self, _: DType) -> OpGraph:
        return self.trace()

    def trace(self, batch: int = 0) -> OpGraph:
        """The model traced at its arguments (at `batch` prompts where given), with its stack's
        kernels by module."""
        from workloads.model_graph import load_model_graph  # torch only on a trace-cache miss

        args = dict(self.args) | ({"batch": batch} if batch else {})
        if self.stack and "moe" not in args:  # its MoE kernels, as --stack runs them; not in the hash,
            from workloads.stacks import STACKS  # which a dense model's results do not depend on

            args["moe"] = STACKS[self.stack].moe
        graph = load_model_graph(self.model, **args)
        if self.stack:  # the GEMMs the stack runs as a kernel of their own by module
            from sim.stack_step import with_stack_module_kernels

            graph = with_stack_module_kernels(graph, self.stack, str(args.get("weights") or ""))
        return graph

    def stack_picks(self) -> tuple[int, str]:
        """What picks the stack's kernels (`workloads.stacks.stack_kernels`): the model's GQA
        group (query heads per K/V head) and its weight dtype ('' when not given)."""
        from workloads.zoo.configs import query_heads_per_kv

        return query_heads_per_kv(self.model.strip().lower()), str(dict(self.args).get("weights") or "")

    def steps(self, graph: OpGraph) -> tuple[tuple[OpGraph, int], ...]:
        """The steps `graph` (this workload's, `load`) runs as, each (graph, how many times): one
        unless its stack's scheduler splits a prefill batch (`workloads.stacks.Stack.prefill_steps`),
        each distinct step traced at its batch."""
        if not self.stack or graph.phase is not Phase.PREFILL or not graph.seq_len:
            return ((graph, 1),)
        from sim.stack_step import step_graphs
        from workloads.stacks import STACKS
        from workloads.zoo import context_length

        sizes = STACKS[self.stack].prefill_steps(graph.batch, graph.seq_len, context_length(self.model))
        return step_graphs(sizes, graph, self.trace)

    def _gemms(self, default_dtype: DType) -> OpGraph:
        dtype = (
            DType.parse(self.dtype, field=f"workload {self.name!r} dtype") if self.dtype else default_dtype
        )
        ops = tuple(
            gemm_op(m, n, k, name=f"gemm{i}", input_dtype=dtype, weight_dtype=dtype, output_dtype=dtype)
            for i, (m, n, k) in enumerate(self.gemms)
        )
        return OpGraph(name=self.name, ops=ops)


def parse_workloads(entries: Any, *, base_dir: Path) -> tuple[WorkloadSpec, ...]:
    """Validate the ``workloads:`` list; paths are relative to the spec file's folder."""
    if not isinstance(entries, list) or not entries:
        raise SweepSpecError("workloads: give a non-empty list of {model: ...}, {gemm: ...} or {ops: ...}")
    parsed = tuple(_parse_entry(entry, index, base_dir) for index, entry in enumerate(entries))
    names = [workload.name for workload in parsed]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise SweepSpecError(f"workloads: names {duplicates} repeat; give each entry a distinct 'name'")
    return parsed


def _parse_entry(entry: Any, index: int, base_dir: Path) -> WorkloadSpec:
    where = f"workloads[{index}]"
    if not isinstance(entry, dict):
        raise SweepSpecError(f"{where}: expected a mapping with 'model', 'gemm' or 'ops', got {entry!r}")
    kinds = [kind for kind in _KIND_KEYS if kind.value in entry]
    if len(kinds) != 1:
        got = [kind.value for kind in kinds] or "none"
        raise SweepSpecError(f"{where}: give exactly one of 'model', 'gemm', 'ops' (got {got})")
    kind = kinds[0]
    check_keys(entry, _KIND_KEYS[kind], where=where)
    name = entry.get("name")
    if kind is WorkloadKind.MODEL:
        args = {key: entry[key] for key in MODEL_KEYS if entry.get(key) is not None}
        for key in INTEGER_MODEL_KEYS:
            if key in args and (isinstance(args[key], bool) or not isinstance(args[key], int)):
                raise SweepSpecError(f"{where}.{key} = {args[key]!r}: must be an integer")
        model = str(entry["model"])
        default = f"{model}:{args.get('phase', 'prefill')}"
        stack = _parse_stack(entry.get("stack"), where)
        host = _parse_host(entry.get("step_host_s"), stack, where)
        if stack and "fusion" not in args:  # the stack's kernels, as --stack traces them
            from workloads.stacks import STACKS

            args["fusion"] = STACKS[stack].fusion
        return WorkloadSpec(
            name=str(name or default), kind=kind, model=model, args=tuple(sorted(args.items())), stack=stack,
            step_host_s=host,
        )
    if kind is WorkloadKind.GEMM:
        return WorkloadSpec(
            name=str(name or ("gemm" if index == 0 else f"gemm{index}")),
            kind=kind,
            gemms=_parse_gemms(entry["gemm"], where),
            dtype=str(entry.get("dtype") or ""),
        )
    path = (base_dir / str(entry["ops"])).resolve()
    if not path.is_file():
        raise SweepSpecError(f"{where}.ops: no such file {str(path)!r}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return WorkloadSpec(name=str(name or path.stem), kind=kind, path=str(path), file_sha256=digest)


def _parse_stack(value: Any, where: str) -> str:
    """A workload's ``stack``: a name of `workloads.stacks.STACKS` ('' when not given)."""
    from workloads.stacks import STACKS

    if value is None:
        return ""
    if value not in STACKS:
        raise SweepSpecError(f"{where}.stack = {value!r}: valid: {', '.join(STACKS)}")
    return str(value)


def _parse_host(value: Any, stack: str, where: str) -> float | None:
    """A workload's ``step_host_s``: seconds, as ``--step-host-s`` takes them
    (`workloads.stacks.step_host_problem`), over its stack's; None when not given."""
    from workloads.stacks import step_host_problem

    if value is None:
        return None
    if not stack:
        raise SweepSpecError(f"{where}.step_host_s = {value!r}: a stack's host time per step; give 'stack'")
    if problem := step_host_problem(value):
        raise SweepSpecError(f"{where}.step_host_s = {value!r}: {problem}")
    return float(value)


def _parse_gemms(shapes: Any, where: str) -> tuple[tuple[int, int, int], ...]:
    if not isinstance(shapes, list) or not shapes:
        raise SweepSpecError(f"{where}.gemm: give a list of [M, N, K] shapes, e.g. [[1, 4096, 4096]]")
    parsed = []
    for shape in shapes:
        if (
            not isinstance(shape, list)
            or len(shape) != 3
            or not all(isinstance(size, int) and not isinstance(size, bool) and size > 0 for size in shape)
        ):
            raise SweepSpecError(f"{where}.gemm: {shape!r} is not [M, N, K] of positive integers")
        parsed.append((shape[0], shape[1], shape[2]))
    return tuple(parsed)


def check_keys(mapping: dict, valid: tuple[str, ...], *, where: str) -> None:
    """Refuse a key not in `valid`, naming the closest valid one."""
    for key in mapping:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid: {', '.join(valid)}"
            raise SweepSpecError(f"{where}: unknown key {key!r}{hint}")
