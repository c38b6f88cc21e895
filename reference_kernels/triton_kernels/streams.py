"""Memory streams with a stated amount of data in flight: the probes of the GPU model's memory law.

The model (`sim.engines.gpu.timing`) runs a kernel's DRAM traffic at the copy's achievable rate
``P`` less what its bytes in flight leave idle: a closed queue, ``P · x / (1 + x)`` with ``x = I /
(P · latency)``. These kernels fix ``I``: each of `programs` CTAs streams its own contiguous share
of the buffer `block` elements at a time, one load of `block` fp32 elements (``4 · block`` bytes)
outstanding per iteration, since Triton's pipeliner prefetches only loads that feed a ``tl.dot``
(triton AssignLatencies.cpp, ``loadOpsToIndirectionLevel``) and each iteration's add needs its own
load. Three kinds:

* ``read``: loads only, summed into one fp32 per CTA (a GEMV's or a decode attention's traffic);
* ``write``: stores only (a fill);
* ``copy``: a load and a store of the same block (the copy the presets' ``achievable_dram_bytes_per_s``
  was measured with).

Each wrapper returns the bytes it moved through DRAM.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

KINDS = ("read", "write", "copy")


@triton.jit
def _read(src, partial_sums, per_program, BLOCK: tl.constexpr):
    base = tl.program_id(0).to(tl.int64) * per_program
    offsets = tl.arange(0, BLOCK)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, per_program, BLOCK):
        acc += tl.load(src + base + start + offsets)
    tl.store(partial_sums + tl.program_id(0), tl.sum(acc, axis=0))


@triton.jit
def _write(dst, per_program, value, BLOCK: tl.constexpr):
    base = tl.program_id(0).to(tl.int64) * per_program
    offsets = tl.arange(0, BLOCK)
    fill = tl.full([BLOCK], value, dtype=tl.float32)
    for start in range(0, per_program, BLOCK):
        tl.store(dst + base + start + offsets, fill)


@triton.jit
def _copy(src, dst, per_program, BLOCK: tl.constexpr):
    base = tl.program_id(0).to(tl.int64) * per_program
    offsets = tl.arange(0, BLOCK)
    for start in range(0, per_program, BLOCK):
        tl.store(dst + base + start + offsets, tl.load(src + base + start + offsets))


def stream(kind: str, src: torch.Tensor, dst: torch.Tensor, *, programs: int, block: int,
           num_warps: int = 4) -> int:
    """Run one `kind` stream over the 1-D fp32 `src` (read, copy) or `dst` (write, copy) on
    `programs` CTAs, `block` elements a load; returns the DRAM bytes moved (read plus written).
    `dst` of a read holds the `programs` partial sums."""
    if kind not in KINDS:
        raise ValueError(f"stream kind {kind!r}: expected one of {', '.join(KINDS)}")
    buffer = dst if kind == "write" else src
    elements = buffer.numel()
    if elements % (programs * block):
        raise ValueError(
            f"stream of {elements} elements: must split evenly into {programs} programs of "
            f"{block}-element loads"
        )
    per_program = elements // programs
    grid = (programs,)
    if kind == "read":
        _read[grid](src, dst, per_program, BLOCK=block, num_warps=num_warps)
        return elements * src.element_size()
    if kind == "write":
        _write[grid](dst, per_program, 1.0, BLOCK=block, num_warps=num_warps)
        return elements * dst.element_size()
    _copy[grid](src, dst, per_program, BLOCK=block, num_warps=num_warps)
    return 2 * elements * src.element_size()
