// nvcc translation unit: FlashInfer v0.2.4's unmodified BatchDecodeWithPagedKVCacheKernel template
// (include/flashinfer/attention/decode.cuh), explicitly instantiated for one variant, the kernel
// BatchDecodeWithPagedKVCacheWrapper(use_tensor_cores=False) runs on sm_90 with fp16 q/kv/o.
// Select with -DHEAD_DIM_ARG=128|256 -DGROUP_SIZE_ARG=1|8 and -DCONFIG_INC=<rendered config>.
//
// As csrc/batch_decode_kernel_inst.jinja does: decode.cuh, then the JIT config (the rendering of
// csrc/batch_decode_customize_config.jinja that gen_batch_decode_module makes: its Params struct,
// AttentionVariant DefaultAttention<false, false, false, false>, pos_encoding_mode kNone).
// The template arguments are computed with BatchDecodeWithPagedKVCacheDispatched's own formulas
// (decode.cuh at v0.2.4, lines 733-742) and DISPATCH_COMPUTE_CAP_DECODE_NUM_STAGES_SMEM's choice for
// compute capability >= 8 (utils.cuh: NUM_STAGES_SMEM = 2).
#include <flashinfer/attention/decode.cuh>
#include CONFIG_INC

namespace flashinfer {
namespace inst {
using Variant = DefaultAttention</*use_custom_mask=*/false, /*use_sliding_window=*/false,
                                 /*use_logits_soft_cap=*/false, /*use_alibi=*/false>;
constexpr uint32_t HEAD_DIM = HEAD_DIM_ARG;
constexpr uint32_t GROUP_SIZE = GROUP_SIZE_ARG;
static_assert(HEAD_DIM == HEAD_DIM_QK, "config and instantiation disagree");
// BatchDecodeWithPagedKVCacheDispatched<HEAD_DIM, ...>:
constexpr uint32_t vec_size = std::max(16UL / sizeof(DTypeKV), HEAD_DIM / 32UL);
constexpr uint32_t bdx = HEAD_DIM / vec_size;
static_assert(bdx <= 32);
constexpr uint32_t bdy = GROUP_SIZE;
constexpr uint32_t num_threads = std::max(128U, bdx * bdy);
constexpr uint32_t bdz = num_threads / (bdx * bdy);
constexpr uint32_t tile_size_per_bdx = GROUP_SIZE == 1 ? (sizeof(DTypeKV) == 1 ? 2U : 4U) : 1U;
constexpr uint32_t NUM_STAGES_SMEM = 2;  // compute capability >= 8
constexpr uint32_t smem_size =
    2 * NUM_STAGES_SMEM * tile_size_per_bdx * bdy * bdz * HEAD_DIM * sizeof(DTypeKV) +
    std::max(tile_size_per_bdx * num_threads * sizeof(DTypeKV*), 2 * bdy * bdz * sizeof(float));
static_assert(smem_size > 0);  // tools/per_key.py recomputes it from the mangled template arguments
}  // namespace inst

template __global__ void BatchDecodeWithPagedKVCacheKernel<
    PosEncodingMode::kNone, inst::NUM_STAGES_SMEM, inst::tile_size_per_bdx, inst::vec_size, inst::bdx,
    inst::bdy, inst::bdz, inst::Variant, Params>(const __grid_constant__ Params params);
}  // namespace flashinfer
