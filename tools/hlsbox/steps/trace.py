"""Where C simulation and Keras part ways: every layer's output compared (hls4ml's trace)."""

from __future__ import annotations

import numpy as np

# A layer "diverges" when its max |Keras - HLS| exceeds this share of its Keras output range.
DIVERGES_ABOVE = 0.1


def _hls_name(layer, traced: dict) -> str | None:
    """hls4ml splits a Keras layer's activation into `<name>_<activation>`: compare after it."""
    activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
    for name in (f"{layer.name}_{activation}", layer.name):
        if name in traced:
            return name
    return None


def _folded_into(layer, traced: dict) -> str | None:
    """The traced layer a BatchNormalization without a trace of its own reads from (hls4ml folded it into that)."""
    try:
        inbound = layer._inbound_nodes[0].inbound_layers
    except (AttributeError, IndexError):
        return None
    inbound = inbound if isinstance(inbound, list) else [inbound]
    return _hls_name(inbound[0], traced) if len(inbound) == 1 else None


def _range_limit(hls_model, name: str) -> float | None:
    precision = hls_model.graph[name].get_output_variable().type.precision
    integer, signed = getattr(precision, "integer", None), getattr(precision, "signed", True)
    if integer is None:
        return None
    return float(2.0 ** (integer - 1)) if signed else float(2.0**integer)


def trace_layers(model, hls_model, x: np.ndarray) -> list[dict]:
    """Every layer's output against tf.keras's; empty on the other toolchains (no TensorFlow there)."""
    from hlsbox.steps import frontends

    if frontends.active() != "keras2":
        return []
    import tensorflow as tf

    _, traced = hls_model.trace(np.ascontiguousarray(x))
    layers = [layer for layer in model.layers if not isinstance(layer, tf.keras.layers.InputLayer)]
    outputs = tf.keras.Model(model.inputs, [layer.output for layer in layers])(x)
    outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
    rows = []
    for layer, out in zip(layers, outputs, strict=True):
        name = _hls_name(layer, traced)
        if name is None and isinstance(layer, tf.keras.layers.BatchNormalization):
            name = _folded_into(layer, traced)  # hls4ml folded it into the layer before: compare that one after it
            rows = [row for row in rows if row["layer"] != name]
        if name is None:
            continue
        keras_out = np.asarray(out).reshape(len(x), -1)
        hls_out = np.asarray(traced[name]).reshape(len(x), -1)
        if keras_out.shape != hls_out.shape:
            continue
        keras_max = float(np.abs(keras_out).max())
        limit = _range_limit(hls_model, name)
        diff = float(np.abs(keras_out - hls_out).max())
        rows.append(
            {
                "layer": name,
                "keras_max": keras_max,
                "hls_max": float(np.abs(hls_out).max()),
                "max_abs_diff": diff,
                "relative_diff": diff / keras_max if keras_max else 0.0,
                "range_limit": limit,
                "overflow": bool(limit is not None and keras_max >= limit),
            }
        )
    return rows


def first_divergence(rows: list[dict]) -> dict | None:
    return next((r for r in rows if r["overflow"] or r["relative_diff"] > DIVERGES_ABOVE), None)
