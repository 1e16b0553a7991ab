"""hlsbox's repairs of hls4ml 1.3.0's QONNX conversion (tools/hlsbox/steps/repairs.py), end to end in the real qonnx
image, on a residual block of the seed author's Brevitas ResNet's shape (models/qonnx_resnet_fork.py): its input
Quant forks into a 1x1 shortcut and a 3x3 Conv/BatchNorm/ReLU/Conv/BatchNorm branch, the shortcut's Quant is the
Add's second input, and a GlobalAveragePool over 16 channels of 8x8 follows the Add. Without the repairs, hls4ml's
io_stream kernel for the pooling divides by zero (the C simulation crashed with SIGILL) and io_parallel agreed with
qonnx's execution on 8% of 100 random inputs (the shortcut computed on raw integer codes); with them, both agree on
every input. The same block's second branch alone (`--chain`) isolates the types: 10% agreement before,
100% after. The repairs act on the QONNX path only: a Keras model converts with none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hlsbox.runtime import toolchains
from tests.conftest import _need, make_model, run_cli, write_flow

pytestmark = pytest.mark.integration

PART = "xc7z020clg400-1"


@pytest.fixture(scope="module")
def fork_model(engine, workspace: Path) -> str:
    """The residual block as QONNX (made once in the qonnx image), its path in the workspace."""
    from hlsbox.core.errors import HlsboxError
    from hlsbox.runtime import image

    try:
        image.find_image(engine, toolchains.by_name("qonnx"))
    except HlsboxError as exc:
        _need(False, f"the qonnx image is not built (`make image TOOLCHAIN=qonnx`): {exc.message}")
    make_model(workspace, "qonnx_resnet_fork.py", "qonnx_resnet_fork.onnx", toolchain="qonnx")
    return "models/qonnx_resnet_fork.onnx"


@pytest.fixture(scope="module")
def chain_model(fork_model: str, workspace: Path) -> str:
    """The block's second branch alone (no fork, Add or pooling), flattened into the classifier."""
    make_model(workspace, "qonnx_resnet_fork.py", "qonnx_resnet_chain.onnx", "--chain", toolchain="qonnx")
    return "models/qonnx_resnet_chain.onnx"


def _flow(workspace: Path, model: str, io_type: str) -> str:
    name = f"{Path(model).stem}_{io_type}"
    fields = {"part": PART, "io_type": io_type, "strategy": "Latency", "reuse_factor": 1}
    write_flow(workspace / "flows", name=name, model=model, **fields, csim={"dataset": "random", "samples": 100})
    return name


def _step(workspace: Path, flow: str, step: str) -> tuple[str, dict]:
    """`hlsbox <step>` of flows/<flow>.toml, exit 0: its output and its result.json."""
    result = run_cli(step, "--flow", f"flows/{flow}.toml", cwd=workspace)
    assert result.exit_code == 0, result.output
    return result.output, json.loads((workspace / "build" / flow / PART / step / "result.json").read_text())


def _said(repairs: list[dict], phrase: str) -> list[dict]:
    return [repair for repair in repairs if phrase in repair["what"]]


def test_io_stream_csim_runs_and_agrees_with_qonnx(workspace: Path, fork_model: str):
    """Before the repairs: "The C simulation library crashed with SIGILL on the first input" (exit 1), the global
    pooling's division by zero."""
    _, csim = _step(workspace, _flow(workspace, fork_model, "io_stream"), "csim")
    assert csim["reference"] == "qonnx execution" and csim["samples"] == 100
    assert csim["top1_agreement"] >= 0.99, csim["top1_agreement"]  # 100% measured
    repairs = csim["repairs"]
    assert _said(repairs, "removed the Transpose before GlobalAveragePool"), repairs
    fork = _said(repairs, "its rescale wired to every consumer")
    assert any(repair["what"].count("(input 0)") == 2 for repair in fork), fork  # the input Quant: both branches
    assert any("Add" in repair["what"] and "(input 1)" in repair["what"] for repair in fork), fork  # the shortcut
    # 1 / the input's step
    held = [r for r in _said(repairs, "scale fixed<16,6") if "is 127 to 127: fixed<16,6" in r["why"]]
    assert held, repairs  # 126.9 wraps in hls4ml's default fixed<16,6>


def test_io_parallel_csim_agrees_with_qonnx(workspace: Path, fork_model: str):
    """Before the repairs: 8% agreement (the shortcut on raw integer codes, the pooling over the wrong elements)."""
    _, csim = _step(workspace, _flow(workspace, fork_model, "io_parallel"), "csim")
    assert csim["reference"] == "qonnx execution"
    assert csim["top1_agreement"] >= 0.99, csim["top1_agreement"]  # 100% measured
    assert csim["max_abs_diff"] < 0.5, csim["max_abs_diff"]  # logits spanning about +-13; 7.75 before the repairs


def test_constants_hls4mls_default_type_cannot_hold_get_one_that_does(workspace: Path, chain_model: str):
    """No fork, no Add, no pooling: only the types. Before the repairs: 10% agreement, the input's rescale of 126.9
    wrapped in fixed<16,6> (the first convolution's output at -2.25 times qonnx's)."""
    _, csim = _step(workspace, _flow(workspace, chain_model, "io_parallel"), "csim")
    assert csim["top1_agreement"] >= 0.99, csim["top1_agreement"]  # 100% measured
    assert csim["max_abs_diff"] < 0.01, csim["max_abs_diff"]  # 5e-5 measured, logits up to 159
    traced = {row["layer"]: row for row in csim["trace"]}
    assert traced["Conv2D_Conv_0"]["relative_diff"] < 1e-3, traced  # the input's codes times the weights', exact
    assert traced["Conv2D_Conv_1"]["max_abs_diff"] < 1e-3, traced  # the ReLU's 4-bit codes, exact (a code moved: 6)
    repairs = csim["repairs"]
    assert not _said(repairs, "removed the Transpose") and not _said(repairs, "rescale wired"), repairs
    assert [r for r in _said(repairs, "scale fixed<16,6") if "is 127 to 127: fixed<16,6" in r["why"]], repairs
    assert [r for r in repairs if r["layer"] == "Relu_0" and r["what"].startswith("result fixed<16,6")], repairs


def test_convert_says_what_it_repaired(workspace: Path, fork_model: str):
    output, converted = _step(workspace, _flow(workspace, fork_model, "io_parallel"), "convert")
    flat = " ".join(output.split())
    assert f"hlsbox repaired {len(converted['repairs'])} thing(s) in hls4ml's conversion" in flat, flat
    assert "removed the Transpose before GlobalAveragePool" in flat and "its rescale wired to every consumer" in flat
    assert "the sum of its 64 inputs" in flat, flat  # the pooling's accumulator: 8x8 per channel
    assert isinstance(converted["hls4ml_warnings"], list)


def test_a_keras_model_converts_with_no_repairs(workspace: Path):
    """The passes are registered in hls4ml's flows for every conversion but act on the QONNX path only."""
    output, converted = _step(workspace, "digits", "convert")
    assert converted["repairs"] == [], converted["repairs"]
    assert "hlsbox repaired" not in output
