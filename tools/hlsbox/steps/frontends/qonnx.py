"""qonnx: a QONNX or plain ONNX file through qonnx's cleanup and channels-last conversion, as hls4ml's ONNX
documentation prescribes (clean, to channels-last, Gemm to MatMul, clean again); the reference outputs are qonnx's
own execution of that model (Quant nodes included, which onnxruntime alone cannot run).

hls4ml carries a Quant node's scale in ApplyAlpha layers (`<Quant>_scale`, `<Quant>_rescale`): between the two a
tensor holds the integer codes, the qonnx tensor times a constant. A layer's reference is scaled by that constant
(the median ratio over the traced inputs), so a rounding or a saturation shows, a scale does not; the model's
output is compared as it is (scale 1).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hlsbox.steps.frontends import Frontend, Reference

QUANTISERS = ("Quant", "BipolarQuant")
PINNED = ("ReuseFactor",)  # what a created layer keeps of its own config entry, besides its types


class Qonnx(Frontend):
    name = "qonnx"
    reference = "qonnx execution"
    own_types = True
    packages = ("onnx", "qonnx", "onnxruntime")

    def read(self, path: Path, weights: Path | None):
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

    def parsed_layers(self, model) -> list[dict]:
        import hls4ml

        layers, *_ = hls4ml.converters.parse_onnx_model(model)
        return layers

    def config_from_model(self, model, granularity: str, backend: str) -> dict:
        import hls4ml

        return hls4ml.utils.config_from_onnx_model(model, granularity=granularity, backend=backend)

    def convert(self, model, **kwargs):
        import hls4ml

        with created_layers_keep_their_types(set(self.created_layers(self.parsed_layers(model)))):
            return hls4ml.converters.convert_from_onnx_model(model, **kwargs)

    def created_layers(self, parsed: list[dict]) -> dict[str, str]:
        """The ApplyAlpha `<Quant>_rescale` of each Quant node (its scale put back; hls4ml infers its type, often
        wide: ap_fixed<40,20> before a 4-bit activation) and `<Quant>_scale` (its input divided by the scale, where
        the Quant reads a computed tensor)."""
        quants = [layer["name"] for layer in parsed if layer["class_name"] == "Quant"]
        return {f"{quant}{suffix}": "ApplyAlpha" for quant in quants for suffix in ("_scale", "_rescale")}

    def config_name(self, layer: str, parsed_names: list[str]) -> str:
        """hls4ml renames an ONNX node as it converts it (MatMul_0 -> Dense_MatMul_0) but reads the config by the
        node's name."""
        longest_first = sorted(parsed_names, key=len, reverse=True)
        return next((name for name in longest_first if layer == name or layer.endswith(f"_{name}")), layer)

    def has_quant_nodes(self, model) -> bool:
        return any(layer["class_name"] in QUANTISERS for layer in self.parsed_layers(model))

    def input_shape(self, model) -> tuple[int, ...]:
        return tuple(int(d) for d in model.get_tensor_shape(model.graph.input[0].name)[1:])

    def predict(self, model, x: np.ndarray) -> np.ndarray:
        from qonnx.core.onnx_exec import execute_onnx

        name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
        outputs = [execute_onnx(model, {name_in: x[i : i + 1].astype(np.float32)})[name_out] for i in range(len(x))]
        return np.concatenate(outputs)

    def layer_references(self, model, hls_model, traced: dict, x: np.ndarray) -> list[Reference]:
        tensors = onnx_tensors(model, x)
        output_names = {v.name for v in hls_model.get_output_variables()}
        found = []
        for layer in hls_model.get_layers():
            if layer.name not in traced:
                continue
            tensor = onnx_tensor_of(model, layer, output_names)
            if tensor not in tensors:
                continue
            reference = tensors[tensor].reshape(len(x), -1)
            hls_out = np.asarray(traced[layer.name]).reshape(len(x), -1)
            scale = 1.0
            if layer.outputs[0] not in output_names and reference.shape == hls_out.shape:
                scale = scale_between(reference, hls_out)
            found.append((layer.name, reference * scale, scale))
        return found

    def count_params(self, model) -> int:
        """The elements of its initializers, quantiser scales included."""
        return int(sum(np.prod(init.dims) for init in model.graph.initializer))


def scale_between(reference: np.ndarray, hls_out: np.ndarray) -> float:
    """The constant an hls4ml tensor is its frontend tensor times: the median ratio over the nonzero elements (a
    rounding or a saturation moves few of them; a least-squares fit would lean towards them)."""
    nonzero = np.abs(reference) > 1e-9 * float(np.abs(reference).max(initial=0.0))
    ratios = hls_out[nonzero] / reference[nonzero]
    return float(np.median(ratios)) if ratios.size and np.median(ratios) else 1.0


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


FRONTEND = Qonnx()
