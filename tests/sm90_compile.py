"""Compile every Triton reference kernel for an H100 (sm_90) and print one JSON line of results.

Run by tests/test_triton_compile.py in a child process whose environment has no
``TRITON_INTERPRET``: the test session sets it (tests/conftest.py), and once `triton.language` is
imported under it, its own ``@jit`` helpers (``tl.cdiv``, ``tl.max``, ...) are interpreter
functions that a real compile cannot call. A child with Triton imported normally compiles the
kernels as a GPU run would, cold (its own empty cache directory), so nothing passes on a cache hit.

    python tests/sm90_compile.py     # {"gemm fp16": "ok", ..., "w8a16 m128": "<error>"}
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

#: The H100's compute capability (9.0) and warp size.
H100 = ("cuda", 90, 32)


def cases() -> list[tuple[str, str, str, dict[str, str], dict[str, object], dict[str, int]]]:
    """(name, module, kernel, argument types, constexpr values, options): one per code path
    `codesign measure` launches (dtypes, causal or not, head dims, decode and prefill tiles), and
    the memory streams of the probes (reference_kernels/probes.py) at their largest block."""
    gemm = {"GROUP_M": 8, "UPCAST_DOT": False, "BLOCK_M": 128, "BLOCK_N": 128}
    big = {"num_warps": 8, "num_stages": 4}
    listed = [
        (f"gemm {element}", "matmul", "_matmul_kernel",
         {"a_ptr": f"*{element}", "b_ptr": f"*{element}", "c_ptr": f"*{out}"},
         gemm | {"BLOCK_K": block_k, "INT8": element == "i8"}, big)
        for element, out, block_k in (("fp16", "fp16", 64), ("bf16", "bf16", 64), ("fp8e4nv", "bf16", 128),
                                      ("i8", "i32", 128))
    ]
    listed.append(("w4a16", "w4a16", "_w4a16_kernel",
                   {"a_ptr": "*fp16", "w_ptr": "*u8", "s_ptr": "*fp16", "z_ptr": "*fp16", "c_ptr": "*fp16"},
                   {"GROUP_SIZE": 128, "BLOCK_M": 16, "BLOCK_N": 64, "BLOCK_K": 128, "GROUP_M": 1},
                   {"num_warps": 4, "num_stages": 4}))
    w8a16 = {"a_ptr": "*fp16", "w_ptr": "*i8", "s_ptr": "*fp16", "c_ptr": "*fp16"}
    listed += [
        ("w8a16 m16", "w8a16", "_w8a16_kernel", w8a16,
         {"BLOCK_M": 16, "BLOCK_N": 64, "BLOCK_K": 128, "GROUP_M": 1}, {"num_warps": 4, "num_stages": 4}),
        ("w8a16 m128", "w8a16", "_w8a16_kernel", w8a16,
         {"BLOCK_M": 128, "BLOCK_N": 128, "BLOCK_K": 64, "GROUP_M": 8}, big),
    ]
    prefill = {name: "*fp16" for name in ("q_ptr", "k_ptr", "v_ptr", "o_ptr")} | {"sm_scale": "fp32"}
    listed += [
        (f"prefill d{head_dim} causal={causal}", "attention_prefill", "_prefill_kernel", prefill,
         {"HEAD_DIM": head_dim, "CAUSAL": causal, "BLOCK_M": 64, "BLOCK_N": 64},
         {"num_warps": 4, "num_stages": 3})
        for head_dim, causal in ((64, True), (128, False))
    ]
    split = {"q_ptr": "*fp16", "k_ptr": "*fp16", "v_ptr": "*fp16", "o_part_ptr": "*fp32", "lse_ptr": "*fp32",
             "sm_scale": "fp32"}
    listed += [
        ("decode split", "attention_decode", "_split_kernel", split,
         {"HEAD_DIM": 128, "BLOCK_G": 16, "BLOCK_N": 64}, {"num_warps": 4, "num_stages": 2}),
        ("decode reduce", "attention_decode", "_reduce_kernel",
         {"o_part_ptr": "*fp32", "lse_ptr": "*fp32", "o_ptr": "*fp16"},
         {"HEAD_DIM": 128, "BLOCK_S": 256}, {"num_warps": 4}),
    ]
    listed += [
        (f"stream {kind}", "streams", f"_{kind}", types, {"BLOCK": 16384}, {"num_warps": 4})
        for kind, types in (("read", {"src": "*fp32", "partial_sums": "*fp32", "per_program": "i64"}),
                            ("write", {"dst": "*fp32", "per_program": "i64", "value": "fp32"}),
                            ("copy", {"src": "*fp32", "dst": "*fp32", "per_program": "i64"}))
    ]
    return listed


def main() -> int:
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        print("run without TRITON_INTERPRET: kernels defined under it cannot be compiled", file=sys.stderr)
        return 2
    os.environ["TRITON_CACHE_DIR"] = tempfile.mkdtemp(prefix="sm90_compile_")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import importlib

    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    target = GPUTarget(*H100)
    results = {}
    for name, module, kernel_name, types, constants, options in cases():
        kernel = getattr(importlib.import_module(f"reference_kernels.triton_kernels.{module}"), kernel_name)
        signature = {
            arg: "constexpr" if arg in constants else types.get(arg, "i32") for arg in kernel.arg_names
        }
        try:
            binary = triton.compile(ASTSource(kernel, signature, constexprs=constants), target=target,
                                    options=options)
            results[name] = "ok" if binary.asm.get("cubin") else "no cubin"
        except (ImportError, FileNotFoundError) as error:  # no NVIDIA back end or ptxas: a skip
            results[name] = f"unavailable: {error}"
        except Exception as error:  # noqa: BLE001 - the test shows whatever the compiler raised
            results[name] = f"{type(error).__name__}: {error}"
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
