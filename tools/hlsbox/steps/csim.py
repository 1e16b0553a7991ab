"""Step `csim`: hls4ml's bit-accurate C emulation (g++) against Keras on test inputs."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from hlsbox.steps import datasets, hls, trace
from hlsbox.steps.protocol import StepInputError, phase


def test_inputs(settings: dict, input_shape: tuple[int, ...], workspace: Path) -> tuple[np.ndarray, np.ndarray | None]:
    name, samples = settings["dataset"], settings["samples"]
    if name == "digits":
        _, _, x, y = datasets.digits_split()
    elif name == "synthetic_cifar":
        x, y = datasets.synthetic_cifar(samples, datasets.HELD_OUT_SEED + settings["seed"])
    elif name == "jets":
        x, y = datasets.jets(samples, datasets.HELD_OUT_SEED + settings["seed"])
    elif name == "cifar10":
        if not settings.get("cifar10_path"):
            raise StepInputError(
                "csim.dataset is 'cifar10' but csim.cifar10_path is not set.",
                "Set csim.cifar10_path to a local cifar-10-batches-py directory.",
            )
        x, y = datasets.cifar10_test(workspace / settings["cifar10_path"])
    else:
        return datasets.random_inputs(input_shape, samples, settings["seed"]), None
    if tuple(x.shape[1:]) != tuple(input_shape):
        raise StepInputError(
            f"The model takes inputs of shape {input_shape}, the '{name}' data set has {x.shape[1:]}.",
            "Pick the data set that matches the model in the flow's [csim] section.",
        )
    return x[:samples], y[:samples]


def compare(keras_out: np.ndarray, hls_out: np.ndarray, labels: np.ndarray | None) -> dict:
    diff = np.abs(keras_out - hls_out)
    result = {
        "samples": len(keras_out),
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "top1_agreement": float(np.mean(keras_out.argmax(1) == hls_out.argmax(1))),
    }
    if labels is not None:
        result["keras_accuracy"] = float(np.mean(keras_out.argmax(1) == labels))
        result["hls_accuracy"] = float(np.mean(hls_out.argmax(1) == labels))
    return result


# Above this many elements in one conv layer's output, io_parallel C++ takes g++ many minutes and GBs
# (the seed's 32x32x16 layers: still compiling after 10 minutes; io_stream: 15 s at 0.56 GB).
SLOW_IO_PARALLEL_ELEMENTS = 4096


def warn_if_slow_compile(hls_model, flow: dict) -> None:
    if flow["io_type"] != "io_parallel":
        return
    convs = [
        (layer.name, int(np.prod(layer.get_output_variable().shape)))
        for layer in hls_model.get_layers()
        if layer.class_name.startswith("Conv") or "Conv" in layer.class_name
    ]
    big = max(convs, key=lambda c: c[1], default=None)
    if big and big[1] > SLOW_IO_PARALLEL_ELEMENTS:
        print(
            f"WARNING: io_parallel with conv layer '{big[0]}' of {big[1]:,} outputs: g++ will compile for many "
            'minutes at several GB (the seed model: over 10 minutes). io_type = "io_stream" compiles it in '
            "seconds.",
            flush=True,
        )


def run(spec: dict) -> dict:
    flow, run_dir = spec["flow"], Path(spec["run_dir"])
    model = hls.load_keras_model(Path(spec["model_path"]), hls.weights_path(spec))
    x, labels = test_inputs(flow["csim"], tuple(model.input_shape[1:]), Path(spec["workspace"]))
    settings = flow["csim"]
    tracing = settings["trace"] and flow["granularity"] == "name"
    hls_model, _ = hls.convert(model, flow, run_dir / "hls4ml_prj", trace=tracing, flow_file=spec["flow_file"])
    warn_if_slow_compile(hls_model, flow)
    phase("compiling (g++)")
    start = time.monotonic()
    hls_model.compile()
    compile_seconds = time.monotonic() - start
    phase(f"predicting {len(x)} samples")
    keras_out = np.asarray(model.predict(x, verbose=0)).reshape(len(x), -1)
    start = time.monotonic()
    hls_out = np.asarray(hls_model.predict(np.ascontiguousarray(x))).reshape(len(x), -1)
    predict_seconds = time.monotonic() - start
    np.save(run_dir / "keras_out.npy", keras_out)
    np.save(run_dir / "hls_out.npy", hls_out)
    layers_traced = []
    if tracing:
        phase(f"tracing every layer on {min(len(x), settings['trace_samples'])} samples")
        layers_traced = trace.trace_layers(model, hls_model, x[: settings["trace_samples"]])
    return {
        "trace": layers_traced,
        "first_divergence": trace.first_divergence(layers_traced),
        "step": "csim",
        "dataset": flow["csim"]["dataset"],
        **compare(keras_out, hls_out, labels),
        "compile_seconds": round(compile_seconds, 2),
        "predict_seconds": round(predict_seconds, 2),
        "layers": hls.layer_table(hls_model),
        "versions": hls.versions(),
    }
