"""The tuned configurations vLLM launches its Triton block-FP8 GEMM with, as the model reads them.

vLLM's ``w8a8_block_fp8_matmul`` (vllm/model_executor/layers/quantization/utils/fp8_utils.py, read in
the code index) looks up ``configs/N={N},K={K},device_name={GPU},dtype=fp8_w8a8,block_shape=[128,128].json``
for the GPU it runs on and takes the entry whose M key is nearest the call's M
(``configs[min(configs.keys(), key=lambda x: abs(x - M))]``); without a file it runs one default
configuration (`mappers.gpu_gemm.VLLM_BLOCK_FP8_DEFAULT`). The files in `tuned_configs/` are verbatim
copies from the code index (`tuned_configs/SOURCES.txt`): the shapes of the validation rows that ran
this kernel (vLLM PR #23280's DeepSeek-V3 N = 2112, K = 7168 on an H100 SXM, whose log names
``device_name=NVIDIA_H100_80GB_HBM3``). `DEVICES` maps vLLM's device names to presets.

Run from the repository root: ``python benchmarks/vllm_block_fp8/make_configs.py``; it writes
`mappers/vllm_block_fp8_configs.csv` (the same columns as sglang's, `mappers/sglang_block_fp8_configs.csv`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
TUNED = HERE / "tuned_configs"
CONFIGS = Path(__file__).parents[2] / "mappers" / "vllm_block_fp8_configs.csv"
#: vLLM's device name (``current_platform.get_device_name()`` with spaces as underscores) -> preset
DEVICES = {"NVIDIA_H100_80GB_HBM3": "h100_sxm"}


def tuned_configs() -> pd.DataFrame:
    """One row per (preset, N, K, M) of the files in `TUNED`: the tile and pipeline vLLM launches
    at that M (its JSON's keys), the preset from the file's device name (`DEVICES`)."""
    from mappers.gpu_gemm import tuned_config_rows

    out = []
    for path in sorted(TUNED.glob("N=*.json")):
        device = dict(part.split("=", 1) for part in path.stem.split(",")[:3])["device_name"]
        out += tuned_config_rows(path, DEVICES[device])
    return pd.DataFrame(out).sort_values(["preset", "n", "k", "m"])


def main() -> None:
    configs = tuned_configs()
    configs.to_csv(CONFIGS, index=False)
    print(f"{len(configs)} tuned configurations written to {CONFIGS}")


if __name__ == "__main__":
    main()
