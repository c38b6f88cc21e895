"""A block-scaled FP8 GEMM in Triton (the algorithm of vLLM's / sglang's ``w8a8_block_fp8_matmul``,
written from its description): C[M, N] (bf16) = sum over 128-wide k-blocks kb of
(A[M, kb] @ B[kb, N]) * a_scale[m, kb] * b_scale[n // 128, kb].

A is M x K row-major e4m3, B is stored N x K (K-major, a linear layer's weight) e4m3, a_scale is fp32
[M, K / 128] row-major, b_scale fp32 [N / 128, K / 128]. BLOCK_K must be 128 (one scale per k-step).
"""

import triton
import triton.language as tl


@triton.jit
def block_fp8_matmul(
    A, B, C, As, Bs,
    M, N, K,
    stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
    stride_As_m, stride_As_k, stride_Bs_k, stride_Bs_n,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_SIZE_M: tl.constexpr,
):  # fmt: skip
    # grouped ("swizzled") program order: GROUP_SIZE_M row-blocks share each column block
    pid = tl.program_id(axis=0)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    pids_per_group = GROUP_SIZE_M * num_pid_n
    group_id = pid // pids_per_group
    first_m = group_id * GROUP_SIZE_M
    group_m = min(num_pid_m - first_m, GROUP_SIZE_M)
    pid_m = first_m + (pid % group_m)
    pid_n = (pid % pids_per_group) // group_m

    rows = (pid_m * BLOCK_M + tl.arange(0, BLOCK_M)) % M
    cols = (pid_n * BLOCK_N + tl.arange(0, BLOCK_N)) % N
    ks = tl.arange(0, BLOCK_K)
    a_tile = A + rows[:, None] * stride_am + ks[None, :] * stride_ak
    b_tile = B + ks[:, None] * stride_bk + cols[None, :] * stride_bn
    a_scale_row = As + rows * stride_As_m
    b_scale_row = Bs + (cols // 128) * stride_Bs_n

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, tl.cdiv(K, BLOCK_K)):
        k_left = K - k * BLOCK_K
        a = tl.load(a_tile, mask=ks[None, :] < k_left, other=0.0)
        b = tl.load(b_tile, mask=ks[:, None] < k_left, other=0.0)
        kb = (k * BLOCK_K) // 128
        a_s = tl.load(a_scale_row + kb * stride_As_k)
        b_s = tl.load(b_scale_row + kb * stride_Bs_k)
        acc += tl.dot(a, b) * a_s[:, None] * b_s[None, :]
        a_tile += BLOCK_K * stride_ak
        b_tile += BLOCK_K * stride_bk

    out_rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    out_cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    c_tile = C + out_rows[:, None] * stride_cm + out_cols[None, :] * stride_cn
    tl.store(c_tile, acc.to(tl.bfloat16), mask=(out_rows[:, None] < M) & (out_cols[None, :] < N))
