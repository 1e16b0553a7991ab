"""A small QONNX residual block of the seed author's 4-bit Brevitas ResNet's shape, built with onnx/qonnx helpers (no
PyTorch, no Brevitas), channels first, as Brevitas exports it:

    input 1x3x8x8 in [0, 1] -> Quant (8-bit signed, scale 1/126.9)  -> FORK:
      (a) Conv 1x1, 16 filters (4-bit weights) -> Quant (8-bit)                           -> the Add's SECOND input
      (b) Conv 3x3 pad 1 (4-bit) -> BatchNormalization -> Relu -> Quant (4-bit)
          -> Conv 3x3 pad 1 (4-bit) -> BatchNormalization -> Quant (8-bit)               -> the Add's first input
    -> Add -> Quant (8-bit) -> GlobalAveragePool -> Reshape -> Gemm 16x10 (4-bit weights, bias) -> logits

It is untrained (weights from a seed) but calibrated on random inputs in [0, 1], as the test's csim feeds it: each
BatchNormalization's statistics are its input's, each activation Quant's scale spans its input's range, and the
logits' bias centres them, so the top-1 class varies across inputs. Every scale is a measured one (no power of 2),
so hls4ml rewrites each activation Quant as ApplyAlpha, quantiser, ApplyAlpha. What hls4ml 1.3.0 alone gets wrong
on it (each repaired by tools/hlsbox/steps/repairs.py): the input Quant forks (its rescale reached one branch), the
shortcut's Quant is the Add's second input (its rescale replaced the Add's first), qonnx leaves a Transpose before
the GlobalAveragePool over more channels (16) than columns (8) (io_stream divided by zero), the input rescale's
126.9 wraps in hls4ml's default fixed<16,6>.

Run inside the qonnx image:  hlsbox model models/qonnx_resnet_fork.py --toolchain qonnx \\
                                 --out models/qonnx_resnet_fork.onnx
"""

from __future__ import annotations

import argparse

import numpy as np

CHANNELS, FILTERS, SIZE, CLASSES = 3, 16, 8, 10
CALIBRATION = 64  # random inputs the statistics and scales are measured on
INPUT_SCALE = 1 / 126.9  # the author's input Quant: 0.00788
CONV3 = {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1], "dilations": [1, 1], "group": 1}
CONV1 = {"kernel_shape": [1, 1], "strides": [1, 1], "pads": [0, 0, 0, 0], "dilations": [1, 1], "group": 1}


def weight_codes(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, float]:
    """4-bit narrow signed weights (codes -7..7) and their scale, as Brevitas's default weight quantiser makes."""
    values = rng.normal(0, 1, shape).astype(np.float32)
    scale = float(np.abs(values).max() / 7)
    return np.clip(np.round(values / scale), -7, 7) * scale, scale


def initial_parameters(seed: int, chain: bool) -> dict:
    """The graph's constants, before calibration. A chain has no shortcut, Add or pooling (its weights differ)."""
    rng = np.random.default_rng(seed)
    params: dict = {"input_scale": INPUT_SCALE}
    for name, shape in (
        ("short_w", (FILTERS, CHANNELS, 1, 1)),
        ("conv_a_w", (FILTERS, CHANNELS, 3, 3)),
        ("conv_b_w", (FILTERS, FILTERS, 3, 3)),
        ("fc_w", (CLASSES, FILTERS * SIZE * SIZE if chain else FILTERS)),
    ):
        if not (chain and name == "short_w"):
            params[name], params[f"{name}_q"] = weight_codes(rng, shape)
    for bn in ("bn_a", "bn_b"):
        params[f"{bn}_gamma"] = rng.uniform(0.5, 1.5, FILTERS).astype(np.float32)
        params[f"{bn}_beta"] = rng.normal(0, 0.3, FILTERS).astype(np.float32)
        params[f"{bn}_mean"] = np.zeros(FILTERS, np.float32)
        params[f"{bn}_var"] = np.ones(FILTERS, np.float32)
    params.update(relu_scale=1.0, add_in_scale=1.0)  # activation Quants' (the Add's inputs share one)
    if not chain:
        params["add_scale"] = 1.0
    params["fc_b"] = np.zeros(CLASSES, np.float32)
    return params


def build_graph(params: dict):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from qonnx.util.basic import qonnx_make_model

    inits = [numpy_helper.from_array(np.asarray(v, dtype=np.float32), n) for n, v in params.items()]
    constants = (("zero", 0), ("b4", 4), ("b8", 8))  # a Quant's zero point and bit widths
    inits += [numpy_helper.from_array(np.asarray(v, dtype=np.float32), n) for n, v in constants]
    nodes = []

    def quant(inp: str, out: str, scale: str, bits: int, narrow: int = 0) -> None:
        nodes.append(
            helper.make_node(
                "Quant",
                [inp, scale, "zero", f"b{bits}"],
                [out],
                name=f"quant_{out}",
                domain="qonnx.custom_op.general",
                signed=1,
                narrow=narrow,
                rounding_mode="ROUND",
            )
        )

    chain = "short_w" not in params
    for weight in ("conv_a_w", "conv_b_w", "fc_w") if chain else ("short_w", "conv_a_w", "conv_b_w", "fc_w"):
        quant(weight, f"{weight}_quant", f"{weight}_q", 4, narrow=1)
    quant("image", "image_q", "input_scale", 8)
    if not chain:
        nodes.append(helper.make_node("Conv", ["image_q", "short_w_quant"], ["short"], name="shortcut", **CONV1))
    nodes.append(helper.make_node("Conv", ["image_q", "conv_a_w_quant"], ["conv_a"], name="conv_a", **CONV3))
    for bn, inp in (("bn_a", "conv_a"), ("bn_b", "conv_b")):
        if bn == "bn_b":
            nodes.append(helper.make_node("Conv", ["relu_q", "conv_b_w_quant"], ["conv_b"], name="conv_b", **CONV3))
        inputs = [inp, f"{bn}_gamma", f"{bn}_beta", f"{bn}_mean", f"{bn}_var"]
        nodes.append(helper.make_node("BatchNormalization", inputs, [bn], name=bn, epsilon=1e-5))
        if bn == "bn_a":
            nodes.append(helper.make_node("Relu", ["bn_a"], ["relu"], name="relu"))
            quant("relu", "relu_q", "relu_scale", 4)
    quant("bn_b", "main_q", "add_in_scale", 8)
    if chain:
        nodes.append(helper.make_node("Reshape", ["main_q", "flat_shape"], ["flat"], name="reshape"))
    else:
        quant("short", "short_q", "add_in_scale", 8)
        nodes.append(helper.make_node("Add", ["main_q", "short_q"], ["add"], name="add"))  # the shortcut second
        quant("add", "add_q", "add_scale", 8)
        nodes.append(helper.make_node("GlobalAveragePool", ["add_q"], ["gap"], name="gap"))
        nodes.append(helper.make_node("Reshape", ["gap", "flat_shape"], ["flat"], name="reshape"))
    nodes.append(helper.make_node("Gemm", ["flat", "fc_w_quant", "fc_b"], ["logits"], name="fc", transB=1))
    flat = FILTERS * SIZE * SIZE if chain else FILTERS
    inits.append(numpy_helper.from_array(np.asarray([1, flat], dtype=np.int64), "flat_shape"))
    graph = helper.make_graph(
        nodes,
        "qonnx_resnet_fork",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, CHANNELS, SIZE, SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, CLASSES])],
        initializer=inits,
    )
    opsets = [helper.make_opsetid("", 13), helper.make_opsetid("qonnx.custom_op.general", 1)]
    model = qonnx_make_model(graph, producer_name="hlsbox models/qonnx_resnet_fork.py", opset_imports=opsets)
    onnx.checker.check_model(model)
    return model


def execute(params: dict, inputs: np.ndarray, tensors: tuple[str, ...]) -> dict[str, np.ndarray]:
    """qonnx's execution of the graph on each input: the named tensors, stacked over the inputs."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    model = ModelWrapper(build_graph(params)).transform(InferShapes())
    runs = [execute_onnx(model, {"image": x[None]}, return_full_exec_context=True) for x in inputs]
    return {name: np.concatenate([run[name] for run in runs]) for name in tensors}


def calibrate(params: dict, inputs: np.ndarray) -> dict:
    """Each BatchNormalization's statistics, each activation Quant's scale, the logits' bias: in graph order,
    each measured by qonnx's execution of the graph calibrated so far."""
    for bn, conv in (("bn_a", "conv_a"), ("bn_b", "conv_b")):
        out = execute(params, inputs, (conv,))[conv]
        params[f"{bn}_mean"] = out.mean(axis=(0, 2, 3)).astype(np.float32)
        params[f"{bn}_var"] = out.var(axis=(0, 2, 3)).astype(np.float32)
        if bn == "bn_a":
            relu = execute(params, inputs, ("relu",))["relu"]
            params["relu_scale"] = float(np.percentile(relu, 99.5) / 7)  # signed 4-bit: codes 0..7 after a ReLU
    if "short_w" not in params:  # a chain: no Add
        params["add_in_scale"] = float(np.abs(execute(params, inputs, ("bn_b",))["bn_b"]).max() / 127)
    else:
        both = execute(params, inputs, ("bn_b", "short"))
        params["add_in_scale"] = float(max(np.abs(both["bn_b"]).max(), np.abs(both["short"]).max()) / 127)
        params["add_scale"] = float(np.abs(execute(params, inputs, ("add",))["add"]).max() / 127)
    logits = execute(params, inputs, ("logits",))["logits"]
    params["fc_b"] = (-logits.mean(axis=0)).astype(np.float32)  # centred: each class wins on some inputs
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output .onnx file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--chain", action="store_true", help="no shortcut, Add or pooling: the second branch alone, flattened"
    )
    args = parser.parse_args()

    import onnx

    rng = np.random.default_rng(args.seed + 1)
    params = initial_parameters(args.seed, args.chain)
    params = calibrate(params, rng.random((CALIBRATION, CHANNELS, SIZE, SIZE), dtype=np.float32))
    model = build_graph(params)
    onnx.save(model, args.out)
    held_out = np.random.default_rng(args.seed + 2).random((CALIBRATION, CHANNELS, SIZE, SIZE), dtype=np.float32)
    logits = execute(params, held_out, ("logits",))["logits"]
    classes = np.bincount(logits.argmax(axis=1), minlength=CLASSES)
    scales = {name: round(float(params[name]), 5) for name in params if name.endswith("_scale")}
    print(f"qonnx_resnet_fork: scales {scales}; top-1 classes over {len(held_out)} random inputs: {classes.tolist()}")
    if np.count_nonzero(classes) < CLASSES // 2:  # top-1 agreement would mean little
        raise SystemExit(f"qonnx_resnet_fork: only {np.count_nonzero(classes)} classes ever win; try another --seed")


if __name__ == "__main__":
    main()
