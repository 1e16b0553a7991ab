"""A small residual CNN for Keras 3, trained on scikit-learn's bundled digits (no download).

The keras3 toolchain's test model: a convolution, a second one whose output is added back to the first
(a residual Add), pooling and a softmax classifier, saved by Keras 3 (`.keras`, metadata.json says which).
Deterministic for a given seed.

Run inside the keras3 image:  hlsbox model models/digits_resnet_keras3.py --toolchain keras3 \\
                                  --out models/digits_resnet_keras3.keras
"""

from __future__ import annotations

import argparse
import os


def build(keras):
    layers = keras.layers
    inputs = keras.Input((8, 8, 1), name="image")
    stem = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inputs)
    branch = layers.Conv2D(8, 3, padding="same", name="branch")(stem)
    merged = layers.Add(name="add")([stem, branch])
    merged = layers.Activation("relu", name="add_relu")(merged)
    pooled = layers.MaxPooling2D(2, name="pool")(merged)
    flat = layers.Flatten(name="flatten")(pooled)
    hidden = layers.Dense(16, activation="relu", name="dense")(flat)
    outputs = layers.Dense(10, activation="softmax", name="output")(hidden)
    return keras.Model(inputs, outputs, name="digits_resnet_keras3")


def train_on_digits(build_model, name: str, epochs: int, learning_rate: float, logits: bool = False) -> None:
    """The command line of a Keras 3 digits model script: train build_model(keras) on scikit-learn's digits, save.
    `logits`: the model ends in logits, not a softmax (its loss takes them as such)."""
    parser = argparse.ArgumentParser(description=f"{name}: a Keras 3 model on scikit-learn's digits")
    parser.add_argument("--out", required=True, help="output .keras file")
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    from hlsbox.steps.datasets import digits_split

    keras.utils.set_random_seed(args.seed)
    x_train, y_train, x_test, y_test = digits_split()
    model = build_model(keras)
    optimizer = keras.optimizers.Adam(learning_rate)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True) if logits else "sparse_categorical_crossentropy"
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=2)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(
        f"{name}: Keras {keras.__version__} ({keras.backend.backend()}), {model.count_params()} "
        f"parameters, test accuracy {accuracy:.4f} on {len(x_test)} images"
    )
    model.save(args.out)


if __name__ == "__main__":
    train_on_digits(build, "digits_resnet_keras3", epochs=40, learning_rate=3e-3)
