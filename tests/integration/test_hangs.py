"""No run hangs (issue 18), with real containers: a hung tool is stopped by the watchdog with its stacks, the
seed's real Vivado HLS 2018.2 log (shared/seed/author) replayed time-compressed ends at SYNCHK 200-77 with its
explanation, and a design the plan says cannot fit is refused before any Vivado process starts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import assert_clean_error, hlsbox_containers, run_cli
from tests.shared import seed_author
from tests.vivado_double import make_install, set_knobs

pytestmark = pytest.mark.integration
DIGITS = "flows/digits.toml"
SEED = "flows/seed.toml"


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.core  # also on Podman: its CPU figures come through the same API, its processes from the image's ps
def test_a_hung_tool_is_stopped_as_hung_with_its_stacks_and_processes(workspace: Path, tmp_path: Path, engine):
    install = make_install(tmp_path, mode="hang")
    start = time.monotonic()
    result = run_cli(
        "csynth",
        "--flow",
        DIGITS,
        "--vivado",
        str(install),
        "--ignore-plan",
        "--force",
        "--hang-after",
        "10s",
        cwd=workspace,
    )
    took = time.monotonic() - start
    assert_clean_error(result, 123, "hung: no output and under 2% of a core for", "code transformations")
    assert "time limit" not in result.output and "--hang-after" in flat(result.output)
    assert took < 120, f"{took:.0f} s"
    failed = workspace / "build" / "digits" / "xc7z020clg400-1" / "csynth.failed"
    stacks = (failed / "stacks.txt").read_text()
    assert "run_tool" in stacks and "hlsbuild.py" in stacks  # the step's Python, waiting on the silent tool
    assert "vivado_hls" in (failed / "processes.txt").read_text()
    manifest = json.loads((failed / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["hung"] >= 10
    assert not hlsbox_containers(engine)


def test_the_seed_design_is_refused_before_any_vivado_process(workspace: Path, seed_model: Path, tmp_path: Path):
    """The tool here exits 3 on anything, `-version` too: had the probe (or any Vivado process) run first, the
    error would be the probe's."""
    broken = make_install(tmp_path, version="2018.2")
    (broken / "bin" / "vivado_hls").write_text("#!/bin/sh\nexit 3\n")
    result = run_cli("csynth", "--flow", SEED, "--vivado", str(broken), "--force", cwd=workspace)
    assert_clean_error(
        result, 2, "cannot fit xc7z010clg400-1 even at the low end of the estimator's band: LUT", "--ignore-plan"
    )
    assert "did not print a version" not in result.output and "Using vivado_hls" not in result.output
    env = {"HLSBOX_IGNORE_PLAN": "1"}
    asked = run_cli("csynth", "--flow", SEED, "--vivado", str(broken), "--force", cwd=workspace, env=env)
    assert_clean_error(asked, 2, "did not print a version")  # asked explicitly: it went on, to the probe


def test_the_real_2018_2_log_replayed_ends_at_synchk_200_77_with_its_explanation(
    workspace: Path, seed_model: Path, tmp_path: Path, engine
):
    """The seed's real run: 3 min linking, 5 min transforms, 7 h 45 min of silent "Checking synthesizability"
    at full CPU, then SYNCHK 200-77. At 1000x its silence is 28 s: the stall warning comes (with what the
    plan expected), the watchdog (10 s) does not fire on a busy tool, and SYNCHK 200-77 ends the step."""
    install = make_install(tmp_path, version="2018.2")
    replay = install / "replay.log"  # inside the install: the container sees only what is mounted
    replay.write_bytes(seed_author("vivado_hls_2018_2_build.log").read_bytes())
    set_knobs(install, replay=str(replay), speed=1000)
    run_cli("convert", "--flow", SEED, cwd=workspace)  # the project, beforehand: the time below is the tool's
    start = time.monotonic()
    result = run_cli(
        "csynth",
        "--flow",
        SEED,
        "--vivado",
        str(install),
        "--ignore-plan",
        "--force",
        "--stall",
        "10s",
        "--hang-after",
        "10s",
        cwd=workspace,
    )
    took = time.monotonic() - start
    out = flat(result.output)
    assert_clean_error(result, 1, "hlsbox stopped the tool at once at: WARNING: [SYNCHK 200-77]", "has no outputs")
    assert "SYNCHK 200-77: Vivado HLS found that the top function has no outputs" in out
    assert "likely causes are guesses" in out
    assert "checking synthesizability" in out  # the live view names 2018.2's phase
    assert "HLS 214-113 (a warning, synthesis goes on)" in out
    assert "no output for" in out and "7 h 45 min" in out and "The plan expected LUT" in out
    assert "hung" not in out and "report is missing" not in out
    assert took < 60, f"{took:.0f} s"
    assert not hlsbox_containers(engine)
