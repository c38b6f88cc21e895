#!/bin/bash
# SASS instruction counts per k-tile of MLX's CUDA weight-only quantized matmul kernels (zcbenz's PRs),
# fp16 activations, group size 64, MLX affine quantization (fp16 scale + fp16 bias per 64 weights):
#   sm80_m{16,32,64}   qmm_sm80 (PR #3255, 1e855446b), uint8 weights, TileM 16/32/64, sm_80
#   naive_m{16,64}_{k,n} qmm_naive (PR #3315, 1c9ee2f65), uint4 weights, TileM 16/64, K-major
#                       (transpose=True, x @ w.T) and N-major (transpose=False) weights, SM80 MMA, sm_80
#   qmv                qmv (PR #3180, 3c565437a), uint8 weights, M = 1, sm_80
#   sm90_3160          qmm_sm90 (PR #3160, 6304c285d), uint4 weights, CUTLASS sm90 mixed-input GEMM,
#                       tile 128(N) x 16(M) x 64(K), the only configuration that PR has, sm_90a
#   sm90_3173_n{16,32,64} the same kernel template with PR #3173's per-M tiles (0c8107ce8), for comparison
# Writes per_tile.csv and tool_versions.txt beside this script; build tree in $WORK (/tmp).
# Step 5 prints checks: B shared-memory bank conflicts and scale-load sectors of qmm_sm80
# (tools/smem_banks.cu), and MLX's real qmm_impl_sm80_m16/m64.cu translation units vs ours (SASS diff).
#
#   bash make_sass.sh      # about 10 minutes on 2 cores after the downloads, CPU only
#
# Toolchain: CUDA 13.0 nvcc (front end and ptxas: MLX builds with the toolkit it finds; CUDA 13.0 is the
# newest here), Triton's bundled cuobjdump. Flags are MLX's (mlx/backend/cuda/CMakeLists.txt at each
# commit, Release build: -O3 -DNDEBUG, C++20, --extended-lambda, --expt-relaxed-constexpr,
# -Xcompiler=-fno-strict-aliasing, the -Xcudafe diag suppressions; no --use_fast_math; sm_90a for the
# Hopper kernel with MLX_CUDA_SM90A_ENABLED; FMT_HEADER_ONLY as MLX's fmt::fmt-header-only target).
# Headers: MLX from the git mirror at each commit, CUTLASS v4.3.5 (the GIT_TAG all four commits pin),
# fmt 12.1.0 (pinned), cudnn.h / cublasLt.h from the nvidia-cudnn-cu13 / nvidia-cublas wheels (MLX's
# host headers include them; nothing from them reaches device code). CCCL: CUDA 13.0's bundled copy, not
# the v3.1.3 zip MLX fetches (not reachable here).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=${REPO:-$(cd "$HERE/../.." && pwd)}
export SASS_TOOLS_DIR=$REPO/benchmarks
W=${WORK:-/tmp/mlx_qmm_build}
MLX=${MLX_MIRROR:-/work/.mirror/ml-explore+mlx/repo}          # git clone --bare https://github.com/ml-explore/mlx
CUTLASS=${CUTLASS_MIRROR:-/work/.mirror/NVIDIA+cutlass/repo}   # git clone --bare https://github.com/NVIDIA/cutlass
FMT=${FMT_MIRROR:-/work/.mirror/fmtlib+fmt/repo}               # git clone --bare https://github.com/fmtlib/fmt
CUDA13=${CUDA13:-/usr/local/cuda-13.0}
CUOBJDUMP=$REPO/.venv/lib/python3.11/site-packages/triton/backends/nvidia/bin/cuobjdump
PY=${PY:-python3}
JOBS=${JOBS:-2}
mkdir -p "$W/wheels" "$W/deps" "$W/b" "$W/gen"
B=$W/b

# 1. sources
commit() { git --git-dir="$MLX" rev-parse "$1^{commit}"; }
for c in 1e855446b 1c9ee2f65 3c565437a 6304c285d 0c8107ce8; do
  [ -d "$W/src-$c/mlx" ] || { mkdir -p "$W/src-$c"; git --git-dir="$MLX" archive "$c" mlx | tar -x -C "$W/src-$c"; }
  grep -q 'GIT_TAG v4.3.5' "$W/src-$c/mlx/backend/cuda/CMakeLists.txt" || { echo "commit $c does not pin CUTLASS v4.3.5"; exit 1; }
done
if [ ! -f "$W/cutlass/include/cute/tensor.hpp" ]; then   # (git archive complains about an absent media/ blob: harmless)
  mkdir -p "$W/cutlass"; (git --git-dir="$CUTLASS" archive v4.3.5 include 2>/dev/null || true) | tar -x -C "$W/cutlass"
fi
[ "$(find "$W/cutlass/include" -type f | wc -l)" = "$(git --git-dir="$CUTLASS" ls-tree -r --name-only v4.3.5 include | wc -l)" ]
[ -f "$W/fmt/include/fmt/format.h" ] || { mkdir -p "$W/fmt"; git --git-dir="$FMT" archive 12.1.0 include | tar -x -C "$W/fmt"; }
( cd "$W/wheels"
  ls nvidia_cudnn_cu13-9.24.0.43-*.whl >/dev/null 2>&1 || pip download -q --no-deps nvidia-cudnn-cu13==9.24.0.43
  ls nvidia_cublas-13.1.1.3-*.whl >/dev/null 2>&1 || pip download -q --no-deps nvidia-cublas==13.1.1.3 )
[ -f "$W/deps/nvidia/cudnn/include/cudnn.h" ] || unzip -q -o "$W"/wheels/nvidia_cudnn_cu13-*.whl 'nvidia/cudnn/include/*' -d "$W/deps"
[ -f "$W/deps/nvidia/cu13/include/cublasLt.h" ] || unzip -q -o "$W"/wheels/nvidia_cublas-*.whl 'nvidia/cu13/include/*' -d "$W/deps"
# the kernel-and-launcher part of the two .cu files that also hold a non-template dispatcher, verbatim
awk '{print} /^} \/\/ namespace cutlass_gemm/{exit}' "$W/src-6304c285d/mlx/backend/cuda/quantized/qmm_sm90.cu" > "$W/gen/qmm_sm90_3160.cuh"
awk '{print} /^} \/\/ namespace cu$/{exit}' "$W/src-3c565437a/mlx/backend/cuda/quantized/qmm/qmv.cu" > "$W/gen/qmv_3180.cuh"
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$W/gen/libcuda.so" "$HERE/tools/libcuda_stub.c"
ln -sf libcuda.so "$W/gen/libcuda.so.1"
{ echo "nvcc + ptxas: $($CUDA13/bin/nvcc --version | tail -1)"; echo "g++: $(g++ --version | head -1)"
  echo "cuobjdump: $($CUOBJDUMP --version | tail -2 | head -1)"
  for c in 1e855446b 1c9ee2f65 3c565437a 6304c285d 0c8107ce8; do echo "MLX $c: $(commit $c) $(git --git-dir="$MLX" log -1 --format=%s $c)"; done
  echo "CUTLASS: v4.3.5 ($(git --git-dir="$CUTLASS" rev-parse 'v4.3.5^{commit}'))"
  echo "fmt: 12.1.0 ($(git --git-dir="$FMT" rev-parse '12.1.0^{commit}'))"
  echo "cudnn.h: nvidia-cudnn-cu13 9.24.0.43; cublasLt.h: nvidia-cublas 13.1.1.3 (host headers only)"; } > "$B/tool_versions.txt"

# 2. compile: one executable per variant (device code for one arch + the host launcher, run on the CPU)
SUP=(); for d in 27 997 1394 20011 20208 177 550; do SUP+=(-Xcudafe "--diag_suppress=$d"); done
OPTS=(-std=c++20 -O3 -DNDEBUG -DMLX_USE_CUDA -DFMT_HEADER_ONLY --extended-lambda --expt-relaxed-constexpr
      -Xcompiler=-fno-strict-aliasing "${SUP[@]}" -isystem "$W/cutlass/include" -I "$W/fmt/include"
      -I "$W/deps/nvidia/cudnn/include" -I "$W/deps/nvidia/cu13/include" -Xptxas -v -L "$W/gen" -lcuda)
build() {  # name, commit, arch, source, defines...
  local v=$1 c=$2 arch=$3 src=$4; shift 4
  "$CUDA13/bin/nvcc" "${OPTS[@]}" -I "$W/src-$c" "$@" -gencode "arch=compute_$arch,code=sm_$arch" \
      "$src" -o "$B/$v" > "$B/$v.build.log" 2>&1 || { echo "build $v failed: $B/$v.build.log"; return 1; }
  echo "built $v"
}
SM80H='-DIMPL_HEADER="mlx/backend/cuda/quantized/qmm/qmm_impl_sm80.cuh"'
NAIVEH='-DIMPL_HEADER="mlx/backend/cuda/quantized/qmm/qmm_impl_naive.cuh"'
pids=()
run() { build "$@" & pids+=($!); if [ ${#pids[@]} -ge "$JOBS" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi; }
run sm80_m16 1e855446b 80 "$HERE/qmm_instantiate.cu" "$SM80H" -DTILE_M=16
run sm80_m32 1e855446b 80 "$HERE/qmm_instantiate.cu" "$SM80H" -DTILE_M=32
run sm80_m64 1e855446b 80 "$HERE/qmm_instantiate.cu" "$SM80H" -DTILE_M=64
for tm in 16 64; do for lay in k n; do
  km=$([ $lay = k ] && echo true || echo false)
  run naive_m${tm}_$lay 1c9ee2f65 80 "$HERE/qmm_instantiate.cu" "$NAIVEH" -DKIND_NAIVE -DTILE_M=$tm -DKMAJOR=$km \
      -DQUANT_T=cutlass::uint4b_t
done; done
run qmv 3c565437a 80 "$HERE/qmv_instantiate.cu" -DQMV_HEADER="\"$W/gen/qmv_3180.cuh\""
run sm90_3160 6304c285d 90a "$HERE/qmm_instantiate.cu" -DIMPL_HEADER="\"$W/gen/qmm_sm90_3160.cuh\"" -DKIND_SM90 \
    -DTILE_M=16 -DQUANT_T=cutlass::uint4b_t -DMLX_CUDA_SM90A_ENABLED
for p in "${pids[@]}"; do wait "$p"; done
# qmm_sm90's host launcher stops at gemm.initialize without a driver (TMA descriptors): its block size,
# shared memory and pipeline depth come from tools/sm90_sizes.cu (the launcher's type definitions)
"$CUDA13/bin/nvcc" -std=c++20 -O1 --expt-relaxed-constexpr -isystem "$W/cutlass/include" \
    -gencode arch=compute_90a,code=sm_90a "$HERE/tools/sm90_sizes.cu" -o "$B/sm90_sizes" > "$B/sm90_sizes.build.log" 2>&1
"$B/sm90_sizes" | tee "$B/sm90_3160_sizes.txt"
# PR #3173's tiles (not what #3160 timed; for comparison): device code only (-cubin), sizes likewise
for t in "16 1" "32 1" "64 2"; do
  set -- $t
  "$CUDA13/bin/nvcc" "${OPTS[@]}" -I "$W/src-0c8107ce8" -DMLX_CUDA_SM90A_ENABLED -DTILE_N=$1 -DCLUSTER_M=$2 -cubin \
      -gencode arch=compute_90a,code=sm_90a "$HERE/qmm_sm90_3173_instantiate.cu" -o "$B/sm90_3173_n$1.cubin" \
      > "$B/sm90_3173_n$1.build.log" 2>&1 && echo "built sm90_3173_n$1"
  "$CUDA13/bin/nvcc" -std=c++20 -O1 --expt-relaxed-constexpr -isystem "$W/cutlass/include" -DTILE_N=$1 -DCLUSTER_M=$2 \
      -gencode arch=compute_90a,code=sm_90a "$HERE/tools/sm90_sizes.cu" -o "$B/sm90_sizes_n$1" > /dev/null 2>&1
  "$B/sm90_sizes_n$1" | tee "$B/sm90_3173_n$1_sizes.txt"
done

# 3. SASS, resources, launch configurations, per-k-tile counts
mma_per_tile() { case $1 in sm80_m16|naive_m16_*) echo 16;; sm80_m32) echo 32;; sm80_m64|naive_m64_*) echo 64;;
                 sm90_*) echo 4;; qmv) echo 0;; esac; }
: > "$B/launch.txt"
for v in sm80_m16 sm80_m32 sm80_m64 naive_m16_k naive_m16_n naive_m64_k naive_m64_n qmv sm90_3160 \
         sm90_3173_n16 sm90_3173_n32 sm90_3173_n64; do
  bin=$B/$v; [ -f "$bin" ] || bin=$B/$v.cubin
  "$CUOBJDUMP" -sass "$bin" > "$B/$v.sass"
  "$CUOBJDUMP" -res-usage "$bin" > "$B/$v.res.txt"
  [ -x "$B/$v" ] && for mnk in "1 4096 4096" "16 4096 4096" "32 4096 4096" "64 4096 4096" "1 16384 16384" "16 16384 16384" \
             "32 16384 16384" "64 16384 16384"; do
    echo "$v $(LD_LIBRARY_PATH=$W/gen "$B/$v" $mnk 2>/dev/null | grep '^m=' | tail -1)" >> "$B/launch.txt"
  done
  kern=$(case $v in sm80*) echo qmm_sm80_kernel;; naive*) echo qmm_naive_kernel;; qmv) echo qmv_kernelILi8ELi8ELi64ELb1ELb0E;;
         sm90*) echo device_kernel;; esac)
  extra=(); [ $v = qmv ] && extra=(--tiles-by-ldg-width 64)
  $PY "$HERE/tools/qmm_loops.py" "$B/$v.sass" --kernel "$kern" --variant $v --mma-per-tile "$(mma_per_tile $v)" \
      "${extra[@]}" --json "$B/$v.json" > "$B/$v.analysis.txt"
  grep -m1 '^## main' "$B/$v.analysis.txt" | sed "s/^/$v: /"
done
cat "$B/launch.txt"

# 4. the table
$PY "$HERE/tools/per_tile.py" "$B" > "$HERE/per_tile.csv"
cp "$B/tool_versions.txt" "$HERE/tool_versions.txt"
cat "$HERE/per_tile.csv"

# 5. checks (printed): qmm_sm80's B shared-memory loads (bank conflicts) and scale-load sectors, from
# the kernel's own CuTe layouts (tools/smem_banks.cu, host only)
SUP2=("${SUP[@]}" -Xcudafe --diag_suppress=611)
"$CUDA13/bin/nvcc" -std=c++20 -O1 -DNDEBUG -DMLX_USE_CUDA -DFMT_HEADER_ONLY --expt-relaxed-constexpr --extended-lambda \
    "${SUP2[@]}" -isystem "$W/cutlass/include" -I "$W/fmt/include" -I "$W/deps/nvidia/cudnn/include" \
    -I "$W/deps/nvidia/cu13/include" -I "$W/src-1e855446b" -gencode arch=compute_80,code=sm_80 \
    "$HERE/tools/smem_banks.cu" -o "$B/smem_banks" > "$B/smem_banks.build.log" 2>&1
"$B/smem_banks" | tee "$B/smem_banks.txt"
# MLX's own translation units (qmm_impl_sm80_m16.cu / _m64.cu: all dtypes, bits, group sizes) give the
# fp16 x uint8 x group-64 kernel the same SASS as qmm_instantiate.cu's
sass_text() { grep -oE '^\s+/\*[0-9a-f]{4,}\*/\s+[^;]*;' "$1" | sed -E 's/ +/ /g'; }
for tm in 16 64; do
  "$CUDA13/bin/nvcc" "${OPTS[@]}" -I "$W/src-1e855446b" -cubin -gencode arch=compute_80,code=sm_80 \
      "$W/src-1e855446b/mlx/backend/cuda/quantized/qmm/qmm_impl_sm80_m$tm.cu" -o "$B/real_m$tm.cubin" > "$B/real_m$tm.log" 2>&1
  name=$($PY -c "import json; print(json.load(open('$B/sm80_m$tm.json'))['kernel'])")
  "$CUOBJDUMP" -sass -fun "$name" "$B/real_m$tm.cubin" > "$B/real_m$tm.sass" 2>/dev/null
  "$CUOBJDUMP" -sass -fun "$name" "$B/sm80_m$tm" > "$B/sm80_m$tm.one.sass" 2>/dev/null
  if cmp -s <(sass_text "$B/sm80_m$tm.one.sass") <(sass_text "$B/real_m$tm.sass"); then
    echo "check: sm80_m$tm SASS identical to MLX's qmm_impl_sm80_m$tm.cu ($(sass_text "$B/real_m$tm.sass" | wc -l) instructions)"
  else
    echo "check: sm80_m$tm SASS DIFFERS from MLX's qmm_impl_sm80_m$tm.cu ($(sass_text "$B/real_m$tm.sass" | wc -l) vs $(sass_text "$B/sm80_m$tm.one.sass" | wc -l) instructions)"
  fi
done
