"""Run in the image by tests/integration/test_fastcsim.py: for each CNN, hls4ml's own C build vs hlsbox's fast build.

Per case: convert (Vivado, io_parallel, ap_fixed<16,6>), write, recognise and prove every fill_buffer class
(Python mapping proof; C++ harness that also compiles and runs hls4ml's generated classes, partition by
partition), build the fast tree, build the project exactly as hls4ml does (its build_lib.sh, as
FPGABackend.compile runs it), and compare both libraries' outputs bit for bit on 500 random inputs. Prints one
JSON line per case: `CASE {...}`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.keras import layers as L

from hlsbox.steps import fastcsim

OUT = sys.argv[1]
TREE = "/tmp/fastcsim-tree"
N_INPUTS = 500


def model(name, seed, shape, build):
    tf.keras.utils.set_random_seed(seed)
    inp = L.Input(shape)
    return tf.keras.Model(inp, build(inp), name=name)


def res_block(x, filters, stride, name):
    shortcut = x
    y = L.Conv2D(filters, 3, strides=stride, padding="same", name=f"{name}_conv1")(x)
    y = L.BatchNormalization(name=f"{name}_bn1")(y)
    y = L.Activation("relu", name=f"{name}_relu1")(y)
    y = L.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
    y = L.BatchNormalization(name=f"{name}_bn2")(y)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = L.Conv2D(filters, 1, strides=stride, name=f"{name}_proj")(x)
    return L.Activation("relu", name=f"{name}_out")(L.Add(name=f"{name}_add")([y, shortcut]))


def seq(*layers):
    def build(x):
        for layer in layers:
            x = layer(x)
        return x

    return build


def reduced_seed(x):
    x = L.Activation("relu", name="stem_relu")(
        L.BatchNormalization(name="stem_bn")(L.Conv2D(8, 3, padding="same", name="stem")(x))
    )
    x = res_block(res_block(x, 8, 1, "s1"), 12, 2, "s2")
    return L.Dense(10, name="logits")(L.GlobalAveragePooling2D(name="gap")(x))


MODELS = {
    "digits": lambda: tf.keras.models.load_model(os.environ["DIGITS_MODEL"], compile=False),
    "conv2d_mix": lambda: model(
        "conv2d_mix",
        2,
        (9, 8, 3),
        seq(
            L.Conv2D(4, 3, padding="same", name="same_s1"),
            L.Conv2D(5, 3, strides=2, padding="same", name="same_s2"),  # asymmetric padding
            L.Conv2D(6, (2, 3), strides=(1, 2), padding="same", name="same_k23_s12"),
            L.Conv2D(4, (3, 2), strides=(2, 1), padding="valid", name="valid_k32_s21"),
            L.Flatten(),
            L.Dense(5),
        ),
    ),
    "conv2d_valid_s2": lambda: model(
        "conv2d_valid_s2",
        3,
        (10, 10, 2),
        seq(L.Conv2D(4, 3, strides=2, name="valid_s2"), L.Conv2D(4, 3, name="valid_s1"), L.Flatten()),
    ),
    "conv1d_mix": lambda: model(
        "conv1d_mix",
        4,
        (16, 3),
        seq(
            L.Conv1D(4, 3, padding="same", name="c1_same"),
            L.Conv1D(5, 5, strides=2, name="c1_valid_s2"),
            L.Conv1D(4, 3, padding="causal", name="c1_causal"),
            L.Conv1D(3, 4, strides=2, padding="same", name="c1_same_s2"),
            L.Conv1D(6, 1, name="c1_pointwise"),
            L.Flatten(),
        ),
    ),
    "pointwise": lambda: model(
        "pointwise",
        5,
        (6, 6, 4),
        seq(
            L.Conv2D(8, 1, name="pw_s1"),
            L.Conv2D(6, 1, strides=2, name="pw_s2"),
            L.Conv2D(5, 1, strides=2, padding="same", name="pw_s2_same"),
            L.Flatten(),
        ),
    ),
    "parallelization": lambda: model(
        "parallelization",
        8,
        (8, 8, 2),
        seq(
            L.Conv2D(4, 3, padding="same", name="pf_same"),
            L.Conv2D(4, 3, strides=2, padding="same", name="pf_s2"),
            L.Conv2D(4, 1, name="pf_pw"),
            L.Reshape((16, 4)),
            L.Conv1D(3, 3, padding="same", name="pf_c1"),
            L.Flatten(),
        ),
    ),
    "depthwise": lambda: model(
        "depthwise",
        6,
        (8, 8, 3),
        seq(
            L.DepthwiseConv2D(3, padding="same", name="dw_same"), L.SeparableConv2D(6, 3, name="sep_valid"), L.Flatten()
        ),
    ),
    "reduced_seed": lambda: model("reduced_seed", 9, (12, 12, 3), reduced_seed),
}
PF = {"pf_same": 4, "pf_s2": 2, "pf_pw": 16, "pf_c1": 4}
CASES = {
    "digits_latency": ("digits", "Latency", 1),
    "digits_resource": ("digits", "Resource", 3),
    "conv2d_mix_latency": ("conv2d_mix", "Latency", 1),
    "conv2d_valid_s2_resource": ("conv2d_valid_s2", "Resource", 2),
    "conv1d_mix_latency": ("conv1d_mix", "Latency", 1),
    "conv1d_mix_resource": ("conv1d_mix", "Resource", 3),
    "pointwise_resource": ("pointwise", "Resource", 2),
    "parallelization_latency": ("parallelization", "Latency", 1),
    "parallelization_resource": ("parallelization", "Resource", 2),
    "depthwise_latency": ("depthwise", "Latency", 1),
    "reduced_seed_latency": ("reduced_seed", "Latency", 1),
    "reduced_seed_resource": ("reduced_seed", "Resource", 4),
    # after reduced_seed_latency: one layer's types differ, so the split build takes the other layers' objects
    # from its cache (what a fit probe does), and must still be hls4ml's build bit for bit
    "reduced_seed_latency_one_layer_narrower": ("reduced_seed", "Latency", 1, {"s2_conv2": "ap_fixed<9,4>"}),
}


def convert(keras_model, out_dir, strategy, reuse, precision=None):
    import hls4ml

    config = hls4ml.utils.config_from_keras_model(keras_model, granularity="model", backend="Vivado")
    config["Model"].update(Strategy=strategy, ReuseFactor=reuse, Precision="ap_fixed<16,6>")
    config["LayerName"] = {name: {"ParallelizationFactor": pf} for name, pf in PF.items()}
    for name, types in (precision or {}).items():
        config["LayerName"][name] = {"Precision": {"result": types, "weight": types}}
    hls_model = hls4ml.converters.convert_from_keras_model(
        keras_model, hls_config=config, output_dir=out_dir, backend="Vivado", io_type="io_parallel"
    )
    hls_model.write()
    return hls_model


def run_case(name, model_name, strategy, reuse, precision=None):
    keras_model = MODELS[model_name]()
    project = os.path.join(OUT, name)
    hls_model = convert(keras_model, project, strategy, reuse, precision)
    recs = fastcsim.recognise(project)
    row = {"case": name, "classes": len(recs), "unrecognised": [str(r) for r in fastcsim.unrecognised(recs)]}
    row["mapping_ok"], row["cxx"] = fastcsim.verify_cxx(project, recs, with_generated=True, log=None)
    fast = fastcsim.fast_compile(hls_model, TREE, log=None, split=True)  # as fit's probes build it
    row["mode"] = fast.mode
    row.update({k: getattr(fast.library, k, None) for k in ("split", "units", "compiled", "from_cache")})
    rng = np.random.default_rng(sum(map(ord, name)))
    x = np.ascontiguousarray(rng.uniform(-4, 4, (N_INPUTS, *keras_model.input_shape[1:])).astype(np.float32))
    y_fast = np.array(hls_model.predict(x))
    once = fastcsim.fast_compile(hls_model, TREE, log=None)  # as csim builds it: the rule's choice, two units
    row["once_split"] = once.library.split if once.library else None
    y_once = np.array(hls_model.predict(x))
    exact = fastcsim.build(project, parallel=False, log=None)  # hls4ml's own build_lib.sh, unchanged
    fastcsim.attach(hls_model, exact.lib)
    y_exact = np.array(hls_model.predict(x))
    if name == "conv2d_mix_latency":
        row["negative_control_differs"] = negative_control(project, hls_model, x, y_exact)
    row.update(
        inputs=len(x),
        identical=bool(np.array_equal(y_fast, y_exact)),
        once_identical=bool(np.array_equal(y_once, y_exact)),
        nonzero=float(np.mean(y_exact != 0)),
        fast_seconds=round(fast.seconds, 2),
        exact_seconds=round(exact.seconds, 2),
        generated_kb=round(os.path.getsize(os.path.join(project, "firmware/nnet_utils/nnet_code_gen.h")) / 1024),
    )
    return row


MUTATIONS = {  # edits of a real project that a strict recogniser must refuse (-> hls4ml's own build)
    "header": lambda cg, pa: (cg.replace("const unsigned partition", "unsigned partition", 1), pa),
    "wrong_index": lambda cg, pa: (
        re.sub(r"(buffer\[0\]\[1\] = +data\[)(\d+)", lambda m: m.group(1) + str(int(m.group(2)) + 1), cg, count=1),
        pa,
    ),
    "statement": lambda cg, pa: (cg.replace("buffer[0][0] =", "buffer[0][0] +=", 1), pa),
    "missing_copy": lambda cg, pa: (re.sub(r" buffer\[0\]\[2\] = +[^;]+;", "", cg, count=1), pa),
    "padding_value": lambda cg, pa: (re.sub(r"= +0;", "= data[0];", cg, count=1), pa),
    "config_geometry": lambda cg, pa: (cg, pa.replace("stride_width = 1;", "stride_width = 2;", 1)),
    "other_format": lambda cg, pa: (
        cg.replace(
            "// hls4ml insert code",
            "// hls4ml insert code\ntemplate<class data_T, typename CONFIG_T> struct fill_buffer_99 {};",
        ),
        pa,
    ),
}


def mutations(project):
    found = {}
    for name, mutate in MUTATIONS.items():
        copy = f"{project}_mutated_{name}"
        shutil.copytree(project, copy, ignore=shutil.ignore_patterns("*.so", "tb_data"))
        code_gen, parameters = Path(copy, "firmware/nnet_utils/nnet_code_gen.h"), Path(copy, "firmware/parameters.h")
        cg, pa = mutate(code_gen.read_text(), parameters.read_text())
        code_gen.write_text(cg)
        parameters.write_text(pa)
        found[name] = bool(fastcsim.unrecognised(fastcsim.recognise(copy)))
        shutil.rmtree(copy)
    return found


def negative_control(project, hls_model, x, y_exact):
    """The comparison can fail: a template shifted by one column of padding gives other outputs."""
    fastcsim.make_fast_tree(project, TREE, fastcsim.recognise(project))
    code_gen = Path(TREE, "firmware/nnet_utils/nnet_code_gen.h")
    text = code_gen.read_text()
    match = re.search(r"::fastcsim::im2col_2d<([^>]*)>", text)
    args = [a.strip() for a in match.group(1).split(",")]
    args[8] = str(int(args[8]) + 1)  # PL, the left padding
    code_gen.write_text(text[: match.start(1)] + ", ".join(args) + text[match.end(1) :])
    fastcsim.attach(hls_model, fastcsim.build(TREE, log=None).lib)
    return not np.array_equal(np.array(hls_model.predict(x)), y_exact)


for case, spec in CASES.items():
    row = run_case(case, *spec)
    if case == "conv2d_mix_latency":
        row["mutations_refused"] = mutations(os.path.join(OUT, case))
    print("CASE", json.dumps(row), flush=True)
