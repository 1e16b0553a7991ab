"""What the steps report back (result.json): convert and describe, csim and its build, a table, the sweep's plot,
a Vivado step."""

from __future__ import annotations

from dataclasses import dataclass, field

from hlsbox.core.contract.layers import BatchNormNote, GraphRepair, LayerRow, SetColumns, TraceRow
from hlsbox.core.jsonrecord import JsonRecord


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
class PlotResult(JsonRecord):
    """The sweep's plot drawn: where its image is."""

    step: str
    png: str


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
