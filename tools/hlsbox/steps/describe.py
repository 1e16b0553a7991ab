"""Step `describe`: the hls4ml view of a model, layer by layer, for the estimator (`hlsbox plan`, `fit`).

Converts (without writing or compiling) and reports what resources and timing depend on: the multiply sizes
hls4ml uses (n_in x n_out per output pixel) and its partitions, the ReuseFactor asked for and the one hls4ml
settled on, the strategy, every operand's width, the weights' values as the tools see them (quantised to the
layer's type: zeros, powers of two, and how many significant bits the rest have), activation tables, softmax
implementation, and the depth of each io_stream FIFO.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from hlsbox.core.contract import DescribeResult, LayerRow, StepSpec, StreamFifo, WeightStats
from hlsbox.steps import frontends, hls

GEOMETRY = (
    "n_chan",
    "n_filt",
    "in_height",
    "in_width",
    "out_height",
    "out_width",
    "filt_height",
    "filt_width",
    "stride_height",
    "stride_width",
    "pool_height",
    "pool_width",
    "n_partitions",
    "parallelization_factor",
    "table_size",
    "n_elem",
)


def width(precision) -> int | None:
    return getattr(precision, "width", None)


def rounded(values: np.ndarray, precision) -> tuple[np.ndarray, int, int]:
    """Values in units of the type's LSB as its rounding mode makes them, before overflow, and the type's
    smallest and largest integer in those units."""
    bits, integer = getattr(precision, "width", 0), getattr(precision, "integer", 0)
    scaled = np.asarray(values, dtype=np.float64) * 2.0 ** (bits - integer)
    rounding = str(getattr(getattr(precision, "rounding_mode", None), "name", "TRN"))
    q = np.floor(scaled + 0.5) if rounding.startswith("RND") else np.floor(scaled)
    signed = getattr(precision, "signed", True)
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return q, low, high


def quantised(values: np.ndarray, precision) -> np.ndarray:
    """Weights as integers in units of the type's LSB, as the C++ cast makes them (rounding, saturation)."""
    bits = getattr(precision, "width", 0)
    if not bits:
        return np.asarray(values)
    q, low, high = rounded(values, precision)
    if "SAT" in str(getattr(getattr(precision, "saturation_mode", None), "name", "WRAP")):
        return np.clip(q, low, high).astype(np.int64)
    span = 2**bits
    return ((q.astype(np.int64) - low) % span) + low


def value_stats(values: np.ndarray, precision) -> WeightStats:
    """zero, power-of-two and odd-part bit lengths of quantised constants: what decides whether a constant
    multiply needs a DSP (tests/data/estimator: the same statistics as the recorded designs)."""
    q = np.abs(quantised(values, precision)).astype(np.int64).ravel()
    nonzero = q[q > 0]
    odd = nonzero // (nonzero & -nonzero)  # strip trailing zero bits
    bits = np.floor(np.log2(odd)).astype(int) + 1 if len(odd) else np.array([], dtype=int)
    hist = {str(k): int(v) for k, v in zip(*np.unique(bits, return_counts=True), strict=True)}
    if len(q) - len(nonzero):
        hist["0"] = int(len(q) - len(nonzero))
    return WeightStats(int(q.size), int(q.size - nonzero.size), int(np.sum(odd == 1)), hist)


def describe_layer(layer, asked_reuse: int | None) -> LayerRow:
    """One layer as hls4ml builds it: the row convert and csim show and the estimator reads."""
    out = layer.get_output_variable()
    get = layer.get_attr
    row: dict = {
        "name": layer.name,
        "layer_class": layer.class_name,
        "index": layer.index,
        "output_shape": tuple(out.shape),
        "outputs": int(np.prod(out.shape)),
        "result_bits": width(out.type.precision),
        "result_integer": getattr(out.type.precision, "integer", None),
        "result_precision": hls.ap_type(out.type.precision),
        "strategy": str(get("strategy") or "").lower(),
        "reuse_asked": asked_reuse,
        "reuse_used": get("reuse_factor"),
        "types": {name.removesuffix("_t"): width(t.precision) for name, t in layer.types.items()},
        "precisions": {name.removesuffix("_t"): hls.ap_type(t.precision) for name, t in layer.types.items()},
        **{key: int(get(key)) for key in GEOMETRY if isinstance(get(key), int | np.integer)},
    }
    if get("conv_implementation") is not None:
        row["conv_implementation"] = str(get("conv_implementation"))
    pragma = getattr(out, "pragma", None)
    if isinstance(pragma, tuple) and pragma and pragma[0] == "stream":
        row["stream_depth"] = int(pragma[1])
    streams = [layer.get_output_variable(name) for name in layer.outputs or ()]
    if len(streams) > 1:  # a fork (Clone): a FIFO per branch
        row["streams"] = tuple(
            StreamFifo(int(v.pragma[1]), int(v.shape[-1]), width(v.type.precision))
            for v in streams
            if isinstance(getattr(v, "pragma", None), tuple) and v.pragma[0] == "stream"
        )
    sources = [v for v in (layer.get_input_variable(name) for name in layer.inputs or ()) if v is not None]
    sources = sources or [v for v in [layer.get_input_variable()] if v is not None and layer.inputs]
    if sources:
        row["input_bits"] = width(sources[0].type.precision)
        row["input_shape"] = tuple(sources[0].shape)
        row["inputs"] = len(sources)
    if activation := get("activation"):
        row["activation"] = str(activation).lower()
    if layer.class_name == "Softmax":
        row["implementation"] = str(get("implementation") or "stable").lower()
    size = hls.mult_size(layer)
    if size and "weight" in layer.weights:
        weights = layer.weights["weight"]
        row.update(
            n_in=int(size[0]),
            n_out=int(size[1]),
            pixels=int(size[2]),
            weight_bits=width(weights.type.precision),
            accum_bits=width(get("accum_t").precision) if get("accum_t") else None,
            weights=value_stats(np.asarray(weights.data), weights.type.precision),
        )
    elif layer.class_name in ("BatchNormalization", "ApplyAlpha") and "scale" in layer.weights:  # a QONNX scale too
        scale = layer.weights["scale"]
        row.update(
            elementwise_multiplies=int(np.prod(out.shape)),
            weight_bits=width(scale.type.precision),
            weights=value_stats(np.asarray(scale.data), scale.type.precision),
        )
    return LayerRow(**row)


def layer_rows(hls_model) -> list[LayerRow]:
    """Every layer of a converted model, with the ReuseFactor its config asks for."""
    named = set((hls_model.config.config.get("HLSConfig", {}).get("LayerName") or {}).keys())
    rows = [describe_layer(layer, hls_model.config.get_reuse_factor(layer)) for layer in hls_model.get_layers()]
    return [dataclasses.replace(row, flow_name=flow_name(row.name, named)) for row in rows]


def flow_name(name: str, named: set[str]) -> str | None:
    """The name a flow's [layers.X] table takes for a layer hls4ml renamed while converting: it names the layer it
    makes from a QONNX Conv or MatMul `<Class>_<node>` (Conv2D_Conv_0) and configures it from the node's entry."""
    if name in named or "_" not in name:
        return None
    node = name.split("_", 1)[1]
    return node if node in named else None


def run(spec: StepSpec) -> DescribeResult:
    flow, run_dir = spec.flow, spec.run_path
    start = time.monotonic()
    model = hls.load_spec_model(spec)
    hls_model, config = hls.convert(model, flow, run_dir / "hls4ml_prj", flow_file=spec.flow_file)
    repaired, hls4ml_said = hls.conversion_notes(hls_model)
    return DescribeResult(
        step="describe",
        repairs=repaired,
        hls4ml_warnings=hls4ml_said,
        parameters=frontends.current().count_params(model),
        input_shape=tuple(frontends.current().input_shape(model)),
        io_type=flow.io_type,
        layers=tuple(layer_rows(hls_model)),
        hls_config=config,
        unfused_batchnorms=hls.unfused_batchnorms(model, hls_model, flow),
        seconds=round(time.monotonic() - start, 2),
        versions=hls.versions(),
    )
