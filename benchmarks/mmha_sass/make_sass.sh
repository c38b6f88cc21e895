#!/bin/bash
# SASS instruction counts per key of TensorRT-LLM v0.8.0's masked multi-head attention (MMHA) decode
# kernel: `masked_multihead_attention_kernel` (decoderMaskedMultiheadAttentionTemplate.h at 4bb65f21) with
# T = fp16, Dh = 128, 256 threads per CTA, beam width 1, no multi-block mode, no position shift, no cross
# attention, for five (architecture, KV cache, layout) variants. Writes per_key.csv beside this script;
# mappers/gpu_attention.py's TRTLLM_MMHA_* constants are read from it (tests check they agree).
#
#   bash benchmarks/mmha_sass/make_sass.sh      # about 40 s, CPU only
#
# Needs: a git copy of NVIDIA/TensorRT-LLM with commit 4bb65f21 (MIRROR: a bare mirror or a clone's .git),
# a CUDA 13.0 nvcc for its C++ front end (CUDA13; the cu12 wheels carry ptxas but no nvcc/cicc), pip (the
# nvcc 12.4.131 wheel's ptxas assembles the PTX, as a 12.4 build of v0.8.0 would), g++, and Triton's
# bundled cuobjdump (this repository's .venv). The PTX's ".version 9.0" is lowered to 8.4 for ptxas 12.4,
# nothing else edited; assembling the same PTX with ptxas 13.0 gives the same loop counts (checked for all
# five variants), and the real decoderMaskedMultiheadAttention128_half.cu compiled whole gives the same
# SASS per kernel as mmha_instantiate.cu (checked once; README.md).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=${WORK:-/tmp/mmha_sass_build}
MIRROR=${MIRROR:-/work/.mirror/tuanhe+TensorRT-LLM/repo}
CUDA13=${CUDA13:-/usr/local/cuda-13.0}
COMMIT=4bb65f21
CUOBJDUMP=$REPO/.venv/lib/python3.11/site-packages/triton/backends/nvidia/bin/cuobjdump
mkdir -p "$W/wheels" "$W/cuda" "$W/build" "$W/src"
cd "$W"

# 1. ptxas 12.4 and the CUDA headers (runtime; CCCL 12.5.39: the 12.4 wheels lack the extension-less headers)
( cd wheels
  ls nvidia_cuda_nvcc_cu12-12.4.131-*.whl    >/dev/null 2>&1 || pip download -q --no-deps nvidia-cuda-nvcc-cu12==12.4.131
  ls nvidia_cuda_runtime_cu12-12.4.127-*.whl >/dev/null 2>&1 || pip download -q --no-deps nvidia-cuda-runtime-cu12==12.4.127
  ls nvidia_cuda_cccl_cu12-12.5.39-*.whl     >/dev/null 2>&1 || pip download -q --no-deps nvidia-cuda-cccl-cu12==12.5.39 )
for w in wheels/*.whl; do unzip -q -o "$w" -d cuda; done
PTXAS124=$W/cuda/nvidia/cuda_nvcc/bin/ptxas
{ echo "ptxas: $($PTXAS124 --version | tail -1)"; echo "nvcc front end: $($CUDA13/bin/nvcc --version | tail -1)"
  echo "g++: $(g++ --version | head -1)"; echo "cuobjdump: $($CUOBJDUMP --version | tail -2 | head -1)"; } > build/tool_versions.txt

# 2. TensorRT-LLM v0.8.0's kernel sources
rm -rf src && mkdir -p src
git --git-dir="$MIRROR" archive "$COMMIT" cpp/include cpp/tensorrt_llm/common cpp/tensorrt_llm/kernels | tar -x -C src

# 3. compile each variant; macros of cpp/CMakeLists.txt's Release build (NDEBUG, ENABLE_BF16, ENABLE_FP8, ...)
DEFS=(-DNDEBUG -DENABLE_FP8 -DENABLE_BF16 -DOMPI_SKIP_MPICXX -DNVTX_DISABLE -DENABLE_MULTI_DEVICE=0 -DBUILD_SYSTEM=cmake_oss)
OPTS=(-std=c++17 -O3 "${DEFS[@]}" --expt-relaxed-constexpr --expt-extended-lambda
      -include "$HERE/stubs/cuda13/cub_max_shim.h" -I "$HERE/stubs/cublas" -I src/cpp -I src/cpp/include)
variant() {  # name, sm, K/V cache type, K/V buffer
  local v=$1 sm=$2 cache=$3 buffer=$4 mangled
  "$CUDA13/bin/nvcc" "${OPTS[@]}" -DTCACHE="$cache" -DKVBUF="$buffer" -ptx -arch=sm_$sm \
      "$HERE/mmha_instantiate.cu" -o build/$v.ptx
  mangled=$(grep -m1 -oE '^\.(visible|weak) \.entry [A-Za-z0-9_]+' build/$v.ptx | awk '{print $3}')
  sed 's/^\.version 9\.0$/.version 8.4/' build/$v.ptx > build/$v.v84.ptx
  "$PTXAS124" -arch=sm_$sm -m64 -O3 -v build/$v.v84.ptx -o build/$v.cubin 2> build/$v.ptxas.log
  "$CUOBJDUMP" -sass -fun "$mangled" build/$v.cubin > build/$v.sass
  python3 "$HERE/tools/sass_loops.py" build/$v.sass --auto > build/$v.analysis.txt
}
variant A 90 __nv_fp8_e4m3 KVBlockArray
variant B 90 __nv_fp8_e4m3 KVLinearBuffer
variant C 80 uint16_t KVBlockArray
variant D 80 uint16_t KVLinearBuffer
variant E 89 __nv_fp8_e4m3 KVBlockArray

# 4. the per-key table
python3 "$HERE/tools/per_key.py" build A B C D E > "$HERE/per_key.csv"
cp build/tool_versions.txt "$HERE/tool_versions.txt"
cat "$HERE/per_key.csv"
