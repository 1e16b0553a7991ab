"""Step `csim`: hls4ml's bit-accurate C emulation (g++) against Keras on test inputs.

The library is built fast and exactly (hlsbox.steps.fastcsim) unless the flow asks for hls4ml's own build
(csim.exact_build). The first input runs in a forked child first: a kernel assertion or crash then becomes an
explained failure naming the layer, not a dead step.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import tempfile
import time
from pathlib import Path

import numpy as np

from hlsbox.core import imagefolder, kernels
from hlsbox.core.contract import (
    Agreement,
    CsimBuild,
    CsimCache,
    CsimInputs,
    CsimResult,
    ImageFlow,
    ImageInputs,
    LayerRow,
    StepSpec,
)
from hlsbox.steps import compile_check, crashsite, datasets, describe, fastcsim, frontends, hls, trace
from hlsbox.steps.protocol import StepFailure, StepInputError, phase

# The fast tree sits at one path in every container (on its /tmp tmpfs): the weights directory is on the
# compiler's command line, so ccache recognises an unchanged build only at the same path.
TREE_DIR = Path("/tmp/hlsbox-fastcsim")


def test_inputs(
    settings: CsimInputs, input_shape: tuple[int, ...], workspace: Path
) -> tuple[np.ndarray, np.ndarray | None, ImageInputs | None]:
    """The flow's inputs for C simulation against Keras (a stratified subset of a labelled folder of images),
    their labels, and for a folder of images how it became the model's inputs."""
    name, samples = settings.dataset, settings.samples
    if name == "digits":
        _, _, x, y = datasets.digits_split()
    elif name == "synthetic_cifar":
        x, y = datasets.synthetic_cifar(samples, datasets.HELD_OUT_SEED + settings.seed)
    elif name == "jets":
        x, y = datasets.jets(samples, datasets.HELD_OUT_SEED + settings.seed)
    elif name == "cifar10":
        x, y = datasets.cifar10_test(_cifar10_path(settings, workspace))
    elif name == "images":
        images = _images(settings, input_shape, workspace)
        pick = datasets.stratified(images.labels, samples, settings.seed)
        return images.x[pick], images.labels[pick], images.inputs
    else:
        return datasets.random_inputs(input_shape, samples, settings.seed), None, None
    _check_shape(x, input_shape, name)
    return x[:samples], y[:samples], None


def _cifar10_path(settings: CsimInputs, workspace: Path) -> Path:
    if not settings.cifar10_path:
        raise StepInputError(
            "csim.dataset is 'cifar10' but csim.cifar10_path is not set.",
            "Set csim.cifar10_path to a local cifar-10-batches-py directory.",
        )
    return workspace / settings.cifar10_path


def _images(settings: CsimInputs, input_shape: tuple[int, ...], workspace: Path) -> datasets.ImageSet:
    """The flow's folder of images as the model's inputs (csim.resize), said in one line."""
    images = datasets.image_folder(workspace / settings.images, input_shape, settings.scale, settings.resize)
    phase(f"images: {imagefolder.summary(images.inputs)}")
    return images


def _check_shape(x: np.ndarray, input_shape: tuple[int, ...], name: str) -> None:
    if tuple(x.shape[1:]) != tuple(input_shape):
        raise StepInputError(
            f"The model takes inputs of shape {input_shape}, the '{name}' data set has {x.shape[1:]}.",
            "Pick the data set that matches the model in the flow's [csim] section.",
        )


def one_labelled_set(settings: CsimInputs, workspace: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The flow's data as (x, y) when it is a single labelled set, which fit splits in two: a folder of images,
    or a CIFAR-10 with only its test batch. None when the data have a calibration split of their own."""
    if settings.dataset == "cifar10" and not datasets.has_cifar10_train(_cifar10_path(settings, workspace)):
        return datasets.cifar10_test(_cifar10_path(settings, workspace))
    return None


CALIBRATION_SEED = 500  # synthetic data sets: calibration draws from seeds HELD_OUT_SEED + 500 + seed on


def split_inputs(
    settings: CsimInputs, input_shape: tuple[int, ...], workspace: Path, samples: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """fit's inputs: calibration inputs for the search (up to `samples`) and held-out inputs with their labels,
    never the same. Data with a split of their own use it (digits' training split, CIFAR-10's training batches,
    other draws of a synthetic set); a single labelled set (a folder of images, a CIFAR-10 test batch alone) is
    split 50/50, stratified by class, and fit says so."""
    if settings.dataset == "images":
        images = _images(settings, input_shape, workspace)
        x, y = images.x, images.labels
    else:
        one = one_labelled_set(settings, workspace)
        if one is None:
            x_held, labels, _ = test_inputs(settings, input_shape, workspace)
            return calibration_inputs(settings, input_shape, workspace, samples), x_held, labels
        x, y = one
        _check_shape(x, input_shape, settings.dataset)
    first, second = datasets.halves(y, settings.seed)
    held = second[datasets.stratified(y[second], settings.samples, settings.seed)]
    phase(
        f"one labelled set of {len(x)} ({settings.dataset}): split 50/50 by class, {len(first)} to calibrate "
        f"the types on (up to {samples} used), {len(second)} held out ({len(held)} checked)"
    )
    return x[first][:samples], x[held], y[held]


def calibration_inputs(settings: CsimInputs, input_shape: tuple[int, ...], workspace: Path, samples: int) -> np.ndarray:
    """Calibration inputs of data with a split of their own (split_inputs): never the held-out ones test_inputs
    gives. Random inputs are no data to calibrate on."""
    name, seed = settings.dataset, settings.seed
    if name == "digits":
        x = datasets.digits_split()[0]
    elif name == "synthetic_cifar":
        x, _ = datasets.synthetic_cifar(samples, datasets.HELD_OUT_SEED + CALIBRATION_SEED + seed)
    elif name == "jets":
        x, _ = datasets.jets(samples, datasets.HELD_OUT_SEED + CALIBRATION_SEED + seed)
    elif name == "cifar10" and settings.cifar10_path:
        x = datasets.cifar10_train(workspace / settings.cifar10_path)[0]
    else:
        raise StepInputError(
            f"The flow's [csim] dataset is '{name}': no data the model was made for, so nothing to calibrate the "
            "types on or to judge agreement with.",
            "Set csim.dataset to the model's data (digits, synthetic_cifar, jets, cifar10 with cifar10_path, or "
            "images with images and scale).",
        )
    _check_shape(x, input_shape, name)
    return x[:samples]


def compare(keras_out: np.ndarray, hls_out: np.ndarray, labels: np.ndarray | None) -> Agreement:
    diff = np.abs(keras_out - hls_out)
    return Agreement(
        samples=len(keras_out),
        max_abs_diff=float(diff.max()),
        mean_abs_diff=float(diff.mean()),
        top1_agreement=float(np.mean(keras_out.argmax(1) == hls_out.argmax(1))),
        keras_accuracy=float(np.mean(keras_out.argmax(1) == labels)) if labels is not None else None,
        hls_accuracy=float(np.mean(hls_out.argmax(1) == labels)) if labels is not None else None,
    )


# Above this many elements in one conv layer's output, hls4ml's own io_parallel build takes g++ many minutes
# and GBs (the seed's 32x32x16 layers: 17 minutes at 7.3 GB; the fast build: seconds).
SLOW_IO_PARALLEL_ELEMENTS = 4096


def warn_if_slow_compile(hls_model, flow: ImageFlow) -> None:
    if flow.io_type != "io_parallel":
        return
    convs = [
        (layer.name, int(np.prod(layer.get_output_variable().shape)))
        for layer in hls_model.get_layers()
        if "Conv" in layer.class_name
    ]
    big = max(convs, key=lambda c: c[1], default=None)
    if big and big[1] > SLOW_IO_PARALLEL_ELEMENTS:
        print(
            f"WARNING: hls4ml's own build of io_parallel conv layer '{big[0]}' ({big[1]:,} outputs) makes g++ "
            "compile for many minutes at several GB (the seed model: 17 minutes at 7.3 GB); hlsbox's fast build "
            "(csim.exact_build = false, the default) takes seconds and is bit-identical.",
            flush=True,
        )


def build_library(hls_model, flow: ImageFlow, cache: CsimCache | None, repeated: bool = False) -> CsimBuild:
    """The C-simulation library: the fast exact build, or hls4ml's own (csim.exact_build). repeated: one of many
    builds of the design with a few layers changed each time (fit's probes; fastcsim.choose_build)."""
    if flow.csim.exact_build:
        warn_if_slow_compile(hls_model, flow)
        phase("compiling (g++, exactly as hls4ml does)")
        start = time.monotonic()
        hls_model.compile()
        return CsimBuild("exact", time.monotonic() - start, reason="csim.exact_build")
    phase("compiling (g++, fast build)")
    hls_model.write()
    ccache = cache.ccache_dir if cache else None
    try:
        build = fastcsim.fast_compile(hls_model, TREE_DIR, ccache, progress=phase, repeated=repeated)
    except fastcsim.BuildFailed as failed:
        layers = describe.layer_rows(hls_model)
        raise compile_check.explain(failed.output, TREE_DIR, layers, "g++ could not build the C simulation") from None
    except fastcsim.CompileTimeout as late:
        raise StepFailure(
            f"The C simulation's build was stopped: {late}, and was killed.", compile_check.SLOW_COMPILE_HINT
        ) from None
    # trace() compiles again: fast too
    fastcsim.patch_compile(hls_model, tree_dir=TREE_DIR, ccache_dir=ccache, progress=phase, repeated=repeated)
    return build


def check_first_input(hls_model, x: np.ndarray, flow: ImageFlow, layers: list[LayerRow]) -> None:
    """Run the library on one input in a forked child: an abort (a kernel's assertion) or a crash is explained."""
    with tempfile.TemporaryFile() as stderr:
        pid = os.fork()
        if pid == 0:  # the child: only the library call, then out
            code = 3
            try:
                os.dup2(stderr.fileno(), 2)
                crashsite.install()
                hls_model.predict(np.ascontiguousarray(x[:1]))
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if not os.WIFSIGNALED(status):
            return
        stderr.seek(0)
        text = stderr.read().decode(errors="replace")
    raise explain_crash(os.WTERMSIG(status), text, flow, layers)


def crash_hint(signal_name: str, flow: ImageFlow) -> str:
    """Only what is true of this flow: no stack advice for io_stream, no --exact-build after one."""
    hints = []
    if signal_name in ("SIGILL", "SIGFPE"):
        hints.append(
            "SIGILL/SIGFPE in hls4ml's kernels is most often an integer division by zero that g++ -O3 turns into a "
            "trap: a layer whose sizes the kernel does not expect (e.g. a pooling or a reshape after a transpose)"
        )
    if signal_name == "SIGSEGV" and flow.io_type == "io_parallel":
        hints.append('a large io_parallel design may overflow the stack: io_type = "io_stream" keeps arrays small')
    if signal_name == "SIGKILL":
        hints.append("the memory limit? Give --mem more")
    if not flow.csim.exact_build:
        hints.append("compare with hls4ml's own build (csim.exact_build = true in the flow, or --exact-build)")
    hints.append("step.log has hls4ml's output and the build's")
    text = "; ".join(hints)
    return text[0].upper() + text[1:] + "."


PARALLEL_FROM = 8  # inputs: fewer run in this process (a fork costs more than they take)


def predict_on_every_core(hls_model, x: np.ndarray) -> np.ndarray:
    """The library on every input, its share of the inputs in each of a child per core (forked: the same library,
    the same inputs, so the same outputs; an io_stream CNN's C simulation takes ~0.5 s an input)."""
    cores = min(len(os.sched_getaffinity(0)), len(x) // PARALLEL_FROM)
    if cores < 2:
        return np.asarray(hls_model.predict(np.ascontiguousarray(x))).reshape(len(x), -1)
    shares = np.array_split(np.arange(len(x)), cores)
    with tempfile.TemporaryDirectory() as scratch:
        children = []
        for number, share in enumerate(shares):
            pid = os.fork()
            if pid == 0:  # a child: its share, to a file, then out
                code = 1
                try:
                    out = np.asarray(hls_model.predict(np.ascontiguousarray(x[share]))).reshape(len(share), -1)
                    np.save(Path(scratch) / f"{number}.npy", out)
                    code = 0
                finally:
                    os._exit(code)
            children.append(pid)
        failed = [pid for pid in children if os.waitpid(pid, 0)[1] != 0]
        if failed:
            raise StepFailure(
                f"{len(failed)} of the {cores} processes predicting with the C simulation library failed (the first "
                "input ran in a process of its own without fault).",
                "Run csim again; if it fails again, step.log has the library's output.",
            )
        return np.concatenate([np.load(Path(scratch) / f"{number}.npy") for number in range(len(shares))])


def explain_crash(signum: int, stderr: str, flow: ImageFlow, layers: list[LayerRow]) -> StepFailure:
    name = signal.Signals(signum).name
    abort = kernels.parse_abort(stderr)
    if abort is None:
        what = {"SIGSEGV": "a segmentation fault", "SIGFPE": "a floating point exception", "SIGKILL": "a kill"}
        site = crashsite.locate(stderr, layers)
        if site is None:
            where = "inside hls4ml's generated C++ or its kernels (the backtrace names no hls4ml kernel)"
        elif site.layer is None:
            where = f"in hls4ml's nnet::{site.kernel}"
        else:
            where = f"in layer {site.layer.name} ({site.layer.layer_class}), in hls4ml's nnet::{site.kernel}"
        return StepFailure(
            f"The C simulation library crashed with {what.get(name, name)} on the first input, {where}.",
            crash_hint(name, flow),
        )
    layer = next((row for row in layers if row.index == abort.config_index), None)
    where = f"layer {layer.name} ({layer.layer_class})" if layer else f"config{abort.config_index}"
    known = None
    if layer is not None:
        rf = layer.reuse_used or 1
        known = kernels.problem(
            layer.name, layer.layer_class, flow.io_type, layer.strategy, layer.n_in or 0, rf, layer.flow_name
        )
    message = (
        f"The C simulation aborted in {where}: hls4ml's nnet::{abort.function} ({abort.header}) asserts "
        f"`{abort.condition}`"
    )
    if known is not None:
        return StepFailure(
            f"{message}, that is: it {known.condition}.",
            f"Fix: {known.fix}. `hlsbox plan` flags this before any build.",
        )
    return StepFailure(message + ".", "This kernel rejects the layer's configuration; see the condition above.")


def run(spec: StepSpec) -> CsimResult:
    flow, run_dir = spec.flow, spec.run_path
    model = hls.load_spec_model(spec)
    x, labels, images = test_inputs(flow.csim, frontends.current().input_shape(model), Path(spec.workspace))
    settings = flow.csim
    tracing = settings.trace and flow.granularity == "name"
    hls_model, _ = hls.convert(model, flow, run_dir / "hls4ml_prj", trace=tracing, flow_file=spec.flow_file)
    layers = describe.layer_rows(hls_model)
    build = build_library(hls_model, flow, spec.csim_cache)
    phase("checking the first input")
    check_first_input(hls_model, x, flow, layers)
    phase(f"predicting {len(x)} samples")
    keras_out = frontends.current().predict(model, x).reshape(len(x), -1)
    start = time.monotonic()
    hls_out = predict_on_every_core(hls_model, x)
    predict_seconds = time.monotonic() - start
    np.save(run_dir / "keras_out.npy", keras_out)
    np.save(run_dir / "hls_out.npy", hls_out)
    layers_traced = []
    if tracing:
        phase(f"tracing every layer on {min(len(x), settings.trace_samples)} samples")
        layers_traced = trace.trace_layers(model, hls_model, x[: settings.trace_samples])
    repaired, hls4ml_said = hls.conversion_notes(hls_model)
    return CsimResult(
        step="csim",
        repairs=repaired,
        hls4ml_warnings=hls4ml_said,
        reference=frontends.current().reference,
        dataset=flow.csim.dataset,
        **dataclasses.asdict(compare(keras_out, hls_out, labels)),
        build=build,
        compile_seconds=round(build.seconds, 2),
        predict_seconds=round(predict_seconds, 2),
        layers=tuple(layers),
        trace=tuple(layers_traced),
        first_divergence=trace.first_divergence(layers_traced),
        images=images,
        versions=hls.versions(),
    )
