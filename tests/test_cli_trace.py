"""`codesign trace` as a user runs it: outputs and formats, user factories, and one-line errors."""

from __future__ import annotations

import json
import textwrap

import pytest

from sim.cli import main
from workloads import load_model_graph, read_graph_csv


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def factory_file(tmp_path, body: str) -> str:
    path = tmp_path / "user_model.py"
    path.write_text("import torch\nfrom torch import nn\n\n" + textwrap.dedent(body))
    return str(path)


def test_table_shows_ops_and_totals(capsys):
    code, out, err = run(capsys, "trace", "gpt2-small", "--phase", "decode", "--context", "32")
    assert code == 0 and err == ""
    assert "h.0.attn.q_proj" in out and "aten.linear.default" in out
    assert "params:         124,439,808" in out and "intensity:" in out


def test_csv_out_reads_back_into_the_same_graph(capsys, tmp_path):
    path = tmp_path / "ops.csv"
    argv = ["llama-2-7b", "--phase", "decode", "--context", "64", "--weights", "int4", "--kv", "int8"]
    code, out, _ = run(capsys, "trace", *argv, "--format", "csv", "--out", str(path))
    assert code == 0 and out.startswith("model:")  # the summary; the rows went to the file
    expected = load_model_graph("llama-2-7b", phase="decode", context=64, weights="int4", kv="int8")
    assert read_graph_csv(path) == expected


def test_group_merges_layers_with_a_count(capsys):
    code, out, _ = run(capsys, "trace", "bert-base", "--seq", "16", "--group", "--format", "json")
    rows = json.loads(out)["ops"]
    q_proj = [row for row in rows if row["module"] == "layers.*.attention.q_proj"]
    assert code == 0 and len(q_proj) == 1 and q_proj[0]["count"] == 12


def test_a_users_factory_is_traced_with_the_arguments_it_declares(capsys, tmp_path):
    path = factory_file(
        tmp_path,
        """
        def build(batch, seq):
            return nn.Sequential(nn.Linear(64, 32), nn.GELU()), (torch.zeros(batch, seq, 64),)
        """,
    )
    code, out, _ = run(capsys, "trace", f"{path}:build", "--batch", "2", "--seq", "5")
    # M = 2·5 = 10 rows through a 64→32 linear: 2·10·32·64 = 40,960 FLOPs
    assert code == 0 and "M=10;N=32;K=64" in out and "40,960" in out


def test_unmodeled_ops_are_listed_in_a_warning_and_the_output(capsys, tmp_path):
    path = factory_file(
        tmp_path,
        """
        class Sorter(nn.Module):
            def forward(self, x):
                return torch.sort(x)[0]

        def build():
            return Sorter(), (torch.zeros(4, 8),)
        """,
    )
    code, out, err = run(capsys, "trace", f"{path}:build")
    assert code == 0
    assert "warning" in err and "aten.sort.default" in err
    assert "unmodeled ops:  aten.sort.default x1" in out


def one_line_error(capsys, *argv) -> str:
    code, out, err = run(capsys, "trace", *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_unknown_model_lists_the_zoo(capsys):
    err = one_line_error(capsys, "gpt-5")
    assert "unknown model 'gpt-5'" in err
    for name in ("gpt2-small", "llama-2-70b", "llama-3-8b", "mixtral-8x7b", "vit-b16", "resnet-50"):
        assert name in err


def test_factory_that_fails_to_import_shows_its_error(capsys, tmp_path):
    path = factory_file(tmp_path, "import package_that_is_not_installed\n")
    err = one_line_error(capsys, f"{path}:build")
    assert "ModuleNotFoundError" in err and "package_that_is_not_installed" in err


def test_model_that_cannot_run_on_meta_tensors_names_the_op(capsys, tmp_path):
    path = factory_file(
        tmp_path,
        """
        class DataDependent(nn.Module):
            def forward(self, x):
                return x[x > 0]

        def build():
            return DataDependent(), (torch.zeros(8),)
        """,
    )
    err = one_line_error(capsys, f"{path}:build")
    assert "aten op aten.index.Tensor cannot run on meta tensors" in err  # x[mask]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["llama-2-7b", "--phase", "decode"], "--phase decode needs --context N"),
        (["bert-base", "--phase", "decode", "--context", "8"], "has only --phase prefill"),
        (["gpt2-small", "--seq", "2048"], "exceeds gpt2-small's 1024 positions"),
        (["llama-2-7b", "--seq", "8", "--weights", "int3"], "unknown dtype 'int3'"),
        (["llama-2-7b", "--seq", "8", "--sparsity", "8:4"], "keeps N of every M weights, 1 <= N < M"),
        (["llama-2-7b", "--seq", "8", "--gemm-activations", "int4"],
         "--gemm-activations 'int4': must be one of fp16, bf16, fp8, int8, fp32"),
        (["llama-2-7b", "--seq", "8", "--attention-dtype", "tf32"],
         "--attention-dtype 'tf32': must be one of fp16, bf16, fp8, int8, fp32"),
        (["resnet-50", "--seq", "8"], "takes 224x224 images, not --seq"),
    ],
)
def test_impossible_combinations(capsys, argv, message):
    assert message in one_line_error(capsys, *argv)


def test_sparsity_that_does_not_divide_k(capsys, tmp_path):
    path = factory_file(tmp_path, "def build():\n    return nn.Linear(6, 8), (torch.zeros(2, 6),)\n")
    err = one_line_error(capsys, f"{path}:build", "--sparsity", "2:4")
    assert "K = 6, not a multiple of 4" in err
