#!/usr/bin/env bash
# Measure the full grid on a GPU in one call of the device tool, with nothing installed:
#
#     bash reference_kernels/run_on_gpu.sh            # writes $OUT/<gpu>_full.csv, e.g. h100_full.csv
#
# The GPU image's python3 has torch, triton, numpy, pandas and tqdm, which is all that
# reference_kernels imports; the repository is put on PYTHONPATH instead of being installed. It
# calls reference_kernels.measure.measure, the function behind `codesign measure --device cuda
# --grid full`, rather than `python3 -m sim.cli`, because sim.cli loads every subcommand and
# `codesign compare` needs plotly, which that image lacks.
#
# A call stops starting rows after MAX_SECONDS (default 420, inside the tool's 10-minute limit with
# the probes after it, about a minute and a half; PROBES=0 leaves them out). If
# reference_kernels/data/<gpu>_full.csv is already committed, it is copied to $OUT first and resumed,
# so a second call (after committing the first call's file) finishes a grid the first did not.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT="${OUT:-reference_kernels/data}"
MAX_SECONDS="${MAX_SECONDS:-420}"
PROBES="${PROBES:-1}"
PYTHON="${PYTHON:-python3}"

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1 | awk '{print tolower($2)}')
name="${1:-${gpu}_full.csv}"
if [[ -f "reference_kernels/data/$name" && ! -f "$OUT/$name" ]]; then
    cp "reference_kernels/data/$name" "$OUT/$name"
fi

# The device's state beside the data (clocks, power limit, temperature, persistence mode), before and
# after timing: a throttled or power-capped GPU explains numbers the model will not.
state="$OUT/${name%.csv}_nvidia_smi.txt"
if [[ -f "reference_kernels/data/${state##*/}" && ! -f "$state" ]]; then
    cp "reference_kernels/data/${state##*/}" "$state"
fi
{ echo "# before timing, $(date -u +%FT%TZ)"; nvidia-smi -q -d CLOCK,POWER,TEMPERATURE,PERFORMANCE; } >> "$state" || true

"$PYTHON" - "$OUT/$name" "$MAX_SECONDS" <<'PY'
import sys

import torch
import triton

from reference_kernels.measure import measure

out, max_seconds = sys.argv[1], float(sys.argv[2])
print(f"torch {torch.__version__}, triton {triton.__version__}, {torch.cuda.get_device_name()}")
result = measure(None, "cuda", "full", out, resume=True, max_seconds=max_seconds)
print(f"wrote {result.written} rows to {result.path} ({result.already_present} already there)")
for failure in result.failed:
    print(f"failed: {failure}")
if result.stopped_early:
    print("stopped at MAX_SECONDS; commit the file and run this script again to finish the grid")
PY

# Per-kernel launch overhead, eager and from a CUDA graph (reference_kernels/launch.py): a few
# seconds; the presets' launch_overhead_s and graph_launch_overhead_s are read from it.
"$PYTHON" -m reference_kernels.launch cuda "$OUT/${name%_full.csv}_launch.csv" || true

# The model's open questions (reference_kernels/probes.py): their files beside the grid's, under probes/.
if [[ "$PROBES" != "0" ]]; then
    mkdir -p "$OUT/probes"
    "$PYTHON" -m reference_kernels.probes cuda "$OUT/probes" || true
fi

{ echo "# after timing, $(date -u +%FT%TZ)"; nvidia-smi -q -d CLOCK,POWER,TEMPERATURE,PERFORMANCE; } >> "$state" || true
