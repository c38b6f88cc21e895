"""Compile block_fp8_kernel.py for every (arch, config) with the Triton of the running interpreter, no GPU
needed, and write ttgir / ptx / cubin / sass under OUT/<triton version>/<arch>/<config>/.

    python compile_kernels.py OUT                 # all configs and archs
    python compile_kernels.py OUT --schedule      # also the pipeliner's schedule of the loop's loads

--schedule re-runs each compile in a child process with MLIR_ENABLE_DUMP=1 and keeps, from the IR dumped
before each pass, the loop's tt.load / dot lines that carry the pipeliner's attributes (tt.latency,
loop.stage, loop.cluster), one line per distinct (op, element type, attributes), in kernel.schedule.txt.

The arguments are specialized the way Triton's JIT does it for a real call (pointers 16-byte aligned; the
unit strides stride_ak, stride_bk, stride_cn, stride_As_k, stride_Bs_k become constexpr 1; ints divisible
by 16 carry tt.divisibility=16), for a DeepSeek-V3-like shape: K = 7168, N = 4096 (divisible by 16),
M not divisible by 16, scale strides K / 128 = 56 (not divisible by 16).
"""

import os
import re
import subprocess
import sys

import triton
from triton.backends.compiler import GPUTarget

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from block_fp8_kernel import block_fp8_matmul  # noqa: E402

#: (BLOCK_M, BLOCK_N, num_warps, num_stages)
CONFIGS = [(16, 128, 4, 3), (64, 128, 4, 3), (128, 128, 4, 3), (128, 128, 8, 4)]
ARCHS = [90, 89]
SIGNATURE = {
    "A": "*fp8e4nv", "B": "*fp8e4nv", "C": "*bf16", "As": "*fp32", "Bs": "*fp32",
    "M": "i32", "N": "i32", "K": "i32",
    "stride_am": "i32", "stride_ak": "constexpr", "stride_bk": "constexpr", "stride_bn": "i32",
    "stride_cm": "i32", "stride_cn": "constexpr",
    "stride_As_m": "i32", "stride_As_k": "constexpr", "stride_Bs_k": "constexpr", "stride_Bs_n": "i32",
    "BLOCK_M": "constexpr", "BLOCK_N": "constexpr", "BLOCK_K": "constexpr", "GROUP_SIZE_M": "constexpr",
}  # fmt: skip
UNIT_STRIDES = ("stride_ak", "stride_bk", "stride_cn", "stride_As_k", "stride_Bs_k")
#: arguments the JIT marks tt.divisibility=16 for this shape (the pointers, N, K, and the K / N strides)
DIVISIBLE = ("A", "B", "C", "As", "Bs", "N", "K", "stride_am", "stride_bn", "stride_cm")


def config_name(bm: int, bn: int, warps: int, stages: int) -> str:
    return f"m{bm}_n{bn}_w{warps}_s{stages}"


def compile_one(arch: int, bm: int, bn: int, warps: int, stages: int):
    names = block_fp8_matmul.arg_names
    constexprs = {name: 1 for name in UNIT_STRIDES}
    constexprs.update(BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=128, GROUP_SIZE_M=32)
    attrs = {(names.index(name),): [["tt.divisibility", 16]] for name in DIVISIBLE}
    src = triton.compiler.ASTSource(
        fn=block_fp8_matmul, signature=SIGNATURE, constexprs=constexprs, attrs=attrs
    )
    return triton.compile(
        src, target=GPUTarget("cuda", arch, 32), options={"num_warps": warps, "num_stages": stages}
    )


OP = re.compile(r"= (tt\.load|ttng\.warp_group_dot|tt\.dot)\b")
ATTR = re.compile(r"(tt\.latency|loop\.stage|loop\.cluster) = (\d+)")
PASS = re.compile(r"IR Dump Before (\w+)")


def schedule_lines(dump: str) -> list[str]:
    """Distinct (op, element type, pipeliner attributes) of the loop's loads and dots in an MLIR dump,
    each with the pass before which it first appears."""
    seen, out, before = set(), [], "?"
    for line in dump.splitlines():
        m = PASS.search(line)
        if m:
            before = m.group(1)
            continue
        op = OP.search(line)
        attrs = ATTR.findall(line)
        if not op or not attrs:
            continue
        elem = "f32" if "!tt.ptr<f32>" in line else ("f8" if "f8E4M3FN" in line else "?")
        key = (op.group(1), elem, tuple(attrs))
        if key not in seen:
            seen.add(key)
            out.append(
                f"{op.group(1):22s} {elem:3s} "
                + " ".join(f"{k}={v}" for k, v in attrs)
                + f"   (first seen before {before})"
            )
    return out


def dump_schedule(folder: str, arch: int, cfg: tuple[int, int, int, int]) -> None:
    env = dict(os.environ, MLIR_ENABLE_DUMP="1", TRITON_ALWAYS_COMPILE="1")
    args = [sys.executable, os.path.abspath(__file__), "--child", str(arch), *map(str, cfg)]
    child = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    with open(os.path.join(folder, "kernel.schedule.txt"), "w") as f:
        f.write("\n".join(schedule_lines(child.stderr)) + "\n")


def main(out_root: str, schedule: bool) -> None:
    bindir = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin")
    for arch in ARCHS:
        for cfg in CONFIGS:
            folder = os.path.join(out_root, triton.__version__, f"sm{arch}", config_name(*cfg))
            os.makedirs(folder, exist_ok=True)
            asm = compile_one(arch, *cfg).asm
            for key in ("ttir", "ttgir", "llir", "ptx"):
                with open(os.path.join(folder, f"kernel.{key}"), "w") as f:
                    f.write(asm[key])
            cubin = os.path.join(folder, "kernel.cubin")
            with open(cubin, "wb") as f:
                f.write(asm["cubin"])
            sass = subprocess.run(
                [os.path.join(bindir, "cuobjdump"), "-sass", cubin],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            with open(os.path.join(folder, "kernel.sass"), "w") as f:
                f.write(sass)
            if schedule:
                dump_schedule(folder, arch, cfg)
            print(f"{triton.__version__} sm{arch} {config_name(*cfg)}: {sass.count(chr(10))} sass lines")


if __name__ == "__main__":
    if sys.argv[1] == "--child":
        compile_one(*map(int, sys.argv[2:]))
    else:
        main(sys.argv[1], "--schedule" in sys.argv[2:])
