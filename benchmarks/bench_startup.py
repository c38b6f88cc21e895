"""Speed: how long the first second is, timed as whole processes, start-up and imports included.

Each command runs once untimed (it fills the OS file cache and Python's bytecode cache, as any
earlier run on the machine has), then `--runs` times; the table gives the median, min and max wall
seconds of each, with the target beside it (issue 13: `--help` and `presets` under 0.3 s, the small
`simulate` under 1 s, on the 2-core CI VM). Bytecode is cached as an installed package has it, in a
folder of this run (PYTHONPYCACHEPREFIX), whatever PYTHONDONTWRITEBYTECODE says: where that is set
and no ``__pycache__`` exists, every process compiles the project's modules from source first
(~0.1-0.25 s on the CI VM). `codesign` is the console script next to this Python (else
``python -m sim.cli``); set PYTHONPATH to time another checkout with the same environment.

    python benchmarks/bench_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: (what is timed, its arguments after the program, target wall seconds or None)
CASES = (
    ("python -c 'import sim, hwmodels'", ["-c", "import sim, hwmodels"], None),
    ("codesign --help", ["--help"], 0.3),
    ("codesign presets", ["presets"], 0.3),
    ("codesign simulate --hw scalesim_32x32 --gemm 100,37,250",
     ["simulate", "--hw", "scalesim_32x32", "--gemm", "100,37,250"], 1.0),
)  # fmt: skip


def codesign_command() -> list[str]:
    """The `codesign` console script of this environment, or the module it runs."""
    script = Path(sys.executable).with_name("codesign")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sim.cli"]


def time_process(command: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run of `command`, from its start to its exit; an error if it fails."""
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (default 7)")
    runs = parser.parse_args().runs
    codesign = codesign_command()
    pycache = tempfile.TemporaryDirectory(prefix="bench_startup_pycache_")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache.name
    print(f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {runs} runs per command\n")
    print("| command | median s | min s | max s | target s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, arguments, target in CASES:
        command = [sys.executable, *arguments] if label.startswith("python") else [*codesign, *arguments]
        time_process(command, env)  # warm-up, not counted
        times = [time_process(command, env) for _ in range(runs)]
        goal = f"< {target:g}" if target else "-"
        print(
            f"| `{label}` | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} | {goal} |"
        )
    pycache.cleanup()


if __name__ == "__main__":
    main()
