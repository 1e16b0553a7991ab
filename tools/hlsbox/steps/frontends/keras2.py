"""keras2: TF 2.15's tf.keras, as the seed ran it (QKeras and HGQ layers loaded with their custom objects; a Keras
JSON architecture with its weights file, hls4ml's KerasJson + KerasH5)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from hlsbox.steps.frontends.keras import KerasFrontend
from hlsbox.steps.protocol import StepInputError


class Keras2(KerasFrontend):
    name = "keras2"
    readable_errors = (OSError, ValueError, zipfile.BadZipFile, KeyError, TypeError, EOFError)

    def read(self, path: Path, weights: Path | None):
        import tensorflow as tf

        if path.suffix.lower() == ".json":  # hls4ml's KerasJson + KerasH5
            model = tf.keras.models.model_from_json(path.read_text(), custom_objects=custom_objects())
            if weights is not None:
                model.load_weights(weights)
            return model
        return tf.keras.models.load_model(path, compile=False, custom_objects=custom_objects())

    def unreadable(self, path: Path, why: str) -> StepInputError:
        return StepInputError(
            f"'{path}' could not be loaded as a Keras model: {why}.",
            "Check that it is a complete .keras or .h5 file saved by TF 2.15 / Keras 2; re-make it with its script.",
        )

    def functional(self):
        import tensorflow as tf

        return tf.keras.Model

    def parsed_layers(self, model) -> list[dict]:
        """hls4ml's parse (what config_from_keras_model walks), a softmax activation's class named 'Softmax' as
        hls4ml's config names it."""
        import json

        from hls4ml.converters.keras_v2_to_hls import KerasModelReader, parse_keras_model

        layers, *_ = parse_keras_model(json.loads(model.to_json()), KerasModelReader(model))
        for layer in layers:
            if (layer.get("config") or {}).get("activation") == "softmax" or layer.get("activation") == "softmax":
                layer["class_name"] = (
                    "Softmax" if layer["class_name"] in ("Activation", "Softmax") else layer["class_name"]
                )
        return layers

    def input_shape(self, model) -> tuple[int, ...]:
        return tuple(model.input_shape[1:])

    def versions(self) -> dict[str, str]:
        import tensorflow as tf

        return {"toolchain": self.name, "tensorflow": tf.__version__}


def custom_objects() -> dict:
    """Keras objects of the quantisation libraries in the image (QKeras, HGQ), for loading their models."""
    objects: dict = {}
    try:
        from qkeras.utils import _add_supported_quantized_objects

        _add_supported_quantized_objects(objects)
    except ImportError:  # an image without QKeras: plain Keras models still load
        pass
    try:
        import HGQ.layers

        objects.update({name: getattr(HGQ.layers, name) for name in dir(HGQ.layers) if name.startswith(("H", "P"))})
    except ImportError:
        pass
    return objects


FRONTEND = Keras2()
