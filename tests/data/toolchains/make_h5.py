"""Makes the .h5 files of tests/unit/test_toolchains.py, in the keras2 image (TF 2.15, h5py):

    docker run --rm -v "$PWD/tests/data/toolchains:/out" --entrypoint python <keras2 image> /out/make_h5.py /out

- keras_2_15.h5: a 3 -> 2 Dense model saved by tf.keras 2.15 (`save_format="h5"`), as Keras 2 writes it.
- keras_3_10.h5: an HDF5 file with the root attributes Keras 3.10's legacy h5 writer sets (keras_version and
  backend as fixed-length byte strings, model_config as JSON); written with h5py, since this image has no Keras 3.
- plain.h5: an HDF5 file with one dataset and no Keras attributes.
"""

import json
import sys
from pathlib import Path

import h5py
import numpy as np
import tensorflow as tf

out = Path(sys.argv[1])
model = tf.keras.Sequential([tf.keras.layers.Input((3,)), tf.keras.layers.Dense(2, name="dense")])
model.save(out / "keras_2_15.h5", save_format="h5")
with h5py.File(out / "keras_3_10.h5", "w") as f:
    f.attrs["keras_version"] = b"3.10.0"
    f.attrs["backend"] = b"jax"
    f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"name": "sequential"}}).encode()
    f.create_group("model_weights")
with h5py.File(out / "plain.h5", "w") as f:
    f.create_dataset("x", data=np.arange(4.0))
