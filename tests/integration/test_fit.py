"""`hlsbox fit` end to end in the real image on the digits CNN: the search, the flow it writes (which plan and csim
then judge on their own), the cache a re-run resumes from, Ctrl-C, and the bad inputs."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from hlsbox.config.formats import load_flow
from tests.conftest import assert_clean_error, make_model, run_cli, start_cli, write_flow

pytestmark = pytest.mark.integration
ARGS = ("--max-probes", "8", "--samples", "120")


@pytest.fixture(scope="module")
def fitted(workspace: Path) -> dict:
    result = run_cli("fit", "--flow", "flows/digits.toml", "--out", "flows/digits_test_fit.toml", *ARGS, cwd=workspace)
    assert result.exit_code == 0, result.output
    run_dir = workspace / "build" / "digits" / "xc7z020clg400-1" / "fit"
    return {"cli": result, "fit": json.loads((run_dir / "fit.json").read_text()), "run_dir": run_dir}


def test_the_fitted_flow_is_a_normal_flow_that_fits(workspace: Path, fitted: dict):
    flow = load_flow(workspace / "flows" / "digits_test_fit.toml")
    assert flow.layers and all(table.precision for table in flow.layers.values())
    plan = run_cli("plan", "--flow", "flows/digits_test_fit.toml", cwd=workspace)
    assert plan.exit_code == 0, plan.output
    planned = json.loads((workspace / "build" / "digits_fit" / "xc7z020clg400-1" / "plan" / "plan.json").read_text())
    design = fitted["fit"]["design"]
    assert planned["verdict"] != "does not fit"
    assert planned["totals"] == design["totals"]  # the plan of the written flow is the design fit chose
    # fit's budget and the plan's verdict are judged on the synthesis level (what the part must hold)
    synthesis = planned["synthesis"]
    assert synthesis["utilisation"] == design["utilisation"] and planned["verdict"] == synthesis["verdict"]
    budget = fitted["fit"]["target"]["budget"]
    assert max(synthesis["utilisation"].values()) <= budget
    # the budget holds at the high end of the out-of-sample error band (the plan's own band of each total)
    assert all(high <= budget * planned["capacity"][r] for r, (_, high) in synthesis["bands"].items()), planned
    assert max(design["high_band"].values()) <= budget and design["high_band"]["FF"] > design["utilisation"]["FF"]
    original = run_cli("plan", "--flow", "flows/digits.toml", cwd=workspace)
    assert "does not fit" in original.stdout  # the starting point did not fit its own part


def test_its_csim_is_what_fit_reported(workspace: Path, fitted: dict):
    """The held-out check inside fit is the C simulation of the written flow: csim, run on its own, agrees."""
    result = run_cli("csim", "--flow", "flows/digits_test_fit.toml", cwd=workspace)
    assert result.exit_code == 0, result.output
    csim = json.loads((workspace / "build" / "digits_fit" / "xc7z020clg400-1" / "csim" / "result.json").read_text())
    held = fitted["fit"]["held_out"]
    assert (csim["samples"], csim["top1_agreement"]) == (held["samples"], held["top1_agreement"])
    assert csim["max_abs_diff"] == pytest.approx(held["max_abs_diff"])
    assert held["top1_agreement"] >= 0.97 and held["keras_accuracy"] - held["hls_accuracy"] < 0.03


def test_the_search_narrowed_the_types_and_kept_the_target(fitted: dict):
    fit = fitted["fit"]
    assert fit["calibration"]["agreement"] >= fit["target"]["agreement"]
    assert any(p["passed"] for p in fit["probes"]) and any(not p["passed"] for p in fit["probes"])
    widths = [int(row["result"].split("<")[1].split(",")[0]) for row in fit["layers"] if "<" in row["result"]]
    assert widths and max(widths) < 16  # narrower than the flow's ap_fixed<16,6> everywhere
    assert (fitted["run_dir"] / "fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Flow written" in fitted["cli"].stdout and "held-out" in fitted["cli"].stdout


def test_a_rerun_resumes_from_the_cache(workspace: Path, fitted: dict):
    again = run_cli(
        "fit", "--flow", "flows/digits.toml", "--out", "flows/digits_test_fit.toml", *ARGS, "--force", cwd=workspace
    )
    assert again.exit_code == 0, again.output
    fit = json.loads((fitted["run_dir"] / "fit.json").read_text())
    assert fit["probes_run"] == 0 and fit["probes_cached"] == len(fitted["fit"]["probes"])
    assert fit["flow"] == fitted["fit"]["flow"]


def test_an_unreachable_budget_says_what_stops_it(workspace: Path, fitted: dict):
    result = run_cli("fit", "--flow", "flows/digits.toml", "--budget", "2", *ARGS, cwd=workspace)
    assert_clean_error(result, 2, "No design reaches", "What would:", "--part", "No C simulation was run")
    assert "probe 1" not in result.output  # the lower bound said it, before any C simulation


def test_the_lower_bound_leaves_the_search_room(fitted: dict):
    bound = fitted["fit"]["lower_bound"]
    assert bound["low_band"][bound["worst"]] <= fitted["fit"]["target"]["budget"]
    assert bound["utilisation"][bound["worst"]] > 0  # estimated: a real design, not an empty one


def test_an_unreachable_part_is_said_before_any_c_simulation(workspace: Path, seed_model: Path):
    """The seed's network within a tenth of its xc7z010: even the narrowest types at the largest ReuseFactors are
    over. (On the whole part it depends on the weights: the author's trained model needs 347% of its LUTs, 263% at the
    band's low end; a briefly trained stand-in's narrowest types can fit.)"""
    result = run_cli("fit", "--flow", "flows/seed.toml", "--samples", "20", "--budget", "10", cwd=workspace)
    assert_clean_error(
        result, 2, "No design reaches", "cheapest design the search can reach", "No C simulation was run", "--budget"
    )
    assert "probe 1" not in result.output


def test_a_flow_without_data_cannot_be_fitted(workspace: Path):
    data = {"model": "models/digits_cnn.keras", "part": "xc7z020clg400-1", "csim": {"dataset": "random"}}
    flow = write_flow(workspace / "flows", "nodata", **data)
    result = run_cli("fit", "--flow", str(flow.relative_to(workspace)), *ARGS, cwd=workspace)
    assert_clean_error(result, 2, "nothing to calibrate", "csim.dataset")


def test_bad_options_are_refused_before_any_container(workspace: Path):
    assert_clean_error(run_cli("fit", "--part", "xc7z999", cwd=workspace), 2, "xc7z999")
    assert_clean_error(run_cli("fit", "--agreement", "1.5", cwd=workspace), 2, "--agreement")
    (workspace / "flows" / "mine.toml").write_text("# my own flow\n")
    result = run_cli("fit", "--flow", "flows/digits.toml", "--out", "flows/mine.toml", cwd=workspace)
    assert_clean_error(result, 2, "was not written by hlsbox fit")
    assert (workspace / "flows" / "mine.toml").read_text() == "# my own flow\n"


def test_ctrl_c_keeps_the_best_design_so_far(workspace: Path):
    out = workspace / "flows" / "digits_interrupted.toml"
    proc = start_cli("fit", "--flow", "flows/digits.toml", "--out", str(out), "--samples", "150", cwd=workspace)
    deadline = time.monotonic() + 600
    for line in proc.stdout:
        if (": accepted" in line and "cached" not in line) or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    rest = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, rest
    assert time.monotonic() - started < 15
    text = out.read_text()
    assert "interrupted" in text and load_flow(out).layers


# A model script (as models/*.py are: `hlsbox model <script> --out <file>`): an 8x8 digits model of these layers,
# trained on the digits for `epochs` (0: saved as initialised).
MODEL_SCRIPT = """
import argparse


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import tensorflow as tf

    from hlsbox.steps.datasets import digits_split

    tf.keras.utils.set_random_seed(0)
    layers = tf.keras.layers
    tiny = tf.keras.initializers.RandomNormal(stddev=1e-4)
    model = tf.keras.Sequential([layers.Input((8, 8, 1)), layers.Flatten(name="flatten"), {layers}])
    if {epochs}:
        x_train, y_train, _, _ = digits_split()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x_train, y_train, epochs={epochs}, verbose=0)
    model.save(args.out)


if __name__ == "__main__":
    main()
"""
# hls4ml adds `bottleneck_linear` after a Dense without activation
BOTTLENECK_MODEL = MODEL_SCRIPT.format(
    layers='layers.Dense(12, name="bottleneck"), layers.Dense(10, activation="softmax", name="output")', epochs=20
)


def test_a_layer_without_activation_leaves_no_cast_behind(workspace: Path):
    """hls4ml puts `bottleneck_linear` after a Dense without activation, typed ap_fixed<16,6> by default: a cast,
    and a 16-bit stage. fit gives it the layer's own result type, so hls4ml removes it from the written design."""
    (workspace / "models" / "bottleneck.py").write_text(BOTTLENECK_MODEL)
    make_model(workspace, "bottleneck.py", "bottleneck.keras")
    flow = write_flow(
        workspace / "flows", "bottleneck", model="models/bottleneck.keras", part="xc7z020clg400-1",
        io_type="io_stream", csim={"dataset": "digits", "samples": 100},
    )  # fmt: skip
    out = "flows/bottleneck_fit.toml"
    result = run_cli("fit", "--flow", str(flow.relative_to(workspace)), "--out", out, *ARGS, cwd=workspace)
    assert result.exit_code == 0, result.output
    layers = load_flow(workspace / out).layers
    assert layers["bottleneck_linear"].precision["result"] == layers["bottleneck"].precision["result"]
    assert run_cli("plan", "--flow", out, cwd=workspace).exit_code == 0
    plan_json = workspace / "build" / "bottleneck_fit" / "xc7z020clg400-1" / "plan" / "plan.json"
    planned = json.loads(plan_json.read_text())
    names = [layer["name"] for layer in planned["layers"]]
    assert "bottleneck" in names and "bottleneck_linear" not in names


def test_nearly_uniform_outputs_are_said_not_blamed_on_the_types(workspace: Path):
    """An untrained stand-in (the plain clone's seed model is one): its softmax outputs are nearly uniform, so no
    width of the layers' types decides its top-1; fit says that, not "the integer bits come from ..."."""
    (workspace / "models" / "untrained.py").write_text(UNTRAINED_MODEL)
    make_model(workspace, "untrained.py", "untrained.keras")
    flow = write_flow(
        workspace / "flows", "untrained", model="models/untrained.keras", part="xc7z020clg400-1",
        csim={"dataset": "digits", "samples": 100},
    )  # fmt: skip
    result = run_cli("fit", "--flow", str(flow.relative_to(workspace)), *ARGS, cwd=workspace)
    assert_clean_error(result, 2, "Even 22 fractional bits", "nearly uniform", "Fit a trained model")
    assert "integer bits come from" not in result.output


# untrained, its weights tiny: logits about 1e-3 apart, softmax outputs about 0.1 each
UNTRAINED_MODEL = MODEL_SCRIPT.format(
    layers='layers.Dense(16, activation="relu", kernel_initializer=tiny, name="hidden"), '
    'layers.Dense(10, activation="softmax", kernel_initializer=tiny, name="output")',
    epochs=0,
)
