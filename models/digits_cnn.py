"""A small CNN trained on scikit-learn's bundled digits (1,797 real 8x8 images, no download).

It is the fast end-to-end check of the toolchain: csim of this model compares hls4ml's C
emulation with Keras on real labelled data in about a minute. Deterministic for a given seed.

Run inside the image:  hlsbox model models/digits_cnn.py --out models/digits_cnn.keras
"""

from __future__ import annotations

import argparse


def build(tf):
    layers = tf.keras.layers
    return tf.keras.Sequential(
        [
            layers.Input((8, 8, 1)),
            layers.Conv2D(8, 3, activation="relu", name="conv"),
            layers.MaxPooling2D(2, name="pool"),
            layers.Flatten(name="flatten"),
            layers.Dense(16, activation="relu", name="dense"),
            layers.Dense(10, activation="softmax", name="output"),
        ],
        name="digits_cnn",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output .keras file")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import tensorflow as tf

    from hlsbox.steps.datasets import digits_split

    tf.keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()
    x_train, y_train, x_test, y_test = digits_split()
    model = build(tf)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=2)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"digits_cnn: {model.count_params()} parameters, test accuracy {accuracy:.4f} on {len(x_test)} images")
    model.save(args.out)


if __name__ == "__main__":
    main()
