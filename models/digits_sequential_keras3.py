"""A small CNN built as a Keras 3 `Sequential` model, trained on scikit-learn's bundled digits (no download).

The keras3 toolchain's Sequential test model (models/digits_resnet_keras3.py is the functional one): a
convolution, pooling and a softmax classifier in a `keras.Sequential` whose first entry is `keras.Input`, saved
by Keras 3 (`.keras`). A Sequential model defines no input or per-layer outputs of its own until called; every
step must read it as it reads a functional one. Trains in a few seconds; deterministic for a given seed.

Run inside the keras3 image:  hlsbox model models/digits_sequential_keras3.py --toolchain keras3 \\
                                  --out models/digits_sequential_keras3.keras
"""

from __future__ import annotations

import argparse
import os


def build(keras):
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(4, 3, activation="relu", name="conv"),
            layers.MaxPooling2D(2, name="pool"),
            layers.Flatten(name="flatten"),
            layers.Dense(10, activation="softmax", name="output"),
        ],
        name="digits_sequential_keras3",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output .keras file")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    from hlsbox.steps.datasets import digits_split

    keras.utils.set_random_seed(args.seed)
    x_train, y_train, x_test, y_test = digits_split()
    model = build(keras)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=2)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(
        f"digits_sequential_keras3: Keras {keras.__version__} ({keras.backend.backend()}), {model.count_params()} "
        f"parameters, test accuracy {accuracy:.4f} on {len(x_test)} images"
    )
    model.save(args.out)


if __name__ == "__main__":
    main()
