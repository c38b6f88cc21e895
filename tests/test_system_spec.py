"""Systems of devices as a user meets them: presets, ``--set`` paths, request traces, the
``codesign simulate --system`` command, and every bad input answered with one line and exit 2."""

from __future__ import annotations

import json

import pytest
from system_models import offload, tiny_graph

from hwmodels.errors import HardwareSpecError
from hwmodels.loader import list_presets, load_hardware
from hwmodels.system import Overlap
from hwmodels.system_loader import (
    SystemPath,
    Target,
    list_system_presets,
    load_system,
    locate,
    system_field_paths,
    system_paths,
    system_value,
)
from mappers.placement import place
from sim.cli import main
from sim.serving import LAMINA_TRACES, read_request_trace, request_mix
from workloads.errors import WorkloadError

PRESETS = (
    "lamina_h100_h20",
    "system_8xa100_nvlink",
    "system_8xh100_nvlink",
    "system_h100_pd_disagg",
    "system_h100_u280",
)


def test_system_presets_are_listed_apart_from_devices():
    assert set(PRESETS) <= set(list_system_presets())
    assert not set(PRESETS) & set(list_presets())
    with pytest.raises(HardwareSpecError, match="system of devices"):
        load_hardware("lamina_h100_h20")


def test_lamina_preset_is_its_table_1():
    # Lamina Table 1 and 5: DOP (2, 4) = 2 × $11.06 + 4 × $4.63 = $40.64/h; 2 × 700 W + 4 × 400 W
    system = load_system("lamina_h100_h20")
    assert system.price_usd_per_hour == pytest.approx(40.64)
    assert system.power_w == pytest.approx(3000.0)
    assert system.links["nic"].achievable_bytes_per_s == pytest.approx(45.7e9, rel=1e-3)
    one_two = load_system("lamina_h100_h20", ["compute.count=1", "memory.count=2"])
    assert one_two.price_usd_per_hour == pytest.approx(20.32)


def test_set_paths():
    system = load_system(
        "lamina_h100_h20",
        [
            "memory.count=8",
            "groups.compute.count=4",
            "links.nic.bytes_per_s=25e9",
            "parallel.overlap=rotational",
            "memory.device.dram_capacity_bytes=141e9",
            "memory_reserve_fraction=0.2",
        ],
    )
    assert system.groups["memory"].count == 8 and system.groups["compute"].count == 4
    assert system.links["nic"].bytes_per_s == 25e9 and system.parallel.overlap is Overlap.ROTATIONAL
    assert system.groups["memory"].device.dram_capacity_bytes == 141e9
    assert system.memory_reserve_fraction == 0.2
    paths = system_field_paths(system)
    assert {"memory.count", "links.nic.bytes_per_s", "parallel.tp", "compute.device.tdp_w"} <= set(paths)
    assert system_value(system, "links.nic.bytes_per_s") == 25e9


def test_paths_parse_to_what_they_address():
    system = load_system("lamina_h100_h20")
    assert locate(system, "groups.memory.device.tdp_w", where="x") == SystemPath(
        target=Target.DEVICE, name="memory", field="tdp_w"
    )
    assert locate(system, "links.nic.bytes_per_s", where="x").spec(system) is system.links["nic"]
    assert locate(system, "memory.count", where="x").value(system) == system.groups["memory"].count
    for path in system_paths(system):  # each listed path parses back to itself
        assert locate(system, path.text, where="x") == path
    assert system_field_paths(system) == tuple(path.text for path in system_paths(system))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("mem.count=2", "'mem' is not a group, link or field.*did you mean 'memory'"),
        ("links.nc.bytes_per_s=1e9", "unknown link 'nc'.*did you mean 'nic'"),
        ("memory.cout=2", "group 'memory' has 'count' and 'device.FIELD'"),
        ("memory.count=0", "must be a positive integer"),
        ("links.nic.efficiency=1.5", "must be in \\(0, 1\\]"),
        ("parallel.attention_group=disk", "unknown group"),
        ("parallel.overlap=sometimes", "valid: none, eager_q, rotational"),
        ("memory.device.dram_bytes_per_s=-1", "dram_bytes_per_s"),
        # a link or the plan named without a field: what a full path looks like, not a hint
        ("links.nic=3", "a link's field is links.NAME.FIELD; links: nvlink, nic; fields: kind, between"),
        ("parallel=4", "the parallel plan's fields are parallel.FIELD, one of model_group, tp"),
        # the device loader's message under the system's path, without its own "--set count:"
        ("memory.count=abc", "^--set memory.count: field 'count' = 'abc': must be a number$"),
    ],
)
def test_bad_set_paths(override, message):
    with pytest.raises(HardwareSpecError, match=message):
        load_system("lamina_h100_h20", [override])


def test_bad_system_file(tmp_path):
    path = tmp_path / "sys.yaml"
    path.write_text(
        "kind: system\ngroups:\n  a: {device: h100_sxm, count: 2}\n"
        "links:\n  l: {kind: nvlink, between: [a, b], bytes_per_s: 1e9, latency_s: 1e-6}\n"
    )
    with pytest.raises(HardwareSpecError, match="link 'l': unknown group 'b'; groups: a"):
        load_system(path)


def test_heads_must_divide_the_attention_devices():
    # 8 heads over 3 memory devices: attention is partitioned by heads
    with pytest.raises(HardwareSpecError, match="8 attention heads are not divisible by its 3 devices"):
        place(tiny_graph(), offload(compute=1, memory=3))


def test_heads_must_divide_the_tensor_parallel_degree():
    from system_models import gpus

    with pytest.raises(HardwareSpecError, match="not divisible by the parallel degree 3"):
        place(tiny_graph(), gpus(3))


def test_plan_must_multiply_out_to_the_group():
    from system_models import gpus

    with pytest.raises(HardwareSpecError, match="tp 3 x pp 1 x dp 1 = 3 devices, but group 'gpus' has 4"):
        place(tiny_graph(), gpus(4, tp=3))


def test_request_mixes(tmp_path):
    assert request_mix("Azure-Conv").prompt_tokens == LAMINA_TRACES["azure-conv"][0] == 1154.7
    assert request_mix("kimi-ta").decode_context == round(8560.0 + 182.1 / 2)
    path = tmp_path / "trace.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n0.0,100,10\n0.5,300,30\n")
    mix = read_request_trace(path)
    assert (mix.prompt_tokens, mix.generated_tokens, mix.requests) == (200.0, 20.0, 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("TIMESTAMP,ContextTokens\n0,1\n", "no column 'GeneratedTokens'"),
        ("TIMESTAMP,ContextTokens,GeneratedTokens\n0,10,\n", "line 2: GeneratedTokens is missing"),
        (
            "TIMESTAMP,ContextTokens,GeneratedTokens\n0,10,5\n1,-3,5\n",
            "line 3: ContextTokens = -3 must be a length",
        ),
        ("TIMESTAMP,ContextTokens,GeneratedTokens\n0,ten,5\n", "is not a number"),
        ("TIMESTAMP,ContextTokens,GeneratedTokens\n", "no requests"),
    ],
)
def test_bad_request_traces(tmp_path, text, message):
    path = tmp_path / "trace.csv"
    path.write_text(text)
    with pytest.raises(WorkloadError, match=message):
        read_request_trace(path)


def test_shipped_sample_trace_reads():
    from pathlib import Path

    sample = Path(__file__).parent.parent / "examples" / "azure_trace_sample.csv"
    mix = read_request_trace(sample)
    assert mix.requests > 10 and mix.prompt_tokens > mix.generated_tokens > 0


# The command line, on GPT-2 small (12 heads: TP 4, and 4 attention devices, divide them).
BASE = ("simulate", "--model", "gpt2-small", "--phase", "decode", "--context", "128")


def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_tensor_parallel_table_and_summary(capsys):
    code, out, err = _cli(
        capsys, *BASE, "--system", "system_8xh100_nvlink", "--set", "gpus.count=4", "--batch", "8"
    )
    assert code == 0, err
    assert "nvlink:gpus" in out and "time between tokens" in out and "tokens/s" in out
    assert "$" in out and "tokens/J" in out


def test_cli_lamina_batch_max_and_json(capsys, tmp_path):
    trace = tmp_path / "trace.csv"
    trace.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n0,96,20\n1,160,44\n")  # GPT-2 takes 1024
    code, out, err = _cli(
        capsys,
        *BASE,
        "--system",
        "lamina_h100_h20",
        "--batch",
        "max",
        "--requests",
        str(trace),
        "--format",
        "json",
    )
    assert code == 0, err
    data = json.loads(out)
    resources = {row["resource"] for row in data["resources"]}
    assert {"compute", "memory", "nic:compute->memory", "nic:memory->compute"} <= resources
    assert data["serving"]["batch"] > 1000 and data["serving"]["ttft_s"] > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--system", "lamina_h100_h20", "--set", "mem.count=2"), "'mem' is not a group"),
        (("--system", "lamina_h100_h20", "--set", "links.nc.latency_s=0"), "unknown link 'nc'"),
        (
            ("--system", "system_8xh100_nvlink", "--set", "gpus.count=5"),
            "not divisible by the parallel degree 5",
        ),
        (("--system", "lamina_h100_h20", "--set", "memory.count=5"), "not divisible by its 5 devices"),
        (
            (
                "--system",
                "system_8xh100_nvlink",
                "--set",
                "gpus.count=4",
                "--set",
                "gpus.device.dram_capacity_bytes=1e6",
            ),
            r"does not fit: gpus \(h100_sxm\) needs .* GB per device .* and has 0.0 GB",
        ),
        (("--system", "nope"), "unknown system preset 'nope'"),
        (("--system", "lamina_h100_h20", "--requests", "nope"), "not a trace name"),
    ],
)
def test_cli_bad_inputs(capsys, argv, message):
    import re

    code, out, err = _cli(capsys, *BASE, "--batch", "4", *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and re.search(message, err), err


def test_cli_system_needs_a_model(capsys):
    code, _, err = _cli(capsys, "simulate", "--system", "lamina_h100_h20", "--gemm", "8,8,8")
    assert code == 2 and "--system runs a zoo model" in err


def test_system_sweep_writes_a_sweep_folder(tmp_path, capsys):
    # 2 x 2 configs of GPT-2 small on Lamina's system at roofline fidelity; one config (5 memory
    # devices for 12 heads) fails with its reason and the others run; plot-ready columns
    import pandas as pd

    spec = tmp_path / "sweep.yaml"
    spec.write_text(
        "system: lamina_h100_h20\n"
        "axes:\n  memory.count: [4, 5]\n  links.nic.bytes_per_s: [1.0e10, 5.0e10]\n"
        "workloads: [{model: gpt2-small, phase: decode, context: 128, batch: 8}]\n"
        "objectives: {tbt_s: min, tokens_per_usd: max}\n"
    )
    code, out, err = _cli(capsys, "sweep", str(spec), "--out", str(tmp_path / "out"), "--no-progress")
    assert code == 0, err
    frame = pd.read_parquet(tmp_path / "out")
    assert len(frame) == 4 and {"tbt_s", "tokens_per_usd", "memory.count"} <= set(frame.columns)
    failed = frame[frame["error"].notna()]
    assert set(failed["memory.count"]) == {5} and "not divisible by its 5 devices" in failed["error"].iloc[0]
    ok = frame[frame["error"].isna()].sort_values("links.nic.bytes_per_s")
    assert ok["tbt_s"].iloc[1] <= ok["tbt_s"].iloc[0]  # the faster NIC is never slower
    assert "best tbt_s (min)" in out


def test_cli_writes_the_timeline(capsys, tmp_path):
    import pandas as pd

    path = tmp_path / "timeline.csv"
    code, _, err = _cli(
        capsys, *BASE, "--system", "lamina_h100_h20", "--set", "parallel.overlap=eager_q", "--batch", "4",
        "--timeline", str(path),
    )  # fmt: skip
    assert code == 0, err
    frame = pd.read_csv(path)
    assert {"compute", "memory", "nic:compute->memory"} <= set(frame["resource"])
    assert (frame["end_s"] >= frame["start_s"]).all() and "send_q" in set(frame["name"])
    code, _, err = _cli(
        capsys, *BASE, "--system", "lamina_h100_h20", "--batch", "4", "--timeline", str(tmp_path)
    )
    assert code == 2 and "--timeline" in err and "cannot write" in err


def test_a_power_capped_gpu_in_a_system_is_charged_its_limit_not_its_tdp():
    # h100_sxm_500w draws at most 500 W: a group of 4 at most 2000 W, not 4 x 700 W
    from dataclasses import replace

    from hwmodels import load_hardware
    from hwmodels.system import DeviceGroup

    capped = load_hardware("h100_sxm_500w")
    assert capped.tdp_w == 700.0 and capped.board_power_w == 500.0
    group = DeviceGroup(device=capped, count=4)
    assert group.power_w == pytest.approx(4 * 500.0)
    assert replace(group, device=load_hardware("h100_sxm")).power_w == pytest.approx(4 * 700.0)


def test_an_nvlink_node_holds_the_given_gpus_on_their_generations_links():
    # an H200 runs on the H100 node's NVLink 4 (both 900 GB/s per GPU), four of them, as given
    from hwmodels import load_hardware
    from hwmodels.system_loader import nvlink_node

    h200 = load_hardware("h200").with_cuda_graphs()
    node = nvlink_node("h200", h200, 4)
    group = node.groups[node.model_group]
    assert group.device == h200 and group.count == 4 and group.ref == "h200"
    assert node.links == load_system("system_8xh100_nvlink").links
    assert nvlink_node("a100_80gb_sxm", load_hardware("a100_80gb_sxm"), 2).name == "system_8xa100_nvlink"
    with pytest.raises(HardwareSpecError, match="preset 'l40s': no NVLink node preset for its GPU"):
        nvlink_node("l40s", load_hardware("l40s"), 2)


def test_with_devices_changes_every_groups_device_and_nothing_else():
    system = load_system("lamina_h100_h20")
    graphed = system.with_devices(lambda device: device.with_cuda_graphs())
    assert set(graphed.groups) == set(system.groups)
    for name, group in graphed.groups.items():
        assert group.device == system.groups[name].device.with_cuda_graphs()
        assert group.count == system.groups[name].count
    assert graphed.links == system.links and graphed.parallel == system.parallel
