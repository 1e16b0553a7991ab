"""The model frontend of the image the step runs in: HLSBOX_TOOLCHAIN, which the host sets for the keras3 and
qonnx toolchains (hlsbox.runtime.toolchains); unset, keras2 (TF 2.15), whose code stays in hls.py.

- keras3: Keras 3 (`keras.saving.load_model`); hls4ml's Keras entry points read Keras 3 models themselves.
- qonnx: a QONNX or plain ONNX file through qonnx's cleanup and channels-last conversion, as hls4ml's ONNX
  documentation prescribes (clean, to channels-last, Gemm to MatMul, clean again); the reference outputs are
  qonnx's own execution of that model (Quant nodes included, which onnxruntime alone cannot run).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hlsbox.steps.protocol import StepFailure, StepInputError


def active() -> str:
    return os.environ.get("HLSBOX_TOOLCHAIN", "keras2")


def is_onnx() -> bool:
    return active() == "qonnx"


def load(path: Path):
    """The model, for a toolchain other than keras2."""
    if not path.is_file():
        raise StepInputError(f"Model file '{path}' does not exist.", "Make it first (see models/, `make models`).")
    try:
        return _load_onnx(path) if is_onnx() else _load_keras3(path)
    except (StepInputError, StepFailure):  # explained already
        raise
    except Exception as exc:  # each library raises its own types for a damaged file
        raise StepInputError(
            f"'{path}' could not be loaded by the {active()} toolchain: {str(exc).strip().splitlines()[0][:300]}.",
            "Check that the file is complete; re-make it with its script.",
        ) from exc


def _load_keras3(path: Path):
    import keras

    return as_functional(keras.saving.load_model(path, compile=False), path)


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


def _load_onnx(path: Path):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    from hlsbox.steps import repairs

    model = cleanup_model(ModelWrapper(str(path)))
    written = repairs.onnx_defaults(model)
    model = model.transform(ConvertToChannelsLastAndClean(make_input_channels_last=True))
    model = model.transform(GemmToMatMul())
    model = cleanup_model(model)
    model.hlsbox_repairs = written  # said with the conversion's own repairs (hls.convert)
    return model


def config_from_model(model, granularity: str, backend: str) -> dict:
    import hls4ml

    if is_onnx():
        return hls4ml.utils.config_from_onnx_model(model, granularity=granularity, backend=backend)
    return hls4ml.utils.config_from_keras_model(model, granularity=granularity, backend=backend)


def convert_from_model(model, **kwargs):
    import hls4ml

    if is_onnx():
        with created_layers_keep_their_types(set(created_layers(parsed_layers(model)))):
            return hls4ml.converters.convert_from_onnx_model(model, **kwargs)
    return hls4ml.converters.convert_from_keras_model(model, **kwargs)


def created_layers(parsed: list[dict]) -> dict[str, str]:
    """Layers hls4ml makes as it converts a QONNX graph that a flow's [layers.X] table may set: the ApplyAlpha
    `<Quant>_rescale` of each Quant node (its scale put back; hls4ml infers its type, often wide: ap_fixed<40,20>
    before a 4-bit activation) and `<Quant>_scale` (its input divided by the scale, where the Quant reads a
    computed tensor) -> their class. Only on qonnx."""
    if not is_onnx():
        return {}
    quants = [layer["name"] for layer in parsed if layer["class_name"] == "Quant"]
    return {f"{quant}{suffix}": "ApplyAlpha" for quant in quants for suffix in ("_scale", "_rescale")}


PINNED = ("ReuseFactor",)  # what a created layer keeps of its own config entry, besides its types


@contextlib.contextmanager
def created_layers_keep_their_types(names: set[str]) -> Iterator[None]:
    """hls4ml gives a layer it makes from a Quant node a copy of the Quant node's config (HLSConfig.set_name_config
    and parse_name_config), which replaces the layer's own config entry: the precision and ReuseFactor a flow (or
    fit) sets for it would be lost. During the conversion the types and the ReuseFactor in that entry are put back
    over the copy (the rest is hls4ml's)."""
    from hls4ml.model.graph import HLSConfig

    set_name, parse_name = HLSConfig.set_name_config, HLSConfig.parse_name_config

    def pinned(config: HLSConfig, name: str, layer_config: dict) -> dict:
        pins = config.__dict__.setdefault("_hlsbox_pins", {})
        given = config.config["HLSConfig"].get("LayerName", {}).get(name)
        if name in names and name not in pins and isinstance(given, dict):
            precision = given.get("Precision")
            pins[name] = {key: given[key] for key in PINNED if key in given}
            pins[name]["Precision"] = dict(precision) if isinstance(precision, dict) else {}
        if name not in pins:
            return layer_config
        precision = layer_config.get("Precision")
        return {
            **layer_config,
            **{key: value for key, value in pins[name].items() if key != "Precision"},
            "Precision": {**(precision if isinstance(precision, dict) else {}), **pins[name]["Precision"]},
        }

    HLSConfig.set_name_config = lambda self, name, cfg: set_name(self, name, pinned(self, name, cfg))
    HLSConfig.parse_name_config = lambda self, name, cfg: parse_name(self, name, pinned(self, name, cfg))
    try:
        yield
    finally:
        HLSConfig.set_name_config, HLSConfig.parse_name_config = set_name, parse_name


def parsed_layers(model) -> list[dict]:
    """hls4ml's own parse of the model: each layer's name and class as hls4ml's config names them."""
    import hls4ml

    if is_onnx():
        layers, *_ = hls4ml.converters.parse_onnx_model(model)
    else:
        layers, *_ = hls4ml.converters.parse_keras_v3_model(model)
    return layers


def input_shape(model) -> tuple[int, ...]:
    """One input's shape, without the batch axis (channels last)."""
    if active() == "keras2":
        return tuple(model.input_shape[1:])
    if is_onnx():
        return tuple(int(d) for d in model.get_tensor_shape(model.graph.input[0].name)[1:])
    return tuple(int(d) for d in model.inputs[0].shape[1:])


def predict(model, x: np.ndarray) -> np.ndarray:
    """The frontend's own outputs: Keras 3 `predict`, or qonnx's execution of the cleaned channels-last graph."""
    if not is_onnx():
        return np.asarray(model.predict(x, verbose=0))
    from qonnx.core.onnx_exec import execute_onnx

    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    outputs = [execute_onnx(model, {name_in: x[i : i + 1].astype(np.float32)})[name_out] for i in range(len(x))]
    return np.concatenate(outputs)


def keras_layer_outputs(model, x: np.ndarray) -> list[tuple[object, np.ndarray]]:
    """Every layer of a Keras model (its InputLayer left out) with its output on x: tf.keras on keras2, Keras 3."""
    if active() == "keras2":
        import tensorflow as tf

        functional = tf.keras.Model
    else:
        import keras

        functional = keras.Model
    layers = [layer for layer in model.layers if not any(c.__name__ == "InputLayer" for c in type(layer).__mro__)]
    outputs = functional(model.inputs, [layer.output for layer in layers])(x)
    outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
    return [(layer, np.asarray(out)) for layer, out in zip(layers, outputs, strict=True)]


def onnx_tensors(model, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every tensor qonnx's execution computes for each input (return_full_exec_context), stacked over the inputs:
    tensor name -> (inputs, ...). Constants (weights, quantiser parameters) left out."""
    from qonnx.core.onnx_exec import execute_onnx

    name_in = model.graph.input[0].name
    constants = {init.name for init in model.graph.initializer}
    stacked: dict[str, list[np.ndarray]] = {}
    for i in range(len(x)):
        context = execute_onnx(model, {name_in: x[i : i + 1].astype(np.float32)}, return_full_exec_context=True)
        for name, value in context.items():
            if name and name not in constants and np.ndim(value) and np.shape(value)[0] == 1:
                stacked.setdefault(name, []).append(np.asarray(value))
    return {name: np.concatenate(values) for name, values in stacked.items() if len(values) == len(x)}


def onnx_tensor_of(model, hls_layer, output_names: set[str]) -> str:
    """The tensor of the cleaned ONNX graph an hls4ml layer computes: its output variable's name (hls4ml keeps
    the ONNX names), followed through the Quant nodes hls4ml folded into the layer's type (their output is what the
    layer's saturating type holds); the model's output for the layer that writes it."""
    name = hls_layer.outputs[0]
    if name in output_names:
        return model.graph.output[0].name
    consumers = {}
    for node in model.graph.node:
        for tensor in node.input:
            consumers.setdefault(tensor, []).append(node)
    while len(consumers.get(name, [])) == 1 and consumers[name][0].op_type in ("Quant", "BipolarQuant", "Trunc"):
        name = consumers[name][0].output[0]
    return name


def reference() -> str:
    """What csim compares the C simulation with."""
    return "qonnx execution" if is_onnx() else "Keras"


def count_params(model) -> int:
    """The model's parameters (for ONNX: the elements of its initializers, quantiser scales included)."""
    if not is_onnx():
        return int(model.count_params())
    return int(sum(np.prod(init.dims) for init in model.graph.initializer))


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"toolchain": active()}
    for package in ("keras", "jax", "hgq2", "onnx", "qonnx", "onnxruntime"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found
