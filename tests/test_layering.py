"""The packages' layering (DESIGN.md): what each top-level package may import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Package -> the packages of ours it must not import.
FORBIDDEN = {
    "workloads": ("hwmodels", "mappers", "sim", "reference_kernels"),  # knows no hardware
    "hwmodels": ("mappers", "sim", "reference_kernels"),  # simulates nothing
    "mappers": ("sim", "reference_kernels"),  # candidate mappings; the cycle formulas are sim's
    "reference_kernels": ("sim",),  # times kernels; the simulator's side is sim/measured
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_nothing_above_it(package):
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in sorted(_imports(path) & set(FORBIDDEN[package]))
    ]
    assert offenders == []
