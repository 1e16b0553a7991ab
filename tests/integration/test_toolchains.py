"""The keras3 and qonnx toolchains end to end in their real images: each test model made by its script in its
own image, picked by its file alone (no `toolchain` in the flows), converted, C-simulated against the frontend's
own execution (Keras 3 predict; qonnx's execution of the cleaned channels-last graph), traced layer by layer and
planned; fit of the QONNX model (its Quant types kept, the inferred ones narrowed) and of a Keras 3 Sequential model;
the Vivado steps and a sweep with the vivado_hls double."""

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from hlsbox.runtime import toolchains
from hlsbox.runtime.modelfiles import origin_of
from tests.conftest import _need, assert_clean_error, make_model, run_cli, write_flow
from tests.shared import seed_author
from tests.vivado_double import make_install

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
def sequential_model(workspace: Path, images) -> Path:
    return make_model(workspace, "digits_sequential_keras3.py", "digits_sequential_keras3.keras", toolchain="keras3")


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


@pytest.mark.core  # on Podman too: each toolchain's image, convert, csim against its frontend, plan
def test_the_models_name_their_origin(keras3_model: Path, qonnx_model: Path):
    keras3 = origin_of(keras3_model)
    assert keras3.keras_major == 3, keras3.describe()
    qonnx = origin_of(qonnx_model)
    assert qonnx.format == "qonnx" and qonnx.quant_ops.get("Quant", 0) >= 4, qonnx.describe()


@pytest.mark.core
def test_keras3_convert_csim_plan(workspace: Path, keras3_model: Path):
    plan_output = _convert_csim_plan(workspace, "digits_resnet_keras3")
    converted = _result(workspace, "digits_resnet_keras3", "convert")
    assert {"Merge", "Conv2D", "Dense"} <= {layer["class"] for layer in converted["layers"]}  # the residual Add
    assert converted["versions"]["toolchain"] == "keras3" and converted["versions"]["keras"].startswith("3.")
    csim = _result(workspace, "digits_resnet_keras3", "csim")
    assert csim["reference"] == "Keras" and csim["samples"] == 450
    assert csim["top1_agreement"] >= 0.8, csim["top1_agreement"]  # ap_fixed<16,6> everywhere; 90% measured
    assert csim["keras_accuracy"] >= 0.9  # the Keras 3 model itself, on the held-out digits
    traced = {row["layer"]: row for row in csim["trace"]}  # hls4ml's names, Keras 3's per-layer outputs
    assert {"stem_relu", "branch", "add", "add_relu", "pool", "dense_relu", "output_softmax"} <= set(traced), traced
    assert traced["add"]["relative_diff"] < 0.05, traced["add"]  # ap_fixed<16,6> through the residual Add
    assert "Verdict:" in plan_output


def test_a_keras3_sequential_model_goes_through_csim_and_fit(workspace: Path, sequential_model: Path):
    """A Keras 3 Sequential model (no input or per-layer outputs of its own until called) is read as the functional
    model of its layers by every step: csim against Keras 3's predict, traced per layer, and fit (its profiling of
    every layer) ending in a fitted flow."""
    flow = "digits_sequential_keras3"
    csim = run_cli("csim", "--flow", f"flows/{flow}.toml", cwd=workspace)
    assert csim.exit_code == 0, csim.output
    result = _result(workspace, flow, "csim")
    assert result["reference"] == "Keras" and result["samples"] == 450
    assert result["top1_agreement"] >= 0.95, result["top1_agreement"]  # ap_fixed<16,6>: 99.8% measured
    assert {"conv_relu", "pool", "output_softmax"} <= {row["layer"] for row in result["trace"]}, result["trace"]
    out = workspace / "flows" / f"{flow}_fit.toml"
    args = ("--agreement", "0.95", "--max-probes", "4", "--samples", "60")
    fit = run_cli("fit", "--flow", f"flows/{flow}.toml", *args, cwd=workspace)
    assert fit.exit_code == 0, fit.output
    fitted = json.loads((workspace / "build" / flow / "xc7z020clg400-1" / "fit" / "fit.json").read_text())
    assert fitted["reference"] == "Keras" and fitted["meets_target"]
    assert fitted["held_out"]["top1_agreement"] >= 0.95 and fitted["held_out"]["samples"] == 450
    assert {"conv", "conv_relu", "pool", "output"} <= {row["layer"] for row in fitted["layers"]}  # profiled
    assert "[layers.conv]" in out.read_text()


@pytest.mark.core
def test_qonnx_convert_csim_plan(workspace: Path, qonnx_model: Path):
    plan_output = _convert_csim_plan(workspace, "digits_qonnx_w4a4")
    converted = _result(workspace, "digits_qonnx_w4a4", "convert")
    four_bit = [layer["name"] for layer in converted["layers"] if layer["result_precision"].startswith("ap_ufixed<4,")]
    assert four_bit, converted["layers"]  # the 4-bit activations, taken from the Quant nodes
    csim = _result(workspace, "digits_qonnx_w4a4", "csim")
    assert csim["reference"] == "qonnx execution"
    assert csim["top1_agreement"] >= 0.95, csim["top1_agreement"]
    assert abs(csim["hls_accuracy"] - csim["keras_accuracy"]) <= 0.03
    traced = {row["layer"]: row for row in csim["trace"]}  # hls4ml's names, qonnx's tensors
    assert {"Conv2D_Conv_0", "Relu_0", "MaxPool_0", "Dense_MatMul_0"} <= set(traced), traced
    conv = traced["Conv2D_Conv_0"]
    assert conv["scale"] == pytest.approx(15) and conv["relative_diff"] < 1e-4, conv  # integer codes, exact
    assert traced["Relu_0"]["max_abs_diff"] <= 1 and traced["Relu_0"]["hls_max"] <= 15  # 4-bit codes, one apart
    assert "Verdict:" in plan_output


@pytest.mark.core
def test_a_pinned_toolchain_that_cannot_read_the_model_is_bad_input(workspace: Path, qonnx_model: Path):
    flow = write_flow(workspace, name="pinned", model="models/digits_qonnx_w4a4.onnx", toolchain="keras3")
    assert_clean_error(
        run_cli("plan", "--flow", str(flow), cwd=workspace), 2, "pins toolchain 'keras3'", "a QONNX model"
    )


def _plan_lut(workspace: Path, flow: Path) -> int:
    result = run_cli("plan", "--flow", str(flow), cwd=workspace)
    assert result.exit_code == 0, result.output
    plan = workspace / "build" / flow.stem / "xc7z020clg400-1" / "plan" / "plan.json"
    return json.loads(plan.read_text())["totals"]["LUT"]


def _width(ap_type: str) -> int:
    return int(ap_type.split("<")[1].split(",")[0])


def test_qonnx_fit_keeps_the_quant_types_and_narrows_the_inferred_ones(workspace: Path, qonnx_model: Path):
    """fit keeps what the Quant nodes fix (4-bit weights and activations) and narrows what hls4ml infers (the input
    rescale's ap_fixed<40,20>, the Conv's and Dense's accumulated results), judged against qonnx's execution: the
    held-out agreement stays at the target and the plan's LUT estimate drops."""
    flow = workspace / "flows" / "digits_qonnx_w4a4.toml"
    before = _plan_lut(workspace, flow)
    args = ("--agreement", "0.9", "--samples", "200", "--max-probes", "8", "--io-type", "io_parallel")
    result = run_cli("fit", "--flow", "flows/digits_qonnx_w4a4.toml", *args, cwd=workspace)
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert "keeping the 3 types the Quant nodes fix" in said, said
    assert re.search(r"narrowed: .*Quant_2_rescale ap_fixed<\d+,\d+> -> ap_fixed<", said), said
    fit = json.loads((workspace / "build" / "digits_qonnx_w4a4" / "xc7z020clg400-1" / "fit" / "fit.json").read_text())
    assert fit["reference"] == "qonnx execution" and fit["meets_target"]
    assert fit["held_out"]["top1_agreement"] >= 0.9 and fit["held_out"]["samples"] == 450  # 98.9% measured at 0.95
    assert fit["calibration"]["common_fractional_bits"] is not None  # searched
    layers = {row["layer"]: row for row in fit["layers"]}
    assert layers["Relu_0"]["result"].startswith("ap_ufixed<4,4,")  # the Quant node's, kept
    assert layers["Conv2D_Conv_0"]["weight"].startswith("ap_fixed<4,4,") and layers["Relu_0"]["max_abs_diff"] <= 1
    assert _width(layers["Quant_2_rescale"]["result"]) < 40 and _width(layers["Conv2D_Conv_0"]["result"]) < 23
    out = workspace / "flows" / "digits_qonnx_w4a4_fit.toml"
    written = out.read_text()
    assert "agreement with qonnx execution" in written and "[layers.MatMul_0]" in written  # the config's names
    assert "[layers.Quant_2_rescale.precision]" in written  # a layer hls4ml makes from a Quant node
    after = _plan_lut(workspace, out)
    assert after < 0.8 * before, (before, after)  # 35,338 -> 23,225 measured at 0.9
    # The ReuseFactor fit gives a layer hls4ml makes from a Quant node reaches hls4ml's layer (a copy of the Quant's
    # config would replace it): the 6x6x8 rescale's multipliers shared over it in the fitted flow's plan.
    plan = json.loads((workspace / "build" / out.stem / "xc7z020clg400-1" / "plan" / "plan.json").read_text())
    rescale = next(row for row in plan["layers"] if row["name"] == "Quant_2_rescale")
    assert rescale["multipliers"] == 6 * 6 * 8 // layers["Quant_2_rescale"]["reuse_factor"], rescale


def test_qonnx_fit_says_when_the_quant_types_cannot_reach_the_target(workspace: Path, qonnx_model: Path):
    result = run_cli("fit", "--flow", "flows/digits_qonnx_w4a4.toml", "--agreement", "0.999", cwd=workspace)
    assert_clean_error(result, 2, "The QONNX graph's own types", "no search can raise it", "--agreement")


def test_qonnx_fit_refuses_before_any_c_simulation_when_even_the_floor_cannot_fit(workspace: Path, images):
    """The seed author's W4A4 ResNet on the xc7z010: even with every type hls4ml infers at its floor (known from
    the conversion alone) and every multiply at its cheapest ReuseFactor, the design needs more LUTs than the part
    has, and fit says so in seconds, before profiling (which C-simulates the graph on the calibration inputs: 1 min
    21 s of the 1 min 33 s it took to refuse before)."""
    shutil.copy(seed_author("zybo_resnet_w4a4.onnx"), workspace / "models" / "zybo_resnet_w4a4.onnx")
    if not (workspace / "data" / "sample_images").is_dir():
        shutil.copytree(seed_author("sample_images"), workspace / "data" / "sample_images")
    csim = {"dataset": "images", "images": "data/sample_images", "scale": 255, "samples": 100}
    fields = {"io_type": "io_stream", "strategy": "Resource", "reuse_factor": 8, "granularity": "name"}
    write_flow(workspace / "flows", "zybo_w4a4", model="models/zybo_resnet_w4a4.onnx", csim=csim, **fields)
    start = time.monotonic()
    result = run_cli("fit", "--flow", "flows/zybo_w4a4.toml", "--part", "xc7z010clg400-1", cwd=workspace)
    seconds = time.monotonic() - start
    phrases = ("No design reaches 99% agreement within 80% of xc7z010clg400-1", "needs LUT at", "most used by")
    assert_clean_error(result, 2, *phrases, "No C simulation was run.")
    assert "profiling the QONNX graph" not in result.output
    assert seconds < 60, seconds  # 9 to 13 s measured on 2 cores


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> Path:
    return make_install(tmp_path_factory.mktemp("host"))


@pytest.mark.parametrize(
    ("flow", "toolchain", "layer"),
    [("digits_qonnx_w4a4", "qonnx", "Dense_MatMul_0"), ("digits_resnet_keras3", "keras3", "stem")],
)
def test_the_vivado_steps_run_in_the_models_toolchain(
    workspace: Path, install: Path, keras3_model: Path, qonnx_model: Path, flow: str, toolchain: str, layer: str
):
    for step, check in (
        ("csynth", lambda r: r["csynth"]["resources"]["DSP"] == 73),
        ("cosim", lambda r: r["cosim"]["Status"] == "Pass"),
        ("export", lambda r: r["ip_archives"][0].endswith("xilinx_com_hls_myproject_1_0.zip")),
        ("vsynth", lambda r: r["vsynth"]["LUT"] == 1526),
    ):
        result = run_cli(step, "--flow", f"flows/{flow}.toml", "--vivado", str(install), "--ignore-plan", cwd=workspace)
        assert result.exit_code == 0, result.output
        run_dir = workspace / "build" / flow / "xc7z020clg400-1" / step
        assert check(json.loads((run_dir / "report.json").read_text())), step
        assert json.loads((run_dir / "manifest.json").read_text())["image"].startswith(f"hlsbox:{toolchain}-")
    firmware = workspace / "build" / flow / "xc7z020clg400-1" / "csynth" / "hls4ml_prj" / "firmware"
    assert layer in (firmware / "myproject.cpp").read_text()  # the project hls4ml wrote from this model


def test_a_sweep_of_the_qonnx_model_through_csynth(workspace: Path, install: Path, qonnx_model: Path):
    # At ReuseFactor 1 the 6x6x8 input rescale alone has 288 multipliers, past the xc7z020's 220 DSPs: 4 and 8 fit.
    args = ("--grid", "reuse_factor=4,8", "--step", "csynth", "--vivado", str(install), "--workers", "2")
    result = run_cli("sweep", "--flow", "flows/digits_qonnx_w4a4.toml", *args, cwd=workspace)
    assert result.exit_code == 0, result.output
    rows = json.loads((workspace / "build" / "sweeps" / "digits_qonnx_w4a4" / "sweep.json").read_text())
    assert [r["variant"] for r in rows] == ["digits_qonnx_w4a4-rf4", "digits_qonnx_w4a4-rf8"]
    assert all(r["exit_code"] == 0 and r["fits"] == "fits" for r in rows), rows
    assert rows[1]["est_latency_cycles"] > rows[0]["est_latency_cycles"]  # RF 8: the Dense takes twice as long
