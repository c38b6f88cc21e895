"""Correctness of the reference kernels against torch in float64.

Without a GPU the Triton kernels run in Triton's interpreter on CPU tensors. `triton.jit` reads
``TRITON_INTERPRET`` when a kernel is defined, so tests/conftest.py sets it before any test module
imports the kernels (here too, for a run of this file alone). Shapes are tiny and not
multiples of the tiles, so every mask (M, N and K tails, causal blocks, ragged splits) is exercised.

Error bound: ``max |out - ref| / max |ref|`` with the reference computed in float64 from the very
values the kernel reads (fp16/bf16/fp8 inputs, the dequantized int4 weight), so only the kernel's own
roundings count: fp32 accumulation (~K·2⁻²⁴, negligible here) and the store of the result, half an
ulp of the output dtype relative to the largest output: 2⁻¹¹ for fp16, 2⁻⁸ for bf16.
"""

from __future__ import annotations

import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"

from reference_kernels import torch_kernels  # noqa: E402
from reference_kernels.quant import (  # noqa: E402
    dequantize_int4,
    dequantize_int8,
    pack_int4,
    quantize_int4,
    quantize_int8,
    unpack_codes,
)
from reference_kernels.triton_kernels import (  # noqa: E402
    TileConfig,
    attention_decode,
    attention_prefill,
    matmul,
    pick_config,
    pick_num_splits,
    w4a16_matmul,
    w8a16_matmul,
)

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
#: fp16 output: 4 half-ulps (2⁻¹¹ each) of the largest output, room for the fp32 sums' own error.
FP16_BOUND = 4 * 2.0**-11
#: bf16 output: 4 half-ulps (2⁻⁸ each).
BF16_BOUND = 4 * 2.0**-8
#: Attention and W4A16 round an operand to fp16 inside the kernel as well (P before P·V; the
#: dequantized weight before the dot), which adds at most one more half-ulp per product.
FP16_INNER_BOUND = 6 * 2.0**-11
#: A tile smaller than every test shape, so all tails are partial.
SMALL_TILE = TileConfig(block_m=16, block_n=32, block_k=32, group_m=2, num_warps=4, num_stages=1)


def rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    """``max |out - ref| / max |ref|``, in float64."""
    return ((out.double() - ref).abs().max() / ref.abs().max()).item()


def attention_ref(q, k, v, *, causal: bool) -> torch.Tensor:
    """float64 attention with K/V heads repeated for GQA and torch's top-left causal mask."""
    group = q.shape[1] // k.shape[1]
    k = k.double().repeat_interleave(group, dim=1)
    v = v.double().repeat_interleave(group, dim=1)
    return torch.nn.functional.scaled_dot_product_attention(q.double(), k, v, is_causal=causal)


def randn(*shape, dtype=torch.float16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen).to(dtype).to(DEVICE)


@pytest.mark.parametrize(
    ("dtype", "bound"),
    [(torch.float16, FP16_BOUND), (torch.bfloat16, BF16_BOUND), (torch.float8_e4m3fn, FP16_BOUND)],
)
@pytest.mark.parametrize(("m", "n", "k"), [(37, 45, 70), (1, 33, 100)])
def test_matmul_odd_shapes(dtype, bound, m, n, k):
    # fp8 products are exact in fp32 and stored in fp16, hence the fp16 bound.
    a, b = randn(m, k, dtype=dtype), randn(k, n, dtype=dtype, seed=1)
    out = matmul(a, b, config=SMALL_TILE)
    assert out.dtype == (torch.float16 if dtype == torch.float8_e4m3fn else dtype)
    assert rel_err(out, a.double() @ b.double()) < bound


def test_matmul_column_major_weight_and_default_tile():
    # B as the transpose view of an [N, K] weight (the fp8 layout); M = 3 takes the GEMV tile.
    a, w = randn(3, 200), randn(50, 200, seed=1)
    out = matmul(a, w.t())
    assert rel_err(out, a.double() @ w.double().t()) < FP16_BOUND


@pytest.mark.parametrize(("m", "n", "k", "config"), [(37, 45, 70, SMALL_TILE), (20, 64, 256, None)])
def test_int8_matmul_is_exact_in_int32(m, n, k, config):
    # W8A8: int8 products summed in int32 are exact (|sum| <= 256 * 127 * 127 < 2**31), so the
    # kernel must equal the integer product bit for bit, the contract torch._int_mm keeps
    gen = torch.Generator().manual_seed(4)
    a = torch.randint(-127, 128, (m, k), generator=gen, dtype=torch.int8).to(DEVICE)
    w = torch.randint(-127, 128, (n, k), generator=gen, dtype=torch.int8).to(DEVICE)
    out = matmul(a, w.t(), config=config)  # B column-major, the layout measure times
    assert out.dtype == torch.int32
    assert torch.equal(out.cpu().long(), a.cpu().long() @ w.cpu().long().t())
    if DEVICE == "cpu":  # torch's own int8 GEMM, the baseline measure times beside it
        assert torch.equal(torch_kernels.int_mm(a, w.t()), out)
    with pytest.raises(ValueError, match="int32 accumulators"):
        matmul(a, w.t(), out_dtype=torch.float16)


def test_int8_quantization_is_symmetric_per_column():
    weight = randn(64, 24, dtype=torch.float32, seed=5).cpu()
    q = quantize_int8(weight)
    assert q.codes.dtype == torch.int8 and q.scales.shape == (24,)
    assert q.codes.abs().max() == 127  # each column's largest weight takes the largest code
    # round to nearest: within half a step (plus the fp16 rounding of the scale)
    assert ((dequantize_int8(q) - weight.double()).abs() <= 0.51 * q.scales.double() + 1e-3).all()


@pytest.mark.parametrize(("m", "config"), [(5, SMALL_TILE), (1, None), (17, None)])
def test_w8a16_matches_dequantized_reference(m, config):
    k, n = 200, 40  # K not a multiple of any tile's step: the K tail is masked
    weight = quantize_int8(randn(k, n, dtype=torch.float32, seed=6).cpu())
    weight = type(weight)(weight.codes.to(DEVICE), weight.scales.to(DEVICE))
    a = randn(m, k)
    out = w8a16_matmul(a, weight, config=config)
    assert rel_err(out, a.double() @ dequantize_int8(weight)) < FP16_INNER_BOUND


def test_matmul_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\[M, K\]"):
        matmul(randn(4, 8), randn(9, 4))


def test_pick_config_decode_and_occupancy():
    assert pick_config(1, 4096, 4096, 2, 132).block_m == 16  # GEMV: 16-row tile
    assert pick_config(1, 4096, 4096, 1, 132).block_k == 256  # fp8: 128 bytes × 2 per step
    # 8192² fills 4096 tiles of 128 × 128: no halving; 256 × 1024 leaves SMs idle: 64 rows.
    assert pick_config(8192, 8192, 8192, 2, 132).block_m == 128
    assert pick_config(256, 1024, 4096, 2, 132).block_m == 64


def test_int4_pack_round_trip_and_quantization_error():
    weight = randn(64, 24, dtype=torch.float32, seed=3).cpu() + 0.7  # off-centre: asymmetric zeros
    q = quantize_int4(weight, group_size=32)
    assert q.packed.shape == (32, 24) and q.scales.shape == (2, 24)
    assert (q.zeros != 8).any()  # zero points really differ from the symmetric code
    # Round to nearest: each weight within half a step (plus fp16 rounding of the scale).
    step = q.scales.double().repeat_interleave(32, dim=0)
    assert ((dequantize_int4(q) - weight.double()).abs() <= 0.51 * step + 1e-3).all()
    codes = unpack_codes(q)
    assert torch.equal(unpack_codes(pack_int4(codes, q.scales, q.zeros, 32)), codes)


@pytest.mark.parametrize(("m", "group_size", "config"), [(5, 32, SMALL_TILE), (17, 128, None)])
def test_w4a16_matches_dequantized_reference(m, group_size, config):
    k, n = 256, 40
    weight = quantize_int4(randn(k, n, dtype=torch.float32, seed=2).cpu() - 0.4, group_size)
    weight = type(weight)(*(t.to(DEVICE) for t in (weight.packed, weight.scales, weight.zeros)), group_size)
    a = randn(m, k)
    out = w4a16_matmul(a, weight, config=config)
    assert rel_err(out, a.double() @ dequantize_int4(weight)) < FP16_INNER_BOUND


@pytest.mark.parametrize(
    ("batch", "heads", "kv_heads", "seq_q", "seq_kv", "head_dim", "causal"),
    [
        (1, 4, 2, 37, 37, 32, True),  # causal square prefill, GQA group 2
        (2, 2, 2, 20, 50, 16, False),  # MHA, ragged K/V tail
        (1, 4, 1, 50, 30, 16, True),  # causal with Sq > Skv (top-left mask), MQA
    ],
)
def test_attention_prefill(batch, heads, kv_heads, seq_q, seq_kv, head_dim, causal):
    q = randn(batch, heads, seq_q, head_dim)
    k = randn(batch, kv_heads, seq_kv, head_dim, seed=1)
    v = randn(batch, kv_heads, seq_kv, head_dim, seed=2)
    out = attention_prefill(q, k, v, causal=causal, block_m=16, block_n=16)
    assert rel_err(out, attention_ref(q, k, v, causal=causal)) < FP16_INNER_BOUND


@pytest.mark.parametrize(
    ("batch", "heads", "kv_heads", "seq_kv", "head_dim", "splits"),
    [(2, 4, 1, 200, 32, 3), (1, 8, 2, 130, 16, 2), (1, 2, 2, 70, 16, None), (1, 2, 2, 40, 16, 1)],
)
def test_attention_decode_splits(batch, heads, kv_heads, seq_kv, head_dim, splits):
    q = randn(batch, heads, 1, head_dim)
    k = randn(batch, kv_heads, seq_kv, head_dim, seed=1)
    v = randn(batch, kv_heads, seq_kv, head_dim, seed=2)
    out = attention_decode(q, k, v, num_splits=splits)
    assert out.shape == q.shape
    assert rel_err(out, attention_ref(q, k, v, causal=False)) < FP16_INNER_BOUND


def test_pick_num_splits_fills_the_gpu_but_not_past_the_cache():
    assert pick_num_splits(1, 8, 131072, 132) == 33  # ceil(2·132 / 8) programs per KV head
    assert pick_num_splits(16, 32, 512, 132) == 1  # 512 programs already
    assert pick_num_splits(1, 1, 100, 132) == 2  # two 64-row blocks at most


def test_attention_rejects_ragged_groups():
    with pytest.raises(ValueError, match="multiple of kv_heads"):
        attention_prefill(randn(1, 3, 4, 16), randn(1, 2, 4, 16), randn(1, 2, 4, 16))


def test_torch_sdpa_gqa_and_matmul():
    q = randn(1, 4, 9, 16, dtype=torch.float32)
    k, v = randn(1, 2, 9, 16, dtype=torch.float32, seed=1), randn(1, 2, 9, 16, dtype=torch.float32, seed=2)
    # fp32 throughout: the bound is fp32's precision times a few hundred accumulated terms.
    assert rel_err(torch_kernels.sdpa(q, k, v, causal=True), attention_ref(q, k, v, causal=True)) < 1e-5
    a, b = randn(5, 7, dtype=torch.float32), randn(7, 3, dtype=torch.float32, seed=1)
    assert rel_err(torch_kernels.matmul(a, b), a.double() @ b.double()) < 1e-6


def test_prune_2to4_keeps_the_two_largest_of_four():
    w = torch.tensor([[1.0, -4.0, 3.0, 0.5, 0.0, 2.0, -2.5, 1.0]])
    kept = torch.tensor([[0.0, -4.0, 3.0, 0.0, 0.0, 2.0, -2.5, 0.0]])
    assert torch.equal(torch_kernels.prune_2to4(w), kept)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU refusal")
def test_sparse24_refuses_the_cpu():
    with pytest.raises(ValueError, match="CUDA only"):
        torch_kernels.to_sparse24(torch.ones(64, 64))


@pytest.mark.gpu
def test_fp8_and_sparse24_torch_baselines_on_gpu():
    a = randn(64, 128, dtype=torch.float8_e4m3fn)
    w = randn(96, 128, dtype=torch.float8_e4m3fn, seed=1)
    ref = a.double() @ w.double().t()
    assert rel_err(torch_kernels.scaled_mm_fp8(a, w.t()), ref) < FP16_BOUND
    assert rel_err(matmul(a, w.t()), ref) < FP16_BOUND
    x, weight = randn(64, 128), randn(128, 128, seed=2)
    out = torch_kernels.sparse24_linear(x, torch_kernels.to_sparse24(weight))
    pruned = torch_kernels.prune_2to4(weight)
    assert rel_err(out, x.double() @ pruned.double().t()) < FP16_BOUND
