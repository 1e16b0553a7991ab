"""Step `rtl` (backend = "da4ml"): an HGQ2 model -> da4ml -> a Verilog project (rtl_prj/), with da4ml's own estimate.

da4ml (its Keras 3 tracer ships in HGQ2) follows every quantised value of the model through its layers and writes
the whole network as shift-and-add logic, every constant multiplication unrolled, pipelined every
`[rtl] latency_cutoff` adder delays. It traces only HGQ2's quantised layers: a plain Keras Dense or Conv is refused
before any tracing, as is a network with more multiplications than `[rtl] max_multiplications`.
synth (yosys) and rtlsim (Verilator) work on the project this step writes.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from hlsbox.core.contract import ResultTable, RtlResult, StepSpec
from hlsbox.steps.protocol import StepInputError, phase

PROJECT = "rtl_prj"  # the run dir's da4ml project: src/ (Verilog), model/ (da4ml's software model), sim/
TOP = "model"  # da4ml's module name; its IO wrapper is model_wrapper
SOFTWARE_MODEL = "model/comb.json"  # da4ml's CombLogic, the bit-exact software model rtlsim compares against
HGQ2_LAYERS = "hgq.layers (QDense, QConv2D, QBatchNormalization, ...)"


def import_da4ml() -> None:
    """da4ml and HGQ2 (whose import registers its layers with Keras and its tracer with da4ml), or a refusal."""
    try:
        import da4ml  # noqa: F401
        import hgq  # noqa: F401
    except ImportError as error:
        raise StepInputError(
            f'This image has no da4ml or HGQ2 ({error}): backend = "da4ml" reads HGQ2 models, which the keras3 '
            "toolchain's image holds.",
            'Give an HGQ2 model saved by Keras 3 (its file picks the keras3 image), or set toolchain = "keras3".',
        ) from None


def load_model(path: Path):
    import hgq  # noqa: F401  (registers HGQ2's layers, so Keras can load them)
    import keras

    phase("loading model")
    return keras.saving.load_model(path, compile=False)


def all_layers(model) -> list:
    """Every layer, those of nested models too."""
    import keras

    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found.extend(all_layers(layer))
    return found


def untraceable(model) -> list[str]:
    """The layers da4ml's HGQ2 tracer has no handler for: 'name (Class)'."""
    import keras
    from hgq._dais_tracer.layers import _registry  # HGQ2's table of what its tracer replays (no public name)

    return [
        f"{layer.name} ({type(layer).__name__})"
        for layer in all_layers(model)
        if type(layer) not in _registry and not isinstance(layer, keras.Model | keras.layers.InputLayer)
    ]


def multiplications(model) -> int:
    """The multiplications of one inference: each layer's kernel once per output position."""
    total = 0
    for layer in all_layers(model):
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        try:
            positions = math.prod(int(d) for d in layer.output.shape[1:-1])
        except (AttributeError, ValueError, TypeError):  # no output shape known: count the kernel once
            positions = 1
        total += math.prod(int(d) for d in kernel.shape) * positions
    return total


def check_model(model, max_multiplications: int) -> int:
    """The model's multiplications; a refusal (exit 2) when da4ml cannot trace it or it is too large to unroll."""
    if bad := untraceable(model):
        raise StepInputError(
            f"da4ml cannot trace {len(bad)} layer(s) of '{model.name}': {', '.join(bad[:6])}. It traces HGQ2's "
            "quantised layers only (every value needs its fixed-point type; a plain Keras layer has none).",
            f"Build the model with {HGQ2_LAYERS} and train it with HGQ2; a plain Keras model goes through hls4ml "
            '(backend = "Vivado").',
        )
    count = multiplications(model)
    if count > max_multiplications:
        raise StepInputError(
            f"'{model.name}' makes {count:,} multiplications per inference; da4ml unrolls every one into logic, and "
            f"more than the flow's limit of {max_multiplications:,} ([rtl] max_multiplications) is a design that "
            "takes yosys hours and gigabytes and fills many FPGAs (a toy 8x8x3 CNN took 9 CPU-minutes and 3.4 GB).",
            "A smaller network (fewer units or filters, a smaller input), or hls4ml with a ReuseFactor "
            '(backend = "Vivado"); raise [rtl] max_multiplications only for a part that can hold it.',
        )
    return count


def trace(model):
    """da4ml's CombLogic of the model: every output as shift-and-add operations on the quantised inputs."""
    from da4ml.converter import trace_model
    from da4ml.trace import HWConfig, comb_trace

    phase("tracing")
    try:
        inputs, outputs = trace_model(model, HWConfig(1, -1, -1), {"hard_dc": 2})
    except AssertionError as error:
        if _raised_in(error, "quantize"):  # da4ml's first quantiser of an unquantised input: WRAP only
            raise StepInputError(
                f"da4ml cannot trace '{model.name}': a quantiser that reads the model's unquantised input does not "
                "wrap (its overflow_mode is SAT or SAT_SYM); da4ml can only wrap a value it has no range for.",
                'Give the input quantisers overflow_mode="WRAP" (HGQ2\'s default for data); saturate the weights '
                'only (QuantizerConfigScope(place="weight", overflow_mode="SAT_SYM")).',
            ) from None
        raise
    return comb_trace(inputs, outputs)


def _raised_in(error: BaseException, function: str) -> bool:
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and frames[-1].name == function


def write_project(comb, spec: StepSpec):
    """The Verilog project in rtl_prj/ (pipelined unless latency_cutoff <= 0); the pipeline, or None."""
    from da4ml.codegen import RTLModel
    from da4ml.trace.pipeline import to_pipeline

    phase("writing Verilog")
    cutoff = spec.flow.rtl.latency_cutoff
    pipeline = to_pipeline(comb, cutoff, verbose=False) if cutoff > 0 else None
    project = spec.run_path / PROJECT
    RTLModel(pipeline or comb, TOP, project, part_name=spec.flow.part, clock_period=spec.flow.clock_period).write()
    comb.save(project / SOFTWARE_MODEL)
    return pipeline


def versions() -> dict[str, str]:
    from importlib.metadata import version

    from hlsbox.steps import hls

    return hls.versions() | {"da4ml": version("da4ml"), "hgq2": version("hgq2")}


def run(spec: StepSpec) -> RtlResult:
    start = time.monotonic()
    import_da4ml()
    model = load_model(Path(spec.model_path))
    count = check_model(model, spec.flow.rtl.max_multiplications)
    comb = trace(model)
    pipeline = write_project(comb, spec)
    estimate = {"LUT": round((pipeline or comb).cost), "FF": int(pipeline.reg_bits) if pipeline else 0}
    cycles = len(pipeline.solutions) if pipeline else 0
    inputs, outputs = comb.shape
    rows = (
        ("multiplications unrolled", f"{count:,}"),
        ("inputs -> outputs", f"{inputs} -> {outputs}"),
        ("LUT (da4ml's estimate: its cost)", f"{estimate['LUT']:,}"),
        ("FF (da4ml's estimate: its pipeline registers' bits)", f"{estimate['FF']:,}"),
        ("latency", f"{cycles} clock cycles" if cycles else "combinational"),
    )
    notes = (
        f"Verilog in {PROJECT}/src (top {TOP}); da4ml's bit-exact software model in {PROJECT}/{SOFTWARE_MODEL}.",
        "da4ml's estimate, not synthesis: `hlsbox synth` counts yosys' cells, `hlsbox rtlsim` simulates the Verilog.",
    )
    table = ResultTable(f"da4ml's Verilog of {model.name} for {spec.flow.part}", ("what", "value"), rows, notes)
    return RtlResult(
        "rtl", table, TOP, estimate, cycles, inputs, outputs, count, round(time.monotonic() - start, 2), versions()
    )
