"""What the Keras frontends share (keras2's tf.keras, Keras 3): hls4ml's Keras config and conversion, Keras'
predict, and each layer's Keras output by the name hls4ml gives it."""

from __future__ import annotations

import numpy as np

from hlsbox.steps.frontends import Frontend, Reference


class KerasFrontend(Frontend):
    def functional(self):
        """The Keras functional Model class of this frontend."""
        raise NotImplementedError

    def config_from_model(self, model, granularity: str, backend: str) -> dict:
        import hls4ml

        return hls4ml.utils.config_from_keras_model(model, granularity=granularity, backend=backend)

    def convert(self, model, **kwargs):
        import hls4ml

        return hls4ml.converters.convert_from_keras_model(model, **kwargs)

    def predict(self, model, x: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(x, verbose=0))

    def layer_outputs(self, model, x: np.ndarray) -> list[tuple[object, np.ndarray]]:
        """Every layer of the model (its InputLayer left out) with its output on x."""
        layers = [layer for layer in model.layers if not any(c.__name__ == "InputLayer" for c in type(layer).__mro__)]
        outputs = self.functional()(model.inputs, [layer.output for layer in layers])(x)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        return [(layer, np.asarray(out)) for layer, out in zip(layers, outputs, strict=True)]

    def layer_references(self, model, hls_model, traced: dict, x: np.ndarray) -> list[Reference]:
        found: list[Reference] = []
        for layer, out in self.layer_outputs(model, x):
            name = hls_name(layer, traced)
            if name is None and any(cls.__name__ == "BatchNormalization" for cls in type(layer).__mro__):
                name = folded_into(layer, traced)  # hls4ml folded it into the layer before: compare that one after it
                found = [row for row in found if row[0] != name]
            if name is not None:
                found.append((name, out, 1.0))
        return found


def hls_name(layer, traced: dict) -> str | None:
    """hls4ml splits a Keras layer's activation into `<name>_<activation>`: compare after it."""
    activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
    for name in (f"{layer.name}_{activation}", layer.name):
        if name in traced:
            return name
    return None


def folded_into(layer, traced: dict) -> str | None:
    """The traced layer a BatchNormalization without a trace of its own reads from (hls4ml folded it into that)."""
    try:
        inbound = layer._inbound_nodes[0].inbound_layers
    except (AttributeError, IndexError):
        return None
    inbound = inbound if isinstance(inbound, list) else [inbound]
    return hls_name(inbound[0], traced) if len(inbound) == 1 else None
