"""Sweep specs: parsing, every bad-input message, axis generators, sampling, constraints, hashing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.sweep.configs import enumerate_configs
from sim.sweep.expr import SweepSpecError, parse_expression
from sim.sweep.spec import Fidelity, Goal, Sampling, SweepSpec, parse_sweep_spec
from sim.sweep.system_sweep import SystemSweepSpec, load_any_sweep_spec, system_sweep_from_yaml

BASE = """
hardware: scalesim_32x32
workloads: [{gemm: [[64, 64, 64]]}]
"""


def spec(text: str, base: str = BASE):
    return parse_sweep_spec(textwrap.dedent(base) + textwrap.dedent(text))


def test_a_full_spec_parses_into_its_parts():
    parsed = spec(
        """
        axes:
          rows: [16, 32]
          dataflow: [os, WS]
        derived: {cols: rows * 2}
        constraints: [rows <= 32]
        sampling: {method: random, samples: 3, seed: 7}
        fidelity: cycle
        objectives: {latency_s: min, tokens_per_s: max}
        """
    )
    assert [(a.field, a.values) for a in parsed.axes] == [("rows", (16, 32)), ("dataflow", ("os", "ws"))]
    assert parsed.swept_fields == ("rows", "dataflow", "cols")
    assert (parsed.sampling, parsed.samples, parsed.seed) == (Sampling.RANDOM, 3, 7)
    assert parsed.fidelity is Fidelity.CYCLE
    goals = [(o.column, o.goal) for o in parsed.objectives]
    assert goals == [("latency_s", Goal.MIN), ("tokens_per_s", Goal.MAX)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("axes: {rows: [8]}\nfidelty: cycle\n", "unknown key 'fidelty'; did you mean 'fidelity'?"),
        ("axes: {rowz: [8]}\n", "axes: unknown field 'rowz'; did you mean 'rows'?"),
        ("axes: {rows: {rnage: [8, 16, 8]}}\n", "unknown key 'rnage'; did you mean 'range'?"),
        ("axes: {rows: [8]}\nsampling: {method: random, sample: 3}\n", "'sample'; did you mean 'samples'?"),
        ("axes: {rows: [8]}\nsampling: randon\n", "did you mean 'random'?"),
        ("axes: {rows: [8]}\nfidelity: cycles\n", "did you mean 'cycle'?"),
        ("axes: {rows: [8]}\nobjectives: {latency: min}\n", "column 'latency' at fidelity roofline; did you"),
        ("axes: {rows: [8]}\nobjectives: {latency_s: smallest}\n", "valid: min, max"),
        ("axes: {rows: [8.5]}\n", "axes.rows: 8.5 is not an integer"),
        ("axes: {rows: []}\n", "axes.rows: no values"),
        ("axes: {dataflow: [os, xs]}\n", "'xs' is not one of os, ws, is"),
        ("axes: {rows: {range: [16, 8, 8]}}\n", "needs step > 0 and stop >= start"),
        ("axes: {rows: {logrange: [8, 64]}}\n", "expected [start, stop, num]"),
        ("axes: {rows: [8]}\nconstraints: ['rows <= colz']\n", "unknown field 'colz'; did you mean 'cols'?"),
        ('axes: {rows: [8]}\nconstraints: [\'__import__("os").system("true")\']\n', "Call is not allowed"),
        # attribute access reads only a nested spec's field by its dotted path, never a Python attribute
        ("axes: {rows: [8]}\nconstraints: ['rows.real > 1']\n", "names unknown field 'rows.real'"),
        ("axes: {rows: [8]}\nconstraints: ['(rows + 1).real > 1']\n", "Attribute is not allowed"),
        ("axes: {rows: [8]}\nderived: {rows: cols}\n", "'rows' is also an axis"),
        ("axes: {rows: [8]}\nsampling: random\n", "random sampling needs 'samples'"),
    ],
)
def test_bad_input_is_refused_naming_the_key_and_the_closest_valid_one(text, message):
    with pytest.raises(SweepSpecError, match=None) as caught:
        spec(text)
    assert message in str(caught.value)


def test_missing_keys_and_bad_workloads_are_named():
    with pytest.raises(SweepSpecError, match="missing key 'axes'"):
        parse_sweep_spec("hardware: scalesim_32x32\nworkloads: [{gemm: [[1, 1, 1]]}]\n")
    with pytest.raises(SweepSpecError, match=r"workloads\[0\]: unknown key 'contxt'; did you mean 'context'"):
        spec("axes: {rows: [8]}\n", "hardware: scalesim_32x32\nworkloads: [{model: gpt2-small, contxt: 9}]\n")
    with pytest.raises(SweepSpecError, match=r"is not \[M, N, K\]"):
        spec("axes: {rows: [8]}\n", "hardware: scalesim_32x32\nworkloads: [{gemm: [[1, 2]]}]\n")
    with pytest.raises(SweepSpecError, match="names .* repeat"):
        two = "workloads: [{gemm: [[1, 1, 1]]}, {name: gemm, gemm: [[2, 2, 2]]}]\n"
        spec("axes: {rows: [8]}\n", "hardware: scalesim_32x32\n" + two)


def test_a_model_workload_takes_the_precision_keys_the_cli_has():
    # --gemm-activations (W8A8: only what a weight GEMM reads is 8-bit) and --attention-dtype are
    # a model workload's keys as they are simulate's flags (workloads.model_graph.MODEL_KEYS)
    text = "workloads: [{model: llama-2-7b, phase: decode, context: 64, weights: fp8, gemm_activations: fp8, "
    text += "attention_dtype: fp8, kv: fp8}]\n"
    (workload,) = spec("axes: {rows: [8]}\n", "hardware: scalesim_32x32\n" + text).workloads
    assert dict(workload.args)["gemm_activations"] == dict(workload.args)["attention_dtype"] == "fp8"


def test_axis_generators_give_the_documented_values():
    parsed = spec(
        """
        axes:
          rows: {range: [8, 32, 8]}              # 8, 16, 24, 32: the stop is included
          cols: {doubling: [16, 128]}            # 16, 32, 64, 128
          ifmap_sram_bytes: {logrange: [1024, 1048576, 3]}   # 1024 * 32^i: 1024, 32768, 1048576
          dram_bytes_per_s: {range: [0.1e9, 0.3e9, 0.1e9]}  # float steps include 0.3e9 despite rounding
          clock_hz: [1e9, 2.0e9]                  # YAML reads 1e9 as text: converted to a number
        """
    )
    values = {axis.field: axis.values for axis in parsed.axes}
    assert values["rows"] == (8, 16, 24, 32)
    assert values["cols"] == (16, 32, 64, 128)
    assert values["ifmap_sram_bytes"] == (1024, 32768, 1048576)
    assert values["dram_bytes_per_s"] == pytest.approx((0.1e9, 0.2e9, 0.3e9))
    assert values["clock_hz"] == (1e9, 2e9)


def test_grid_order_is_the_last_axis_fastest_and_constraints_drop_configs():
    parsed = spec(
        """
        axes: {rows: [8, 16, 32], cols: [8, 16]}
        derived: {ifmap_sram_bytes: rows * cols * 64}
        constraints: ['rows * cols <= 256', 'dataflow == "os"']
        """
    )
    table = enumerate_configs(parsed)
    # grid (8,8) (8,16) (16,8) (16,16) (32,8) (32,16); rows*cols <= 256 drops (32,16)
    assert table.columns["rows"].tolist() == [8, 8, 16, 16, 32]
    assert table.columns["cols"].tolist() == [8, 16, 8, 16, 8]
    assert table.columns["ifmap_sram_bytes"].tolist() == [4096, 8192, 8192, 16384, 16384]
    assert (table.grid_size, table.excluded, len(table)) == (6, 1, 5)
    assert table.overrides(1) == ["rows=8", "cols=16", "ifmap_sram_bytes=8192"]


def test_random_sampling_is_seeded_without_repeats_in_grid_order():
    text = (
        "axes: {rows: {range: [1, 100, 1]}, cols: {range: [1, 100, 1]}}\n"
        "sampling: {method: random, samples: 50, seed: %d}\n"
    )
    first, again, other = (enumerate_configs(spec(text % seed)) for seed in (3, 3, 4))
    pairs = list(zip(first.columns["rows"].tolist(), first.columns["cols"].tolist(), strict=True))
    assert len(set(pairs)) == 50 and pairs == sorted(pairs)
    assert np.array_equal(first.columns["rows"], again.columns["rows"])
    assert not np.array_equal(first.columns["cols"], other.columns["cols"])


def test_an_axis_set_with_no_config_satisfying_the_constraints_is_an_error():
    with pytest.raises(SweepSpecError, match="holds for none of the 2 configs"):
        enumerate_configs(spec("axes: {rows: [8, 16]}\nconstraints: ['rows > 64']\n"))
    with pytest.raises(SweepSpecError, match="no config of 4 satisfies"):
        enumerate_configs(spec("axes: {rows: [8, 16], cols: [8, 16]}\nconstraints: [rows>cols, cols>rows]\n"))


def test_a_derived_integer_field_must_stay_integer():
    with pytest.raises(SweepSpecError, match="non-integer values"):
        enumerate_configs(spec("axes: {rows: [8, 9]}\nderived: {cols: rows / 2}\n"))


def test_the_hash_is_of_what_the_spec_says_not_how_it_is_written():
    one = spec("name: a\naxes: {rows: [8, 16]}\nsampling: grid\n")
    same = spec("# a comment\naxes:\n  rows: {doubling: [8, 16]}\nname: b\n")
    other = spec("axes: {rows: [8, 32]}\n")
    assert one.hash == same.hash != other.hash


def test_expressions_evaluate_on_arrays_and_chain_comparisons():
    expression = parse_expression("1 < a + b <= 10 and not a == 3", fields=("a", "b"), where="t")
    a, b = np.array([0, 3, 5, 9]), np.array([0, 1, 2, 9])
    assert expression.evaluate({"a": a, "b": b}).tolist() == [False, False, True, False]


def test_the_run_metric_columns_are_those_sim_cost_gives():
    from hwmodels import load_hardware
    from sim.cost import run_metrics
    from sim.sweep.spec import RUN_METRICS
    from workloads.op import OpGraph, Phase

    facts = OpGraph(name="step", ops=(), phase=Phase.DECODE, batch=1)
    assert tuple(run_metrics({"latency_s": 1.0}, load_hardware("scalesim_32x32"), facts)) == RUN_METRICS


SYSTEM_BASE = """
system: lamina_h100_h20
workloads: [{model: llama-3-70b, phase: decode, context: 1260, batch: 64}]
"""


def test_a_spec_file_is_read_once_as_a_device_or_a_system_sweep(tmp_path):
    device, system = tmp_path / "device.yaml", tmp_path / "system.yaml"
    device.write_text(textwrap.dedent(BASE) + "axes: {rows: [8]}\n")
    system.write_text(
        textwrap.dedent(SYSTEM_BASE) + "axes: {memory.count: [2, 4]}\nconstraints: memory.count > 2\n"
    )
    assert isinstance(load_any_sweep_spec(device), SweepSpec)
    parsed = load_any_sweep_spec(system)
    assert isinstance(parsed, SystemSweepSpec)
    assert [(a.field, a.values) for a in parsed.axes] == [("memory.count", (2, 4))]
    assert [c.text for c in parsed.constraints] == ["memory.count > 2"]  # one expression, as a device sweep's


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "axes: {memry.count: [2]}\n",
            "axes: unknown system path 'memry.count'; did you mean 'memory.count'?",
        ),
        ("axes: {memory.count: [2]}\nfidelity: cycles\n", "did you mean 'cycle'?"),
        (
            "axes: {memory.count: [2]}\nobjectives: {tbt: min}\n",
            "unknown column 'tbt'; did you mean 'tbt_s'?",
        ),
        ("axes: {memory.count: [2]}\nchunk_configs: -1\n", "chunk_configs = -1: must be a positive integer"),
        ("axes: [memory.count]\n", "axes: give a mapping"),
        # a bad value names the axis as written, not only the group's field
        ("axes: {memory.count: [abc]}\n", "axes.memory.count: 'abc' is not a number"),
        ("axes: {parallel.overlap: [sideways]}\n", "axes.parallel.overlap: 'sideways' is not one of"),
    ],
)
def test_a_system_sweep_refuses_bad_input_as_a_device_sweep_does(text, message):
    body = textwrap.dedent(SYSTEM_BASE) + text
    with pytest.raises(SweepSpecError) as caught:
        system_sweep_from_yaml(body, yaml.safe_load(body), base_dir=Path("."), default_name="s")
    assert message in str(caught.value)


def test_a_system_base_set_must_be_a_mapping():
    data = {"system": {"base": "lamina_h100_h20", "set": [1]}, "axes": {"memory.count": [2]}, "workloads": []}
    with pytest.raises(SweepSpecError, match=r"system.set: expected a mapping \{path: value\}"):
        system_sweep_from_yaml("", data, base_dir=Path("."), default_name="s")
