"""Bad input through the real CLI: one clear error, exit 2, no traceback, nothing started."""

from pathlib import Path

import pytest

from tests.conftest import REPO, assert_clean_error, run_cli, write_flow


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.keras").write_bytes(b"PK\x03\x04 truncated")
    return tmp_path


def test_help_lists_the_steps():
    result = run_cli("--help")
    assert result.exit_code == 0
    for command in ("convert", "csim", "csynth", "doctor", "image", "model", "clean"):
        assert command in result.stdout
    assert "--timeout" in run_cli("csim", "--help").stdout


def test_every_step_command_is_wired_to_a_hook_and_a_view():
    """The wiring names only steps of the table, and every step command gets its definition, hook and view."""
    from hlsbox.cli import wiring
    from hlsbox.commands import vivado
    from hlsbox.runtime import runner, step_table

    assert set(wiring.HOOKS) | set(wiring.VIEWS) <= set(step_table.STEPS)
    commands = [step for step in step_table.STEPS.values() if step.option_set is not None]
    assert {s.name for s in commands} == {
        "convert",
        "weights",
        "csim",
        "plan",
        "fit",
        "csynth",
        "cosim",
        "export",
        "vsynth",
        "rtl",
        "synth",
        "rtlsim",
    }
    for step in commands:
        wired = wiring.wired(step.name)
        assert wired.step is step and callable(wired.run) and callable(wired.show)
    assert wiring.wired("weights").run is runner.run_defined and wiring.wired("export").run is vivado.run_vivado_step
    assert {step_table.step(name).module for name in ("describe", "pareto")} == {"describe", "pareto"}


def test_unknown_part_on_the_command_line(ws: Path):
    result = run_cli("convert", "--flow", str(write_flow(ws)), "--part", "xc7z011clg400-1", cwd=ws)
    assert_clean_error(result, 2, "Unknown FPGA part 'xc7z011clg400-1'", "Closest known devices: xc7z010")


def test_malformed_precision(ws: Path):
    flow = write_flow(ws, precision={"weight": "ap_fixed<16;6>"})
    assert_clean_error(run_cli("csim", "--flow", str(flow), cwd=ws), 2, "'precision.weight'", "not an HLS precision")


def test_unknown_flow_key(ws: Path):
    flow = write_flow(ws, reuse=32)
    assert_clean_error(run_cli("convert", "--flow", str(flow), cwd=ws), 2, "unknown key 'reuse'")


def test_reuse_factor_zero(ws: Path):
    flow = write_flow(ws, reuse_factor=0)
    assert_clean_error(run_cli("convert", "--flow", str(flow), cwd=ws), 2, "'reuse_factor'")


def test_missing_model(ws: Path):
    flow = write_flow(ws, model="models/none.keras")
    assert_clean_error(run_cli("convert", "--flow", str(flow), cwd=ws), 2, "does not exist", "models/")


def test_corrupt_model_is_caught_before_any_container(ws: Path):
    assert_clean_error(run_cli("convert", "--flow", str(write_flow(ws)), cwd=ws), 2, "truncated or corrupt")


def test_missing_flow_file(ws: Path):
    assert_clean_error(run_cli("csim", "--flow", "flows/nope.toml", cwd=ws), 2, "does not exist")


def test_model_outside_the_workspace(ws: Path):
    flow = write_flow(ws, model="../elsewhere.keras")
    assert_clean_error(run_cli("convert", "--flow", str(flow), cwd=ws), 2, "leads outside the workspace")


def test_data_outside_the_workspace(ws: Path):
    """The container sees only the workspace: a data folder elsewhere is refused before any container starts."""
    with __import__("zipfile").ZipFile(ws / "models" / "m.keras", "w") as z:
        z.writestr("config.json", "{}")
    csim = {"dataset": "images", "images": "../elsewhere/sample_images", "scale": 255}
    flow = write_flow(ws, csim=csim)
    result = run_cli("csim", "--flow", str(flow), cwd=ws)
    assert_clean_error(result, 2, "csim.images path '../elsewhere/sample_images' leads outside the workspace")


def test_bad_limits(ws: Path):
    flow = str(write_flow(ws))
    assert_clean_error(run_cli("convert", "--flow", flow, "--timeout", "soon", cwd=ws), 2, "is not a duration")
    assert_clean_error(run_cli("convert", "--flow", flow, "--mem", "lots", cwd=ws), 2, "is not a memory size")


def test_no_docker_daemon(tmp_path: Path):
    ws = tmp_path
    (ws / "models").mkdir()
    with __import__("zipfile").ZipFile(ws / "models" / "m.keras", "w") as z:
        z.writestr("config.json", "{}")
    result = run_cli(
        "convert", "--flow", str(write_flow(ws)), cwd=ws, env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    )
    assert_clean_error(result, 2, "Cannot reach the Docker daemon", "hlsbox doctor")


def test_csynth_without_vivado_says_what_is_missing(tmp_path: Path):
    result = run_cli(
        "csynth",
        "--flow",
        str(REPO / "flows" / "seed.toml"),
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "VIVADO": "", "XILINX_VIVADO": "", "XILINX_HLS": ""},
    )
    assert_clean_error(result, 2, "needs Vivado HLS", "--vivado PATH")
