"""The keras3 and qonnx toolchains end to end in their real images: each test model made by its script in its
own image, picked by its file alone (no `toolchain` in the flows), converted, C-simulated against the frontend's
own execution (Keras 3 predict; qonnx's execution of the cleaned channels-last graph) and planned."""

import json
from pathlib import Path

import pytest

from hlsbox.runtime import toolchains
from hlsbox.runtime.modelfiles import origin_of
from tests.conftest import _need, assert_clean_error, make_model, run_cli, write_flow

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def images(engine) -> None:
    from hlsbox.core.errors import HlsboxError
    from hlsbox.runtime import image

    for name in ("keras3", "qonnx"):
        try:
            image.find_image(engine, toolchains.by_name(name))
        except HlsboxError as exc:
            _need(False, f"the {name} image is not built (`make image TOOLCHAIN={name}`): {exc.message}")


@pytest.fixture(scope="module")
def keras3_model(workspace: Path, images) -> Path:
    return make_model(workspace, "digits_resnet_keras3.py", "digits_resnet_keras3.keras", toolchain="keras3")


@pytest.fixture(scope="module")
def qonnx_model(workspace: Path, images) -> Path:
    return make_model(workspace, "digits_qonnx_w4a4.py", "digits_qonnx_w4a4.onnx", toolchain="qonnx")


def _result(workspace: Path, flow: str, step: str) -> dict:
    return json.loads((workspace / "build" / flow / "xc7z020clg400-1" / step / "result.json").read_text())


def _convert_csim_plan(workspace: Path, flow: str) -> str:
    """convert, csim and plan of flows/<flow>.toml, each exit 0; the plan's output."""
    for step in ("convert", "csim", "plan"):
        result = run_cli(step, "--flow", f"flows/{flow}.toml", cwd=workspace)
        assert result.exit_code == 0, result.output
    return result.output


def test_the_models_name_their_origin(keras3_model: Path, qonnx_model: Path):
    keras3 = origin_of(keras3_model)
    assert keras3.keras_major == 3, keras3.describe()
    qonnx = origin_of(qonnx_model)
    assert qonnx.format == "qonnx" and qonnx.quant_ops.get("Quant", 0) >= 4, qonnx.describe()


def test_keras3_convert_csim_plan(workspace: Path, keras3_model: Path):
    plan_output = _convert_csim_plan(workspace, "digits_resnet_keras3")
    converted = _result(workspace, "digits_resnet_keras3", "convert")
    assert {"Merge", "Conv2D", "Dense"} <= {layer["class"] for layer in converted["layers"]}  # the residual Add
    assert converted["versions"]["toolchain"] == "keras3" and converted["versions"]["keras"].startswith("3.")
    csim = _result(workspace, "digits_resnet_keras3", "csim")
    assert csim["reference"] == "Keras" and csim["samples"] == 450
    assert csim["top1_agreement"] >= 0.8, csim["top1_agreement"]  # ap_fixed<16,6> everywhere; 90% measured
    assert csim["keras_accuracy"] >= 0.9  # the Keras 3 model itself, on the held-out digits
    assert "Verdict:" in plan_output


def test_qonnx_convert_csim_plan(workspace: Path, qonnx_model: Path):
    plan_output = _convert_csim_plan(workspace, "digits_qonnx_w4a4")
    converted = _result(workspace, "digits_qonnx_w4a4", "convert")
    four_bit = [layer["name"] for layer in converted["layers"] if layer["result_precision"].startswith("ap_ufixed<4,")]
    assert four_bit, converted["layers"]  # the 4-bit activations, taken from the Quant nodes
    csim = _result(workspace, "digits_qonnx_w4a4", "csim")
    assert csim["reference"] == "qonnx execution"
    assert csim["top1_agreement"] >= 0.95, csim["top1_agreement"]
    assert abs(csim["hls_accuracy"] - csim["keras_accuracy"]) <= 0.03
    assert "Verdict:" in plan_output


def test_a_pinned_toolchain_that_cannot_read_the_model_is_bad_input(workspace: Path, qonnx_model: Path):
    flow = write_flow(workspace, name="pinned", model="models/digits_qonnx_w4a4.onnx", toolchain="keras3")
    assert_clean_error(
        run_cli("plan", "--flow", str(flow), cwd=workspace), 2, "pins toolchain 'keras3'", "a QONNX model"
    )
