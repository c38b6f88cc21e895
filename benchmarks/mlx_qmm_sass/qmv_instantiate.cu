// Instantiates MLX's qmv kernel (PR #3180, commit 3c565437a, mlx/backend/cuda/quantized/qmm/qmv.cu) for
// T = cutlass::half_t, Q = uint8_t, group_size 64, has_bias = true, through its host launcher
// mlx::core::cu::qmv<group_size, has_bias>, as mlx::core::qmv calls it. QMV_HEADER is qmv.cu's text up
// to the end of namespace cu (the kernel and its launcher, verbatim; the non-template dispatcher after it,
// which would instantiate every dtype/bits/group, is left out). main() runs the host launcher on the CPU
// and prints the launch configuration.
#include QMV_HEADER
}  // namespace mlx::core
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  int m = argc > 1 ? atoi(argv[1]) : 1, n = argc > 2 ? atoi(argv[2]) : 4096;
  int k = argc > 3 ? atoi(argv[3]) : 4096;
  using T = cutlass::half_t;
  using Q = uint8_t;
  mlx::core::cu::qmv<64, true>(
      (const T*)nullptr, (const Q*)nullptr, (const T*)nullptr, (const T*)nullptr, (T*)nullptr, m, n, k,
      [&](auto* kernel, dim3 grid, dim3 block, void** args) {
        printf("m=%d n=%d k=%d grid=(%u,%u,%u) block=(%u,%u,%u) dynamic_smem=0\n", m, n, k, grid.x, grid.y,
               grid.z, block.x, block.y, block.z);
      });
  return 0;
}
