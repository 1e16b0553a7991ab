"""The types that cross between the host and the image: what a step is given and what it reports back.

- `StepSpec`: spec.json, the one input of a step (`python -m hlsbox.steps <step> --spec spec.json`), with the
  flow as the image sees it (`ImageFlow`: every default filled in) and each step's own extras (`CsimCache`,
  `FitRun`, `VivadoRun`); the sweep's plot has its own (`ParetoPlot`).
- `ErrorReport`: error.json, what a step that refuses its input or fails in a way it can explain writes.
- `PHASE_MARK`: how a line of a step's log starts a phase (the host's live view reads it).
- `Verdict`: the plan's answer.
- `layer_tables`: the precedence of per-layer settings (a layer's table, then its class's), the one place it is
  written.

Frozen standard-library dataclasses with `to_dict` / `from_dict` (JSON): the image has no pydantic. The host
builds `ImageFlow` from its validated pydantic `Flow` (config.flow); tests/test_contract.py checks that both
keep the same fields, so a new flow key cannot be lost on its way into the image.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import ClassVar

from hlsbox.core.imagefolder import describe

PHASE_MARK = "@@hlsbox phase "


class Verdict(str, Enum):
    FITS = "fits"
    TIGHT = "tight"
    NO_FIT = "does not fit"

    def __str__(self) -> str:
        return self.value


def _build(cls, data):
    """`cls` (a dataclass, or a type hint over dataclasses) from its JSON form."""
    origin, args = typing.get_origin(cls), typing.get_args(cls)
    if data is None:
        return None
    if dataclasses.is_dataclass(cls):
        return cls.from_dict(data) if issubclass(cls, JsonRecord) else build_fields(cls, data)
    if isinstance(cls, type) and issubclass(cls, Enum):
        return cls(data)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is not type(None):
                return _build(arg, data)
    if origin is dict:
        return {key: _build(args[1], value) for key, value in data.items()}
    if origin is tuple:
        return tuple(_build(args[0], value) for value in data)
    if origin is list:
        return [_build(args[0], value) for value in data]
    return data


def build_fields(cls, data: dict):
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    return cls(**{name: _build(hints[name], value) for name, value in data.items()})


def _dump(value):
    """The JSON form of a contract value (a contract type gives its own)."""
    if isinstance(value, JsonRecord):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


class JsonRecord:
    """A contract type's JSON form: its fields, under the names JSON_NAMES gives where they differ (a Python
    keyword, another tool's name), without the unset ones when OMIT_NONE."""

    JSON_NAMES: ClassVar[dict[str, str]] = {}  # field -> its name in JSON
    OMIT_NONE: ClassVar[bool] = False

    def to_dict(self) -> dict:
        data = {f.name: _dump(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        if self.OMIT_NONE:
            data = {k: v for k, v in data.items() if v is not None}
        return {self.JSON_NAMES.get(k, k): v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict):
        python = {theirs: ours for ours, theirs in cls.JSON_NAMES.items()}
        return build_fields(cls, {python.get(k, k): v for k, v in data.items()})


@dataclass(frozen=True)
class LayerTable(JsonRecord):
    """One `[layers.<name>]` or `[layer_types.<class>]` table, as the flow writes it (None: not set)."""

    precision: dict[str, str] = field(default_factory=dict)
    reuse_factor: int | None = None
    strategy: str | None = None
    parallelization_factor: int | None = None
    conv_implementation: str | None = None
    table_size: int | None = None
    table_range_power2: int | None = None
    implementation: str | None = None
    trace: bool | None = None
    skip: bool | None = None
    depthwise_reuse_factor: int | None = None
    pointwise_reuse_factor: int | None = None
    recurrent_reuse_factor: int | None = None
    forward_reuse_factor: int | None = None
    backward_reuse_factor: int | None = None
    forward_recurrent_reuse_factor: int | None = None
    backward_recurrent_reuse_factor: int | None = None
    static: bool | None = None
    direction: str | None = None
    algorithm: str | None = None
    time_step_loop_parallelism: str | None = None

    def set_values(self) -> dict:
        """What the table sets (the keys the flow wrote), snake-case as in the flow."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None and v != {}}

    def to_dict(self) -> dict:
        """As a flow file writes it: the keys set (from_dict fills the rest back in)."""
        return self.set_values()


@dataclass(frozen=True)
class CsimInputs(JsonRecord):
    """The flow's [csim] table: which inputs C simulation, trace and fit use."""

    dataset: str = "random"
    samples: int = 100
    seed: int = 0
    cifar10_path: str | None = None
    images: str | None = None
    scale: float | None = None
    resize: str = "none"  # how images become the model's input size (core.imagefolder)
    trace: bool = True
    trace_samples: int = 20
    exact_build: bool = False


@dataclass(frozen=True)
class RtlInputs(JsonRecord):
    """The flow's [rtl] table, for backend = "da4ml" (rtl, synth, rtlsim)."""

    latency_cutoff: float = 5.0  # da4ml's pipelining: a register stage every this many adder delays; <= 0: none
    max_multiplications: int = 20_000  # the largest network rtl unrolls (da4ml unrolls every multiplication)
    samples: int = 10_000  # rtlsim's inputs: the flow's [csim] data first, then uniform random ones


@dataclass(frozen=True)
class ImageFlow(JsonRecord):
    """A flow as the image sees it: validated on the host, every default filled in."""

    name: str
    model: str
    description: str = ""
    toolchain: str | None = None
    weights: str | None = None
    backend: str = "Vivado"
    part: str = "xc7z010clg400-1"
    clock_period: float = 5.0
    io_type: str = "io_parallel"
    granularity: str = "name"
    precision: dict[str, str] = field(default_factory=dict)
    reuse_factor: int = 1
    strategy: str = "Latency"
    fuse_batchnorm: bool = True
    fifo_depth: str = "default"
    project_name: str = "myproject"
    layer_types: dict[str, LayerTable] = field(default_factory=dict)
    layers: dict[str, LayerTable] = field(default_factory=dict)
    csim: CsimInputs = field(default_factory=CsimInputs)
    rtl: RtlInputs = field(default_factory=RtlInputs)
    sweep: dict[str, list] = field(default_factory=dict)
    hang_after: str | None = None

    def replace(self, **changes: object) -> ImageFlow:
        return dataclasses.replace(self, **changes)

    def file_form(self) -> dict:
        """The flow as a file says it (what the host validates and writes): the values set, and [csim] without
        the build switch only hlsbox's own steps set."""
        data = self.to_dict()
        data["csim"] = {k: v for k, v in data["csim"].items() if k != "exact_build" and v is not None}
        return {k: v for k, v in data.items() if v is not None and v != {}}


def layer_tables(flow: ImageFlow, layer: str, layer_class: str) -> dict:
    """What the flow's tables set for one layer, per key: its own `[layers.X]`, else its class's
    `[layer_types.X]` (hls4ml's precedence, the one place this project writes it); precision per type variable."""
    settings: dict = {}
    precision: dict[str, str] = {}
    for table in (flow.layer_types.get(layer_class), flow.layers.get(layer)):  # the layer's own table wins
        values = table.set_values() if table is not None else {}
        precision.update(values.pop("precision", {}))
        settings.update(values)
    return {**settings, "precision": precision} if precision else settings


# hls4ml's layer classes with weights whose ReuseFactor it may move from the one asked for.
WEIGHTED = ("Dense", "Conv1D", "Conv2D", "PointwiseConv1D", "PointwiseConv2D", "DepthwiseConv1D", "DepthwiseConv2D")


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
    def reuse_adjusted(self) -> bool:
        """hls4ml moved the ReuseFactor asked for to another one (its rule for valid values)."""
        return self.reuse_used is not None and self.reuse_asked != self.reuse_used and self.layer_class in WEIGHTED

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
class CsimCache(JsonRecord):
    """csim and fit: the workspace's compiler cache, mounted."""

    ccache_dir: str


@dataclass(frozen=True)
class FitParams(JsonRecord):
    agreement: float = 0.99  # top-1 agreement with the frontend to keep, on calibration and held-out inputs
    budget: float = 0.8  # share of every resource of the part the design may use
    io_type: str = "auto"  # auto: io_parallel, io_stream only where io_parallel cannot fit
    max_probes: int = 40  # C simulations the search may use, cached ones included (a re-run replays them)
    calibration_samples: int = 200


@dataclass(frozen=True)
class FitRun(JsonRecord):
    params: FitParams
    cache_dir: str  # the probe cache, mounted


@dataclass(frozen=True)
class FitTarget(JsonRecord):
    """What fit was asked for: top-1 agreement to keep, share of the part to use, on which part."""

    agreement: float
    budget: float
    part: str


@dataclass(frozen=True)
class FitCalibration(JsonRecord):
    """The chosen types on the calibration inputs (fewer than asked for when the data have fewer)."""

    samples: int
    agreement: float
    common_fractional_bits: int | None  # the search's common width; None: nothing searched (a graph's own types)


@dataclass(frozen=True)
class FitDesign(JsonRecord):
    """One architecture fit estimated (the plan's estimator): io_type, strategy, ReuseFactors and what they cost."""

    io_type: str
    strategy: str
    reuse: dict[str, int]
    totals: dict[str, int]
    utilisation: dict[str, float]  # share of the part, estimated
    verdict: Verdict
    latency_cycles: int
    interval_cycles: int
    fits_budget: bool
    high_band: dict[str, float] = field(default_factory=dict)  # share at the band's high end: what the budget tests
    binding: str | None = None  # the resource over the budget, when it does not fit
    heaviest: tuple[tuple[str, int], ...] = ()  # its largest users: (layer, amount)


@dataclass(frozen=True)
class FitBound(FitDesign):
    """The cheapest design the search can reach, with its share of the part at the band's low end."""

    low_band: dict[str, float] = field(default_factory=dict)
    worst: str = ""  # the resource nearest the budget there


@dataclass(frozen=True)
class FitLayer(JsonRecord):
    """One layer of the chosen design: its types, ReuseFactor, estimated cost and error against the frontend.
    In JSON `layer_class` is "class"."""

    layer: str
    layer_class: str
    result: str  # its result type, or "auto (exact)"
    weight: str | None
    reuse_factor: int | None
    dsp: int
    bram18: int
    lut: int
    max_abs_diff: float | None  # None: not traced
    relative_diff: float | None

    JSON_NAMES: ClassVar[dict[str, str]] = {"layer_class": "class"}


@dataclass(frozen=True)
class FitProbe(JsonRecord):
    """One C simulation of the search, with the search's verdict on it."""

    agreement: float
    samples: int
    passed: bool
    accepted: bool
    verdict: str  # "accepted", or "rejected: " and why
    mean_abs_diff: float
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    cached: bool = False


@dataclass(frozen=True)
class FitResult(JsonRecord):
    """The `fit` step (result.json and fit.json): the new flow, the chosen design, how it was found and checked."""

    step: str
    target: FitTarget
    flow: ImageFlow  # the fitted flow; in JSON as its file says it (ImageFlow.file_form)
    reference: str  # what the design is judged against: Keras, Keras 3, qonnx execution
    calibration: FitCalibration
    held_out: Agreement  # the chosen design on inputs the search never saw
    design: FitDesign
    tried: tuple[FitDesign, ...]
    lower_bound: FitBound
    layers: tuple[FitLayer, ...]
    probes: tuple[FitProbe, ...]
    stopped_early: bool  # the probe budget ran out before every layer was narrowed
    meets_target: bool
    seconds: float
    probes_run: int
    probes_cached: int
    versions: dict[str, str] = field(default_factory=dict)
    written: str | None = None  # the flow file the host wrote from it

    def to_dict(self) -> dict:
        data = super().to_dict()
        data["flow"] = self.flow.file_form()
        data["held_out"] = {k: v for k, v in data["held_out"].items() if v is not None}
        return {k: v for k, v in data.items() if k != "written" or v is not None}


@dataclass(frozen=True)
class BestDesign(JsonRecord):
    """best.json: the best types fit has found so far, written at every accepted probe (what a stop keeps)."""

    layers: dict[str, LayerTable]
    agreement: float

    @classmethod
    def read(cls, path: Path) -> BestDesign | None:
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError, KeyError):
            return None


@dataclass(frozen=True)
class VivadoRun(JsonRecord):
    """A Vivado step: the tool, what build_prj.tcl switches on, the command line, the faked date, the log lines
    that stop the tool at once, and the copy of the upstream project."""

    tool: str
    options: dict[str, int]
    command: list[str]
    fake_date: str | None = None
    stop_on: tuple[str, ...] = ()
    project_dir: str | None = None


@dataclass(frozen=True)
class ParetoPoint(JsonRecord):
    """One variant of a sweep: its latency against the largest share of its part any resource takes."""

    variant: str
    latency: float
    resources: float
    estimated: bool  # from the plan (no csynth report)
    pareto: bool = False  # on the front


@dataclass(frozen=True)
class ParetoPlot(JsonRecord):
    """The spec of the sweep's plot (steps/pareto.py), the one step that runs on no flow."""

    run_dir: str
    title: str
    flow_name: str
    points: tuple[ParetoPoint, ...]
    module: str = "pareto"


@dataclass(frozen=True)
class PlotResult(JsonRecord):
    """The sweep's plot drawn: where its image is."""

    step: str
    png: str


@dataclass(frozen=True)
class StepSpec(JsonRecord):
    """spec.json: everything a step in the image is given."""

    step: str
    module: str
    flow: ImageFlow
    model_path: str
    flow_file: str
    run_dir: str
    workspace: str
    weights_path: str | None = None
    csim_cache: CsimCache | None = None
    fit: FitRun | None = None
    vivado: VivadoRun | None = None

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def read(cls, path: Path) -> StepSpec:
        return cls.from_dict(json.loads(path.read_text()))

    def replace(self, **changes: object) -> StepSpec:
        return dataclasses.replace(self, **changes)


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


@dataclass(frozen=True, kw_only=True)
class ConvertedModel(JsonRecord):
    """What `describe` and `convert` both report: the model as hls4ml converts it, layer by layer."""

    step: str
    parameters: int
    layers: tuple[LayerRow, ...]
    hls_config: dict  # hls4ml's own config, as hls4ml takes it
    unfused_batchnorms: tuple[BatchNormNote, ...] = ()
    repairs: tuple[GraphRepair, ...] = ()  # what hlsbox repaired in hls4ml's conversion
    hls4ml_warnings: tuple[str, ...] = ()  # hls4ml's own warnings during the conversion
    seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DescribeResult(ConvertedModel):
    """The `describe` step (plan's input): the model, its input and io_type."""

    input_shape: tuple[int, ...]
    io_type: str


@dataclass(frozen=True, kw_only=True)
class ConvertResult(ConvertedModel):
    """The `convert` step: the project written, and its C++ checked to compile."""

    project_dir: str
    plot: str | None
    columns: SetColumns = field(default_factory=SetColumns)
    warnings: tuple[str, ...] = ()
    syntax_check_seconds: float | None = None


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


@dataclass(frozen=True)
class Agreement(JsonRecord):
    """C simulation's outputs against the frontend's on the same inputs (and the labels, where there are)."""

    samples: int
    max_abs_diff: float
    mean_abs_diff: float
    top1_agreement: float
    keras_accuracy: float | None = None
    hls_accuracy: float | None = None


@dataclass(frozen=True)
class SplitPhases(JsonRecord):
    """The split build's seconds by phase: cutting the sources, the precompiled header, the units, the link."""

    plan: float
    pch: float
    compile: float
    link: float


@dataclass(frozen=True)
class LibraryBuild(JsonRecord):
    """One compile of a C-simulation library by fastcsim (steps/fastcsim/build.py): split, each layer its own unit
    against one precompiled header with the objects cached by content, or build_lib.sh's own units in parallel."""

    lib: str  # the shared library, named as build_lib.sh names it
    seconds: float
    split: bool
    parallel: bool = True
    ccache: bool = False
    units: int = 0  # translation units of the split build
    layers: int = 0
    compiled: int = 0  # units compiled this time; the others came from the cache
    from_cache: int = 0
    pch_cached: bool = False
    phases: SplitPhases | None = None
    peak_tree_rss_mb: float | None = None  # the compilers' summed memory at its peak (unsplit build)
    max_rss_mb: float | None = None  # the largest single compiler (unsplit build)
    not_split: str | None = None  # why the split build did not apply, when it did not
    # why this build, split or build_lib.sh's units (fastcsim.build.choose_build's rule), e.g. "split: 23 layers, ..."
    choice: str | None = None


@dataclass(frozen=True)
class CsimBuild(JsonRecord):
    """How C simulation's library was built: fastcsim's fast build (`library`: its compile), or hls4ml's own
    (exact, with the reason)."""

    mode: str  # "fast" or "exact"
    seconds: float  # from the written project to the loaded library
    reason: str | None = None  # why hls4ml's own build
    classes: int = 0  # im2col classes fastcsim replaced (0: hls4ml's sources, split and in parallel)
    copies_replaced: int = 0
    generated_bytes: int = 0  # the size of the generated classes replaced
    prepare_seconds: float = 0.0  # recognising and proving them
    library: LibraryBuild | None = None

    @property
    def ccache(self) -> bool:
        return bool(self.library and self.library.ccache)


@dataclass(frozen=True)
class ImageInputs(JsonRecord):
    """How a folder of images (dataset = "images") became the model's inputs: recorded in result.json."""

    images: int
    classes: tuple[str, ...]
    size: tuple[int, ...]  # the images' height, width
    input_size: tuple[int, ...]  # the model's
    resize: str  # csim.resize: none, center_crop or a PIL resampling filter
    scale: float

    def summary(self) -> str:
        """E.g. '100 in 10 classes (airplane, ...), 32x32 center-cropped to 28x28, pixels / 255'."""
        shown = ", ".join(self.classes[:10]) + (", ..." if len(self.classes) > 10 else "")
        made = describe(tuple(self.size), tuple(self.input_size), self.resize)  # type: ignore[arg-type]
        return f"{self.images} in {len(self.classes)} classes ({shown}), {made}, pixels / {self.scale:g}"


@dataclass(frozen=True)
class CsimResult(JsonRecord):
    """The `csim` step: the agreement, the build, every layer and its trace."""

    step: str
    reference: str  # what the outputs are compared with: Keras, Keras 3, qonnx execution
    dataset: str
    samples: int
    max_abs_diff: float
    mean_abs_diff: float
    top1_agreement: float
    build: CsimBuild
    compile_seconds: float
    predict_seconds: float
    layers: tuple[LayerRow, ...]
    trace: tuple[TraceRow, ...] = ()
    first_divergence: TraceRow | None = None
    keras_accuracy: float | None = None
    hls_accuracy: float | None = None
    repairs: tuple[GraphRepair, ...] = ()
    hls4ml_warnings: tuple[str, ...] = ()
    images: ImageInputs | None = None  # dataset = "images": the folder, its size and what csim.resize did
    versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultTable(JsonRecord):
    """A step's result as one table (result.json's "table"): what the default view of a step shows."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = ()  # lines said under the table


@dataclass(frozen=True)
class TableResult(JsonRecord):
    """The result of a step whose answer is one table (the step table's default: `weights`)."""

    step: str
    table: ResultTable
    seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)


# What synth's numbers are, said beside each of them.
RTL_LEVEL = (
    "yosys post-synthesis cells of the da4ml (fully unrolled, multiplier-free) implementation, "
    "no place-and-route, no timing"
)


@dataclass(frozen=True)
class RtlResult(JsonRecord):
    """`rtl`: the model as da4ml's Verilog project (rtl_prj/), with da4ml's own estimate of it."""

    step: str
    table: ResultTable
    top: str  # the Verilog module synth synthesises (da4ml's model, without its IO wrapper)
    estimate: dict[str, int]  # da4ml's own: LUT (its cost), FF (its pipeline registers' bits)
    latency_cycles: int  # clock cycles from input to output (0: combinational)
    inputs: int  # scalar inputs and outputs of the logic
    outputs: int
    multiplications: int  # what the Keras model multiplies per inference (all unrolled into shift-and-add)
    seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SynthResult(JsonRecord):
    """`synth`: yosys synth_xilinx of rtl's Verilog, its cells and the resources they make (RTL_LEVEL)."""

    step: str
    table: ResultTable
    family: str  # yosys' -family: xc7, xcu, xcup
    top: str
    cells: dict[str, int]  # every cell type yosys' stat counts
    resources: dict[str, int]  # LUT, FF, CARRY, DSP, BRAM_18K of those cells
    yosys_seconds: float = 0.0
    seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RtlsimResult(JsonRecord):
    """`rtlsim`: Verilator's simulation of rtl's Verilog against da4ml's software model and Keras."""

    step: str
    table: ResultTable
    samples: int
    from_data: int  # of them, the flow's [csim] data (the rest uniform random)
    rtl_mismatches: int  # outputs where the Verilog differs from da4ml's software model
    keras_mismatches: int  # outputs where da4ml's software model differs from Keras
    first_difference: str | None = None  # the first differing output, named
    seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorReport(JsonRecord):
    """error.json: a step's refusal (bad input, exit 2) or explained failure (exit 1), with its hint."""

    kind: str
    message: str
    hint: str

    @classmethod
    def read(cls, path: Path) -> ErrorReport | None:
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


@dataclass(frozen=True)
class VivadoResult(JsonRecord):
    """A Vivado step (csynth, cosim, export, vsynth): the command the host built, the tool's real exit status and
    ERROR lines, what the step should have produced and did not, and hls4ml's reading of the reports."""

    step: str
    tool: str
    command: tuple[str, ...]
    tool_exit_code: int
    # hls4ml's own record (parse_vivado_report: CSynthesisReport, CosimReport, VivadoSynthReport, ... as hls4ml
    # gives them), with its parser's messages ("parser_messages") and, when it failed, why ("parse_error")
    report: dict
    missing_report: str | None = None  # in words; None also when the tool was stopped (it never got there)
    stopped_at: str | None = None  # the log line at which hlsbox stopped the tool (a fatal message)
    errors: tuple[str, ...] = ()  # the log's ERROR lines, the first 50
    expected_report: str | None = None  # the hls4ml section the step must produce (export: none, an IP archive)
    ip_archives: tuple[str, ...] = ()
    chart: str | None = None  # resources.png: each resource against the part (from the csynth report)
    fake_date: str | None = None  # the date the tool saw (libfaketime, the Y2K22 workaround)
    manifest: dict[str, str] = field(default_factory=dict)  # what the step wants in the run's manifest
