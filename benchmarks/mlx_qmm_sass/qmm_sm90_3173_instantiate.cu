// Instantiates the sm90 kernels of MLX PR #3173 ("Heuristics for Hopper QMM", commit 0c8107ce8,
// mlx/backend/cuda/quantized/qmm/qmm_impl_sm90.cuh) for half_t x uint4b_t, group size 64, with the
// tile the dispatcher (qmm.cu: qmm_sm90) picks: M <= 16 -> <128,16> cluster 1, M <= 32 -> <128,32>
// cluster 1, M <= 64 -> <128,64> cluster 2 (TILE_N, CLUSTER_M). For comparison with PR #3160's single
// 128x16 kernel; not the code #3160's timings ran. Device code only matters here: the host launcher
// cannot run without a driver, so main() is never meant to be executed.
#include "mlx/backend/cuda/quantized/qmm/qmm_impl_sm90.cuh"

void instantiate(int m, int n, int k) {
  using Element = cutlass::half_t;
  using Quant = cutlass::uint4b_t;
  using namespace cute;
  cutlass_gemm::qmm_sm90<Shape<_128, Int<TILE_N>>, Shape<Int<CLUSTER_M>, _1, _1>>(
      (const Element*)0x100000, (const Quant*)0x200000, (const Element*)0x300000, (const Element*)0x400000,
      (Element*)0x500000, m, n, k, 1, Int<64>{},
      [&](auto* kernel, dim3 grid, dim3 block, dim3 cluster, uint32_t smem, void** args) {});
}

int main() { return 0; }
