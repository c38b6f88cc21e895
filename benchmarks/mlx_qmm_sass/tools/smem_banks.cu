// Shared-memory bank analysis of qmm_sm80's smem->register loads (PR #3255, 1e855446b), host only.
// Rebuilds the kernel's B (and A) shared-memory layout and its s2r copies from the same expressions
// qmm_impl_sm80.cuh uses (make_tiled_mma<TileM, half_t>() is called from the header itself; the swizzle
// and tile_to_shape lines are copied from qmm_sm80()), then, for every s2r load a warp issues per
// k-block, lists the 32 lanes' byte addresses and counts shared-memory wavefronts: the largest number
// of distinct 4-byte words that fall in one of the 32 banks (a broadcast of the same word is free).
// Also the global scale loads (fetch_scales: g2r_copy_s over gS, S_layout as qmm_sm80 builds it for
// K = 4096 and 16384): per thread the distinct addresses of one k-tile (ptxas folds the copies of equal
// address), and per warp load the number of distinct 32-byte sectors.
#include "mlx/backend/cuda/quantized/qmm/qmm_impl_sm80.cuh"
#include <cstdio>
#include <map>
#include <set>
#include <vector>

using namespace cute;

template <class TiledCopyT, class SmemTensor>
void analyse(const char* what, TiledCopyT s2r_copy, SmemTensor sX, int elem_bytes, int load_bytes) {
  // per (thread, element index) the element offset in the stage-0 buffer
  int nthr = size(s2r_copy);
  auto t0 = s2r_copy.get_slice(0).partition_S(sX(_, _, 0));
  int nvals = size(t0);
  int vals_per_load = load_bytes / elem_bytes;
  int total_wf = 0, n_loads = 0;
  for (int warp = 0; warp < nthr / 32; ++warp) {
    for (int i = 0; i < nvals; i += vals_per_load) {
      std::map<int, std::set<int>> bank_words;
      for (int lane = 0; lane < 32; ++lane) {
        auto t = s2r_copy.get_slice(warp * 32 + lane).partition_S(sX(_, _, 0));
        int off = int(&t(i) - &sX(0, 0, 0)) * elem_bytes;  // byte offset
        for (int b = 0; b < load_bytes; b += 4) {
          int word = (off + b) / 4;
          bank_words[word % 32].insert(word);
          if (load_bytes < 4) break;
        }
      }
      int wf = 0;
      for (auto& kv : bank_words) wf = std::max(wf, int(kv.second.size()));
      // a 64/128-bit load needs at least load_bytes*32/128 wavefronts anyway
      total_wf += wf;
      ++n_loads;
      if (warp == 0 && i < 2 * vals_per_load) {
        printf("  %s warp0 load %d: lanes' byte offsets:", what, i / vals_per_load);
        for (int lane = 0; lane < 32; ++lane) {
          auto t = s2r_copy.get_slice(lane).partition_S(sX(_, _, 0));
          printf(" %d", int(&t(i) - &sX(0, 0, 0)) * elem_bytes);
        }
        printf("  -> %d wavefront(s)\n", wf);
      }
    }
  }
  printf("%s: %d loads per warp per k-tile, %.2f wavefronts per load on average (%d per warp per k-tile)\n",
         what, n_loads / (nthr / 32), double(total_wf) / n_loads, total_wf / (nthr / 32));
}

template <int TileM>
void run() {
  using Element = cutlass::half_t;
  using Quant = uint8_t;
  auto bM = Int<TileM>{};
  auto bN = Int<128>{};
  auto bK = Int<64>{};
  TiledMMA mma = cutlass_gemm::make_tiled_mma<TileM, Element>();
  auto swizzle_ab = composition(Swizzle<3, 3, 3>{}, Layout<Shape<_8, Shape<_8, _8>>, Stride<_8, Stride<_1, _64>>>{});
  auto bP = Int<3>{};
  auto sA_layout = tile_to_shape(swizzle_ab, make_shape(bM, bK, bP));
  auto sB_layout = tile_to_shape(swizzle_ab, make_shape(bN, bK, bP));
  static Quant bufB[cosize_v<decltype(sB_layout)>];
  static Element bufA[cosize_v<decltype(sA_layout)>];
  Tensor sB = make_tensor(&bufB[0], sB_layout);
  Tensor sA = make_tensor(&bufA[0], sA_layout);
  constexpr int quant_bits = sizeof_bits_v<Quant>;
  Copy_Atom<UniversalCopy<uint_bit_t<2 * quant_bits>>, Quant> s2r_atom_b;
  TiledCopy s2r_copy_b = make_tiled_copy_B(s2r_atom_b, mma);
  printf("TileM %d: B smem (uint8, %d bytes/stage)\n", TileM, int(cosize_v<decltype(sB_layout)>) / 3);
  analyse("B LDS.U16", s2r_copy_b, sB, 1, 2);
  Copy_Atom<UniversalCopy<Element>, Element> g2r_atom_s;
  TiledCopy g2r_copy_s = make_tiled_copy_B(g2r_atom_s, mma);
  auto group_size = Int<64>{};
  for (int k : {4096, 16384}) {
    int n = 4096;
    auto S_layout = make_layout(make_shape(n, make_shape(group_size, k / group_size), 1),
                                make_stride(k / group_size, Stride<_0, _1>{}, n * k / group_size));
    Tensor mS = make_tensor(make_gmem_ptr((Element*)nullptr), S_layout)(_, _, 0);
    auto cta_tiler = make_shape(bM, bN, bK);
    Tensor gS = local_tile(mS, cta_tiler, make_coord(0, 0, _), Step<X, _1, _1>{});  // (BLK_N,BLK_K,k)
    int per_thread = 0, sectors = 0, loads = 0;
    for (int warp = 0; warp < int(size(mma)) / 32; ++warp) {
      std::vector<std::vector<long>> lane_addrs(32);
      for (int lane = 0; lane < 32; ++lane) {
        Tensor t = g2r_copy_s.get_slice(warp * 32 + lane).partition_S(gS);  // (BCPY,MMA_N,MMA_K,k)
        std::set<long> a;
        Tensor t0 = t(_, _, _, 1);  // k-tile 1
        for (int i = 0; i < size(t0); ++i) a.insert(long((char*)raw_pointer_cast(&t0(i)) - (char*)nullptr));
        lane_addrs[lane] = std::vector<long>(a.begin(), a.end());
      }
      per_thread = lane_addrs[0].size();
      for (int j = 0; j < per_thread; ++j) {
        std::set<long> sec;
        for (int lane = 0; lane < 32; ++lane) sec.insert(lane_addrs[lane][j] / 32);
        sectors += sec.size();
        ++loads;
        if (warp == 0 && j == 0) {
          printf("  scale LDG (K=%d) warp0 load0 lanes' byte offsets:", k);
          for (int lane = 0; lane < 32; ++lane) printf(" %ld", lane_addrs[lane][0]);
          printf("\n");
        }
      }
    }
    printf("scales K=%d: %d distinct scale addresses per thread per k-tile (x2 with the biases), "
           "%.2f distinct 32-byte sectors per warp load\n", k, per_thread, double(sectors) / loads);
  }
}

int main() {
  run<16>();
  run<32>();
  run<64>();
  return 0;
}
