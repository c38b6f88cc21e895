#!/bin/bash
# SASS of a block-scaled FP8 GEMM (the algorithm of vLLM's / sglang's w8a8_block_fp8_matmul, our own
# Triton code in block_fp8_kernel.py) under Triton 3.3.1, 3.4.0, 3.6.0 and 3.9.0, for sm_90 and sm_89,
# four (BLOCK_M, BLOCK_N, num_warps, num_stages) configs; no GPU needed.
# Writes per_iteration.csv and tool_versions.txt beside this script; IR / PTX / cubin / SASS dumps and the
# pipeliner's schedule go to $OUT/<version>/<arch>/<config>/ (default /tmp/triton_block_fp8_sass).
#
#   bash make_sass.sh        # a few minutes after the wheel downloads (about 4 x 250 MB), CPU only
#
# One venv per Triton version under /tmp/tri<version without dots> (triton from the package registry;
# torch is not needed for compiling). Each wheel compiles with its own bundled ptxas and disassembles
# with its own cuobjdump.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=${REPO:-$(cd "$HERE/../.." && pwd)}
OUT=${OUT:-/tmp/triton_block_fp8_sass}
PY=${PY:-python3}
export SASS_TOOLS_DIR=$REPO/benchmarks
export TRITON_DEFAULT_FP_FUSION=1   # 3.9's default (fusion on), stated so 3.9 does not warn
mkdir -p "$OUT"
: > "$HERE/tool_versions.txt"
for v in 3.3.1 3.4.0 3.6.0 3.9.0; do
  venv=/tmp/tri${v//./}
  if ! "$venv/bin/python" -c "import triton, sys; sys.exit(triton.__version__ != '$v')" 2>/dev/null; then
    "$PY" -m venv "$venv"
    "$venv/bin/pip" install -q "triton==$v"
  fi
  "$venv/bin/python" "$HERE/compile_kernels.py" "$OUT" --schedule
  bin=$("$venv/bin/python" -c "import os, triton; print(os.path.dirname(triton.__file__))")/backends/nvidia/bin
  echo "triton $v: $("$bin/ptxas" --version | tail -n 1); cuobjdump $("$bin/cuobjdump" --version | tail -n 1)" \
    >> "$HERE/tool_versions.txt"
done
"$PY" "$HERE/analyze.py" "$OUT" "$HERE/per_iteration.csv" | tee "$OUT/summary.txt"
