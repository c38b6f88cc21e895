#!/usr/bin/env python3
"""Render FlashInfer v0.2.4's JIT batch-decode config (csrc/batch_decode_customize_config.jinja) exactly
as flashinfer/jit/attention/pytorch.py's gen_batch_decode_module -> gen_customize_batch_decode_module
does for BatchDecodeWithPagedKVCacheWrapper(use_tensor_cores=False) with fp16 q/kv/o, int32 indices,
pos_encoding_mode 0 (kNone), no sliding window, no logits soft cap.

  render_config.py CSRC_DIR HEAD_DIM > batch_decode_config.inc
  render_config.py CSRC_DIR HEAD_DIM --inst > batch_decode_kernel.cu   (csrc/batch_decode_kernel_inst.jinja,
                                             the JIT's kernel translation unit, with the same arguments)
"""

import sys
from pathlib import Path

import jinja2

csrc, head_dim = Path(sys.argv[1]), int(sys.argv[2])
# flashinfer/jit/attention/utils.py generate_additional_params (is_sm90_template=False)
tensor_names, tensor_dtypes = ["maybe_alibi_slopes"], ["float"]
scalar_names = ["logits_soft_cap", "sm_scale", "rope_rcp_scale", "rope_rcp_theta"]
scalar_dtypes = ["double"] * 4
decl = "".join(
    [f"{d}* {v};\n" for d, v in zip(tensor_dtypes, tensor_names, strict=False)]
    + [f"{d} {v};\n" for d, v in zip(scalar_dtypes, scalar_names, strict=False)]
)
func = "".join(
    [f", std::optional<at::Tensor> {v}" for v in tensor_names]
    + [f", {d} {v}" for d, v in zip(scalar_dtypes, scalar_names, strict=False)]
)
setter = " \\\n".join(
    [
        f"params.{v} = {v} ? static_cast<{d}*>({v}->data_ptr()): nullptr;"
        for d, v in zip(tensor_dtypes, tensor_names, strict=False)
    ]
    + [f"params.{v} = {v};" for v in scalar_names]
)
use_swa, use_cap, posenc = False, False, 0
kwargs = dict(
    additional_params_decl=decl,
    additional_func_params=func,
    additional_params_setter=setter,
    variant_decl="#include<flashinfer/attention/variants.cuh>",
    variant_name=(
        f"DefaultAttention<false, {str(use_swa).lower()}, {str(use_cap).lower()}, {str(posenc == 2).lower()}>"
    ),
    dtype_q="half",
    dtype_kv="half",
    dtype_o="half",
    idtype="int32_t",
    head_dim_qk=head_dim,
    head_dim_vo=head_dim,
    pos_encoding_mode="PosEncodingMode::kNone",
    use_sliding_window="false",
    use_logits_soft_cap="false",
)
template = "batch_decode_kernel_inst.jinja" if "--inst" in sys.argv else "batch_decode_customize_config.jinja"
print(jinja2.Template((csrc / template).read_text()).render(**kwargs))
