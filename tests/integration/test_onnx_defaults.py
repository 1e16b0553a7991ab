"""A QONNX/ONNX graph nobody here made: the residual block qonnx ships as test data (`residual_block_clean.onnx`, a
float Conv → ReLU → Conv → ReLU beside a Conv shortcut, added and max-pooled, on a 200x200 input). Its Conv nodes
leave out `group` (ONNX's default is 1), and hls4ml 1.3.0's ONNX parser reads it with int(None): convert stopped
with "TypeError: int() argument must be ... not 'NoneType'". hlsbox writes ONNX's defaults out before hls4ml parses
the graph, says so, and the C simulation agrees with qonnx's execution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_model, run_cli, write_flow

pytestmark = pytest.mark.integration

COPY_SHIPPED = """
import argparse, shutil
from pathlib import Path
import qonnx

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
source = Path(qonnx.__file__).parent / "data" / "onnx" / "residual_block_clean.onnx"
shutil.copy(source, parser.parse_args().out)
"""


def test_a_graph_whose_convs_leave_out_their_defaults_converts_and_agrees(workspace: Path):
    (workspace / "models" / "qonnx_shipped_resblock.py").write_text(COPY_SHIPPED)
    make_model(workspace, "qonnx_shipped_resblock.py", "qonnx_resblock.onnx", toolchain="qonnx")
    flow = write_flow(
        workspace / "flows",
        "shipped_resblock",
        model="models/qonnx_resblock.onnx",
        part="xc7z020clg400-1",
        io_type="io_stream",
        strategy="Resource",
        reuse_factor=4,
        precision={"default": "ap_fixed<32,16>"},  # a float graph: its ReLUs reach ~600
        csim={"dataset": "random", "samples": 10},
    )
    result = run_cli("csim", "--flow", str(flow.relative_to(workspace)), cwd=workspace)
    assert result.exit_code == 0, result.output
    assert "group = 1 written out (ONNX's default)" in result.output
    run_dir = workspace / "build" / "shipped_resblock" / "xc7z020clg400-1" / "csim"
    data = json.loads((run_dir / "result.json").read_text())
    assert data["reference"] == "qonnx execution" and data["top1_agreement"] >= 0.99, data["top1_agreement"]
    assert {r["layer"] for r in data["repairs"] if r["what"].startswith("group = 1")} == {"Conv_0", "Conv_1", "Conv_2"}
