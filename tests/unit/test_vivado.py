"""Finding and checking the host's Vivado, and the commands run with it (no Vivado needed)."""

from pathlib import Path

import pytest

from hlsbox.core.errors import BadInput
from hlsbox.vivado import install as vivado
from hlsbox.vivado.chain import build_options, tool_command
from tests.vivado_double import make_install


def test_discovery_from_a_root_a_bin_dir_or_the_tool(tmp_path: Path):
    root = make_install(tmp_path)
    for given in (root, root / "bin", root / "bin" / "vivado_hls"):
        install = vivado.discover(str(given), "Vivado")
        assert (install.root, install.tool, install.version) == (root, "vivado_hls", (2019, 2))


def test_discovery_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = make_install(tmp_path)
    monkeypatch.setenv("XILINX_VIVADO", str(root))
    assert vivado.discover(None, "Vivado").root == root


def test_bad_installs_are_named(tmp_path: Path):
    with pytest.raises(BadInput, match="does not exist"):
        vivado.discover(str(tmp_path / "nowhere"), "Vivado")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="is not a Vivado HLS / Vitis HLS install"):
        vivado.discover(str(tmp_path / "empty"), "Vivado")
    root = make_install(tmp_path / "b")
    (root / "settings64.sh").unlink()
    with pytest.raises(BadInput, match=r"no settings64\.sh"):
        vivado.discover(str(root), "Vivado")


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("****** Vivado(TM) HLS - High-Level Synthesis from C, C++ and SystemC v2019.2 (64-bit)", (2019, 2)),
        ("****** Vitis HLS - High-Level Synthesis from C, C++ and OpenCL v2022.2 (64-bit)", (2022, 2)),
        ("command not found", None),
    ],
)
def test_version_output(text: str, version):
    assert vivado.parse_version_output(text) == version


def test_backend_and_tool_must_agree(tmp_path: Path):
    vitis = vivado.Install(tmp_path, "vitis_hls", (2022, 2))
    with pytest.raises(BadInput) as info:
        vivado.check_backend(vitis, "Vivado")
    assert "Vivado HLS 2018.x-2020.1" in info.value.hint and 'backend = "Vitis"' in info.value.hint
    vivado.check_backend(vitis, "Vitis")
    vivado.check_backend(vivado.Install(tmp_path, "vivado_hls", (2020, 1)), "Vivado")
    with pytest.raises(BadInput, match=r"after 2020\.1"):
        vivado.check_backend(vivado.Install(tmp_path, "vivado_hls", (2021, 1)), "Vivado")
    with pytest.raises(BadInput, match="Could not tell the version"):
        vivado.check_backend(vivado.Install(tmp_path, "vivado_hls", None), "Vivado")


def test_a_licence_server_needs_the_network():
    assert vivado.licence_needs_network({"XILINXD_LICENSE_FILE": "2100@licence.example"})
    assert not vivado.licence_needs_network({"XILINXD_LICENSE_FILE": "/opt/Xilinx/Xilinx.lic"})


def test_step_options_follow_build_prj_tcl():
    assert build_options("csynth") == {
        "reset": 0,
        "csim": 0,
        "synth": 1,
        "cosim": 0,
        "validation": 0,
        "export": 0,
        "vsynth": 0,
        "fifo_opt": 0,
    }
    assert build_options("cosim")["cosim"] == 1 and build_options("cosim")["synth"] == 0
    assert build_options("csynth", csim=True)["csim"] == 1


def test_the_tool_command_sources_settings_with_bash(tmp_path: Path):
    install = vivado.Install(tmp_path, "vivado_hls", (2019, 2))
    command = tool_command(install, build_options("csynth"))
    assert command[:2] == ["bash", "-c"] and f"source {tmp_path}/settings64.sh" in command[2]
    assert command[-4:-1] == [str(tmp_path / "bin" / "vivado_hls"), "-f", "build_prj.tcl"]
    assert command[-1] == "reset=0 csim=0 synth=1 cosim=0 validation=0 export=0 vsynth=0 fifo_opt=0"
    vitis_run = tool_command(vivado.Install(tmp_path, "vitis-run", (2024, 1)), build_options("csynth"))
    assert vitis_run[-4:] == ["--tcl", "build_prj.tcl", "--mode", "hls"]
