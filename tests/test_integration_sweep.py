"""`hlsbox sweep` over a ReuseFactor grid: locally with 2 workers, and through a real one-node Slurm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.integration
DIGITS = "flows/digits.toml"


def _results(workspace: Path) -> list[dict]:
    return json.loads((workspace / "build" / "sweeps" / "digits" / "sweep.json").read_text())


def test_a_local_sweep_writes_the_table_json_csv_and_plot_and_resumes(workspace: Path, engine):
    result = run_cli("sweep", "--flow", DIGITS, "--grid", "reuse_factor=1,2", "--workers", "2", cwd=workspace)
    assert result.exit_code == 0, result.output
    rows = _results(workspace)
    assert [r["variant"] for r in rows] == ["digits-rf1", "digits-rf2"]
    assert all(r["exit_code"] == 0 and r["top1_agreement"] >= 0.95 for r in rows), rows
    assert all(r["fits"] == "does not fit" and r["est_DSP"] > 0 for r in rows)  # the plan ran first
    assert rows[1]["est_DSP"] < rows[0]["est_DSP"]  # RF 2 halves the multipliers
    sweep_dir = workspace / "build" / "sweeps" / "digits"
    assert (sweep_dir / "sweep.csv").read_text().startswith("variant,reuse_factor,part,exit_code")
    assert (sweep_dir / "pareto.png").read_bytes().startswith(b"\x89PNG")
    assert "Sweep results" in result.stdout
    again = run_cli("sweep", "--flow", DIGITS, "--grid", "reuse_factor=1,2", "--workers", "2", cwd=workspace)
    assert again.exit_code == 0, again.output
    assert again.stdout.count("up to date") >= 2  # finished variants are not redone


def test_skip_infeasible_drops_what_cannot_fit(workspace: Path, engine):
    result = run_cli(
        "sweep",
        "--flow",
        DIGITS,
        "--grid",
        "reuse_factor=1",
        "--grid",
        "part=xc7z020clg400-1,xcvu9p-flga2104-2-e",
        "--skip-infeasible",
        "--step",
        "plan",
        cwd=workspace,
    )
    assert result.exit_code == 0, result.output
    assert "drops 1 variant(s)" in result.stdout
    assert [r["part"] for r in _results(workspace)] == ["xcvu9p-flga2104-2-e"]


def test_a_sweep_through_slurm(workspace: Path, engine, slurm_cluster):
    result = run_cli(
        "sweep",
        "--flow",
        DIGITS,
        "--grid",
        "reuse_factor=3,4",
        "--executor",
        "slurm",
        "--mem",
        "3g",
        cwd=workspace,
        timeout=900,
    )
    assert result.exit_code == 0, result.output
    assert "submitted Slurm job" in result.stdout
    rows = _results(workspace)
    assert [r["variant"] for r in rows] == ["digits-rf3", "digits-rf4"]
    assert all(r["exit_code"] == 0 and r["top1_agreement"] >= 0.95 for r in rows), rows
    slurm = workspace / "build" / "sweeps" / "digits" / "slurm"
    assert (slurm / "status" / "0").read_text().strip() == "0" and (slurm / "logs" / "task-1.log").is_file()
    assert "#SBATCH --mem=4096M" in (slurm / "sweep.sbatch").read_text()
