"""The da4ml path end to end in the real keras3 image (#35): the HGQ2 MLP made by its script, rtl (da4ml's Verilog),
synth (Debian's yosys) and rtlsim (Verilator against da4ml's software model and Keras, bit for bit; and a changed
Verilog caught, its first differing output named); yosys under the limits (killed at its time limit with 124 and at
its memory limit with 137, nothing left running); the refusals (plain Keras layers, a network over the unroll limit,
a design da4ml's estimate cannot fit, an hls4ml step on a da4ml flow). About 5 minutes here; rtl, synth and
rtlsim run on Podman too (`make test-podman`)."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from hlsbox.runtime import toolchains
from tests.conftest import _need, assert_clean_error, hlsbox_containers, make_model, run_cli, write_flow

pytestmark = pytest.mark.integration

FLOW = "flows/digits_mlp_da4ml.toml"
PART = "xc7z010clg400-1"


@pytest.fixture(scope="module")
def hgq2_model(workspace: Path, engine) -> Path:
    from hlsbox.core.errors import HlsboxError
    from hlsbox.runtime import image

    try:
        image.find_image(engine, toolchains.by_name("keras3"))
    except HlsboxError as exc:
        _need(False, f"the keras3 image is not built (`make image TOOLCHAIN=keras3`): {exc.message}")
    return make_model(workspace, "digits_mlp_hgq2.py", "digits_mlp_hgq2.keras", toolchain="keras3")


def _run_dir(workspace: Path, step: str, flow: str = "digits_mlp_da4ml") -> Path:
    return workspace / "build" / flow / PART / step


def _result(workspace: Path, step: str) -> dict:
    return json.loads((_run_dir(workspace, step) / "result.json").read_text())


@pytest.fixture(scope="module")
def rtl(workspace: Path, hgq2_model: Path) -> dict:
    result = run_cli("rtl", "--flow", FLOW, cwd=workspace)
    assert result.exit_code == 0, result.output
    return _result(workspace, "rtl")


@pytest.mark.core  # on Podman too
def test_rtl_writes_da4mls_verilog_with_its_estimate(workspace: Path, rtl: dict):
    project = _run_dir(workspace, "rtl") / "rtl_prj"
    assert (project / "src" / "model.v").is_file() and (project / "model" / "comb.json").is_file()
    assert (rtl["inputs"], rtl["outputs"]) == (64, 10) and rtl["multiplications"] == 64 * 12 + 12 * 10
    assert rtl["estimate"]["LUT"] > 0 and rtl["estimate"]["FF"] > 0 and rtl["latency_cycles"] >= 1
    assert rtl["versions"]["da4ml"] == "0.6.0" and rtl["versions"]["hgq2"] == "0.2.0"


def test_plan_of_a_da4ml_flow_is_da4mls_estimate_against_the_part(workspace: Path, rtl: dict):
    result = run_cli("plan", "--flow", FLOW, cwd=workspace)
    assert result.exit_code == 0, result.output
    plan = json.loads((_run_dir(workspace, "plan") / "plan.json").read_text())
    assert plan["tool"] == "da4ml" and plan["totals"]["LUT"] == rtl["estimate"]["LUT"] and plan["totals"]["DSP"] == 0
    assert plan["verdict"] == "fits" and "da4ml's estimate" in plan["level"]  # 24% of the xc7z010's LUTs measured
    flat = " ".join(result.stdout.split())
    assert f"Verdict: fits on {PART}, judged on da4ml's estimate" in flat


@pytest.fixture(scope="module")
def synth(workspace: Path, rtl: dict) -> dict:
    result = run_cli("synth", "--flow", FLOW, cwd=workspace)
    assert result.exit_code == 0, result.output
    assert "no place-and-route, no timing" in " ".join(result.output.split())
    return _result(workspace, "synth")


@pytest.mark.core  # on Podman too
def test_synth_counts_yosys_cells_beside_da4mls_estimate(workspace: Path, rtl: dict, synth: dict):
    run_dir = _run_dir(workspace, "synth")
    report = json.loads((run_dir / "report.json").read_text())
    # ground truth: yosys' own statistics in its log, and da4ml's estimate of the same logic
    log = (run_dir / "yosys.log").read_text()
    stat = log[log.rindex("Number of cells:") :]
    luts = sum(int(n) for n in re.findall(r"^\s+(?:LUT[1-6]|INV)\s+(\d+)$", stat, re.M))
    assert report["yosys"]["LUT"] == luts > 0 and report["cells"]["FDRE"] > 0 and report["yosys"]["DSP"] == 0
    assert abs(report["yosys"]["LUT"] / rtl["estimate"]["LUT"] - 1) < 0.25  # 4% measured: da4ml's cost is LUTs
    assert abs(report["yosys"]["FF"] / rtl["estimate"]["FF"] - 1) < 0.25  # 2% measured: its registers' bits
    assert report["capacity"]["LUT"] == 17_600 and 0 < report["utilisation"]["LUT"] < 1
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "ok"


@pytest.mark.core  # on Podman too
def test_rtlsim_is_bit_exact_against_da4mls_model_and_keras(workspace: Path, rtl: dict):
    result = run_cli("rtlsim", "--flow", FLOW, cwd=workspace)
    assert result.exit_code == 0, result.output
    data = _result(workspace, "rtlsim")
    assert data["samples"] == 10_000 and data["from_data"] == 450  # the 450 test digits, then random inputs
    assert data["rtl_mismatches"] == 0 and data["keras_mismatches"] == 0 and data["first_difference"] is None
    assert "bit-exact" in result.output


def test_rtlsim_names_the_first_output_a_changed_verilog_gets_wrong(workspace: Path, rtl: dict):
    """The comparison can fail: one output of the Verilog forced to 0 (rtl's cached project, which rtlsim copies)."""
    wrapper = _run_dir(workspace, "rtl") / "rtl_prj" / "src" / "model_wrapper.v"
    original = wrapper.read_text()
    assign = re.search(r"assign model_out\[(\d+):(\d+)\] = packed_out\[[^;]+;", original)
    assert assign, original[:2000]
    high, low = assign.groups()
    try:
        wrapper.write_text(original.replace(assign.group(0), f"assign model_out[{high}:{low}] = 0;", 1))
        result = run_cli("rtlsim", "--flow", FLOW, "--force", cwd=workspace)
    finally:
        wrapper.write_text(original)
    assert result.exit_code == 1, result.output
    data = json.loads((_run_dir(workspace, "rtlsim.failed") / "result.json").read_text())
    assert data["rtl_mismatches"] > 0 and data["keras_mismatches"] == 0
    assert data["first_difference"].startswith("input ") and "Verilog" in data["first_difference"]


def test_yosys_past_its_time_limit_is_killed_with_124_and_nothing_left(workspace: Path, engine, synth: dict):
    """The limit is a third of what yosys took on this machine (19 s on CI's, 30 s here): killed inside yosys."""
    limit = max(5, int(synth["yosys_seconds"] / 3))
    result = run_cli("synth", "--flow", FLOW, "--timeout", f"{limit}s", "--force", cwd=workspace)
    assert_clean_error(result, 124, f"did not finish within its time limit of {limit}s")
    assert "yosys:" in (_run_dir(workspace, "synth.failed") / "step.log").read_text()  # killed in yosys
    assert not hlsbox_containers(engine)
    assert not _yosys_processes()


def test_yosys_at_its_memory_limit_is_killed_with_137(workspace: Path, engine, rtl: dict):
    result = run_cli("synth", "--flow", FLOW, "--mem", "150m", "--force", cwd=workspace)
    assert_clean_error(result, 137, "ran out of memory at 150.0 MiB", "da4ml unrolls every multiplication")
    assert "ReuseFactor" not in result.output  # hls4ml's remedies are not this backend's
    assert "yosys" in (_run_dir(workspace, "synth.failed") / "step.log").read_text()
    assert not hlsbox_containers(engine)
    assert not _yosys_processes()


def _yosys_processes() -> list[str]:
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in ps.splitlines() if "yosys -p read_verilog" in line and "ps -eo" not in line]


def test_a_design_da4mls_estimate_cannot_fit_is_refused_before_yosys(workspace: Path, engine, rtl: dict):
    """rtl's result (the cached one synth reads) said to need 40,000 LUTs: synth refuses without a container."""
    result_file = _run_dir(workspace, "rtl") / "result.json"
    original = result_file.read_text()
    data = json.loads(original)
    data["estimate"]["LUT"] = 40_000
    try:
        result_file.write_text(json.dumps(data))
        refused = run_cli("synth", "--flow", FLOW, "--force", cwd=workspace)
    finally:
        result_file.write_text(original)
    assert_clean_error(refused, 2, f"da4ml estimates this design cannot fit {PART}: LUT 40,000 of 17,600", "--part")
    assert "synth digits_mlp_da4ml: starting container" not in refused.output


def test_plain_keras_layers_and_too_many_multiplications_are_refused(workspace: Path, hgq2_model: Path):
    plain = make_model(workspace, "digits_sequential_keras3.py", "digits_sequential_keras3.keras", toolchain="keras3")
    flows = workspace / "flows"
    flow = write_flow(flows, "plain_da4ml", model=f"models/{plain.name}", backend="da4ml", part=PART)
    result = run_cli("rtl", "--flow", str(flow.relative_to(workspace)), cwd=workspace)
    assert_clean_error(result, 2, "da4ml cannot trace", "conv (Conv2D)", "output (Dense)", "hgq.layers")
    small = write_flow(
        flows, "small_da4ml", model="models/digits_mlp_hgq2.keras", backend="da4ml", part=PART,
        rtl={"max_multiplications": 500},
    )  # fmt: skip
    result = run_cli("rtl", "--flow", str(small.relative_to(workspace)), cwd=workspace)
    assert_clean_error(result, 2, "makes 888 multiplications per inference", "limit of 500")


def test_an_hls4ml_step_on_a_da4ml_flow_is_refused(workspace: Path, hgq2_model: Path):
    result = run_cli("csim", "--flow", FLOW, cwd=workspace)
    assert_clean_error(result, 2, "`csim` runs for flows with backend Vivado or Vitis", "rtl, synth, rtlsim")
