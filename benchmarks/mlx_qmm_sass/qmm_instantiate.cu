// Instantiates one of MLX's CUTLASS/CuTe quantized-matmul host launchers (LAUNCHER, from IMPL_HEADER)
// for Element = cutlass::half_t, Quant = QUANT_T, group size cute::Int<64>, the way MLX's dispatcher
// calls it (same argument list: A, B, S, Z, C/D, m, n, k, l, group_size, launch_kernel lambda):
//   (default)   qmm_sm80<TILE_M>                    (PR #3255, 1e855446b)  uint8_t
//   KIND_NAIVE  qmm_naive<TILE_M, KMAJOR, SM80=true> (PR #3315, 1c9ee2f65)  cutlass::uint4b_t,
//               broadcast_b = true (MLX passes w.ndim() == 2; a runtime bool that zeroes the batch
//               strides, no template argument)
//   KIND_SM90   qmm_sm90                            (PR #3160, 6304c285d)  cutlass::uint4b_t
// The kernel bodies and headers are untouched: this file only calls the host launcher.
// Built as a host executable, main() runs the launcher's host code on the CPU (no GPU needed: the
// cudaFuncSetAttribute calls fail and are not checked) and prints the launch configuration it computes
// (grid, block, dynamic shared memory) for the problem sizes given on the command line.
#include IMPL_HEADER
#include <cstdio>
#include <cstdlib>
#include <exception>

#ifndef QUANT_T
#define QUANT_T uint8_t
#endif
#if defined(KIND_NAIVE)  // qmm_naive<TileM, KMajor, SM80>(..., l, broadcast_b, group_size, launch)
#define LAUNCHER cutlass_gemm::qmm_naive<TILE_M, KMAJOR, true>
#define EXTRA_ARGS true,
#elif defined(KIND_SM90)
#define LAUNCHER cutlass_gemm::qmm_sm90
#define EXTRA_ARGS
#else
#define LAUNCHER cutlass_gemm::qmm_sm80<TILE_M>
#define EXTRA_ARGS
#endif

int main(int argc, char** argv) {
  int m = argc > 1 ? atoi(argv[1]) : TILE_M, n = argc > 2 ? atoi(argv[2]) : 4096;
  int k = argc > 3 ? atoi(argv[3]) : 4096;
  using Element = cutlass::half_t;
  using Quant = QUANT_T;
  try {
  LAUNCHER(
      // Dummy 256-byte-aligned non-null addresses (never dereferenced on the host; CUTLASS's
      // can_implement wants non-null scale/zero pointers).
      (const Element*)0x100000, (const Quant*)0x200000, (const Element*)0x300000, (const Element*)0x400000,
      (Element*)0x500000, m, n, k, 1, EXTRA_ARGS cute::Int<64>{},
      [&](auto* kernel, dim3 grid, dim3 block, uint32_t smem_bytes, void** args) {
        printf("m=%d n=%d k=%d grid=(%u,%u,%u) block=(%u,%u,%u) dynamic_smem=%u\n", m, n, k, grid.x,
               grid.y, grid.z, block.x, block.y, block.z, smem_bytes);
      });
  } catch (const std::exception& e) {
    printf("m=%d n=%d k=%d host launcher threw: %s\n", m, n, k, e.what());
  }
  return 0;
}
