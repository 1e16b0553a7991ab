"""hls4ml's generated C++ checked before anything builds on it, in the real image: the seed's network with the
write-up's settings compiles (and its io_parallel kernel abort is explained), and the pointwise ReuseFactor hls4ml
takes unchecked, which names a kernel class nnet_dense.h lacks, is explained by layer in convert, csim and plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import assert_clean_error, run_cli

pytestmark = pytest.mark.integration

POINTWISE_32 = "\n[layers.conv2d_2]\nreuse_factor = 32\n\n[layers.conv2d_5]\nreuse_factor = 32\n"


@pytest.fixture(scope="module")
def pointwise_32(workspace: Path, seed_model: Path) -> str:
    """The seed flow with RF 32 written into the two 1x1 shortcuts' own entries (what hlsbox used to do)."""
    text = (workspace / "flows" / "seed.toml").read_text().replace('name = "seed"', 'name = "seed_pw32"')
    (workspace / "flows" / "seed_pw32.toml").write_text(text + POINTWISE_32)
    return "flows/seed_pw32.toml"


def test_the_write_ups_flow_compiles_and_its_abort_is_explained(workspace: Path, seed_model: Path):
    convert = run_cli("convert", "--flow", "flows/seed.toml", cwd=workspace)
    assert convert.exit_code == 0, convert.output
    assert "Its C++ compiles (g++ -fsyntax-only" in " ".join(convert.stdout.split())
    csim = run_cli("csim", "--flow", "flows/seed.toml", cwd=workspace)
    assert_clean_error(csim, 1, "aborted in layer conv2d_2 (PointwiseConv2D)", "up to the layer's 3 inputs", "42")
    assert "Check the flow's types" not in csim.output


def test_a_pointwise_reuse_factor_above_its_inputs_does_not_compile(workspace: Path, pointwise_32: str):
    result = run_cli("convert", "--flow", pointwise_32, cwd=workspace)
    assert_clean_error(
        result,
        1,
        "does not compile, a known hls4ml bug",
        "layer conv2d_2 (PointwiseConv2D, config",
        "nnet::DenseResource_rf_gt_nin",
        "ReuseFactor 32 (above its 3 inputs per output",
        "[layers.conv2d_2] reuse_factor = 3",
        "layer conv2d_5 (PointwiseConv2D",
    )
    assert "Check the flow's types" not in result.output
    csim = run_cli("csim", "--flow", pointwise_32, cwd=workspace)
    assert_clean_error(csim, 1, "g++ could not build the C simulation", "layer conv2d_2 (PointwiseConv2D, config")


def test_the_plan_says_the_pointwise_layers_will_not_compile(workspace: Path, pointwise_32: str):
    result = run_cli("plan", "--flow", pointwise_32, cwd=workspace)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.stdout.split())
    assert "Kernel check: conv2d_2" in flat and "its C++ does not compile" in flat
    plan = json.loads((workspace / "build" / "seed_pw32" / "xc7z010clg400-1" / "plan" / "plan.json").read_text())
    rows = {layer["name"]: layer for layer in plan["layers"]}
    assert rows["conv2d_2"]["reuse_used"] == 32  # what hls4ml writes, not the 42 its rule would pick
    stages = {p["layer"]: p["stage"] for p in plan["kernel_problems"]}
    assert stages == {"conv2d_2": "compile", "conv2d_5": "compile"}
