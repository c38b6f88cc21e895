#!/usr/bin/env bash
# Create the isolated virtual environment that runs SCALE-Sim for the reference data.
#
# SCALE-Sim is kept out of the project's own environment on purpose: the reference
# data were produced with scalesim 3.0.0 on numpy<2 (scalesim declares an unpinned
# numpy and was written against numpy 1.x), and codesign must not inherit that pin
# or any of scalesim's heavy dependencies (numba, matplotlib, ...).
# The project never imports scalesim; run_scalesim.py is executed by this venv's
# python as a subprocess of generate_reference.py.
#
# Usage: benchmarks/scalesim_reference/setup_venv.sh [VENV_PATH]   (default: .scalesim-venv)
set -euo pipefail

venv="${1:-.scalesim-venv}"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --upgrade pip
"$venv/bin/python" -m pip install 'scalesim==3.0.0' 'numpy<2'
echo "SCALE-Sim venv ready: $venv/bin/python"
