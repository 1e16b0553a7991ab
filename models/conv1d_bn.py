"""A small io_parallel Conv1D + BatchNormalization classifier on synthetic signals (no download): the design on which
the split C build was slower than hls4ml's own two units (18.6 s against 8.8 s cold), kept for `make bench`'s side by
side of both builds. Deterministic for a given seed; briefly trained so its weights are not the initialiser's.

Run inside the image:  hlsbox model models/conv1d_bn.py --out models/conv1d_bn.keras
"""

from __future__ import annotations

import argparse

import numpy as np

LENGTH, CHANNELS, CLASSES = 32, 2, 4


def build(tf):
    layers = tf.keras.layers
    return tf.keras.Sequential(
        [
            layers.Input((LENGTH, CHANNELS)),
            layers.Conv1D(8, 3, name="conv1"),
            layers.BatchNormalization(name="bn1"),
            layers.Activation("relu", name="relu1"),
            layers.Conv1D(8, 3, strides=2, name="conv2"),
            layers.BatchNormalization(name="bn2"),
            layers.Activation("relu", name="relu2"),
            layers.Flatten(name="flatten"),
            layers.Dense(CLASSES, activation="softmax", name="output"),
        ],
        name="conv1d_bn",
    )


def signals(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sines of one of CLASSES frequencies on two channels, with noise; the label is the frequency."""
    labels = rng.integers(0, CLASSES, n)
    t = np.arange(LENGTH) / LENGTH
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    wave = np.sin(2 * np.pi * (labels[:, None] + 1) * t + phase)
    x = np.stack([wave, np.cos(2 * np.pi * (labels[:, None] + 1) * t + phase)], axis=-1)
    return (x + rng.normal(0, 0.2, x.shape)).astype(np.float32), labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output .keras file")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import tensorflow as tf

    tf.keras.utils.set_random_seed(args.seed)
    x, y = signals(np.random.default_rng(args.seed), 1024)
    model = build(tf)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=args.epochs, batch_size=32, verbose=2)
    print(f"conv1d_bn: {model.count_params()} parameters, training accuracy {model.evaluate(x, y, verbose=0)[1]:.3f}")
    model.save(args.out)


if __name__ == "__main__":
    main()
