"""Run in the image by tests/integration/test_fastcsim_definitions.py: a CNN whose hls4ml project defines (not only
declares) constants in parameters.h, built split and compared with hls4ml's own build.

Keras' Permute becomes hls4ml's Transpose, whose config defines `unsigned configN_perm[]` and `configN::perm` in
parameters.h; a hard_sigmoid becomes a HardActivation, whose config defines `configN::slope` and `shift` there. The
project is converted (Vivado, io_parallel), built by fastcsim with the split build asked for, and by hls4ml's own
build_lib.sh, and both libraries' outputs are compared bit for bit on 300 random inputs. Prints `CASE {...}`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import hls4ml
import numpy as np
import tensorflow as tf
from tensorflow.keras import layers as L

from hlsbox.steps import fastcsim

OUT = sys.argv[1]
TREE = os.path.join(OUT, "fast_tree")
N_INPUTS = 300


def keras_model() -> tf.keras.Model:
    tf.keras.utils.set_random_seed(7)
    inp = L.Input((6, 5, 3))
    x = L.Conv2D(4, 3, padding="same", name="conv1")(inp)
    x = L.Permute((2, 1, 3), name="swap_rows_columns")(x)
    x = L.Activation("hard_sigmoid", name="hard")(x)
    x = L.Conv2D(3, 2, name="conv2")(x)
    x = L.Flatten(name="flatten")(x)
    return tf.keras.Model(inp, L.Dense(5, name="dense")(x), name="definitions")


def convert(model: tf.keras.Model, project: str):
    config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="Vivado")
    config["Model"].update(Strategy="Latency", ReuseFactor=1, Precision="ap_fixed<16,6>")
    hls_model = hls4ml.converters.convert_from_keras_model(
        model, hls_config=config, output_dir=project, backend="Vivado", io_type="io_parallel"
    )
    hls_model.write()
    return hls_model


model = keras_model()
project = os.path.join(OUT, "prj")
hls_model = convert(model, project)
classes = [layer.class_name for layer in hls_model.get_layers()]
parameters = Path(project, "firmware", "parameters.h").read_text()
told: list[str] = []
fast = fastcsim.fast_compile(
    hls_model, TREE, ccache_dir=os.path.join(OUT, "cache"), log=None, split=True, progress=told.append
)
rng = np.random.default_rng(11)
x = np.ascontiguousarray(rng.uniform(-4, 4, (N_INPUTS, *model.input_shape[1:])).astype(np.float32))
y_fast = np.array(hls_model.predict(x))
exact = fastcsim.build(project, parallel=False, log=None)  # hls4ml's own build_lib.sh, unchanged
fastcsim.attach(hls_model, exact.lib)
y_exact = np.array(hls_model.predict(x))
row = {
    "classes": classes,
    "defines_perm": "_perm[" in parameters and "::perm = " in parameters,
    "defines_slope": "::slope = " in parameters,
    "mode": fast.mode,
    "split": fast.library.split if fast.library else None,
    "units": fast.library.units if fast.library else 0,
    "not_split": fast.library.not_split if fast.library else None,
    "told": told,
    "inputs": len(x),
    "identical": bool(np.array_equal(y_fast, y_exact)),
    "nonzero": float(np.mean(y_exact != 0)),
    "distinct": len(np.unique(y_exact)),
}
print("CASE", json.dumps(row), flush=True)
