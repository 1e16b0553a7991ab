"""What `fit` may change, and the types it writes: one knob per layer whose output type hls4ml lets a config set.

Integer bits come from profiling, never from the search: each layer's output range in Keras on the calibration
inputs (hls4ml's own profiling, get_ymodel_keras) with one bit of headroom, a sign bit only where the output goes
negative; the weights' and biases' ranges from the values hls4ml will really use (after it folds BatchNormalization
into the layer before). The search decides fractional bits only. Types round and saturate (AP_RND, AP_SAT): an
input beyond the profiled range clips instead of wrapping around. Accumulators stay hls4ml's 'auto' (wide enough
for the layer's sum, exactly), as does the output of a layer a BatchNormalization is folded into (hls4ml 1.3 folds
only then) and everything of a softmax (hls4ml's own table types).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hlsbox.steps.hls import input_of

# Layers that pass their input through (hls4ml infers their type) or whose types hls4ml chooses well itself.
UNTOUCHED = ("Softmax", "Reshape", "Flatten", "Dropout", "Transpose", "ZeroPadding1D", "ZeroPadding2D", "Clone")
RESULT_HEADROOM = 1  # bits above the largest |output| seen on the calibration inputs


@dataclass
class Knob:
    """One layer's types: its output (result) and, for a layer with weights, its weights and bias."""

    layer: str
    cls: str
    result_integer: int | None  # None: the result stays hls4ml's choice (folded BatchNormalization)
    signed: bool
    weight_integer: int | None = None  # None: no weights
    bias_integer: int | None = None
    weight_names: tuple[str, str] = ("weight", "bias")  # BatchNormalization: scale, bias
    accum_integer: int | None = None  # pooling: its sum's integer bits (hls4ml's default would overflow)
    cost: float = 1.0  # how much hardware its widths drive (products, or elements), for the search order
    fractions: dict[str, int] = field(default_factory=dict)  # "result" / "weight" -> fractional bits
    followers: tuple[str, ...] = ()  # linear activations hls4ml inserted after it: they get its result type
    table: str | None = None  # the [layers.X] name, where hls4ml's config reads the layer under another (QONNX)

    def variables(self) -> list[str]:
        return [v for v in ("weight", "result") if self._has(v)]

    def _has(self, variable: str) -> bool:
        return self.weight_integer is not None if variable == "weight" else self.result_integer is not None

    def types(self, fractions: dict[str, int]) -> dict[str, str]:
        """The hls4ml Precision entries for these fractional bits."""
        found = {}
        if self.result_integer is not None:
            found["result"] = fixed(self.result_integer, fractions["result"], self.signed)
        if self.accum_integer is not None:
            found["accum"] = fixed(self.accum_integer, fractions["result"], self.signed)
        if self.weight_integer is not None:
            weight, bias = self.weight_names
            found[weight] = fixed(self.weight_integer, fractions["weight"], True)
            found[bias] = fixed(max(self.bias_integer or 1, 1), fractions["weight"], True)
        return found


def fixed(integer: int, fraction: int, signed: bool) -> str:
    return f"ap_{'' if signed else 'u'}fixed<{integer + fraction},{integer},AP_RND,AP_SAT>"


def integer_bits(values: np.ndarray, signed: bool, headroom: int = 0) -> int:
    """Integer bits (sign included) that hold every value: 0.7 -> 0 (+1 signed), 1.0 -> 1, 3.9 -> 2, 4.0 -> 3."""
    largest = float(np.max(np.abs(values))) if np.size(values) else 0.0
    bits = math.floor(math.log2(largest)) + 1 if largest > 0 else 0
    return max(bits, 0) + headroom + (1 if signed else 0)


def find_knobs(hls_model, outputs: dict[str, np.ndarray], config: dict, fused: dict[str, str]) -> list[Knob]:
    """The layers of the converted model the fit sets, with their integer bits. `outputs`: Keras outputs per
    hls4ml layer name on the calibration inputs; `fused`: layer -> the BatchNormalization folded into it."""
    names = config.get("LayerName", {})
    knobs = []
    for layer in hls_model.get_layers():
        if layer.name not in names or layer.class_name in UNTOUCHED or layer.name not in outputs:
            continue
        entry = names[layer.name].get("Precision")
        if not isinstance(entry, dict) or "result" not in entry:
            continue
        knob = knob_of(layer, outputs[layer.name], folded=layer.name in fused)
        if "Pooling" in layer.class_name:
            knob.accum_integer = pooling_sum_bits(layer, outputs.get((layer.inputs or [""])[0]), knob)
        knobs.append(knob)
    return knobs


def attach_linear_followers(knobs: list[Knob], parsed: list[dict]) -> None:
    """hls4ml puts a linear Activation (`<layer>_linear`) after a Dense or Conv without an activation of its own,
    with hls4ml's default type: a cast to ap_fixed<16,6>, and in io_stream a 16-bit stream and a stage. Given the
    layer's own result type it is an identity, and hls4ml's EliminateLinearActivation removes it."""
    by_name = {k.layer: k for k in knobs}
    for index, layer in enumerate(parsed):
        if layer["class_name"] != "Activation" or layer.get("activation") != "linear" or layer["name"] in by_name:
            continue
        source = by_name.get(input_of(parsed, index))
        if source is not None and source.result_integer is not None:
            source.followers += (layer["name"],)


def pooling_sum_bits(layer, inputs: np.ndarray | None, knob: Knob) -> int:
    """An average pool adds up its window before dividing: the sum needs log2(window) bits over its inputs."""
    two_d = layer.class_name.endswith("2D")
    if "Global" in layer.class_name:
        keys = ("in_height", "in_width") if two_d else ("n_in",)
    else:
        keys = ("pool_height", "pool_width") if two_d else ("pool_width",)
    window = math.prod(int(layer.get_attr(key) or 1) for key in keys)
    source = integer_bits(inputs, knob.signed, RESULT_HEADROOM) if inputs is not None else knob.result_integer or 1
    return source + math.ceil(math.log2(max(window, 1)))


def knob_of(layer, output: np.ndarray, folded: bool) -> Knob:
    signed = bool(np.min(output) < 0) if np.size(output) else True
    is_input = layer.class_name == "Input"
    knob = Knob(
        layer.name,
        layer.class_name,
        None if folded else integer_bits(output, signed, 0 if is_input else RESULT_HEADROOM),
        signed,
        cost=float(np.prod(layer.get_output_variable().shape)),
    )
    weights = layer.weights
    names = ("weight", "bias") if "weight" in weights else ("scale", "bias") if "scale" in weights else None
    if names:
        knob.weight_names = names
        knob.weight_integer = integer_bits(np.asarray(weights[names[0]].data), True)
        bias = weights.get(names[1])
        knob.bias_integer = integer_bits(np.asarray(bias.data), True) if bias is not None else 1
        products = np.size(weights[names[0]].data)
        pixels = np.prod(layer.get_output_variable().shape[:-1]) if "Conv" in layer.class_name else 1
        knob.cost = float(products * pixels)
    return knob


def consumers_cost(knobs: list[Knob], hls_model) -> None:
    """A result's width is also the input width of the weighted layers that read it: their cost counts for it."""
    by_name = {k.layer: k for k in knobs}
    graph = hls_model.graph
    for layer in hls_model.get_layers():
        reader = by_name.get(layer.name)
        if reader is None or reader.weight_integer is None:
            continue
        for source in layer.inputs or ():
            while source in graph and source not in by_name and graph[source].class_name in UNTOUCHED:
                inputs = graph[source].inputs or ()
                source = inputs[0] if inputs else None
            if source in by_name:
                by_name[source].cost += reader.cost
