"""A small CNN built as a Keras 3 `Sequential` model, trained on scikit-learn's bundled digits (no download).

The keras3 toolchain's Sequential test model (models/digits_resnet_keras3.py is the functional one): a
convolution, pooling and a softmax classifier in a `keras.Sequential` whose first entry is `keras.Input`, saved
by Keras 3 (`.keras`). A Sequential model defines no input or per-layer outputs of its own until called; every
step must read it as it reads a functional one. Trains in a few seconds; deterministic for a given seed.

Run inside the keras3 image:  hlsbox model models/digits_sequential_keras3.py --toolchain keras3 \\
                                  --out models/digits_sequential_keras3.keras
"""

from __future__ import annotations


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


if __name__ == "__main__":
    from digits_resnet_keras3 import train_on_digits  # this folder: the script's own directory is on sys.path

    train_on_digits(build, "digits_sequential_keras3", epochs=15, learning_rate=1e-2)
