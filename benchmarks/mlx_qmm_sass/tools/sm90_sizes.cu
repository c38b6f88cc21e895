// Launch sizes of MLX's qmm_sm90 (PR #3160, 6304c285d; with -DTILE_N/-DCLUSTER_M the tiles of PR #3173,
// 0c8107ce8, whose launcher has the same type definitions) for half_t x uint4b_t, group 64, host only.
// The host launcher cannot run without a driver (gemm.initialize builds TMA descriptors), so this file
// repeats its type definitions (copied from cutlass_gemm::qmm_sm90 in qmm_sm90.cu, Element = half_t,
// Quant = uint4b_t) and prints what the launch uses: GemmKernel::get_block_shape(),
// GemmKernel::SharedStorageSize, the mainloop's pipeline stages and the scheduler's grid for given sizes.
#include <cute/tensor.hpp>
#include <cutlass/cutlass.h>
#include <cutlass/epilogue/collective/collective_builder.hpp>
#include <cutlass/gemm/collective/collective_builder.hpp>
#include <cutlass/gemm/device/gemm_universal_adapter.h>
#include <cutlass/gemm/kernel/gemm_universal.hpp>
#include <cstdio>

using namespace cute;
using Element = cutlass::half_t;
using Quant = cutlass::uint4b_t;
constexpr int kAlignmentA = 128 / sizeof_bits<Element>::value;
constexpr int kAlignmentB = 128 / sizeof_bits<Quant>::value;
constexpr int kTileShapeK = std::max(64, 128 * 8 / sizeof_bits<Element>::value);
using Arch = cutlass::arch::Sm90;
using Accumulator = float;
#ifndef TILE_N
#define TILE_N 16     // #3160: 128 x 16; #3173's dispatcher: 16 / 32 / 64 with cluster 1 / 1 / 2
#endif
#ifndef CLUSTER_M
#define CLUSTER_M 1
#endif
using TileShape = Shape<_128, Int<TILE_N>, Int<kTileShapeK>>;
using ClusterShape = Shape<Int<CLUSTER_M>, _1, _1>;
using Epilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
    Arch, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,
    cutlass::epilogue::collective::EpilogueTileAuto, Accumulator, Accumulator, void,
    cutlass::layout::ColumnMajor, kAlignmentA, Element, cutlass::layout::ColumnMajor, kAlignmentA,
    cutlass::epilogue::TmaWarpSpecializedCooperative>::CollectiveOp;
using Mainloop = typename cutlass::gemm::collective::CollectiveBuilder<
    Arch, cutlass::arch::OpClassTensorOp, cute::tuple<Quant, Element, Element>, cutlass::layout::RowMajor,
    kAlignmentB, Element, cutlass::layout::ColumnMajor, kAlignmentA, Accumulator, TileShape, ClusterShape,
    cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(sizeof(typename Epilogue::SharedStorage))>,
    cutlass::gemm::KernelTmaWarpSpecializedCooperative>::CollectiveOp;
using GemmKernel = cutlass::gemm::kernel::GemmUniversal<Shape<int, int, int, int>, Mainloop, Epilogue>;

int main() {
  dim3 block = GemmKernel::get_block_shape();
  printf("block=(%u,%u,%u) dynamic_smem=%d mainloop_stages=%d epilogue_smem=%d mainloop_smem=%d\n", block.x,
         block.y, block.z, int(GemmKernel::SharedStorageSize), int(Mainloop::DispatchPolicy::Stages),
         int(sizeof(typename Epilogue::SharedStorage)), int(sizeof(typename Mainloop::SharedStorage)));
  return 0;
}
