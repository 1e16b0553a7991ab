"""The Vivado steps with the vivado_hls test double installed as "the host Vivado" (real discovery,
real probe, real container, real reports), each failure knob, and no Vivado at all."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, assert_clean_error, hlsbox_containers, run_cli
from tests.shared import shared
from tests.vivado_double import make_install, patch_y2k22, set_knobs

pytestmark = pytest.mark.integration
DIGITS = "flows/digits.toml"


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> Path:
    return make_install(tmp_path_factory.mktemp("host"))


@pytest.fixture
def knobs(install: Path):
    """Set the double's knobs for one test; back to a clean double afterwards."""
    yield lambda **k: set_knobs(install, **k)
    set_knobs(install, mode="ok", delay=0.0, pause=0.0, replay=None)


def synth(workspace: Path, install: Path, *args: str, step: str = "csynth"):
    """A Vivado step of the digits flow, which the plan says cannot fit its part: asked to run anyway."""
    return run_cli(step, "--flow", DIGITS, "--vivado", str(install), "--ignore-plan", *args, cwd=workspace)


def run_dir(workspace: Path, step: str, part: str = "xc7z020clg400-1") -> Path:
    return workspace / "build" / "digits" / part / step


def test_csynth_runs_with_live_phases_and_ends_with_the_report(workspace: Path, install: Path, engine):
    result = synth(workspace, install, "--force")
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert f"Using vivado_hls 2019.2 at {install}" in out
    assert "csynth digits: C synthesis" in out  # the phase, read from the tool's own banner
    assert "cannot fit xc7z020clg400-1" in out and "(--ignore-plan)" in out  # the plan ran first and warned
    assert "73 / 220 (33%)" in out and "4.049 ns" in out
    report = json.loads((run_dir(workspace, "csynth") / "report.json").read_text())
    assert report["csynth"]["resources"]["DSP"] == 73 and report["csynth"]["WorstLatency"] == 10
    assert report["instances"][0]["DSP"] == 73
    assert (run_dir(workspace, "csynth") / "resources.png").read_bytes().startswith(b"\x89PNG")
    manifest = json.loads((run_dir(workspace, "csynth") / "manifest.json").read_text())
    assert "C synthesis" in manifest["tool_phase_seconds"]  # the tool's own "COMPLETED IN" time
    assert manifest["inputs"]["vivado"] == f"vivado_hls 2019.2 at {install}"
    assert not hlsbox_containers(engine)


def test_a_second_csynth_does_nothing(workspace: Path, install: Path):
    assert synth(workspace, install).exit_code == 0
    again = synth(workspace, install)
    assert again.exit_code == 0 and "csynth digits: up to date" in again.stdout


def test_a_design_the_plan_rejects_is_refused_unless_asked(workspace: Path, install: Path):
    result = run_cli("csynth", "--flow", DIGITS, "--vivado", str(install), "--force", cwd=workspace)
    assert_clean_error(result, 2, "cannot fit xc7z020clg400-1 even at the low end", "DSP 1,", "--ignore-plan")
    asked = synth(workspace, install, "--force")
    assert asked.exit_code == 0, asked.output
    assert "running it anyway (--ignore-plan)" in " ".join(asked.stdout.split())


def test_cosim_export_and_vsynth_build_on_csynth(workspace: Path, install: Path):
    for step, check in (
        ("cosim", lambda r: r["cosim"]["Status"] == "Pass"),
        ("export", lambda r: r["ip_archives"][0].endswith("xilinx_com_hls_myproject_1_0.zip")),
        ("vsynth", lambda r: r["vsynth"]["LUT"] == 1526 and r["vsynth"]["DSP"] == 66),
    ):
        result = synth(workspace, install, step=step)
        assert result.exit_code == 0, result.output
        assert check(json.loads((run_dir(workspace, step) / "report.json").read_text())), step


@pytest.mark.parametrize(
    ("knob", "args", "exit_code", "phrases"),
    [
        ({"mode": "y2k22"}, ("--no-y2k22-workaround",), 1, ("Y2K22", "AR 76960")),
        ({"mode": "xform"}, (), 1, ("XFORM 203-504", "hlsbox plan", "io_stream")),
        ({"mode": "crash"}, ("--with-csim",), 1, ("C simulation", "CSim failed")),
        ({"mode": "error_exit0"}, (), 1, ("Stopping synthesis",)),
        ({"mode": "no_report"}, (), 1, ("csynth produced no report", "myproject_csynth.xml is missing")),
        ({"mode": "hang"}, ("--timeout", "8s"), 124, ("did not finish within its time limit of 8s",)),
        ({"mode": "hang"}, ("--stall", "3s", "--stop-on-stall"), 124, ("printed nothing for",)),
        ({"mode": "oom"}, ("--mem", "400m"), 137, ("ran out of memory at 400.0 MiB",)),
    ],
)
def test_every_failure_ends_with_its_explanation_and_exit_code(
    workspace, install, knobs, engine, knob, args, exit_code, phrases
):
    knobs(**knob)
    step = "export" if knob["mode"] == "y2k22" else "csynth"
    result = synth(workspace, install, *args, "--force", step=step)
    assert_clean_error(result, exit_code, *phrases)
    assert not hlsbox_containers(engine)
    failed = run_dir(workspace, step).with_name(f"{step}.failed")
    assert json.loads((failed / "manifest.json").read_text())["status"] == "failed"


def test_the_good_result_survives_a_failed_run(workspace: Path, install: Path, knobs):
    assert synth(workspace, install).exit_code == 0
    before = (run_dir(workspace, "csynth") / "report.json").read_text()
    knobs(mode="crash")
    assert synth(workspace, install, "--force").exit_code != 0
    assert (run_dir(workspace, "csynth") / "report.json").read_text() == before


def test_a_real_log_replayed_drives_the_live_view(workspace: Path, install: Path, knobs):
    replay = install / "replay.log"  # inside the install: the container sees only what is mounted
    replay.write_bytes(shared("chiruichen_autoencoder_hls4ml/vivado_hls.log").read_bytes())
    knobs(replay=str(replay))
    result = synth(workspace, install, "--force", "--verbose")
    assert result.exit_code == 0, result.output
    assert "RTL generation" in result.stdout or "scheduling" in result.stdout


def test_a_stall_is_warned_about(workspace: Path, install: Path, knobs):
    knobs(pause=4)
    result = synth(workspace, install, "--force", "--stall", "1s")
    assert result.exit_code == 0, result.output
    assert "no output for" in result.stdout


def test_without_any_vivado_csynth_says_exactly_what_is_missing(workspace: Path):
    env = {"PATH": os.environ["PATH"], "VIVADO": "", "XILINX_VIVADO": "", "XILINX_HLS": ""}
    result = run_cli("csynth", "--flow", DIGITS, cwd=workspace, env=env)
    assert_clean_error(result, 2, "needs Vivado HLS (or Vitis HLS), and none was found", "--vivado PATH")


def test_a_wrong_vivado_path(workspace: Path):
    result = run_cli("csynth", "--flow", DIGITS, "--vivado", "/opt/Xilinx/Vivado/2042.1", cwd=workspace)
    assert_clean_error(result, 2, "The Vivado path '/opt/Xilinx/Vivado/2042.1' does not exist")


def test_backend_and_install_disagree(workspace: Path, tmp_path: Path):
    vitis = make_install(tmp_path, version="2022.2", tool="vitis_hls")
    result = run_cli("csynth", "--flow", DIGITS, "--vivado", str(vitis), cwd=workspace)
    assert_clean_error(result, 2, "uses hls4ml's Vivado backend", "vitis_hls 2022.2", 'backend = "Vitis"')


def test_make_csynth_with_a_part_regenerates_the_project(workspace: Path, install: Path, seed_model: Path):
    proc = subprocess.run(
        [
            "make",
            "-f",
            str(REPO / "Makefile"),
            "csynth",
            "PART=xc7z010clg400-1",
            f"FLOW={DIGITS}",
            f"VIVADO={install}",
            "IGNORE_PLAN=1",
        ],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    convert = json.loads((run_dir(workspace, "convert", "xc7z010clg400-1") / "manifest.json").read_text())
    assert convert["flow"]["part"] == "xc7z010clg400-1"
    assert (
        'set part "xc7z010clg400-1"'
        in (run_dir(workspace, "csynth", "xc7z010clg400-1") / "hls4ml_prj" / "project.tcl").read_text()
    )
    assert (run_dir(workspace, "csynth", "xc7z010clg400-1") / "report.json").is_file()


def test_export_on_an_unpatched_y2k22_release_runs_under_faketime(workspace: Path, install: Path, knobs, engine):
    """The double fails export as the real bug does: on the date it sees, without the patch file."""
    knobs(mode="y2k22")
    result = synth(workspace, install, "--force", step="export")
    assert result.exit_code == 0, result.output
    assert "libfaketime" in result.stdout and "2021-12-31" in result.stdout
    manifest = json.loads((run_dir(workspace, "export") / "manifest.json").read_text())
    assert manifest["faketime"] == "2021-12-31 12:00:00"
    assert "runs with the clock at 2021-12-31" in (run_dir(workspace, "export") / "step.log").read_text()
    assert not hlsbox_containers(engine)


def test_export_on_a_patched_release_runs_on_the_real_date(workspace: Path, tmp_path: Path, engine):
    patched = make_install(tmp_path, mode="y2k22")
    patch_y2k22(patched)
    result = run_cli("export", "--flow", DIGITS, "--vivado", str(patched), "--force", "--ignore-plan", cwd=workspace)
    assert result.exit_code == 0, result.output
    assert "libfaketime" not in result.stdout
    assert "faketime" not in json.loads((run_dir(workspace, "export") / "manifest.json").read_text())
