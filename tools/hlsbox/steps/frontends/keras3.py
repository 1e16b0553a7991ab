"""keras3: Keras 3 on JAX (HGQ2 layers); hls4ml's Keras entry points read Keras 3 models themselves."""

from __future__ import annotations

from pathlib import Path

from hlsbox.steps.frontends.keras import KerasFrontend
from hlsbox.steps.protocol import StepInputError


class Keras3(KerasFrontend):
    name = "keras3"
    packages = ("keras", "jax", "hgq2")

    def read(self, path: Path, weights: Path | None):
        import hgq  # noqa: F401  (registers HGQ2's layers with Keras: an HGQ2 model loads only after it)
        import keras

        return as_functional(keras.saving.load_model(path, compile=False), path)

    def functional(self):
        import keras

        return keras.Model

    def parsed_layers(self, model) -> list[dict]:
        import hls4ml

        layers, *_ = hls4ml.converters.parse_keras_v3_model(model)
        return layers


def as_functional(model, path: Path):
    """A Keras 3 Sequential model as the functional model of the same layers, rebuilt as Keras 3 itself recommends
    (`keras.Input`, then each layer called in turn; each a copy from its config, with its weights): a Sequential
    model defines no `input` and no per-layer outputs of its own until called, and every step (hls4ml's profiling,
    the per-layer trace) reads them. A functional model is returned as it is."""
    import keras

    if not isinstance(model, keras.Sequential):
        return model
    if not model.built:
        raise StepInputError(
            f"The Keras 3 Sequential model in '{path}' has no input shape: it was saved before it was built.",
            "Give it one and save it again: keras.Input(shape) as its first layer, or model.build((None, *shape)).",
        )
    inputs = keras.Input(shape=tuple(model.inputs[0].shape[1:]), dtype=model.inputs[0].dtype)
    outputs = inputs
    for layer in model.layers:
        copy = type(layer).from_config(layer.get_config())
        outputs = copy(outputs)
        copy.set_weights(layer.get_weights())
    return keras.Model(inputs, outputs, name=model.name)


FRONTEND = Keras3()
