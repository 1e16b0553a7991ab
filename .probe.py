"""Run in the image (`make estimator-data`): each recorded design of tests/data/estimator/designs/ through
hlsbox's own describe step, as hls4ml 1.3.0 converts it; written to <out>/<id>.json (the repository keeps them in
tests/data/estimator/described/). Arguments: the data directory, the output directory, optionally design ids.

The model is rebuilt from its recorded Keras JSON with the recorded seed; its hls4ml config is
config_from_keras_model(granularity='model') deep-updated with the recorded one (what was synthesised): a type
the record does not set takes the Model precision, as it did in the hls4ml versions these designs were made with
(their reports' module names show it), not hls4ml 1.3's 'auto'. Where the record has the real weights' statistics
(fidelity "exact"), they replace those of the rebuilt weights; where it states a pruned design's sparsity, the
rebuilt kernels are pruned to it.
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
from pathlib import Path

import hls4ml
import numpy as np
import tensorflow as tf

from hlsbox.core.contract import WeightStats
from hlsbox.steps.describe import describe_layer

DATA = Path(sys.argv[1])
OUT = Path(sys.argv[2])
ONLY = set(sys.argv[3:])


def deep_update(base: dict, update: dict) -> dict:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def prune(model, sparsity: float) -> None:
    """Magnitude pruning of every kernel to the sparsity the source states (pruned designs whose weights are
    not public): the smallest |w| become zero, as tfmot's pruning leaves them."""
    for layer in model.layers:
        weights = layer.get_weights()
        if weights and weights[0].ndim >= 2:
            kernel = weights[0]
            cut = np.quantile(np.abs(kernel), sparsity)
            weights[0] = np.where(np.abs(kernel) <= cut, 0.0, kernel).astype(kernel.dtype)
            layer.set_weights(weights)


def describe(record: dict) -> dict:
    tf.keras.utils.set_random_seed(record["weights"].get("seed", 0))
    model = tf.keras.models.model_from_json(json.dumps(record["model"]))
    if record["weights"].get("sparsity"):
        prune(model, record["weights"]["sparsity"])
    backend = "Vivado" if record["backend"] == "VivadoAccelerator" else record["backend"]
    config = deep_update(
        hls4ml.utils.config_from_keras_model(model, granularity="model", backend=backend), record["hls_config"]
    )
    with tempfile.TemporaryDirectory() as tmp:
        hls_model = hls4ml.converters.convert_from_keras_model(
            model,
            hls_config=config,
            io_type=record["io_type"],
            part=record["part"],
            backend=backend,
            clock_period=record["clock_period"],
            output_dir=f"{tmp}/prj",
        )
    layers = [describe_layer(layer, hls_model.config.get_reuse_factor(layer)) for layer in hls_model.get_layers()]
    stats = record["weights"].get("stats") or {}
    for i, row in enumerate(layers):
        if row.name in stats and row.weights is not None:
            recorded = WeightStats(**{k: stats[row.name][k] for k in ("total", "zero", "pow2", "odd_bits_hist")})
            layers[i] = row.replace(weights=recorded, weights_from="record")
    return {"id": record["id"], "io_type": record["io_type"], "layers": [row.to_dict() for row in layers]}


for path in sorted((DATA / "designs").glob("*.json")):
    record = json.loads(path.read_text())
    if ONLY and record["id"] not in ONLY:
        continue
    described = describe(record)
    (OUT / path.name).write_text(json.dumps(described, indent=1, sort_keys=True) + "\n")
    print("DESCRIBED", record["id"], len(described["layers"]), flush=True)
