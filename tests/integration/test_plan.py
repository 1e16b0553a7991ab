"""`hlsbox plan` on the seed flow, through the real image: the verdict and hls4ml's own choices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hlsbox.core.planner import closest_reuse_factor, valid_reuse_factors
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def test_the_seed_does_not_fit_the_z010_and_says_what_would(workspace: Path, seed_model: Path):
    result = run_cli("plan", "--flow", "flows/seed.toml", cwd=workspace)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.stdout.split())
    assert "Verdict: does not fit on xc7z010clg400-1" in flat
    assert "Ways out, each re-planned" in flat and "io_stream" in flat
    plan_dir = workspace / "build" / "seed" / "xc7z010clg400-1" / "plan"
    plan = json.loads((plan_dir / "plan.json").read_text())
    assert plan["verdict"] == "does not fit" and plan["utilisation"]["DSP"] > 1
    conv2d_4 = next(layer for layer in plan["layers"] if layer["name"] == "conv2d_4")  # 3x3x56 -> 56
    assert (conv2d_4["multiplies_per_output"], conv2d_4["reuse_used"]) == (28_224, 28)


def test_our_reuse_factor_rule_is_hls4mls(workspace: Path, seed_model: Path):
    """For every weighted layer, the ReuseFactor our rule picks is the one hls4ml itself used."""
    if not (workspace / "build" / "seed" / "xc7z010clg400-1" / "plan" / "result.json").exists():
        assert run_cli("plan", "--flow", "flows/seed.toml", cwd=workspace).exit_code == 0
    described = json.loads((workspace / "build" / "seed" / "xc7z010clg400-1" / "plan" / "result.json").read_text())
    weighted = [row for row in described["layers"] if "n_in" in row]
    assert len(weighted) == 7  # six Conv2D (two of them 1x1: PointwiseConv2D) and the Dense
    for row in weighted:
        ours = closest_reuse_factor(valid_reuse_factors(row["n_in"], row["n_out"]), row["reuse_asked"])
        assert ours == row["reuse_used"], row["name"]


def test_strict_refuses_a_design_that_does_not_fit(workspace: Path, seed_model: Path):
    result = run_cli("plan", "--flow", "flows/seed.toml", "--strict", cwd=workspace)
    assert result.exit_code == 1
    assert "does not fit xc7z010clg400-1 (--strict)" in " ".join(result.stderr.split())


def test_the_part_on_the_command_line_is_planned_against(workspace: Path):
    # The digits CNN at ReuseFactor 1 is 1,384 multipliers: too many for the z020's 220 DSPs, easy for a VU9P.
    small = run_cli("plan", "--flow", "flows/digits.toml", cwd=workspace)
    assert small.exit_code == 0, small.output
    flat = " ".join(small.stdout.split())
    assert "Verdict: does not fit on xc7z020clg400-1, judged on synthesis (what the part holds): DSP" in flat
    big = run_cli("plan", "--flow", "flows/digits.toml", "--part", "xcvu9p-flga2104-2-e", cwd=workspace)
    assert big.exit_code == 0, big.output
    assert "Verdict: fits on xcvu9p-flga2104-2-e" in big.stdout
