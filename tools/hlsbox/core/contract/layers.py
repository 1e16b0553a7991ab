"""One layer as hls4ml builds it, and what the steps report about it: its constants, its FIFOs, its repairs,
its trace in C simulation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

from hlsbox.core.jsonrecord import JsonRecord


@dataclass(frozen=True)
class WeightStats(JsonRecord):
    """A layer's constants quantised to its type: zeros, powers of two, and the odd parts' bit lengths."""

    total: int
    zero: int
    pow2: int
    odd_bits_hist: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamFifo(JsonRecord):
    """One output FIFO of a fork (Clone) in io_stream."""

    depth: int
    channels: int
    bits: int | None = None


@dataclass(frozen=True)
class LayerRow(JsonRecord):
    """One layer as hls4ml builds it (steps/describe.py writes it): what convert and csim show, what the plan's
    estimator and fit read, and what tests/data/estimator records. None: hls4ml has no such value for the layer.
    In JSON `layer_class` is "class", as hls4ml calls it."""

    name: str
    layer_class: str
    index: int | None = None  # hls4ml names the layer's HLS function and config after it
    flow_name: str | None = None  # the name a flow's [layers.X] takes, where hls4ml renamed the layer (Conv_0)
    output_shape: tuple[int, ...] = ()
    outputs: int = 0
    result_bits: int | None = None
    result_integer: int | None = None
    result_precision: str | None = None  # as people write it: ap_fixed<16,6>
    strategy: str = ""  # latency / resource, lower case; "" where the layer has none
    reuse_asked: int | None = None  # the ReuseFactor the config asks for
    reuse_used: int | None = None  # the one hls4ml settled on
    types: dict[str, int | None] = field(default_factory=dict)  # every type variable's width
    precisions: dict[str, str] = field(default_factory=dict)  # every type variable as ap_fixed<W,I>
    n_chan: int | None = None
    n_filt: int | None = None
    in_height: int | None = None
    in_width: int | None = None
    out_height: int | None = None
    out_width: int | None = None
    filt_height: int | None = None
    filt_width: int | None = None
    stride_height: int | None = None
    stride_width: int | None = None
    pool_height: int | None = None
    pool_width: int | None = None
    n_partitions: int | None = None
    parallelization_factor: int | None = None
    table_size: int | None = None
    n_elem: int | None = None
    conv_implementation: str | None = None
    stream_depth: int | None = None
    streams: tuple[StreamFifo, ...] | None = None
    input_bits: int | None = None
    input_shape: tuple[int, ...] | None = None
    inputs: int | None = None
    activation: str | None = None
    implementation: str | None = None
    # weighted layers (Dense, Conv): the multiply hls4ml builds per output pixel, n_in x n_out
    n_in: int | None = None
    n_out: int | None = None
    pixels: int | None = None
    weight_bits: int | None = None
    accum_bits: int | None = None
    weights: WeightStats | None = None
    weights_from: str | None = None  # recorded designs: where the weights' statistics came from
    elementwise_multiplies: int | None = None  # BatchNormalization: one multiply per element

    @property
    def weighted(self) -> bool:
        return self.n_in is not None

    @property
    def zero_weights(self) -> int:
        return self.weights.zero if self.weights else 0

    JSON_NAMES: ClassVar[dict[str, str]] = {"layer_class": "class"}
    OMIT_NONE = True

    def replace(self, **changes: object) -> LayerRow:
        return dataclasses.replace(self, **changes)


def layer_rows(rows: list[dict]) -> list[LayerRow]:
    """The layers of a result.json (convert, describe, csim)."""
    return [LayerRow.from_dict(row) for row in rows]


@dataclass(frozen=True)
class BatchNormNote(JsonRecord):
    """A BatchNormalization hls4ml keeps apart from the layer before it (each costs a multiply per element)."""

    batchnorm: str
    into: str
    why: str


@dataclass(frozen=True)
class GraphRepair(JsonRecord):
    """A repair hlsbox made to hls4ml's conversion of the model (steps/repairs.py): the layer, what, and why."""

    layer: str
    what: str
    why: str


@dataclass(frozen=True)
class SetColumns(JsonRecord):
    """What the flow sets per layer, for convert's table: type variables and other settings."""

    types: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()


@dataclass(frozen=True)
class TraceRow(JsonRecord):
    """One layer's output in C simulation against the frontend's (hls4ml's trace)."""

    layer: str
    keras_max: float  # the frontend's largest |output| (Keras, or qonnx's execution)
    hls_max: float
    max_abs_diff: float
    relative_diff: float  # max |diff| over keras_max
    range_limit: float | None  # the largest |value| the layer's result type holds
    overflow: bool
    scale: float = 1.0  # hls4ml's tensor is the frontend's times this (integer codes of a QONNX graph)
