"""Software stacks that run a model's steps on a GPU: how each runs a step's kernels, and the host
work each step waits for.

A stack (`Stack`) says which kernels a step runs (`fusion`: a serving engine's merged and fused
kernels, or every traced op its own), how they are launched (`launch_timing`: replayed from a CUDA
graph, dispatched one by one by an eager framework on the host, or launched by a native runtime's
C++ loop), which attention and weight-only GEMM implementations it calls, how long each step
waits for the engine's own host work (`step_host_s`), and how many prompts its scheduler puts in
one prefill step (`Stack.prefill_steps`). `STACKS` holds the stacks of the published
whole-model figures (`reference_kernels.published_validation`), each at the version its figures
ran; `codesign simulate --stack NAME` runs a model's step as one of them.

The names in `launch_timing` are the measured format's `timing` values (docs/measured_format.md,
`sim.measured.compare.TIMINGS`), which put a GPU spec in the state a kernel so launched sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from workloads.fusion import MoeMode


@dataclass(frozen=True)
class Stack:
    """How a software stack runs a model's step: its kernels (`fusion`: ``serving``, merged and
    fused as a serving engine's; ``eager``, every op its own kernel), whether a step is replayed
    from a CUDA graph, and whether each kernel is dispatched by an eager framework on the host
    (`eager_host`: PyTorch eager, whose per-call dispatch bounds short kernels) or launched by a
    native runtime (a serving engine's C++ loop); `attention_kernel`, the attention implementation
    it runs where the model has its traits (`mappers.gpu_attention.ATTENTION_KERNELS`; empty: the
    preset's default). `decode_kernel` is the decode's where it is not `attention_kernel`, and
    `decode_by_group` the decode kernel for the GQA groups (query heads per K/V head) a stack sends
    elsewhere (`decode_attention_kernel`); the prefill keeps `attention_kernel`. `eager_prefill`:
    its prefill steps run eagerly from Python, each kernel dispatched by PyTorch, whatever its
    decode does (a stack that captures CUDA graphs for decode batch sizes only). `step_host_s`:
    the host time of the engine's loop that each step waits for (scheduling the next step,
    preparing its inputs, turning the sampled tokens into Python objects), beside its kernels.
    `prefill_token_budget`: the most prompt tokens its scheduler puts in one prefill step (0: the
    whole batch in one), whole prompts first come first served (`prefill_steps`);
    `budget_covers_model_len`: the budget is at least the model's context length (vLLM's default);
    `max_seqs_per_step`: the most sequences a step takes (0: no limit). `unquantized_expert_weights`: the
    weight dtypes whose quantization does not reach a mixture-of-experts layer's experts, which then
    run in 16 bits (`workloads.annotate.with_unquantized_experts`). `moe`: how it runs such a layer
    (``grouped``, one grouped kernel a projection over all experts, gate and up merged, as an MoE
    plugin or fused-MoE kernel does; ``eager``, each expert's ops as traced), and
    `expert_gemm_kernel` the kernel of those experts' 16-bit GEMMs where it is one of its own
    (`mappers.gpu_gemm.GEMM_KERNELS`; empty: the preset's). `decodes_last_prompt_token`: its first
    token comes out of a decode step: the prefill runs every prompt token but the last, and the
    first decode step runs the last one over the whole prompt (`first_token_steps`)."""

    fusion: str
    cuda_graphs: bool
    eager_host: bool
    why: str
    attention_kernel: str = ""
    decode_kernel: str = ""
    decode_by_group: Mapping[int, str] = field(default_factory=dict)
    eager_prefill: bool = False
    step_host_s: float = 0.0
    prefill_token_budget: int = 0
    budget_covers_model_len: bool = False
    max_seqs_per_step: int = 0
    unquantized_expert_weights: frozenset[str] = frozenset()
    moe: MoeMode = MoeMode.EAGER
    expert_gemm_kernel: str = ""
    decodes_last_prompt_token: bool = False

    def timing(self, phase: str) -> str:
        """How the stack launches a `phase` (``prefill`` or ``decode``) step's kernels
        (`launch_timing`); a prefill eagerly where the stack replays graphs for decode only."""
        if phase == "prefill" and self.eager_prefill:
            return launch_timing(cuda_graphs=False, eager_host=True)
        return launch_timing(self.cuda_graphs, self.eager_host)

    def prefill_budget(self, max_model_len: int) -> int:
        """Prompt tokens one prefill step may take for a model of context `max_model_len` (0: no
        limit)."""
        if not self.prefill_token_budget:
            return 0
        return max(self.prefill_token_budget, max_model_len if self.budget_covers_model_len else 0)

    def prefill_steps(self, batch: int, seq: int, max_model_len: int) -> tuple[int, ...]:
        """Sequences in each prefill step of `batch` prompts of `seq` tokens: as many whole prompts
        as the token budget (`prefill_budget`) and `max_seqs_per_step` allow, at least one."""
        budget = self.prefill_budget(max_model_len)
        per_step = max(1, budget // seq) if budget else batch
        if self.max_seqs_per_step:
            per_step = min(per_step, self.max_seqs_per_step)
        full, rest = divmod(batch, per_step)
        return (per_step,) * full + ((rest,) if rest else ())

    def first_token_steps(self, seq: int) -> tuple[int, int]:
        """(prompt tokens its prefill runs, decode steps) before a prompt of `seq` tokens gives its
        first token (`first_token_steps`)."""
        return first_token_steps(seq, decodes_last_prompt_token=self.decodes_last_prompt_token)

    def decode_attention_kernel(self, group: int) -> str:
        """The attention kernel a decode step of a model with `group` query heads per K/V head runs."""
        return self.decode_by_group.get(group) or self.decode_kernel or self.attention_kernel


def first_token_steps(seq: int, *, decodes_last_prompt_token: bool) -> tuple[int, int]:
    """(prompt tokens the prefill runs, decode steps) before a prompt of `seq` tokens gives its first
    token: ``(seq, 0)``, or for a stack that decodes the prompt's last token
    (`Stack.decodes_last_prompt_token`) ``(seq - 1, 1)``: no prefill at all for a one-token prompt."""
    return (seq - 1, 1) if decodes_last_prompt_token else (seq, 0)


def describe_steps(steps: tuple[int, ...]) -> str:
    """Prefill steps as a scheduler makes them (`Stack.prefill_steps`), counted by size:
    ``"4 prefill steps: 3 of 4, 1 of 3 prompts"``."""
    sizes = sorted(set(steps), key=steps.index)
    counted = ", ".join(f"{steps.count(size)} of {size}" for size in sizes)
    return f"{len(steps)} prefill steps: {counted} {'prompt' if sizes == [1] else 'prompts'}"


def host_note(stack_name: str) -> str:
    """What a stack's host row stands for (`Stack.step_host_s`)."""
    return f"{stack_name}'s engine loop, once a step"


#: vLLM's host time per engine step (`Stack.step_host_s`), CALIBRATED on its own CI's latency test
#: (`vllm_ci_latency_tests`, a calibration source: Llama-3.1-8B, batch 8, 32 tokens in and 128 out,
#: 1579.27 ms on an A100-SXM4-80GB and 997.542 ms on an H100, about 2024-10-28, the v0.6 series):
#: the mean of the two values at which each generation takes its measured time
#: (benchmarks/solve_gpu_presets.py). ASSUMED for v0.5 and for batch 1: the loop was synchronous
#: in both, and its per-request work is small beside its fixed part at these batches.
VLLM_STEP_HOST_S = 1.88e-3
#: The most host seconds a step may be given (`--step-host-s`, a sweep's ``step_host_s``): a guard
#: against a value in the wrong unit (milliseconds), not a physical bound.
MAX_STEP_HOST_S = 10.0


def step_host_problem(value: object) -> str:
    """Why `value` is not a host time per step ('' where it is): a number of seconds from 0 up
    to `MAX_STEP_HOST_S` (NaN and booleans refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < MAX_STEP_HOST_S:
        return f"seconds per step, at least 0 and below {MAX_STEP_HOST_S:g}"
    return ""
#: vLLM's token budget a step when none is given and chunked prefill is off (its default):
#: ``max_num_batched_tokens = max(max_model_len, 2048)`` (vllm/config.py ``SchedulerConfig``, the
#: same in 0.5.0-0.6.2, read in the PyPI releases), and at most ``max_num_seqs = 256`` sequences
#: (vllm/engine/arg_utils.py); its scheduler adds waiting prompts whole, first come first served,
#: while both fit (core/scheduler.py ``_schedule_prefills``, ``can_schedule``).
VLLM_MIN_BATCHED_TOKENS = 2048
VLLM_MAX_NUM_SEQS = 256
#: TensorRT-LLM 0.11's ``trtllm-build`` default ``max_num_tokens`` (docs/source/release-notes.md,
#: 0.11.0, "API Changes": "`max_num_tokens` in `trtllm-build` command is switched to 8192 by
#: default"): the engine's input takes at most that many tokens, so its batch manager runs whole
#: contexts up to it a step (chunked context off by default).
TRTLLM_V011_MAX_NUM_TOKENS = 8192

#: The stacks of the whole-model rows, by the published `kernel` cell's first word.
#: The weight dtypes TensorRT-LLM 0.8-0.9 do not quantize a Mixtral's experts to (comment at
#: ``tensorrt_llm_xqa``): FP8; their weight-only int4 and int8 modes do reach the experts.
TRTLLM_V08_UNQUANTIZED_EXPERTS = frozenset({"fp8"})


STACKS = {
    "torchao": Stack("serving", True, False, "torch.compile 'reduce-overhead': Inductor fusion, CUDA graphs"),
    # TurboMind v0.1 (lmdeploy v0.1.0a1, src/turbomind/models/llama/LlamaBatch.cc
    # ``LlamaBatch::ContextDecode``): a prompt of more than one token is prefilled without its last
    # one, "subtract input/context len by 1 to skip last input token (will process with decoder
    # later)", and the loop then runs ``Generate`` (a decode step over the whole prompt) before
    # ``Finish`` hands the first token to the stream callback; a one-token prompt has no prefill
    # (``missing > 1``). Its Dec 2023 refactor (``forwardUnified``) prefills the whole prompt
    "lmdeploy_turbomind": Stack(
        "serving", False, False, "TurboMind v0.1: fused kernels launched from C++; the prompt's last "
        "token decoded, not prefilled", decodes_last_prompt_token=True,
    ),
    "autoawq_gemm": Stack("eager", False, True, "HF transformers in eager PyTorch"),
    "tensorrt_llm": Stack(
        "serving", False, False, "a TensorRT engine; v0.5-v0.6: no CUDA graphs, decode attention "
        "in the masked MHA kernel, one CTA per query head (XQA came in v0.7, opt-in)", "trtllm_mmha",
    ),
    # v0.8-v0.9: XQA decodes where it has a kernel (docs/source/gpt_attention.md at b57221b7,
    # 2024-01-23: "This is default enabled"), the group's query heads sharing each K/V load on the
    # tensor cores (the XQA blog); its kernels ship as cubins, so their traits are not known and
    # `trtllm_xqa` (the group stacked in one split-KV CTA) stands for them. The cubins at 4bb65f21
    # (v0.8.0) and 71d8d4d3 (v0.9.0), cpp/tensorrt_llm/kernels/decoderMaskedMultiheadAttention/
    # cubin/, hold beam-1 decode kernels for 8 query heads per K/V head only
    # (``xqa_kernel_dt_fp16_d_128_beam_1_kvt_e4m3_nqpkv_8_m_8``, paged and contiguous; the nqpkv_0
    # ones are Medusa's multi-token kernels), and DecoderXQAImplPrecompiled::supportConfig looks the
    # group up among them: Llama-2-70B (64 / 8) decodes in XQA, the MHA models (a group of 1) and
    # Mistral-7B and Mixtral (32 / 8 = 4) in the masked MHA, on trtllm-build's default paged cache
    # (plugin.py at both: ``paged_kv_cache: bool = True``, ``tokens_per_block: int = 128``) and
    # without multi-block mode (``multi_block_mode: bool = False``, the same file)
    # Neither version quantizes a Mixtral's experts to FP8: ``fp8_quantize``
    # (tensorrt_llm/quantization/quantize.py at 4bb65f21 and 71d8d4d3) swaps ColumnLinear and
    # RowLinear modules for FP8 ones, and the MoE layer's experts are weights of its own
    # (tensorrt_llm/layers/moe.py: ``MixtureOfExperts`` quantizes them only for weight-only modes,
    # else ``self.weight_dtype = dtype``); the v0.10.0 release notes then list "Added FP8
    # quantization support for Mixtral" (`unquantized_expert_weights`). Its MoE plugin
    # (``moe_plugin = "float16"`` by default, tensorrt_llm/plugin/plugin.py) runs the experts' gate
    # and up projections as one grouped GEMM ("horizontal fusion for gated activation", fc1 of
    # ``inter_size * 2``) and their down projection as another, CUTLASS's Ampere kernel on every
    # GPU for 16-bit weights (`mappers.gpu_gemm.TRTLLM_MOE_SM80`)
    "tensorrt_llm_xqa": Stack(
        "serving", False, False, "a TensorRT engine; v0.8-v0.9: no CUDA graphs (gptSessionBenchmark "
        "without --enable_cuda_graph), XQA decode for groups of 8 query heads per K/V head, the "
        "masked MHA on the paged cache for the others; FP8 engines keep MoE experts in 16 bits",
        decode_kernel="trtllm_mmha_paged", decode_by_group={8: "trtllm_xqa"},
        unquantized_expert_weights=TRTLLM_V08_UNQUANTIZED_EXPERTS, moe=MoeMode.GROUPED,
        expert_gemm_kernel="trtllm_moe_sm80",
    ),
    # v0.9's GPT-J and Llama-2 engines were built with ``--paged_kv_cache disable`` (performance.md
    # at 71d8d4d3, "Benchmarking per Model"): the masked MHA on a contiguous cache, XQA's contiguous
    # nqpkv_8 kernel for Llama-2-70B's group of 8 (above)
    "tensorrt_llm_contiguous_kv": Stack(
        "serving", False, False, "a TensorRT engine; v0.9 with a contiguous KV cache: no CUDA graphs, "
        "the masked MHA decode (XQA for groups of 8); FP8 engines keep MoE experts in 16 bits", "trtllm_mmha",
        decode_by_group={8: "trtllm_xqa"}, unquantized_expert_weights=TRTLLM_V08_UNQUANTIZED_EXPERTS,
        moe=MoeMode.GROUPED, expert_gemm_kernel="trtllm_moe_sm80",
    ),
    # vLLM replays CUDA graphs for decode batches only (vllm/worker/model_runner.py, v0.5: "vLLM uses
    # cuda graph only for decoding requests", ``use_captured_graph = (decode_only and ...)``); a
    # prefill runs eagerly, each op dispatched from Python. Its MoE layers run ``fused_experts``
    # (vllm/model_executor/layers/fused_moe/fused_moe.py): ``invoke_fused_moe_kernel`` once on the
    # experts' merged gate and up weights (``w13``) and once on their down weights, one Triton
    # kernel a projection over all experts
    "vllm": Stack(
        "serving", True, False, "vLLM: fused kernels, decode replayed from CUDA graphs, prefill eager",
        eager_prefill=True, step_host_s=VLLM_STEP_HOST_S, prefill_token_budget=VLLM_MIN_BATCHED_TOKENS,
        budget_covers_model_len=True, max_seqs_per_step=VLLM_MAX_NUM_SEQS, moe=MoeMode.GROUPED,
    ),
    # Argonne's TensorRT-LLM 0.11 runs (their copy of examples/run.py at ae7e7a41, ModelRunnerCpp, one
    # output token): the C++ runtime launches a prefill step; the script sets no CUDA-graph option.
    # Its MoE plugin groups the experts as v0.8-0.9's does (gate and up as one), and quantizes them
    # to FP8 since v0.10 ("Added FP8 quantization support for Mixtral"); its grouped kernel on
    # Hopper was not read: the preset's
    "tensorrt_llm_v011": Stack(
        "serving", False, False, "a TensorRT engine, v0.11 (C++ runtime): a prefill step, no CUDA graphs",
        prefill_token_budget=TRTLLM_V011_MAX_NUM_TOKENS, moe=MoeMode.GROUPED,
    ),
}


#: The weight-only GEMM kernel a stack runs for a weight dtype: gpt-fast's and
#: torchao's int4 weight-only linear call tinygemm (``torch.ops.aten._weight_int4pack_mm``); their
#: int8 weight-only linear is ``F.linear(x, w.to(x.dtype)) * scales`` fused by Inductor. A preset
#: runs a model's GEMMs at that kernel's `kernel_bandwidth_fractions` entry (`GPUSpec.with_kernels`).
WEIGHT_ONLY_KERNELS = {
    ("torchao", "int4"): "tinygemm_int4",
    ("gpt-fast", "int4"): "tinygemm_int4",
    ("torchao", "int8"): "inductor_int8_weight_only",
    ("gpt-fast", "int8"): "inductor_int8_weight_only",
    # AutoAWQ's WQLinear_GEMM (mappers.gpu_gemm.AUTOAWQ_GEMM): its own kernel, or from 1024 tokens
    # a dequantization and a dense cuBLAS GEMM
    ("autoawq_gemm", "int4"): "autoawq_gemm",
    # FP8 weights: W8A8 GEMMs that accumulate FP8 fast (no promotion of partial sums,
    # `mappers.gpu_gemm.GemmKernel.fp8_promotion`): torchao's torch._scaled_mm with
    # use_fast_accum=True, vLLM's CUTLASS scaled_mm (FP8FastAccum schedules); a weight-only FP8
    # linear (16-bit activations) multiplies in 16 bits, where the name changes nothing
    ("torchao", "fp8"): "scaled_mm_fast_accum",
    ("vllm", "fp8"): "cutlass_scaled_mm",
}
#: Weight GEMMs a stack runs as a kernel other than `WEIGHT_ONLY_KERNELS`' own, by the end of the
#: op's module name: AutoAWQ's benchmark loads its models with ``fuse_layers=True``, whose fused
#: MLP calls the GEMM kernel for gate_proj and up_proj at every length
#: (`mappers.gpu_gemm.AUTOAWQ_FUSED_MLP_GEMM`). A step carries them as ``module=kernel;...``.
MODULE_GEMM_KERNELS = {
    ("autoawq_gemm", "int4"): dict.fromkeys(("mlp.gate_proj", "mlp.up_proj"), "autoawq_gemm_fused_mlp"),
}


def stack_kernels(
    stack_name: str, stack: Stack, phase: str, *, group: int, weights: str
) -> tuple[str, str]:
    """(the weight-only GEMM kernel, the attention kernel) `stack` runs in a `phase` step of a model
    with `group` query heads per K/V head and `weights` (a dtype name); '' where it runs the
    preset's default."""
    gemm = WEIGHT_ONLY_KERNELS.get((stack_name, weights), "")
    attention = stack.decode_attention_kernel(group) if phase == "decode" else stack.attention_kernel
    return gemm, attention


def module_gemm_kernels(stack: str, weights: str) -> Mapping[str, str]:
    """The stack's `MODULE_GEMM_KERNELS` for the weight dtype, module suffix -> kernel (empty for
    none)."""
    return MODULE_GEMM_KERNELS.get((stack, weights), {})


def launch_timing(cuda_graphs: bool, eager_host: bool) -> str:
    """How a step's kernels are launched, as the measured format's `timing` names it: ``graph``
    (replayed from a CUDA graph), ``back_to_back`` (each dispatched by an eager framework on the
    host: the spec as it is) or ``events`` (launched by a native runtime)."""
    return "graph" if cuda_graphs else "back_to_back" if eager_host else "events"
