"""Every Triton reference kernel compiles for an H100 (sm_90) on a machine with no GPU.

CI runs the kernels only in Triton's interpreter (tests/test_reference_kernels.py), which does not
check what the compiler checks: a module-level float used inside a kernel without
``tl.constexpr(...)`` ran in the interpreter and failed to compile for the GPU. Here each kernel
goes through Triton's real front end, the NVIDIA back end and the ptxas bundled with Triton, for
the configurations `codesign measure` launches (one per code path: dtypes, causal or not, head
dims). A few seconds; skipped where the installed Triton has no NVIDIA back end.
"""

from __future__ import annotations

import pytest

triton = pytest.importorskip("triton")
compiler = pytest.importorskip("triton.compiler")
backends = pytest.importorskip("triton.backends.compiler")

import importlib.util  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

KERNELS_DIR = Path(__file__).parent.parent / "reference_kernels" / "triton_kernels"


def _compilable_copy(name: str):
    """A private copy of a kernel module, loaded with the interpreter off: on a machine with no GPU
    tests/test_reference_kernels.py sets TRITON_INTERPRET=1, under which ``@triton.jit`` makes
    interpreted functions that cannot be compiled; the copy leaves the shared modules as they are."""
    importlib.import_module("reference_kernels.triton_kernels")  # the shared modules, as conftest set them
    spec = importlib.util.spec_from_file_location(f"_sm90_check_{name}", KERNELS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    saved = os.environ.pop("TRITON_INTERPRET", None)
    try:
        spec.loader.exec_module(module)
    finally:
        if saved is not None:
            os.environ["TRITON_INTERPRET"] = saved
    return module


attention_decode, attention_prefill, matmul, w4a16 = (
    _compilable_copy(name) for name in ("attention_decode", "attention_prefill", "matmul", "w4a16")
)

#: The H100's compute capability (9.0) and warp size.
H100_TARGET = backends.GPUTarget("cuda", 90, 32)


def _compile(kernel, types: dict[str, str], constants: dict[str, object], **options) -> bytes:
    signature = {
        name: "constexpr" if name in constants else types.get(name, "i32") for name in kernel.arg_names
    }
    source = compiler.ASTSource(kernel, signature, constexprs=constants)
    return triton.compile(source, target=H100_TARGET, options=options).asm["cubin"]


def _nvidia_backend() -> bool:
    try:
        _compile(
            matmul._matmul_kernel,
            {"a_ptr": "*fp16", "b_ptr": "*fp16", "c_ptr": "*fp16"},
            {"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16, "GROUP_M": 1, "UPCAST_DOT": False},
            num_warps=1,
            num_stages=1,
        )
    except (ImportError, RuntimeError, FileNotFoundError) as error:  # no ptxas / no CUDA back end
        pytest.skip(f"Triton cannot compile for sm_90 here: {error}")
    return True


@pytest.fixture(scope="module", autouse=True)
def nvidia_backend():
    return _nvidia_backend()


@pytest.mark.parametrize(
    ("element", "out", "block_k"), [("fp16", "fp16", 64), ("bf16", "bf16", 64), ("fp8e4nv", "bf16", 128)]
)
def test_gemm_compiles(element, out, block_k):
    types = {"a_ptr": f"*{element}", "b_ptr": f"*{element}", "c_ptr": f"*{out}"}
    constants = {"BLOCK_M": 128, "BLOCK_N": 128, "BLOCK_K": block_k, "GROUP_M": 8, "UPCAST_DOT": False}
    assert _compile(matmul._matmul_kernel, types, constants, num_warps=8, num_stages=4)


def test_w4a16_compiles():
    types = {"a_ptr": "*fp16", "w_ptr": "*u8", "s_ptr": "*fp16", "z_ptr": "*fp16", "c_ptr": "*fp16"}
    constants = {"GROUP_SIZE": 128, "BLOCK_M": 16, "BLOCK_N": 64, "BLOCK_K": 128, "GROUP_M": 1}
    assert _compile(w4a16._w4a16_kernel, types, constants, num_warps=4, num_stages=4)


@pytest.mark.parametrize(("head_dim", "causal"), [(64, True), (128, False)])
def test_attention_prefill_compiles(head_dim, causal):
    types = {name: "*fp16" for name in ("q_ptr", "k_ptr", "v_ptr", "o_ptr")} | {"sm_scale": "fp32"}
    constants = {"HEAD_DIM": head_dim, "CAUSAL": causal, "BLOCK_M": 64, "BLOCK_N": 64}
    assert _compile(attention_prefill._prefill_kernel, types, constants, num_warps=4, num_stages=3)


def test_attention_decode_compiles():
    split = {
        "q_ptr": "*fp16",
        "k_ptr": "*fp16",
        "v_ptr": "*fp16",
        "o_part_ptr": "*fp32",
        "lse_ptr": "*fp32",
        "sm_scale": "fp32",
    }
    assert _compile(
        attention_decode._split_kernel,
        split,
        {"HEAD_DIM": 128, "BLOCK_G": 16, "BLOCK_N": 64},
        num_warps=4,
        num_stages=2,
    )
    reduce = {"o_part_ptr": "*fp32", "lse_ptr": "*fp32", "o_ptr": "*fp16"}
    assert _compile(attention_decode._reduce_kernel, reduce, {"HEAD_DIM": 128, "BLOCK_S": 256}, num_warps=4)
