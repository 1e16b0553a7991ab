"""The fast C build is hls4ml's build, bit for bit: several CNNs compiled both ways in the real image (valid and
same padding, strides 1 and 2, 1D and 2D, pointwise, depthwise/separable, Latency and Resource,
ParallelizationFactor > 1, the digits model, a reduced seed model), outputs compared on 500 inputs, every fill
mapping checked against hls4ml's generated classes for every partition; unknown formats are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, run_in_image

pytestmark = pytest.mark.integration
SCRIPT = REPO / "tests" / "in_image" / "fastcsim_exactness.py"
CASES = [
    "digits_latency",
    "digits_resource",
    "conv2d_mix_latency",
    "conv2d_valid_s2_resource",
    "conv1d_mix_latency",
    "conv1d_mix_resource",
    "pointwise_resource",
    "parallelization_latency",
    "parallelization_resource",
    "depthwise_latency",
    "reduced_seed_latency",
    "reduced_seed_resource",
    "reduced_seed_latency_one_layer_narrower",
]


@pytest.fixture(scope="module")
def compared(engine, workspace: Path) -> dict[str, dict]:
    out = workspace / "build" / "fastcsim-exactness"
    out.mkdir(parents=True, exist_ok=True)
    script = (
        SCRIPT.read_text()
        .replace('os.environ["DIGITS_MODEL"]', repr(str(workspace / "models" / "digits_cnn.keras")))
        .replace("OUT = sys.argv[1]", f"OUT = {str(out)!r}")
    )
    lines = run_in_image(engine, workspace, script, timeout=1800)
    return {row["case"]: row for row in (json.loads(x[5:]) for x in lines if x.startswith("CASE "))}


@pytest.mark.parametrize("case", CASES)
def test_fast_and_exact_builds_are_bit_identical(compared: dict, case: str):
    row = compared[case]
    assert row["classes"] >= 1 and not row["unrecognised"], row
    assert row["mapping_ok"], row["cxx"]  # the C++ template fills every partition as hls4ml's classes do
    assert "also compiled and ran the generated classes" in row["cxx"]
    assert row["mode"] == "fast" and row["inputs"] >= 500
    assert row["split"] and row["units"] >= 3, row  # every layer in its own unit (split.py), not build_lib.sh's two
    assert row["identical"], row
    assert row["once_split"] is False and row["once_identical"], row  # csim's build: the fast tree, two units
    assert row["nonzero"] > 0.1, row  # the outputs carry information: not a comparison of zeros


def test_the_split_build_reuses_the_layers_whose_types_did_not_change(compared: dict):
    """One layer narrower than reduced_seed_latency: the units whose types it reaches are compiled (that layer, the
    layers whose hls4ml 'auto' types follow it, the top function, the bridge: 10 of 23 here), the other layers'
    objects come from the cache, and the library is still bit-identical (above)."""
    row = compared["reduced_seed_latency_one_layer_narrower"]
    assert row["from_cache"] >= row["units"] // 2 and 3 <= row["compiled"] < row["units"], row


def test_the_comparison_can_fail(compared: dict):
    """A template shifted by one column of padding gives other outputs: bit-identity is not vacuous."""
    assert compared["conv2d_mix_latency"]["negative_control_differs"]


def test_a_format_it_does_not_know_is_refused(compared: dict):
    refused = compared["conv2d_mix_latency"]["mutations_refused"]
    assert refused and all(refused.values()), refused
