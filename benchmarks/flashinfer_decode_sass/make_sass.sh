#!/bin/bash
# SASS instruction counts per key of FlashInfer v0.2.4's CUDA-core batch decode kernel
# (flashinfer::BatchDecodeWithPagedKVCacheKernel, include/flashinfer/attention/decode.cuh), the kernel
# BatchDecodeWithPagedKVCacheWrapper(use_tensor_cores=False) runs, for fp16 q/kv/o, page size 16 (a
# runtime value: not a template argument), no RoPE (PosEncodingMode::kNone), no sliding window, no
# logits soft cap, sm_90, with the launch parameters BatchDecodeWithPagedKVCacheDispatched picks on
# compute capability >= 8: variants A (head dim 128, GROUP_SIZE 1), B (128, 8), C (256, 1), D (256, 8),
# E (128, 4), F (128, 2).
# Writes per_key.csv and tool_versions.txt beside this script.
#
#   bash make_sass.sh      # about 35 s after the download, CPU only
#
# The toolchain of benchmarks/mmha_sass and benchmarks/vllm_pa_sass: CUDA 13.0 nvcc as the C++ front
# end (CUDA13), PTX ".version 9.0" lowered to 8.4 (nothing else edited), ptxas 12.4.131 from the
# nvidia-cuda-nvcc-cu12 wheel, Triton's bundled cuobjdump (the repository's .venv). FlashInfer's
# sources: tag v0.2.4 (bc81a59f) from a git mirror (MIRROR). Flags are FlashInfer 0.2.4's JIT ones
# (flashinfer/jit/core.py load_cuda_ops: -O3 -std=c++17 -use_fast_math -DFLASHINFER_ENABLE_{F16,BF16,
# FP8_E4M3,FP8_E5M2}; torch's --expt-relaxed-constexpr; the __CUDA_NO_HALF* defines removed by
# remove_unwanted_pytorch_nvcc_flags). The JIT config header is rendered from the tag's own
# csrc/batch_decode_customize_config.jinja as gen_batch_decode_module does (tools/render_config.py).
# Nothing is stubbed: the kernel body and its headers are untouched.
#
# Checks (step 5, printed, not written to the CSV): (a) the real JIT translation unit
# (csrc/batch_decode_kernel_inst.jinja rendered: the dispatcher BatchDecodeWithPagedKVCacheDispatched
# instantiated, all GROUP_SIZEs) gives each variant's kernel the same SASS as decode_instantiate.cu;
# (b) ptxas 13.0 (nvcc 13.0 straight to a cubin) gives the main loop's instruction count; (c) the AOT
# wheels' Params struct (stubs/aot_config.inc) gives the main loop's instruction count.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=${REPO:-$(cd "$HERE/../.." && pwd)}
export SASS_TOOLS_DIR=$REPO/benchmarks
W=${WORK:-/tmp/flashinfer_sass_build}
# a git directory of flashinfer-ai/flashinfer holding tag v0.2.4 (git clone --bare https://github.com/flashinfer-ai/flashinfer)
MIRROR=${MIRROR:-/work/.mirror/flashinfer-ai+flashinfer/repo}
TAG=v0.2.4
CUDA13=${CUDA13:-/usr/local/cuda-13.0}
CUOBJDUMP=$REPO/.venv/lib/python3.11/site-packages/triton/backends/nvidia/bin/cuobjdump
PY=${PY:-python3}   # needs jinja2 (for the config rendering)
mkdir -p "$W/wheels" "$W/cuda" "$W/build"
B=$W/build

# 1. ptxas 12.4.131
( cd "$W/wheels"
  ls nvidia_cuda_nvcc_cu12-12.4.131-*.whl >/dev/null 2>&1 || pip download -q --no-deps nvidia-cuda-nvcc-cu12==12.4.131 )
[ -x "$W/cuda/nvidia/cuda_nvcc/bin/ptxas" ] || unzip -q -o "$W"/wheels/nvidia_cuda_nvcc_cu12-12.4.131-*.whl -d "$W/cuda"
PTXAS124=$W/cuda/nvidia/cuda_nvcc/bin/ptxas

# 2. FlashInfer v0.2.4's include/ and csrc/
COMMIT=$(git --git-dir="$MIRROR" rev-parse "$TAG^{commit}")
rm -rf "$W/src" && mkdir -p "$W/src"
git --git-dir="$MIRROR" archive "$COMMIT" include csrc | tar -x -C "$W/src"
{ echo "ptxas: $($PTXAS124 --version | tail -1)"; echo "nvcc front end: $($CUDA13/bin/nvcc --version | tail -1)"
  echo "g++: $(g++ --version | head -1)"; echo "cuobjdump: $($CUOBJDUMP --version | tail -2 | head -1)"
  echo "jinja2: $($PY -c 'import jinja2; print(jinja2.__version__)')"
  echo "FlashInfer: $TAG ($COMMIT)"; } > "$B/tool_versions.txt"

# 3. compile each variant
OPTS=(-std=c++17 -O3 -use_fast_math -DFLASHINFER_ENABLE_F16 -DFLASHINFER_ENABLE_BF16
      -DFLASHINFER_ENABLE_FP8_E4M3 -DFLASHINFER_ENABLE_FP8_E5M2 --expt-relaxed-constexpr
      -I "$W/src/include" -I "$W/src/csrc")
for d in 128 256; do
  mkdir -p "$B/cfg$d"
  $PY "$HERE/tools/render_config.py" "$W/src/csrc" $d > "$B/cfg$d/batch_decode_config.inc"
done
variant() {  # name, head dim, GROUP_SIZE
  local v=$1 d=$2 g=$3 mangled
  "$CUDA13/bin/nvcc" "${OPTS[@]}" -DHEAD_DIM_ARG=$d -DGROUP_SIZE_ARG=$g \
      -DCONFIG_INC="\"$B/cfg$d/batch_decode_config.inc\"" -ptx -arch=sm_90 \
      "$HERE/decode_instantiate.cu" -o "$B/$v.ptx"
  mangled=$(grep -m1 -oE '^\.(visible|weak) \.entry [A-Za-z0-9_]+' "$B/$v.ptx" | awk '{print $3}')
  echo "$mangled" > "$B/$v.mangled"
  sed 's/^\.version 9\.0$/.version 8.4/' "$B/$v.ptx" > "$B/$v.v84.ptx"
  "$PTXAS124" -arch=sm_90 -m64 -O3 -v "$B/$v.v84.ptx" -o "$B/$v.cubin" 2> "$B/$v.ptxas.log"
  "$CUOBJDUMP" -sass -fun "$mangled" "$B/$v.cubin" > "$B/$v.sass"
  $PY "$HERE/tools/sass_loops.py" "$B/$v.sass" --auto > "$B/$v.analysis.txt"
}
variant A 128 1
variant B 128 8
variant C 256 1
variant D 256 8
variant E 128 4
variant F 128 2

# 4. the per-key table
$PY "$HERE/tools/per_key.py" "$B" A B C D E F > "$HERE/per_key.csv"
cp "$B/tool_versions.txt" "$HERE/tool_versions.txt"
grep -h "Used" "$B"/[ABCDEF].ptxas.log

# 5. checks
sass_text() { grep -oE '^\s+/\*[0-9a-f]{4,}\*/\s+[^;]*;' "$1" | sed -E 's/ +/ /g'; }
for d in 128 256; do  # (a) the real JIT translation unit, dispatcher and all group sizes
  $PY "$HERE/tools/render_config.py" "$W/src/csrc" $d --inst > "$B/cfg$d/jit$d.cu"
  # its #include "batch_decode_config.inc" finds the rendered config beside it (as in the JIT's gen dir)
  "$CUDA13/bin/nvcc" "${OPTS[@]}" -ptx -arch=sm_90 "$B/cfg$d/jit$d.cu" -o "$B/jit$d.ptx"
  sed 's/^\.version 9\.0$/.version 8.4/' "$B/jit$d.ptx" > "$B/jit$d.v84.ptx"
  "$PTXAS124" -arch=sm_90 -m64 -O3 "$B/jit$d.v84.ptx" -o "$B/jit$d.cubin"
done
for v in A B C D E F; do
  d=$([[ $v == C || $v == D ]] && echo 256 || echo 128)
  g=$(case $v in A|C) echo 1;; B|D) echo 8;; E) echo 4;; F) echo 2;; esac)
  "$CUOBJDUMP" -sass -fun "$(cat "$B/$v.mangled")" "$B/jit$d.cubin" > "$B/$v.jit.sass"
  if cmp -s <(sass_text "$B/$v.sass") <(sass_text "$B/$v.jit.sass"); then
    echo "check (a) $v: SASS identical to the JIT translation unit's ($(sass_text "$B/$v.sass" | wc -l) instructions)"
  else
    echo "check (a) $v: SASS DIFFERS from the JIT translation unit's"
  fi
  # (b) ptxas 13.0
  "$CUDA13/bin/nvcc" "${OPTS[@]}" -DHEAD_DIM_ARG=$d -DGROUP_SIZE_ARG=$g \
      -DCONFIG_INC="\"$B/cfg$d/batch_decode_config.inc\"" -cubin -arch=sm_90 -Xptxas -v \
      "$HERE/decode_instantiate.cu" -o "$B/$v.13.cubin" 2> "$B/$v.13.ptxas.log"
  "$CUOBJDUMP" -sass -fun "$(cat "$B/$v.mangled")" "$B/$v.13.cubin" > "$B/$v.13.sass"
  $PY "$HERE/tools/sass_loops.py" "$B/$v.13.sass" --auto > "$B/$v.13.analysis.txt"
  echo "check (b) $v: main loop, ptxas 12.4: $(grep -m1 '^## main' "$B/$v.analysis.txt" | grep -oE '[0-9]+ instructions per body') ($(grep -oE 'Used [0-9]+ registers' "$B/$v.ptxas.log")); ptxas 13.0: $(grep -m1 '^## main' "$B/$v.13.analysis.txt" | grep -oE '[0-9]+ instructions per body') ($(grep -oE 'Used [0-9]+ registers' "$B/$v.13.ptxas.log" | head -1))"
done
# (c) the AOT wheels' Params (BatchDecodeParams, float sm_scale) instead of the JIT's: main-loop count
for v in A B; do
  g=$([[ $v == A ]] && echo 1 || echo 8)
  "$CUDA13/bin/nvcc" "${OPTS[@]}" -DHEAD_DIM_ARG=128 -DGROUP_SIZE_ARG=$g -DCONFIG_INC="\"$HERE/stubs/aot_config.inc\"" \
      -ptx -arch=sm_90 "$HERE/decode_instantiate.cu" -o "$B/$v.aot.ptx"
  sed 's/^\.version 9\.0$/.version 8.4/' "$B/$v.aot.ptx" > "$B/$v.aot.v84.ptx"
  "$PTXAS124" -arch=sm_90 -m64 -O3 -v "$B/$v.aot.v84.ptx" -o "$B/$v.aot.cubin" 2> "$B/$v.aot.ptxas.log"
  "$CUOBJDUMP" -sass "$B/$v.aot.cubin" > "$B/$v.aot.sass"
  $PY "$HERE/tools/sass_loops.py" "$B/$v.aot.sass" --auto > "$B/$v.aot.analysis.txt"
  echo "check (c) $v: main loop with the AOT Params: $(grep -m1 '^## main' "$B/$v.aot.analysis.txt" | grep -oE '[0-9]+ instructions per body') ($(grep -oE 'Used [0-9]+ registers' "$B/$v.aot.ptxas.log"))"
done
cat "$HERE/per_key.csv"
