"""Repairs of hls4ml 1.3.0's conversion of QONNX graphs, made inside hls4ml through its optimizer API, each said in
the step's output (GraphRepair) and never silent. Found on the seed author's 4-bit ResNet
(`zybo_resnet_w4a4.onnx`); each is general to the graph shape, not to that file:

- `Transpose → GlobalAveragePool`: qonnx's channels-last conversion has no channels-last global pooling, so a
  Transpose back to channels-first stays before it. hls4ml parses the pooling from the channels-first shape (n_filt
  from dimension 1) but labels it channels-last, and its kernels then read the transposed data as channels-last: the
  io_stream kernel divides by zero (in_width / (data_T::size / n_filt) = 8 / (8 / 56)), io_parallel averages the
  wrong elements. The repair removes the Transpose: the pooling's own attributes already describe the
  channels-last data before it.
- A Quant whose input or output forks, or whose consumer reads it as a second input (an Add's): hls4ml's 1:3
  rewrite (ApplyAlpha, Activation, ApplyAlpha) inserts each new node before the first consumer of the tensor, at
  input 0. At a fork the rescale reaches one branch only and the others compute on raw integer codes (the input
  Quant before a ResNet's two branches: 127x too large); at an Add it replaces the other operand. The repair
  inserts the scale before the Quant's own activation and the rescale before every consumer, at the input that
  read the tensor.
- Constants hls4ml types with the model's default (ApplyAlpha and BatchNormalization scales and biases, which the
  Quant nodes do not fix): where the default cannot hold them (a scale of 126.9 wraps in fixed<16,6>, a scale of
  0.0079 keeps 3 bits), they get a type that holds their range with SIGNIFICANT_BITS bits of precision.
- What a Quant reads (the model's input, a ReLU), typed by hls4ml's default fixed<16,6>: truncated before the Quant
  rounds it, it moves codes; a ReLU keeps its input's (exact) type, the input gets one that saturates at the
  Quant's range with 16 fractional bits below its step.
- Average pooling sums accumulated in the default type (a global average over 8x8 sums 64 values; fixed<16,6>
  overflows at 32): the accumulator gets the input's type widened by log2 of the window.

They act on the qonnx toolchain's conversions only, and the type repairs change only types the flow does not set
([precision] or [layer_types]).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from hlsbox.core.contract import GraphRepair

SIGNIFICANT_BITS = 24  # a repaired constant keeps float32's 24 significant bits (qonnx computes in float32)
HLS4ML_WARNING_LIMIT = 20


@dataclass
class _Session:
    """What one conversion repaired, and the types its flow sets (left alone)."""

    active: bool = False
    flow_types: frozenset[str] = frozenset()
    repairs: list[GraphRepair] = field(default_factory=list)


_session = _Session()


def _note(layer: str, what: str, why: str) -> None:
    _session.repairs.append(GraphRepair(layer=layer, what=what, why=why))


def _consumers(model, tensor: str) -> list:
    return [node for node in model.graph.values() if tensor in node.inputs]


def _transpose_into_global_pooling():
    from hls4ml.model.layers import GlobalPooling1D, GlobalPooling2D, Transpose
    from hls4ml.model.optimizer import OptimizerPass

    class TransposeIntoGlobalPooling(OptimizerPass):
        """A channels-last-to-first Transpose whose only consumer is a channels-last global pooling: removed."""

        def match(self, node) -> bool:
            if not _session.active or not isinstance(node, Transpose):
                return False
            perm = [int(p) for p in node.get_attr("perm")]
            if perm != [len(perm) - 1, *range(len(perm) - 1)]:
                return False
            following = node.get_output_nodes()
            return (
                len(following) == 1
                and isinstance(following[0], GlobalPooling1D | GlobalPooling2D)
                and following[0].get_attr("data_format", "channels_last") == "channels_last"
            )

        def transform(self, model, node) -> bool:
            pooling = node.get_output_nodes()[0]
            model.remove_node(node)
            _note(
                node.name,
                f"removed the Transpose before {pooling.name}",
                "hls4ml reads the global pooling's input as channels-last, so the Transpose qonnx left before it "
                "made the io_stream kernel divide by zero and io_parallel average the wrong elements",
            )
            return True

    return TransposeIntoGlobalPooling


def _quant_wired_at_forks():
    from hls4ml.model.optimizer.passes.quant_opt import QuantToAlphaActivationAlpha

    class QuantToAlphaActivationAlphaWired(QuantToAlphaActivationAlpha):
        """hls4ml's own 1:3 Quant rewrite, with each new node inserted where the Quant's tensors actually go."""

        def transform(self, model, node) -> bool:
            if not _session.active:
                return super().transform(model, node)
            tensor_in, tensor_out = node.inputs[0], node.outputs[0]
            branches = _consumers(model, tensor_out)
            fed = ", ".join(f"{b.name} (input {b.inputs.index(tensor_out)})" for b in branches)
            miswired = (
                len(_consumers(model, tensor_in)) > 1
                or len(branches) > 1
                or any(branch.inputs.index(tensor_out) for branch in branches)
            )
            insert = model.insert_node

            def insert_wired(new_node, before=None, input_idx=0) -> None:
                if new_node.name != f"{node.name}_rescale":  # the scale: before the Quant's own activation
                    activation = model.graph[f"{node.name}_act"]
                    insert(new_node, before=activation, input_idx=activation.inputs.index(tensor_in))
                    return
                if not branches:  # the model's output
                    insert(new_node)
                    return
                insert(new_node, before=branches[0], input_idx=branches[0].inputs.index(tensor_out))
                for other in branches[1:]:
                    other.inputs[:] = [new_node.outputs[0] if t == tensor_out else t for t in other.inputs]

            model.insert_node = insert_wired  # an instance attribute, for this transform only
            try:
                super().transform(model, node)
            finally:
                del model.insert_node
            if miswired:
                _note(
                    node.name,
                    f"its rescale wired to every consumer: {fed}",
                    "hls4ml inserts the rescale before the first consumer only, at input 0: the other branches "
                    "would compute on the raw integer codes",
                )
            return True

    return QuantToAlphaActivationAlphaWired


def _precision_holding(values: np.ndarray):
    """A signed fixed-point type that holds every value with SIGNIFICANT_BITS bits of precision (None: all zero)."""
    from hls4ml.model.types import FixedPrecisionType

    magnitudes = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    magnitudes = magnitudes[magnitudes > 0]
    if magnitudes.size == 0:
        return None
    integer = max(1, math.floor(math.log2(magnitudes.max())) + 2)  # the sign bit included
    fractional = max(0, SIGNIFICANT_BITS - math.floor(math.log2(magnitudes.min())) - 1)
    return FixedPrecisionType(width=integer + fractional, integer=integer, signed=True)


def _holds(precision, values: np.ndarray) -> bool:
    """Whether a fixed-point type holds the values: no wrap, and their smallest within SIGNIFICANT_BITS - 2 bits."""
    width, integer = getattr(precision, "width", None), getattr(precision, "integer", None)
    if width is None or integer is None:
        return True  # not a fixed-point type: the flow's own choice
    values = np.asarray(values, dtype=np.float64).ravel()
    nonzero = np.abs(values[values != 0])
    top = 2.0 ** (integer - 1 if getattr(precision, "signed", True) else integer)
    step = 2.0 ** (integer - width)
    return bool(np.all(np.abs(values) < top)) and (
        nonzero.size == 0 or step <= nonzero.min() * 2.0 ** -(SIGNIFICANT_BITS - 2)
    )


def _constants_held():
    from hls4ml.model.layers import ApplyAlpha, BatchNormalization
    from hls4ml.model.optimizer import OptimizerPass
    from hls4ml.model.types import NamedType

    class ConstantsTheirTypesHold(OptimizerPass):
        """ApplyAlpha and BatchNormalization scales and biases in types that hold them (before types are inferred
        from them)."""

        def match(self, node) -> bool:
            return (
                _session.active
                and isinstance(node, ApplyAlpha | BatchNormalization)
                and not node.get_attr("hlsbox_constants_typed")
            )

        def transform(self, model, node) -> bool:
            node.set_attr("hlsbox_constants_typed", True)
            for name in ("scale", "bias"):
                weight = node.weights.get(name)
                if weight is None or name in _session.flow_types:
                    continue
                values = getattr(weight, "data_unquantized", weight.data)
                old = node.types[f"{name}_t"].precision
                new = None if _holds(old, values) else _precision_holding(values)
                if new is None:
                    continue
                named = NamedType(f"{node.name}_{name}_t", new)
                weight.type = named
                weight.update_precision(new)
                node.set_attr(f"{name}_t", named)
                largest, smallest = float(np.abs(values).max()), float(np.abs(values[values != 0]).min())
                wraps = largest >= 2.0 ** (getattr(old, "integer", 0) - 1)
                loss = "wraps it" if wraps else f"keeps fewer than {SIGNIFICANT_BITS - 2} significant bits of it"
                why = f"its {name} is {smallest:.3g} to {largest:.3g}: {old} {loss}"
                _note(node.name, f"{name} {old} → {new}", why)
            return False  # attributes only: the graph is unchanged

    return ConstantsTheirTypesHold


def _quant_inputs_held():
    from hls4ml.model.layers import Activation, ApplyAlpha, Input, Reshape, Transpose
    from hls4ml.model.optimizer import OptimizerPass
    from hls4ml.model.types import FixedPrecisionType, SaturationMode, UnspecifiedPrecisionType

    class WhatAQuantReadsHoldsItsSteps(OptimizerPass):
        """The layer a Quant reads (the model's input, a ReLU; through transposes and reshapes), when hls4ml would
        give it its default type: fixed<16,6> truncates x before round(x / step), which moves codes (and wraps past
        32)."""

        def match(self, node) -> bool:
            return (
                _session.active
                and "result" not in _session.flow_types
                and isinstance(node, ApplyAlpha)
                and node.name.endswith("_scale")
                and not node.get_attr("hlsbox_source_typed")
            )

        def transform(self, model, node) -> bool:
            node.set_attr("hlsbox_source_typed", True)
            source = node.get_input_node(node.inputs[0])
            while isinstance(source, Transpose | Reshape) and len(_consumers(model, source.outputs[0])) == 1:
                source = source.get_input_node(source.inputs[0])
            codes = node.get_output_variable().type.precision  # the Quant's integer codes, e.g. fixed<8,8>
            scale = float(np.abs(node.weights["scale"].data).max())  # 1 / the Quant's step
            variable = source.get_output_variable()
            if (
                not isinstance(source, Input | Activation)  # the layers hls4ml gives its default, not a sum's type
                or np.any(node.weights["bias"].data != 0)  # a scale with an offset folded in: no plain rounding
                or not isinstance(variable.type.precision, UnspecifiedPrecisionType)
                or len(_consumers(model, source.outputs[0])) != 1
                or scale <= 0
                or getattr(codes, "integer", None) is None
            ):
                return False
            if isinstance(source, Activation):  # its input's type is inferred after this pass: set it then
                source.set_attr("hlsbox_exact_result_for", node.name)
                return False
            new = _rounding_input(codes, 1.0 / scale)
            variable.type.precision = new
            _note(
                source.name,
                f"result {new} (hls4ml's default: fixed<16,6>)",
                f"{node.name} rounds it to steps of {1.0 / scale:.3g}: truncated to hls4ml's default it would move "
                "codes",
            )
            return False

    def _rounding_input(codes, step: float):
        """A type that saturates past the Quant's range and keeps 16 fractional bits below its step."""
        top = 2.0 ** (codes.integer - (1 if getattr(codes, "signed", True) else 0)) * step  # the Quant's range
        integer = max(1, math.ceil(math.log2(top)) + 2)  # a sign bit, and one to saturate past the range
        fractional = max(0, math.ceil(-math.log2(step))) + 16
        return FixedPrecisionType(integer + fractional, integer, True, saturation_mode=SaturationMode.SAT)

    return WhatAQuantReadsHoldsItsSteps


def _activations_exact():
    from hls4ml.model.layers import Activation
    from hls4ml.model.optimizer import OptimizerPass
    from hls4ml.model.types import FixedPrecisionType

    class ActivationBeforeAQuantExact(OptimizerPass):
        """A ReLU a Quant reads (marked before the types were inferred) keeps its input's type, exactly: the Quant
        then rounds what the frontend rounds. hls4ml gives it its default fixed<16,6>, which moves codes."""

        def match(self, node) -> bool:
            return isinstance(node, Activation) and bool(node.get_attr("hlsbox_exact_result_for"))

        def transform(self, model, node) -> bool:
            quant = node.get_attr("hlsbox_exact_result_for")
            node.set_attr("hlsbox_exact_result_for", None)
            given = node.get_input_variable().type.precision
            activation = str(node.get_attr("activation")).lower()  # hls4ml's ONNX parser says "ReLU"
            if activation not in ("relu", "linear") or not isinstance(given, FixedPrecisionType):
                return False
            old = node.get_output_variable().type.precision
            node.get_output_variable().type.precision = given
            _note(node.name, f"result {old} → {given}", f"{quant} rounds it: truncated to {old} it would move codes")
            return False

    return ActivationBeforeAQuantExact


def _pooling_sums_held():
    from hls4ml.model.layers import GlobalPooling1D, GlobalPooling2D, Pooling1D, Pooling2D
    from hls4ml.model.optimizer import OptimizerPass
    from hls4ml.model.types import FixedPrecisionType, NamedType

    class PoolingSumsTheirTypesHold(OptimizerPass):
        """An average pooling's accumulator holds the sum of its window (after the types are inferred)."""

        def match(self, node) -> bool:
            pooling = isinstance(node, GlobalPooling1D | GlobalPooling2D | Pooling1D | Pooling2D)
            return (
                _session.active
                and pooling
                and "Average" in str(node.get_attr("pool_op", node.class_name))
                and "accum" not in _session.flow_types
                and not node.get_attr("hlsbox_sum_typed")
            )

        def transform(self, model, node) -> bool:
            node.set_attr("hlsbox_sum_typed", True)
            source = node.get_input_variable()
            given = source.type.precision
            if isinstance(node, GlobalPooling1D | GlobalPooling2D):  # every element of a channel, whatever the layout
                window = int(np.prod(source.shape)) // int(node.get_attr("n_filt", source.shape[-1]))
            else:
                window = int(node.get_attr("pool_height", 1) * node.get_attr("pool_width", 1))
            grow = math.ceil(math.log2(max(window, 1)))
            if getattr(given, "width", None) is None:
                return False
            need = FixedPrecisionType(given.width + grow, given.integer + grow, getattr(given, "signed", True))
            old = node.types["accum_t"].precision
            if getattr(old, "integer", 0) >= need.integer and getattr(old, "fractional", 0) >= need.fractional:
                return False
            node.set_attr("accum_t", NamedType(f"{node.name}_accum_t", need))
            _note(node.name, f"accum {old} → {need}", f"the sum of its {window} inputs overflows hls4ml's default")
            return False

    return PoolingSumsTheirTypesHold


def onnx_defaults(model) -> list[GraphRepair]:
    """The attributes ONNX gives a default that hls4ml's ONNX parser reads as if every exporter wrote them
    (`int(get_onnx_attribute(node, 'group'))` stops on a Conv without `group`), written out on the graph before it is
    converted: Conv's group, strides, pads and kernel_shape, a pooling's strides and pads."""
    from onnx import helper

    written = []
    for node in model.graph.node:
        if node.op_type not in ("Conv", "MaxPool", "AveragePool"):
            continue
        given = {attribute.name for attribute in node.attribute}
        kernel = _kernel_shape(model, node)
        if kernel is None:
            continue
        defaults = {"strides": [1] * len(kernel), "pads": [0] * 2 * len(kernel)}
        if node.op_type == "Conv":
            defaults |= {"group": 1, "kernel_shape": kernel}
        for name, value in defaults.items():
            if name not in given:
                node.attribute.append(helper.make_attribute(name, value))
                written.append(
                    GraphRepair(
                        layer=node.name or node.op_type,
                        what=f"{name} = {value} written out (ONNX's default)",
                        why="hls4ml's ONNX parser reads it as if every exporter wrote it, and stops without it",
                    )
                )
    return written


def _kernel_shape(model, node) -> list[int] | None:
    for attribute in node.attribute:
        if attribute.name == "kernel_shape":
            return list(attribute.ints)
    weights = model.get_tensor_shape(node.input[1]) if node.op_type == "Conv" and len(node.input) > 1 else None
    return list(weights[2:]) if weights else None


def _register() -> None:
    """The passes, in hls4ml's optimizer registry and its flows (once per process)."""
    from hls4ml.model.flow import get_flow
    from hls4ml.model.optimizer import get_available_passes, register_pass

    if "hlsbox_quant_wired" in get_available_passes():
        return
    register_pass("hlsbox_quant_wired", _quant_wired_at_forks())
    register_pass("hlsbox_transpose_into_global_pooling", _transpose_into_global_pooling())
    register_pass("hlsbox_constants_held", _constants_held())
    register_pass("hlsbox_quant_inputs_held", _quant_inputs_held())
    register_pass("hlsbox_pooling_sums_held", _pooling_sums_held())
    register_pass("hlsbox_activations_exact", _activations_exact())
    parse = get_flow("parse_qonnx").optimizers
    parse[parse.index("quant_to_alpha_activation_alpha")] = "hlsbox_quant_wired"
    convert = get_flow("convert").optimizers
    convert.insert(convert.index("infer_precision_types"), "hlsbox_constants_held")
    convert.insert(convert.index("infer_precision_types"), "hlsbox_quant_inputs_held")
    convert.insert(convert.index("infer_precision_types") + 1, "hlsbox_pooling_sums_held")
    convert.insert(convert.index("infer_precision_types") + 1, "hlsbox_activations_exact")
    convert.append("hlsbox_transpose_into_global_pooling")


@contextmanager
def repairing(active: bool, flow_types: frozenset[str], before: list[GraphRepair] = ()) -> Iterator[_Session]:
    """One conversion with the repairs installed (acting only when active: the QONNX path); the session's repairs
    (after those made to the graph `before` it) are read after it."""
    global _session
    _register()
    _session = _Session(active=active, flow_types=flow_types, repairs=list(before))
    try:
        yield _session
    finally:
        _session = _Session()


@contextmanager
def hls4ml_warnings() -> Iterator[list[str]]:
    """hls4ml's own warnings during a conversion (warnings.warn from its modules), each once with its count."""
    seen: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield seen
        finally:
            counts: dict[str, int] = {}
            for warning in caught:
                if "hls4ml" in (warning.filename or ""):
                    text = " ".join(str(warning.message).split())
                    counts[text] = counts.get(text, 0) + 1
            for text, count in list(counts.items())[:HLS4ML_WARNING_LIMIT]:
                seen.append(text + (f" (×{count})" if count > 1 else ""))
