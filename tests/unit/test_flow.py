from pathlib import Path

import pytest

from hlsbox.config.flow import Flow, check_precision, image_flow, inside_workspace
from hlsbox.config.formats import load_flow
from hlsbox.core.errors import BadInput
from tests.conftest import REPO, write_flow


def test_seed_flow_is_the_seed_write_up_exactly():
    flow = load_flow(REPO / "flows" / "seed.toml")
    assert flow.model == "models/model_2_15.keras"
    assert flow.granularity == "name"
    assert set(flow.precision.values()) == {"ap_fixed<16,6>"} and {"weight", "bias", "result"} <= set(flow.precision)
    assert flow.fuse_batchnorm is False  # the write-up's loop sets every result type: hls4ml fuses no BatchNorm
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
        ({"csim": {"dataset": "images", "images": "data/imgs"}}, 'dataset = "images" needs images'),
        ({"csim": {"dataset": "images", "scale": 255}}, "and scale = <what the model divided the pixels by"),
        ({"csim": {"dataset": "images", "images": "d", "scale": 0}}, "'csim.scale': Input should be greater than 0"),
        ({"csim": {"dataset": "random", "images": "d", "scale": 255}}, 'images and scale are for dataset = "images"'),
        (
            {"csim": {"dataset": "images", "images": "d", "scale": 255, "resize": "centre_crop"}},
            "'csim.resize': 'centre_crop' is not a way to fit images to the model's input: \"none\"",
        ),
        ({"csim": {"dataset": "images", "images": "d", "scale": 255, "resize": "cubic"}}, "bilinear, hamming, bicubic"),
        ({"csim": {"dataset": "digits", "resize": "center_crop"}}, 'resize is for dataset = "images"'),
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


@pytest.mark.parametrize(
    "text", ["ap_fixed<16,6>", "ap_ufixed<8,0>", "ap_fixed<18,8,AP_RND,AP_SAT>", "ap_int<8>", "fixed<16,6>", "auto"]
)
def test_valid_precisions(text: str):
    assert check_precision(text) == text


@pytest.mark.parametrize("text", ["ap_fixed<0,0>", "ap_fixed<16>", "float<16,6>", "ap_fixed<16,6", "ap_int<2000>"])
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


@pytest.mark.parametrize(
    ("fields", "phrases"),
    [
        ({"layers": {"conv": {"reuse": 4}}}, ("unknown key 'reuse' in [layers.conv]", "closest: reuse_factor")),
        ({"layer_types": {"Dense": {"stratgy": "Resource"}}}, ("[layer_types.Dense]", "closest: strategy")),
        ({"layers": {"conv": {"precision": {"acum": "ap_fixed<20,8>"}}}}, ("'acum' is not a type", "closest: accum")),
        ({"layers": {"conv": {"precision": {"accum": "ap_fixed<20"}}}}, ("[layers.conv] precision.accum",)),
        ({"layers": {"conv": {"reuse_factor": 0}}}, ("[layers.conv] reuse_factor", "greater than or equal to 1")),
        ({"layers": {"conv": {"strategy": "Fast"}}}, ("[layers.conv] strategy", "'Latency' or 'Resource'")),
        ({"precision": {"wieght": "ap_fixed<8,3>"}}, ("'wieght' is not a type", "closest: weight")),
    ],
)
def test_bad_per_layer_tables_name_the_table_and_the_closest_key(tmp_path: Path, fields: dict, phrases: tuple):
    with pytest.raises(BadInput) as info:
        load_flow(write_flow(tmp_path, **fields))
    for phrase in phrases:
        assert phrase in str(info.value), str(info.value)
    assert "t.toml" in str(info.value)  # the flow file is named


def test_a_written_flow_reads_back_the_same(tmp_path: Path):
    from hlsbox.config.formats import to_toml, write_toml

    flow = Flow(
        name="x",
        model="models/m.keras",
        precision={"result": "ap_fixed<16,6>"},
        layers={"conv": {"reuse_factor": 27, "precision": {"accum": "ap_fixed<24,10>"}, "parallelization_factor": 4}},
        layer_types={"Softmax": {"implementation": "latency", "table_size": 512}},
        fuse_batchnorm=False,
    )
    write_toml(flow, tmp_path / "x.toml", "# a header")
    assert load_flow(tmp_path / "x.toml") == flow
    assert "[layers.conv]" in to_toml(flow) and "csim" not in to_toml(flow)  # defaults are left out


HLS4ML_YAML = """
KerasJson: models/arch.json
KerasH5: models/weights.h5
OutputDir: my-hls-test
ProjectName: myproject
Part: xc7z020clg400-1
ClockPeriod: 5
Backend: Vivado
IOType: io_stream
HLSConfig:
  Model:
    Precision: fixed<16,6>
    ReuseFactor: 1
    Strategy: Latency
  LayerType:
    Dense:
      ReuseFactor: 2
  LayerName:
    fc1:
      Precision:
        weight: fixed<8,3>
"""


def test_hls4ml_yaml_maps_onto_a_flow(tmp_path: Path):
    (tmp_path / "keras-config.yml").write_text(HLS4ML_YAML)
    flow = load_flow(tmp_path / "keras-config.yml")
    assert (flow.name, flow.model, flow.weights, flow.io_type) == (
        "keras-config",
        "models/arch.json",
        "models/weights.h5",
        "io_stream",
    )
    assert flow.granularity == "model" and flow.precision == {"default": "fixed<16,6>"}
    assert flow.layer_types["Dense"].reuse_factor == 2 and flow.layers["fc1"].precision == {"weight": "fixed<8,3>"}


@pytest.mark.parametrize(
    ("edit", "phrase"),
    [
        (("KerasJson:", "KerasJsn:"), "'KerasJsn' is not a key hls4ml's YAML config has (closest: KerasJson"),
        (("ReuseFactor: 2", "ReuseFactr: 2"), "HLSConfig.LayerType.Dense: 'ReuseFactr'"),
        (("Part: xc7z020clg400-1", "Part: xc7z999"), "Unknown FPGA part 'xc7z999'"),
        (("BramFactor", "BramFactor"), ""),
        (
            ("    Strategy: Latency", "    Strategy: Latency\n    Colour: red"),
            "HLSConfig.Model has keys hlsbox does not",
        ),
        (("IOType: io_stream", "IOType: [oops"), "is not valid YAML"),
    ],
)
def test_bad_hls4ml_yaml_is_bad_input(tmp_path: Path, edit: tuple[str, str], phrase: str):
    (tmp_path / "c.yml").write_text(HLS4ML_YAML.replace(*edit))
    if not phrase:
        return
    with pytest.raises(BadInput) as info:
        load_flow(tmp_path / "c.yml")
    assert phrase in str(info.value)


def test_resize_defaults_to_the_images_as_they_are(tmp_path: Path):
    """Left out, csim.resize is "none" (today's behaviour: the images must be the model's size); every mode the
    image knows passes the host's validation and reaches the image's flow."""
    images = {"dataset": "images", "images": "d", "scale": 255}
    assert load_flow(write_flow(tmp_path, csim=images)).csim.resize == "none"
    for mode in ("none", "center_crop", "nearest", "box", "bilinear", "hamming", "bicubic", "lanczos"):
        flow = load_flow(write_flow(tmp_path, csim={**images, "resize": mode}))
        assert image_flow(flow).csim.resize == mode
