// nvcc translation unit: vLLM v0.6.4's unmodified paged_attention_v1_kernel template
// (csrc/attention/attention_kernels.cuh), explicitly instantiated for one variant, selected with
// -DSCALAR_T=... -DCACHE_T=... -DKV_DTYPE=kAuto|kFp8E4M3. Template arguments are those
// paged_attention_v1_launcher<> (csrc/attention/paged_attention_v1.cu) uses for head size 128,
// block size 16, NUM_THREADS 128 (its default), not block-sparse.
// The torch/ATen/c10 includes at the top of attention_kernels.cuh resolve to empty stubs (stubs/).
#include "attention/attention_kernels.cuh"
namespace vllm {
template __global__ void paged_attention_v1_kernel<SCALAR_T, CACHE_T, /*HEAD_SIZE*/ 128, /*BLOCK_SIZE*/ 16,
    /*NUM_THREADS*/ 128, Fp8KVCacheDataType::KV_DTYPE, /*IS_BLOCK_SPARSE*/ false>(
    SCALAR_T* __restrict__ out, const SCALAR_T* __restrict__ q, const CACHE_T* __restrict__ k_cache,
    const CACHE_T* __restrict__ v_cache, const int num_kv_heads, const float scale,
    const int* __restrict__ block_tables, const int* __restrict__ seq_lens, const int max_num_blocks_per_seq,
    const float* __restrict__ alibi_slopes, const int q_stride, const int kv_block_stride,
    const int kv_head_stride, const float k_scale, const float v_scale, const int tp_rank,
    const int blocksparse_local_blocks, const int blocksparse_vert_stride, const int blocksparse_block_size,
    const int blocksparse_head_sliding_step);
}
