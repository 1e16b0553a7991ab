"""The hls4ml tutorial's jet-tagging MLP (16 -> 64 -> 32 -> 32 -> 5) quantised with QKeras: 6-bit weights and
biases, 6-bit ReLUs, softmax out. Trained on a synthetic stand-in for the jet data (5 Gaussian classes in 16
features, hlsbox.steps.datasets.jets), so it runs offline; csim compares it with hls4ml on held-out samples.

Run inside the image:  hlsbox model models/jet_tagger_qkeras.py --out models/jet_tagger_qkeras.h5
(.h5: QKeras's QActivation does not survive the .keras format.)
"""

from __future__ import annotations

import argparse


def build(tf):
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    layers = tf.keras.layers
    weights = {"kernel_quantizer": quantized_bits(6, 0, alpha=1), "bias_quantizer": quantized_bits(6, 0, alpha=1)}
    model = tf.keras.Sequential(name="jet_tagger_qkeras")
    model.add(layers.Input((16,), name="features"))
    for index, width in enumerate((64, 32, 32), start=1):
        model.add(QDense(width, name=f"fc{index}", kernel_initializer="lecun_uniform", **weights))
        model.add(QActivation(quantized_relu(6), name=f"relu{index}"))
    model.add(QDense(5, name="output", kernel_initializer="lecun_uniform", **weights))
    model.add(layers.Activation("softmax", name="softmax"))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output .h5 file")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import tensorflow as tf

    from hlsbox.steps.datasets import HELD_OUT_SEED, jets

    tf.keras.utils.set_random_seed(args.seed)
    x_train, y_train = jets(args.samples, args.seed)
    x_val, y_val = jets(2000, HELD_OUT_SEED)
    model = build(tf)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=256, validation_data=(x_val, y_val), verbose=2)
    _, accuracy = model.evaluate(x_val, y_val, verbose=0)
    print(f"jet_tagger_qkeras: {model.count_params()} parameters, held-out accuracy {accuracy:.4f} on synthetic jets")
    model.save(args.out)


if __name__ == "__main__":
    main()
