// nvcc translation unit: the unmodified TRT-LLM v0.8.0 MMHA kernel template, explicitly instantiated for one
// variant (selected with -DTCACHE=... -DKVBUF=...). Template arguments are exactly those that
// mmha_launch_kernel_ex<> in decoderMaskedMultiheadAttentionLaunch.h uses for
// INSTANTIATE_MMHA_LAUNCHERS(uint16_t, 128), beam_width 1, no multi-block, no position shift, self-attention,
// no implicit relative attention bias, THDS_PER_BLOCK 256 (remaining template args take their defaults:
// THREADS_PER_KEY=16, THREADS_PER_VALUE=16, K_LOOP_UNROLL=4, V_LOOP_UNROLL=8, launch bounds from
// Launch_bounds_config).
#include "tensorrt_llm/kernels/decoderMaskedMultiheadAttention/decoderMaskedMultiheadAttentionTemplate.h"
namespace tensorrt_llm { namespace kernels { namespace mmha {
template __global__ void masked_multihead_attention_kernel<uint16_t, TCACHE, TCACHE, KVBUF, KVBUF, 128u, 256u,
    /*DO_CROSS_ATTENTION*/ false, /*HAS_BEAMS*/ false, /*DO_MULTI_BLOCK*/ false, /*POS_SHIFT*/ false,
    /*IMPLICIT_REL_ATTN_BIAS*/ false>(Multihead_attention_params<uint16_t, false>, KVBUF, KVBUF);
}}}
