"""The split C build links every graph hls4ml writes: a project whose parameters.h defines constants (a Transpose's
`configN_perm` and `configN::perm`, a HardActivation's `configN::slope`) is built split, each definition in one
unit, and computes bit for bit what hls4ml's own build computes (before, the split objects did not link: `multiple
definition of config75::perm` on the seed author's W4A4 ResNet, and csim fell back to the unsplit build)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, run_in_image

pytestmark = pytest.mark.integration
SCRIPT = REPO / "tests" / "in_image" / "fastcsim_definitions.py"


@pytest.fixture(scope="module")
def case(engine, workspace: Path) -> dict:
    out = workspace / "build" / "fastcsim-definitions"
    out.mkdir(parents=True, exist_ok=True)
    lines = run_in_image(engine, workspace, SCRIPT.read_text(), timeout=900, args=(str(out),))
    return next(json.loads(line[5:]) for line in lines if line.startswith("CASE "))


def test_the_project_defines_constants_in_its_headers(case: dict):
    """The premise: hls4ml wrote a Transpose and a HardActivation, with their definitions in parameters.h."""
    assert "Transpose" in case["classes"] and "HardActivation" in case["classes"], case["classes"]
    assert case["defines_perm"] and case["defines_slope"], case


def test_it_is_built_split_without_falling_back(case: dict):
    assert case["mode"] == "fast" and case["split"] and case["units"] >= 4, case
    assert case["not_split"] is None and not case["told"], case


def test_the_split_build_is_bit_identical_to_hls4mls_own(case: dict):
    assert case["inputs"] >= 300 and case["identical"], case
    assert case["nonzero"] > 0.1 and case["distinct"] > 100, case  # the outputs carry information
