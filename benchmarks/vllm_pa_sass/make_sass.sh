#!/bin/bash
# SASS instruction counts per key of vLLM 0.6.4's PagedAttention V1 decode kernel
# (vllm::paged_attention_v1_kernel, csrc/attention/attention_kernels.cuh) with head size 128, 16-token
# blocks, 128 threads, not block-sparse, for three variants (A: sm_90 fp16 cache, B: sm_90 fp8 e4m3
# cache, C: sm_80 fp16 cache; fp16 queries). Writes per_key.csv beside this script;
# mappers/gpu_attention.py's VLLM_PAGED_ATTENTION_SASS is read from it (tests check they agree).
#
#   bash benchmarks/vllm_pa_sass/make_sass.sh      # about 10 s after the downloads, CPU only
#
# The toolchain of benchmarks/mmha_sass: CUDA 13.0 nvcc as the C++ front end (CUDA13), PTX ".version
# 9.0" lowered to 8.4 (nothing else edited), ptxas 12.4.131 from the nvidia-cuda-nvcc-cu12 wheel,
# Triton's bundled cuobjdump (this repository's .venv). vLLM's sources: its 0.6.4 sdist from PyPI
# (checked by sha256). Flags are vLLM 0.6.4's CMake ones for CUDA >= 12: --expt-relaxed-constexpr,
# -DENABLE_FP8, RelWithDebInfo's -O2 -g -DNDEBUG. The torch/ATen/c10 headers attention_kernels.cuh
# includes resolve to empty stubs (stubs/); the kernel body is not touched.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=${WORK:-/tmp/vllm_pa_sass_build}
CUDA13=${CUDA13:-/usr/local/cuda-13.0}
CUOBJDUMP=$REPO/.venv/lib/python3.11/site-packages/triton/backends/nvidia/bin/cuobjdump
SDIST_URL=https://files.pythonhosted.org/packages/44/2f/6694c547202333dcbd2c2e08a7e1fc04f7db7dc44d32ba6fbd51a38bc10e/vllm-0.6.4.tar.gz
SDIST_SHA256=5d1452c44e6fde35084219a8396a79c77f1202a6fc69fdb966d15a1a8933b762
mkdir -p "$W/wheels" "$W/cuda" "$W/build"
B=$W/build

# 1. ptxas 12.4.131
( cd "$W/wheels"
  ls nvidia_cuda_nvcc_cu12-12.4.131-*.whl >/dev/null 2>&1 || pip download -q --no-deps nvidia-cuda-nvcc-cu12==12.4.131 )
[ -x "$W/cuda/nvidia/cuda_nvcc/bin/ptxas" ] || unzip -q -o "$W"/wheels/nvidia_cuda_nvcc_cu12-12.4.131-*.whl -d "$W/cuda"
PTXAS124=$W/cuda/nvidia/cuda_nvcc/bin/ptxas

# 2. vLLM 0.6.4's csrc
SDIST=$W/vllm-0.6.4.tar.gz
[ -f "$SDIST" ] || curl -sSL -o "$SDIST" "$SDIST_URL"
echo "$SDIST_SHA256  $SDIST" | sha256sum -c --quiet
rm -rf "$W/src" && mkdir -p "$W/src"
tar xzf "$SDIST" -C "$W/src" vllm-0.6.4/csrc
CSRC=$W/src/vllm-0.6.4/csrc
{ echo "ptxas: $($PTXAS124 --version | tail -1)"; echo "nvcc front end: $($CUDA13/bin/nvcc --version | tail -1)"
  echo "g++: $(g++ --version | head -1)"; echo "cuobjdump: $($CUOBJDUMP --version | tail -2 | head -1)"
  echo "vLLM: 0.6.4 sdist sha256 $SDIST_SHA256"; } > "$B/tool_versions.txt"

# 3. compile each variant
OPTS=(-std=c++17 -O2 -g -DNDEBUG -DENABLE_FP8 --expt-relaxed-constexpr -I "$HERE/stubs" -I "$CSRC")
variant() {  # name, sm, scalar_t, cache_t, Fp8KVCacheDataType
  local v=$1 sm=$2 st=$3 ct=$4 kd=$5 mangled
  "$CUDA13/bin/nvcc" "${OPTS[@]}" -DSCALAR_T="$st" -DCACHE_T="$ct" -DKV_DTYPE="$kd" -ptx -arch=sm_$sm \
      "$HERE/pa_instantiate.cu" -o "$B/$v.ptx"
  mangled=$(grep -m1 -oE '^\.(visible|weak) \.entry [A-Za-z0-9_]+' "$B/$v.ptx" | awk '{print $3}')
  sed 's/^\.version 9\.0$/.version 8.4/' "$B/$v.ptx" > "$B/$v.v84.ptx"
  "$PTXAS124" -arch=sm_$sm -m64 -O3 -v "$B/$v.v84.ptx" -o "$B/$v.cubin" 2> "$B/$v.ptxas.log"
  "$CUOBJDUMP" -sass -fun "$mangled" "$B/$v.cubin" > "$B/$v.sass"
  python3 "$HERE/tools/sass_loops.py" "$B/$v.sass" --auto > "$B/$v.analysis.txt"
}
variant A 90 uint16_t uint16_t kAuto
variant B 90 uint16_t uint8_t kFp8E4M3
variant C 80 uint16_t uint16_t kAuto

# 4. the per-key table
python3 "$HERE/tools/per_key.py" "$B" A B C > "$HERE/per_key.csv"
cp "$B/tool_versions.txt" "$HERE/tool_versions.txt"
grep -h "Used" "$B"/A.ptxas.log "$B"/B.ptxas.log "$B"/C.ptxas.log
cat "$HERE/per_key.csv"
