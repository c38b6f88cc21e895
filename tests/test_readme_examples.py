"""README's "Using it" runs as written on a fresh clone: every file its commands read is shipped in
the repository (the examples under examples/) or written by a command above it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).parent.parent
#: Options whose value is a file or folder the command reads (when it has a path's form).
INPUT_OPTIONS = ("--hw", "--topology", "--ops")
#: Options whose value the command writes.
OUTPUT_OPTIONS = ("--out", "--rows")
PATH_SUFFIXES = (".csv", ".yaml", ".yml", ".cfg", ".json", ".parquet", ".py")


def using_it_commands() -> list[list[str]]:
    """The `codesign` command lines of the README's "Using it" code block, comments dropped."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Using it", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.startswith("codesign ")]


def _is_path(token: str) -> bool:
    return "/" in token or token.endswith(PATH_SUFFIXES)


def test_every_example_file_the_readme_names_is_shipped():
    named = {token for argv in using_it_commands() for token in argv if token.startswith("examples/")}
    assert named, "README's 'Using it' names no examples/ file"
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"README names example files that are not shipped: {missing}"


def test_every_file_a_readme_command_reads_exists_or_is_written_above():
    written: set[str] = set()
    for argv in using_it_commands():
        command, rest = argv[1], argv[2:]
        reads, outputs = [], []
        index = 0
        while index < len(rest):
            token = rest[index]
            value = rest[index + 1] if index + 1 < len(rest) else ""
            if token in INPUT_OPTIONS and _is_path(value):
                reads.append(value)
                index += 2
            elif token in OUTPUT_OPTIONS or token == ">":
                outputs.append(value)
                index += 2
            elif token.startswith("-"):
                index += 2 if value and not value.startswith("-") else 1
            else:  # a positional argument: a spec, a measured file, a sweep folder (or a model name)
                if _is_path(token):
                    reads.append(token)
                index += 1
        for path in reads:
            assert path in written or (ROOT / path).exists(), (
                f"`codesign {command}` reads {path}, which is neither shipped nor written above it"
            )
        written.update(outputs)


def test_the_shipped_scalesim_cfg_and_topology_run(capsys):
    from hwmodels import load_hardware
    from sim.cli import main

    cfg = ROOT / "examples" / "scalesim_scale.cfg"
    spec = load_hardware(str(cfg))  # SCALE-Sim's default: 32x32 os, 64 kB SRAMs, CALC bandwidth
    assert (spec.rows, spec.cols, spec.dataflow.value, spec.ifmap_sram_bytes) == (32, 32, "os", 65536)
    assert spec.calc_prefetch_bytes_per_s == 10e9  # CALC: SCALE-Sim's 10 words/cycle first fill
    topology = ROOT / "examples" / "resnet_head.csv"
    assert main(["simulate", "--hw", str(cfg), "--topology", str(topology), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("Conv1,conv,systolic,scale_example")
