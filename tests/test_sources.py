"""Calibration and validation are split by source (reference_kernels/data/sources.csv): every data
set's rows have a registered source, sources of one publication share a split, no fit sees a
validation row and no preset cites a validation source."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from reference_kernels.published import PUBLISHED_FIGURES, calibration_measurements
from reference_kernels.published_models import PUBLISHED_MODELS
from reference_kernels.published_validation import PUBLISHED_VALIDATION, validation_kernels, validation_steps
from reference_kernels.sources import DATA, Split, source_registry, with_split
from sim.measured.calibrate import calibrate, calibration_rows
from workloads.errors import CodesignError

PRESETS = Path(__file__).resolve().parents[1] / "hwmodels" / "presets"
REGISTRY = source_registry()
VALIDATION = REGISTRY[REGISTRY["split"] == Split.VALIDATION.value]


@pytest.mark.parametrize("path", [PUBLISHED_FIGURES, PUBLISHED_MODELS, PUBLISHED_VALIDATION])
def test_every_published_row_has_a_registered_source(path):
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    split = with_split(rows, path.name)  # raises naming an unregistered source
    assert split["split"].isin([s.value for s in Split]).all()


def test_the_validation_file_states_the_split_its_sources_have():
    rows = with_split(pd.read_csv(PUBLISHED_VALIDATION, dtype=str, keep_default_na=False).rename(
        columns={"split": "stated"}), PUBLISHED_VALIDATION.name)
    assert (rows["stated"] == rows["split"]).all()


def test_sources_of_one_publication_share_a_split():
    # two tables of one paper or two documents of one benchmark campaign are one source for the
    # split: the FA3 paper's Table 2 is calibration because h100_sxm cites the same paper
    splits = REGISTRY.groupby("publication")["split"].nunique()
    assert (splits == 1).all(), splits[splits > 1]
    assert REGISTRY.set_index("source_id").loc["fa3_paper_table2", "split"] == "calibration"


def test_every_registered_file_exists_and_every_entry_is_used():
    for file, entries in REGISTRY.groupby("file"):
        assert (DATA / file).is_file(), file
        if file.startswith("published"):
            cells = set(pd.read_csv(DATA / file, dtype=str, keep_default_na=False)["source"])
            assert set(entries["source"]) <= cells, file


def _repositories(locators: pd.Series) -> set[str]:
    """owner/repo names a validation source's locators point into."""
    found = set()
    for locator in locators:
        found |= set(re.findall(r"(?:github\.com/)?([\w.-]+/[\w.-]+)@[0-9a-f]{7,}", locator))
        found |= set(re.findall(r"github\.com/([\w.-]+/[\w.-]+)/(?:pull|issues|blob)", locator))
    return found


def test_no_preset_cites_a_validation_source():
    validation_rows = pd.read_csv(PUBLISHED_VALIDATION, dtype=str, keep_default_na=False)
    validation_rows = with_split(validation_rows, PUBLISHED_VALIDATION.name)
    validation_rows = validation_rows[validation_rows["split"] == Split.VALIDATION.value]
    needles = set(VALIDATION["source_id"]) | set(VALIDATION["publication"])
    needles |= _repositories(validation_rows["locator"])
    needles -= {"NVIDIA/TensorRT-LLM"}  # checked by its documents' names below (a repository of many)
    needles |= {"performance.md", "H100vsA100", "H200launch"}
    for preset in sorted(PRESETS.glob("*.yaml")):
        text = preset.read_text()
        cited = sorted(needle for needle in needles if needle in text)
        assert not cited, f"{preset.name} cites validation source(s) {cited}"


def test_a_fit_on_published_rows_sees_only_calibration_sources():
    rows = calibration_measurements()
    assert set(rows["split"]) == {"calibration"}
    assert not set(rows["source_id"]) & set(VALIDATION["source_id"])


def test_calibrate_drops_validation_rows_before_fitting():
    from hwmodels import load_hardware

    kernels, _ = validation_kernels()
    mixed = pd.concat([calibration_measurements(), kernels], ignore_index=True)
    h100 = mixed[mixed["preset"] == "h100_sxm"]
    kept, dropped = calibration_rows(h100)
    assert dropped == int((h100["split"] == "validation").sum()) > 0
    assert set(kept["split"]) == {"calibration"}
    result = calibrate(h100[h100["kernel"] == "torch_mm_best_shape"].pipe(
        lambda frame: pd.concat([frame, h100[h100["split"] == "validation"]])), load_hardware("h100_sxm"))
    assert result.validation_rows_dropped > 0
    assert not set(result.sources) & set(VALIDATION["source_id"])


def test_a_file_of_validation_rows_only_is_refused():
    kernels, _ = validation_kernels()
    with pytest.raises(CodesignError, match="validation"):
        calibration_rows(kernels[kernels["split"] == "validation"])


def test_every_whole_model_row_is_simulable_or_says_why_not():
    steps = validation_steps()
    # published_validation.csv's model rows (144 + 48 of them TensorRT-LLM v0.8-v0.9's on the A100,
    # H100, H200 and the L40S, 12 Argonne's prefills and 100 its vLLM generations on 1-4 GPUs, 2
    # vLLM's CI's, a calibration source, 2 vLLM's torch.compile page's) and published_models.csv's
    assert len(steps) == 59 + 144 + 48 + 12 + 100 + 2 + 2 + 9
    skipped = steps[steps["reason"] != ""]
    reasons = skipped["reason"].str.split(":").str[0].str.split(" over").str[0]
    assert set(reasons.str.replace(r"^tp \d+ on ", "tp N on ", regex=True)) <= {
        "no latency", "tensor parallel", "model gpt-j-6b is not in the zoo", "tp N on l40s"}
    # the L40S is a PCIe card: its tensor-parallel rows have no node to run on
    l40s = steps[steps["preset"] == "l40s"]
    assert (l40s["reason"] != "").sum() == (l40s["tp"] > 1).sum() == 18
    # a whole generation: a prefill of the prompt and the new tokens, over the new tokens
    lmdeploy = steps[steps["source_id"] == "lmdeploy_a100_fp16_static"].iloc[0]
    assert (lmdeploy["scope"], lmdeploy["input_len"], lmdeploy["output_len"]) == ("generate", 1, 128)
