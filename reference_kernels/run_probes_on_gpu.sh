#!/usr/bin/env bash
# Run the GPU model's open probes (reference_kernels/probes.py) in one call of the device tool,
# with nothing installed (the GPU image's python3 has torch and triton):
#
#     bash reference_kernels/run_probes_on_gpu.sh            # writes $OUT/<gpu>_probe_<name>.csv
#
# About a minute and a half on an H100. Run it after run_on_gpu.sh's grid, or alone when the grid is
# already committed; commit what it writes under reference_kernels/data/probes/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT="${OUT:-reference_kernels/data/probes}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv
"$PYTHON" -m reference_kernels.probes cuda "$OUT" "$@"
