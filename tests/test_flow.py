from pathlib import Path

import pytest

from hlsbox.errors import BadInput
from hlsbox.flow import Flow, check_precision, inside_workspace, load_flow
from tests.conftest import REPO, write_flow


def test_seed_flow_is_the_seed_write_up_exactly():
    flow = load_flow(REPO / "flows" / "seed.toml")
    assert flow.model == "models/model_2_15.keras"
    assert flow.granularity == "name"
    assert (flow.precision.weight, flow.precision.bias, flow.precision.result) == ("ap_fixed<16,6>",) * 3
    assert (flow.reuse_factor, flow.strategy) == (32, "Resource")
    assert (flow.part, flow.backend, flow.io_type) == ("xc7z010clg400-1", "Vivado", "io_parallel")


def test_every_shipped_flow_is_valid():
    names = {load_flow(p).name for p in (REPO / "flows").glob("*.toml")}
    assert {"seed", "seed_stream", "digits"} <= names


@pytest.mark.parametrize(
    ("fields", "phrase"),
    [
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"precision": {"weight": "ap_fixed<16"}}, "'precision.weight': 'ap_fixed<16' is not an HLS precision"),
        ({"precision": {"result": "float"}}, "is not an HLS precision"),
        ({"reuse_factor": 0}, "'reuse_factor': Input should be greater than or equal to 1"),
        ({"reuse_factor": -4}, "'reuse_factor'"),
        ({"io_type": "io_serial"}, "'io_type'"),
        ({"part": "xc7z011clg400-1"}, "Unknown FPGA part 'xc7z011clg400-1'"),
        ({"csim": {"dataset": "mnist"}}, "'csim.dataset'"),
    ],
)
def test_bad_flows_name_the_field(tmp_path: Path, fields: dict, phrase: str):
    with pytest.raises(BadInput) as info:
        load_flow(write_flow(tmp_path, **fields))
    assert phrase in str(info.value)


def test_missing_key_and_bad_toml(tmp_path: Path):
    (tmp_path / "a.toml").write_text('name = "a"\n')
    with pytest.raises(BadInput, match="missing key 'model'"):
        load_flow(tmp_path / "a.toml")
    (tmp_path / "b.toml").write_text("name = \n")
    with pytest.raises(BadInput, match="not valid TOML"):
        load_flow(tmp_path / "b.toml")
    with pytest.raises(BadInput, match="does not exist"):
        load_flow(tmp_path / "none.toml")


@pytest.mark.parametrize("text", ["ap_fixed<16,6>", "ap_ufixed<8,0>", "ap_fixed<18,8,AP_RND,AP_SAT>", "ap_int<8>"])
def test_valid_precisions(text: str):
    assert check_precision(text) == text


@pytest.mark.parametrize("text", ["ap_fixed<0,0>", "ap_fixed<16>", "fixed<16,6>", "ap_fixed<16,6", "ap_int<2000>"])
def test_invalid_precisions(text: str):
    with pytest.raises(ValueError, match="not an HLS precision"):
        check_precision(text)


def test_part_from_command_line_wins_and_is_validated():
    flow = Flow(name="x", model="m.keras")
    assert flow.with_part("xczu9eg-ffvb1156-2-e").part == "xczu9eg-ffvb1156-2-e"
    assert flow.with_part(None) is flow
    with pytest.raises(BadInput, match="Unknown FPGA part"):
        flow.with_part("xc9z999")


def test_flow_paths_cannot_escape_the_workspace(tmp_path: Path):
    assert inside_workspace(tmp_path, "models/a.keras", "model") == tmp_path / "models" / "a.keras"
    for escape in ("../a.keras", "/etc/passwd", "models/../../a.keras"):
        with pytest.raises(BadInput, match="leads outside the workspace"):
            inside_workspace(tmp_path, escape, "model")
