"""The first second: the command line parses, and `codesign presets` runs, without the heavy
libraries (benchmarks/bench_startup.py times them: pandas alone takes ~0.4 s to import on the 2-core
CI VM, torch ~3 s); each command imports them in its `run`."""

from __future__ import annotations

import subprocess
import sys

#: Libraries the parser and `codesign presets` must not import.
HEAVY = ("numba", "pandas", "plotly", "pyarrow", "torch")


def imported_after(code: str, env: dict[str, str] | None = None) -> list[str]:
    """The `HEAVY` libraries imported by running `code` in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    return done.stdout.split()


def test_the_parser_imports_no_heavy_library():
    assert (
        imported_after("import sim, hwmodels, workloads\nfrom sim.cli import build_parser\nbuild_parser()")
        == []
    )


def test_presets_lists_the_zoo_without_torch():
    code = (
        "import contextlib, io\nfrom sim.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n    main(['presets'])\n"
        "assert 'llama-2-7b' in out.getvalue() and 'scalesim_32x32' in out.getvalue()"
    )
    assert imported_after(code) == []
