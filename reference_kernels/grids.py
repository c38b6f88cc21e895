"""The grids of shapes `measure` times: ``small`` for a CPU in CI, ``full`` for a GPU.

The full grid covers what the simulators are checked against: square GEMMs, tall-skinny ones, the
projections of LLaMA-2-7B and -70B at prefill and decode batch sizes (M = 1 and 16 are decode
GEMVs), in fp16, bf16, fp8, int8 (W8A8), W4A16, W8A16 and 2:4 sparse; attention prefill and decode
at head dims 64 and 128, with 32 query heads over 32 (MHA) or 8 (GQA) K/V heads and contexts from
512 to 128k; copies.
"""

from __future__ import annotations

from itertools import product

from reference_kernels.cases import DEFAULT_GROUP_SIZE, AttentionCase, Case, CopyCase, GemmCase

#: Devices `measure` times on.
DEVICES = ("cuda", "cpu")

#: Square GEMM sizes of the full grid.
SQUARE_SIZES = (256, 512, 1024, 2048, 4096, 8192, 16384)
#: Tall-skinny GEMMs (M ≫ N, K): many tokens through a narrow layer.
TALL_SKINNY = ((65536, 256, 256), (65536, 1024, 1024), (16384, 128, 4096), (32768, 512, 2048),
               (131072, 64, 64), (8192, 64, 8192))
#: ``(N, K)`` of the weights of LLaMA-2-7B (hidden 4096, MLP 11008, fused QKV 3·4096) and
#: LLaMA-2-70B (hidden 8192, MLP 28672, GQA K/V 2·8 heads·128 = 2048 wide fused, or 1024 each);
#: the models' config.json files.
LLAMA_PROJECTIONS = ((4096, 4096), (12288, 4096), (11008, 4096), (4096, 11008),
                     (8192, 8192), (1024, 8192), (28672, 8192), (8192, 28672))
#: Token counts M of the projections: decode GEMVs (1, 16), a decode batch (128), prefill chunks.
LLM_TOKENS = (1, 16, 128, 2048, 8192)
#: Head counts of LLaMA-2-7B (32 heads, MHA) and of a GQA model with 8 K/V heads (LLaMA-3-8B).
HEADS, KV_HEADS = 32, (32, 8)
HEAD_DIMS = (64, 128)
PREFILL_CONTEXTS = (512, 1024, 2048, 4096, 8192, 16384, 32768)
DECODE_CONTEXTS = (512, 2048, 8192, 32768, 131072)
DECODE_BATCHES = (1, 4, 16)
#: Tokens per prefill call (batch × context), so short contexts run as a batch of sequences.
PREFILL_TOKENS = 16384
#: Largest K+V cache of a decode case (16 GiB), leaving room on an 80 GB GPU for the baseline's
#: workspace and the flush buffer.
MAX_KV_CACHE_BYTES = 16 * 2**30
#: The one 128k-token prefill: GQA, head dim 128, causal (a LLaMA-3 long-context prompt).
LONG_PREFILL = 131072
#: Copies: 4 bytes (launch-bound: what `codesign calibrate` fits the launch overhead on, the
#: measurement published_figures.md found no citable figure for), 64 KiB, then up to 1 GiB
#: (bandwidth-bound: what it fits the achievable HBM bandwidth on).
COPY_BYTES = (4, 2**16, 2**20, 16 * 2**20, 256 * 2**20, 2**30)


def _gemms(family: str, a: str, b: str, out: str, shapes, group_size=None) -> list[GemmCase]:
    return [GemmCase(family, m, n, k, a, b, out, group_size) for m, n, k in shapes]


def full_grid() -> list[Case]:
    """The GPU grid: ≥ 200 GEMM cases and ≥ 60 attention cases (tests/test_measure.py counts)."""
    square = [(s, s, s) for s in SQUARE_SIZES]
    llm = [(m, n, k) for (n, k), m in product(LLAMA_PROJECTIONS, LLM_TOKENS)]
    cases: list[Case] = []
    for dtype in ("fp16", "bf16"):
        cases += _gemms("gemm", dtype, dtype, dtype, square + list(TALL_SKINNY) + llm)
    cases += _gemms("gemm_fp8", "fp8", "fp8", "bf16", square + llm)
    cases += _gemms("gemm_w4a16", "fp16", "int4", "fp16", llm, DEFAULT_GROUP_SIZE)
    cases += _gemms("gemm_sparse24", "fp16", "fp16", "fp16", square[2:] + llm)
    for head_dim, kv_heads, context in product(HEAD_DIMS, KV_HEADS, PREFILL_CONTEXTS):
        batch = max(1, PREFILL_TOKENS // context)
        cases.append(AttentionCase("attention_prefill", batch, HEADS, kv_heads, context, context,
                                   head_dim, True, "fp16"))
    for head_dim, context in product(HEAD_DIMS, (512, 4096)):  # non-causal (encoder-style) prefill
        batch = PREFILL_TOKENS // context
        cases.append(AttentionCase("attention_prefill", batch, HEADS, HEADS, context, context,
                                   head_dim, False, "fp16"))
    cases.append(AttentionCase("attention_prefill", 1, HEADS, 8, LONG_PREFILL, LONG_PREFILL, 128, True,
                               "fp16"))
    for head_dim, kv_heads, context, batch in product(HEAD_DIMS, KV_HEADS, DECODE_CONTEXTS, DECODE_BATCHES):
        case = AttentionCase("attention_decode", batch, HEADS, kv_heads, 1, context, head_dim, False, "fp16")
        if case.kv_cache_bytes <= MAX_KV_CACHE_BYTES:
            cases.append(case)
    cases += [CopyCase(size) for size in COPY_BYTES]
    # added in session 6, last so that a GPU call cut short has the families above (the targets)
    cases += _gemms("gemm_int8", "int8", "int8", "int32", square + llm)
    cases += _gemms("gemm_w8a16", "fp16", "int8", "fp16", llm)
    return list(dict.fromkeys(cases))  # the LLaMA-70B 8192² projection at M = 8192 is also a square


def small_grid() -> list[Case]:
    """A handful of cases that torch's CPU kernels time in seconds on 2 cores (fp32 and bf16: the
    CPU's native formats), covering every family the CPU can run."""
    cases: list[Case] = _gemms("gemm", "fp32", "fp32", "fp32",
                               [(256, 256, 256), (512, 512, 512), (128, 1024, 1024), (1, 4096, 4096)])
    cases += _gemms("gemm", "bf16", "bf16", "bf16", [(512, 512, 512), (1, 4096, 4096)])
    cases += [
        AttentionCase("attention_prefill", 1, 8, 8, 256, 256, 64, True, "fp32"),
        AttentionCase("attention_prefill", 1, 8, 2, 512, 512, 64, False, "fp32"),
        AttentionCase("attention_decode", 1, 8, 2, 1, 2048, 64, False, "fp32"),
        AttentionCase("attention_decode", 4, 8, 8, 1, 1024, 128, False, "fp32"),
    ]
    return cases + [CopyCase(4), CopyCase(2**20), CopyCase(64 * 2**20)]


GRIDS = {"small": small_grid, "full": full_grid}
