"""Flows that say everything hls4ml can, in the real image: per-layer and per-type settings reaching the
generated project, hls4ml's own names, the seed's code reproduced exactly, QKeras, hls4ml's YAML configs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hlsbox.core.hls4ml_names import LAYER_KEYS, PRECISION_NAMES
from tests.conftest import assert_clean_error, run_cli, run_in_image

pytestmark = pytest.mark.integration

VOCABULARY = """
import json, hls4ml
from hls4ml.model.attributes import TypeAttribute
backend = hls4ml.backends.get_backend("Vivado")
keys, types = set(), set()
for cls in hls4ml.model.layers.layer_map.values():
    try:
        attributes = backend.create_layer_class(cls).expected_attributes
    except Exception:
        continue
    for a in attributes:
        if a.configurable:
            (types.add(a.name.removesuffix("_t")) if isinstance(a, TypeAttribute) else keys.add(a.config_name))
print("VOCABULARY", json.dumps({"keys": sorted(keys), "types": sorted(types)}))
"""


def test_the_flow_keys_are_hls4mls_own(engine, workspace: Path):
    """Every per-layer key and type a flow accepts is one hls4ml 1.3.0 has, and none of hls4ml's is missing."""
    line = next(x for x in run_in_image(engine, workspace, VOCABULARY) if x.startswith("VOCABULARY"))
    found = json.loads(line.split(" ", 1)[1])
    assert set(LAYER_KEYS.values()) == {*found["keys"], "Strategy"}
    assert set(PRECISION_NAMES) == {*found["types"], "default"}


SEED_CODE = """
import sys, tomllib
from pathlib import Path
import hls4ml
from tensorflow.keras.models import load_model
from hlsbox.steps import hls

# The write-up's code, verbatim (its configuration part).
model = load_model('models/model_2_15.keras')
config = hls4ml.utils.config_from_keras_model(model, granularity='name')
for layer in config['LayerName'].keys():
    config['LayerName'][layer]['Precision'] = {
        'weight': 'ap_fixed<16,6>', 'bias': 'ap_fixed<16,6>', 'result': 'ap_fixed<16,6>'
    }
config['Model']['ReuseFactor'] = 32
config['Model']['Strategy'] = 'Resource'
theirs = hls4ml.converters.convert_from_keras_model(
    model, hls_config=config, output_dir='/tmp/theirs', part='xc7z010clg400-1', backend='Vivado')

from hlsbox.core.contract import ImageFlow
flow = ImageFlow.from_dict(tomllib.loads(Path('flows/seed.toml').read_text()))
ours, _ = hls.convert(model, flow, Path('/tmp/ours'))
types = lambda m: {l.name: {k: str(v.precision) for k, v in l.types.items()} for l in m.get_layers()}
print('LAYERS', len(types(theirs)), list(types(theirs)) == list(types(ours)))
print('DIFFERENT', [(n, k) for n, t in types(theirs).items() for k in t if t[k] != types(ours)[n].get(k)])
rf = lambda m: {l.name: l.get_attr('reuse_factor') for l in m.get_layers() if l.get_attr('reuse_factor')}
print('RF', rf(theirs) == rf(ours), sorted(set(rf(theirs).values())))
"""


def test_seed_flow_builds_the_write_ups_design(engine, workspace: Path, seed_model: Path):
    """flows/seed.toml gives every layer the types and the ReuseFactor the write-up's own code gives it: the Model's
    32, which hls4ml moves where it does not split a layer's multiplies (27 for conv2d, 42 for the 1x1 conv2d_2
    over 3 channels, 28 for the rest; the layers without multiplies keep 32)."""
    lines = run_in_image(engine, workspace, SEED_CODE)
    layers = next(x for x in lines if x.startswith("LAYERS")).split()
    assert int(layers[1]) > 15 and layers[2] == "True"
    assert next(x for x in lines if x.startswith("DIFFERENT")) == "DIFFERENT []"
    assert next(x for x in lines if x.startswith("RF")) == "RF True [27, 28, 32, 42]"


PER_LAYER = """
name = "digits_layers"
model = "models/digits_cnn.keras"
part = "xc7z020clg400-1"
reuse_factor = 1
strategy = "Latency"

[precision]
weight = "ap_fixed<16,6>"
result = "ap_fixed<16,6>"

[layer_types.Dense]
reuse_factor = 4
precision = { weight = "ap_fixed<10,3>" }

[layers.output]
reuse_factor = 5
strategy = "Resource"
precision = { accum = "ap_fixed<24,10>", result = "ap_fixed<18,8>" }

[layers.conv]
precision = { weight = "ap_fixed<12,4>" }

[csim]
dataset = "digits"
samples = 200
"""


def _configs(parameters_h: str) -> dict[str, str]:
    """config<N> struct bodies of hls4ml's parameters.h."""
    return dict(re.findall(r"struct (config\d+) : nnet::\w+ \{(.*?)\n\};", parameters_h, flags=re.S))


def test_per_layer_and_per_type_settings_reach_the_generated_project(workspace: Path, engine):
    (workspace / "flows" / "digits_layers.toml").write_text(PER_LAYER)
    result = run_cli("convert", "--flow", "flows/digits_layers.toml", cwd=workspace)
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "weight" in out and "accum" in out and "strategy" in out  # a column for each setting the flow made
    run = workspace / "build" / "digits_layers" / "xc7z020clg400-1" / "convert"
    layers = {row["name"]: row for row in json.loads((run / "result.json").read_text())["layers"]}
    assert layers["dense"]["reuse_used"] == 4
    assert layers["output"]["reuse_asked"] == 5  # the layer's table beats its type's 4 ...
    assert layers["output"]["reuse_used"] == 4  # ... and hls4ml moves 5, which does not split 16 x 10 evenly
    assert "output 5→4" in out
    assert layers["conv"]["reuse_used"] == 1  # the global value where no table says otherwise
    assert layers["output"]["precisions"]["accum"] == "ap_fixed<24,10>" and layers["output"]["strategy"] == "resource"
    assert (
        layers["dense"]["precisions"]["weight"] == "ap_fixed<10,3>"
        and layers["conv"]["precisions"]["weight"] == "ap_fixed<12,4>"
    )
    project = run / "hls4ml_prj"
    config = (project / "hls4ml_config.yml").read_text()
    assert "ap_fixed<24,10>" in config and "ap_fixed<10,3>" in config
    parameters = (project / "firmware" / "parameters.h").read_text()
    structs = _configs(parameters)
    output = next(body for body in structs.values() if "n_out = 10" in body and "reuse_factor = 4" in body)
    assert "nnet::resource" in output or "strategy = nnet::resource" in output
    defines = (project / "firmware" / "defines.h").read_text()
    assert "ap_fixed<10,3>" in defines and "ap_fixed<12,4>" in defines and "ap_fixed<24,10>" in defines
    csim = run_cli("csim", "--flow", "flows/digits_layers.toml", cwd=workspace)
    assert csim.exit_code == 0, csim.output
    data = json.loads((run.parent / "csim" / "result.json").read_text())
    assert data["top1_agreement"] >= 0.9, data


@pytest.mark.parametrize(
    ("table", "phrases"),
    [
        ("[layers.dens]\nreuse_factor = 2\n", ("[layers.dens] names no layer of the model", "closest: dense")),
        ("[layer_types.Dens]\nreuse_factor = 2\n", ("[layer_types.Dens] names no layer class", "closest: Dense")),
        ("[layers.dense]\ntable_size = 512\n", ("[layers.dense] sets TableSize", "Dense", "reuse_factor")),
        ('[layers.dense]\nprecision = { exp_table = "ap_fixed<18,8>" }\n', ("precision.exp_table",)),
    ],
)
def test_a_table_the_model_cannot_take_is_bad_input(workspace: Path, engine, table: str, phrases: tuple[str, ...]):
    text = PER_LAYER.split("[layer_types.Dense]")[0].replace("digits_layers", "digits_bad") + table
    (workspace / "flows" / "digits_bad.toml").write_text(text)
    result = run_cli("convert", "--flow", "flows/digits_bad.toml", "--force", cwd=workspace)
    assert_clean_error(result, 2, "In flow", "digits_bad.toml", *phrases)
    # refused inside the image: nothing left behind (no convert.failed/, no temporary run dir; the step's lock file
    # stays, as after every run)
    left = [p for p in (workspace / "build" / "digits_bad").glob("*/*convert*") if p.suffix != ".lock"]
    assert not left, left


def test_a_qkeras_model_converts_simulates_and_plans_with_its_quantisers(workspace: Path, engine, jet_model: Path):
    flow = "flows/jet_tagger_qkeras.toml"
    result = run_cli("csim", "--flow", flow, cwd=workspace)
    assert result.exit_code == 0, result.output
    run = workspace / "build" / "jet_tagger_qkeras" / "xc7z020clg400-1"
    data = json.loads((run / "csim" / "result.json").read_text())
    assert data["top1_agreement"] >= 0.99, data
    layers = {row["name"]: row for row in data["layers"]}
    assert layers["fc1"]["precisions"]["weight"].startswith("ap_fixed<6,")  # quantized_bits(6, 0)
    assert layers["relu1"]["result_precision"].startswith("ap_ufixed<6,0")  # quantized_relu(6)
    plan = run_cli("plan", "--flow", flow, cwd=workspace)
    assert plan.exit_code == 0, plan.output
    planned = json.loads((run / "plan" / "plan.json").read_text())
    fc1 = next(layer for layer in planned["layers"] if layer["name"] == "fc1")
    assert fc1["weight_width"] == 6


# The form of hls4ml's documentation (docs/api/configuration: "2.2 YAML configuration file").
HLS4ML_YAML = """
KerasJson: models/digits_arch.json
KerasH5: models/digits_weights.h5
OutputDir: my-hls-test
ProjectName: myproject
Part: xc7z020clg400-1
ClockPeriod: 5
Backend: Vivado
IOType: io_parallel
HLSConfig:
  Model:
    Precision: fixed<16,6>
    ReuseFactor: 1
    Strategy: Latency
  LayerType:
    Dense:
      ReuseFactor: 2
      Precision:
        weight: fixed<12,4>
  LayerName:
    output:
      Precision:
        result: fixed<18,8>
"""

SPLIT_MODEL = """
import tensorflow as tf
model = tf.keras.models.load_model("models/digits_cnn.keras")
open("models/digits_arch.json", "w").write(model.to_json())
model.save_weights("models/digits_weights.h5")
"""


def test_an_hls4ml_yaml_config_runs_and_round_trips(workspace: Path, engine, tmp_path: Path):
    run_in_image(engine, workspace, SPLIT_MODEL)
    (workspace / "digits-config.yml").write_text(HLS4ML_YAML)
    result = run_cli("csim", "--flow", "digits-config.yml", cwd=workspace)
    assert result.exit_code == 0, result.output
    run = workspace / "build" / "digits-config" / "xc7z020clg400-1" / "csim"
    layers = {row["name"]: row for row in json.loads((run / "result.json").read_text())["layers"]}
    assert layers["dense"]["reuse_used"] == 2 and layers["dense"]["precisions"]["weight"] == "ap_fixed<12,4>"
    assert layers["output"]["result_precision"] == "ap_fixed<18,8>"
    imported = run_cli("flow", "import", "digits-config.yml", "--out", "flows/imported.toml", cwd=workspace)
    assert imported.exit_code == 0, imported.output
    exported = run_cli("flow", "export", "--flow", "flows/imported.toml", "--out", "exported.yml", cwd=workspace)
    assert exported.exit_code == 0, exported.output
    again = run_cli("flow", "import", "exported.yml", "--out", "flows/again.toml", cwd=workspace)
    assert again.exit_code == 0, again.output
    assert (workspace / "flows" / "again.toml").read_text().split("\n", 1)[1] == (
        workspace / "flows" / "imported.toml"
    ).read_text().split("\n", 1)[1]
    text = (workspace / "exported.yml").read_text()
    assert "KerasJson: models/digits_arch.json" in text and "HLSConfig:" in text
