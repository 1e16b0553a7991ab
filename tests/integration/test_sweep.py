"""`hlsbox sweep` over a ReuseFactor grid: locally with 2 workers, and through a real one-node Slurm."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import hlsbox_containers, run_cli, session_roots, start_cli

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


def _start_sweep(workspace: Path, name: str, *extra: str) -> subprocess.Popen:
    """A sweep of a fresh copy of the digits flow (nothing cached), csim of 3 variants one at a time."""
    text = (workspace / DIGITS).read_text().replace('name = "digits"', f'name = "{name}"')
    (workspace / "flows" / f"{name}.toml").write_text(text)
    return start_cli(
        "sweep", "--flow", f"flows/{name}.toml", "--grid", "reuse_factor=1,2,3", "--step", "csim", *extra, cwd=workspace
    )


def _wait_for_csim_container(engine, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not [c for root in session_roots() for c in engine.containers("org.hlsbox.step=csim", True, root)]:
        assert time.monotonic() < deadline, "no csim container started"
        time.sleep(0.2)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_local_sweep_stops_within_seconds_and_resumes(workspace: Path, engine, sig: signal.Signals):
    name = f"stop{sig.value}"
    proc = _start_sweep(workspace, name, "--workers", "1")
    _wait_for_csim_container(engine)
    started = time.monotonic()
    proc.send_signal(sig)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, output
    assert time.monotonic() - started <= 5, output
    assert "Traceback" not in output and "not started" in output
    assert not hlsbox_containers(engine)
    part = "xc7z020clg400-1"
    first = json.loads((workspace / "build" / f"{name}-rf1" / part / "csim.failed" / "manifest.json").read_text())
    assert first["status"] == "interrupted"
    assert not (workspace / "build" / f"{name}-rf3" / part / "csim").exists()  # never started
    again = run_cli(
        "sweep", "--flow", f"flows/{name}.toml", "--grid", "reuse_factor=1,2,3", "--step", "csim", cwd=workspace
    )
    assert again.exit_code == 0, again.output
    rows = json.loads((workspace / "build" / "sweeps" / name / "sweep.json").read_text())
    assert [r["exit_code"] for r in rows] == [0, 0, 0]


def test_a_slurm_sweep_is_cancelled_on_ctrl_c(workspace: Path, engine, slurm_cluster):
    proc = _start_sweep(workspace, "slurmstop", "--executor", "slurm", "--mem", "3g")
    _wait_for_csim_container(engine)
    assert _queued(), "the array is not in Slurm's queue"
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, output
    assert time.monotonic() - started <= 10, output
    assert "interrupted" in output and not _queued()  # scancel'ed, and gone from the queue
    deadline = time.monotonic() + 30  # the task's hlsbox got Slurm's SIGTERM and stops its container
    while hlsbox_containers(engine):
        assert time.monotonic() < deadline, "a cancelled task left its container running"
        time.sleep(0.5)


def _queued() -> str:
    return subprocess.run(["squeue", "-h", "-n", "hlsbox-csim"], capture_output=True, text=True).stdout.strip()
