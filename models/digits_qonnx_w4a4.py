"""A QONNX CNN with 4-bit weights and 4-bit activations for scikit-learn's digits, built with onnx/qonnx helpers
(no PyTorch, no Brevitas): the graph Brevitas exports for such a network, channels first, with QONNX `Quant` nodes.

    input 1x8x8 in [0, 1] -> Quant (4-bit unsigned) -> Conv 3x3, 8 filters (4-bit signed weights) -> Relu
    -> Quant (4-bit unsigned) -> MaxPool 2x2 -> Flatten -> MatMul 72x10 (4-bit signed weights, no bias) -> logits

The convolution's filters are fixed 4-bit edge and blob detectors (random ones from a seed fill the rest);
the classifier on their pooled 4-bit outputs is fitted by logistic regression on the digits training split, then
quantised to 4 bits. The accuracy printed is qonnx's own execution of the saved graph on the held-out split.

Run inside the qonnx image:  hlsbox model models/digits_qonnx_w4a4.py --toolchain qonnx \\
                                 --out models/digits_qonnx_w4a4.onnx
"""

from __future__ import annotations

import argparse

import numpy as np

BITS = 4
FILTERS = 8
# Every attribute spelt out, as exporters write them (qonnx's channels-last conversion requires them).
CONV = {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [0, 0, 0, 0], "dilations": [1, 1], "group": 1}
POOL = {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 0, 0]}


def quantise(values: np.ndarray, bits: int, signed: bool) -> tuple[np.ndarray, float]:
    """Integer codes and the one per-tensor scale that maps them back (max-abs scaling)."""
    top = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
    scale = float(np.abs(values).max() / top) or 1.0
    low = -(2 ** (bits - 1)) if signed else 0
    return np.clip(np.round(values / scale), low, top), scale


def conv_filters(seed: int) -> np.ndarray:
    """8 filters of 3x3: horizontal, vertical and diagonal edges, a blob, and random 4-bit ones."""
    fixed = [
        [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
        [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
        [[0, 1, 1], [-1, 0, 1], [-1, -1, 0]],
        [[1, 1, 1], [1, -7, 1], [1, 1, 1]],
    ]
    rng = np.random.default_rng(seed)
    random = rng.integers(-7, 8, (FILTERS - len(fixed), 3, 3))
    return np.concatenate([np.asarray(fixed, dtype=np.float32), random.astype(np.float32)])[:, None]


def features(x_nchw: np.ndarray, weights: np.ndarray, act_scale: float) -> np.ndarray:
    """The network up to the Flatten, in numpy, exactly as the graph computes it (for fitting the classifier)."""
    xq = np.clip(np.round(x_nchw * 15), 0, 15) / 15
    n, out = len(x_nchw), 6
    conv = np.zeros((n, FILTERS, out, out), dtype=np.float32)
    for i in range(out):
        for j in range(out):
            patch = xq[:, :, i : i + 3, j : j + 3].reshape(n, -1)
            conv[:, :, i, j] = patch @ weights.reshape(FILTERS, -1).T
    act = np.clip(np.round(np.maximum(conv, 0) / act_scale), 0, 15) * act_scale
    pooled = act.reshape(n, FILTERS, 3, 2, 3, 2).max(axis=(3, 5))
    return pooled.reshape(n, -1)


def build_graph(conv_w, conv_scale, act_scale, dense_w, dense_scale):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from qonnx.util.basic import qonnx_make_model

    def const(name, value):
        return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)

    def quant(inp, out, scale, signed):
        return helper.make_node(
            "Quant",
            [inp, f"{out}_scale", "zero", "bits"],
            [out],
            domain="qonnx.custom_op.general",
            signed=int(signed),
            narrow=0,
            rounding_mode="ROUND",
        ), const(f"{out}_scale", scale)

    nodes, inits = [], [const("zero", 0.0), const("bits", float(BITS)), const("conv_w", conv_w)]
    for inp, out, scale, signed in (("image", "image_q", 1 / 15, False), ("conv_w", "conv_wq", conv_scale, True)):
        node, init = quant(inp, out, scale, signed)
        nodes.append(node)
        inits.append(init)
    nodes.append(helper.make_node("Conv", ["image_q", "conv_wq"], ["conv_out"], name="conv", **CONV))
    nodes.append(helper.make_node("Relu", ["conv_out"], ["relu_out"], name="relu"))
    node, init = quant("relu_out", "act_q", act_scale, False)
    nodes.append(node)
    inits.append(init)
    nodes.append(helper.make_node("MaxPool", ["act_q"], ["pool_out"], name="pool", **POOL))
    nodes.append(helper.make_node("Flatten", ["pool_out"], ["flat"], axis=1, name="flatten"))
    node, init = quant("dense_w", "dense_wq", dense_scale, True)
    nodes.append(node)
    inits += [init, const("dense_w", dense_w)]
    nodes.append(helper.make_node("MatMul", ["flat", "dense_wq"], ["logits"], name="dense"))
    graph = helper.make_graph(
        nodes,
        "digits_qonnx_w4a4",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        initializer=inits,
    )
    opsets = [helper.make_opsetid("", 13), helper.make_opsetid("qonnx.custom_op.general", 1)]
    model = qonnx_make_model(graph, producer_name="hlsbox models/digits_qonnx_w4a4.py", opset_imports=opsets)
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output .onnx file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import onnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes
    from sklearn.linear_model import LogisticRegression

    from hlsbox.steps.datasets import digits_split

    x_train, y_train, x_test, y_test = (a.transpose(0, 3, 1, 2) if a.ndim == 4 else a for a in digits_split())
    codes, conv_scale = quantise(conv_filters(args.seed), BITS, signed=True)
    conv_w = codes * conv_scale
    raw = features(x_train, conv_w, 1.0)  # the activation scale: the largest pooled value over 15 levels
    act_scale = float(np.percentile(raw, 99.5) / 15) or 1.0
    train = features(x_train, conv_w, act_scale)
    # No intercept: a bias after the quantised MatMul would keep hls4ml from moving the weights' scale past it.
    classifier = LogisticRegression(C=0.5, max_iter=2000, fit_intercept=False).fit(train, y_train)
    dense_codes, dense_scale = quantise(classifier.coef_.T.astype(np.float32), BITS, signed=True)
    model = build_graph(conv_w, conv_scale, act_scale, dense_codes * dense_scale, dense_scale)
    onnx.save(model, args.out)
    wrapper = ModelWrapper(args.out).transform(InferShapes())
    logits = [execute_onnx(wrapper, {"image": x[None].astype(np.float32)})["logits"] for x in x_test]
    accuracy = float((np.argmax(np.concatenate(logits), axis=1) == y_test).mean())
    params = sum(int(np.prod(init.dims)) for init in model.graph.initializer)
    print(f"digits_qonnx_w4a4: {params} parameters, qonnx execution accuracy {accuracy:.4f} on {len(x_test)} images")


if __name__ == "__main__":
    main()
