"""`hlsbox weights` (a step added as one module and one table entry) against the real ap_fixed: its counts of
constants outside their type and rounded to zero are what ap_fixed's own cast (hls4ml's ap_types headers, g++)
does to the model's Keras weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_model, run_cli, run_in_image, write_flow

pytestmark = pytest.mark.integration

NARROW = "ap_fixed<4,1>"  # holds -0.5 .. 0.375 in steps of 0.125: many digits weights wrap, many round to 0

CAST = r"""
import glob, os, subprocess, sys
import numpy as np, tensorflow as tf, hls4ml
layer = tf.keras.models.load_model("models/digits_cnn.keras").get_layer("conv")
values = layer.get_weights()[0].ravel().astype(np.float64)
headers = glob.glob(os.path.join(os.path.dirname(hls4ml.__file__), "templates/vivado/ap_types"))[0]
src = '#include <cstdio>\n#include "ap_fixed.h"\nint main(){double v; while (scanf("%lf", &v) == 1) ' \
      '{ ap_fixed<4,1> q = v; printf("%.17g\\n", q.to_double()); } }'
open("/tmp/cast.cpp", "w").write(src)
subprocess.run(["g++", "-O1", "-I", headers, "/tmp/cast.cpp", "-o", "/tmp/cast"], check=True)
cast = subprocess.run(["/tmp/cast"], input="\n".join(map(repr, values)), capture_output=True, text=True, check=True)
q = np.array([float(x) for x in cast.stdout.split()])
outside = int(np.sum(np.abs(q - values) >= 0.125))  # within the type, truncation moves a value less than an LSB
zeroed = int(np.sum((values != 0) & (q == 0)))
print("CAST", outside, zeroed, values.size)
"""


def test_weights_counts_what_ap_fixed_itself_does(engine, workspace: Path):
    make_model(workspace, "digits_cnn.py", "digits_cnn.keras")
    flow = write_flow(
        workspace / "flows",
        "weights_narrow",
        model="models/digits_cnn.keras",
        part="xc7z020clg400-1",
        precision={"default": "ap_fixed<16,6>"},
        layers={"conv": {"precision": {"weight": NARROW}}},
    )
    result = run_cli("weights", "--flow", str(flow.relative_to(workspace)), cwd=workspace)
    assert result.exit_code == 0, result.output
    table = json.loads(
        (workspace / "build" / "weights_narrow" / "xc7z020clg400-1" / "weights" / "result.json").read_text()
    )
    rows = {(row[0], row[1]): row for row in table["table"]["rows"]}
    conv = rows[("conv", "weight")]
    assert conv[2] == NARROW
    line = next(line for line in run_in_image(engine, workspace, CAST) if line.startswith("CAST"))
    outside, zeroed, total = map(int, line.split()[1:])
    assert outside > 0 and zeroed > 0  # the narrow type is a real test of both counts
    assert conv[5] == f"{outside:,} of {total:,}" and conv[6] == f"{zeroed:,} of {total:,}"
    flat = " ".join(result.output.split())
    assert f"conv weight: {outside:,} values outside {NARROW} wrap around" in flat
    assert rows[("dense", "weight")][5] == "0"  # ap_fixed<16,6> holds the rest
