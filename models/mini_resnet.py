"""The seed's Mini-ResNet for CIFAR-10 (32x32x3 -> 10 classes), saved as model_2_15.keras.

The network of the seed's own model_2_15.keras (its author's "28->56" network, 52,622 parameters), layer for
layer and with the same layer names: input 32x32x3 (pixels / 255); Conv2D 3x3 28 relu same; Conv2D 3x3 28
relu same; a 1x1 Conv2D 28 (linear) shortcut from the input; Add; MaxPooling2D 2; Conv2D 3x3 56 relu same;
Conv2D 3x3 56 relu same; a 1x1 Conv2D 56 shortcut from the pooled map; Add; MaxPooling2D 2;
GlobalAveragePooling2D; Dense 10 softmax. No BatchNormalization; the activations sit inside the Conv2D layers.

Training: with --cifar10 PATH (a local cifar-10-batches-py directory or cifar-10-python.tar.gz)
it trains on CIFAR-10. Without it (no download is possible here) it trains briefly on a synthetic
stand-in: 10 fixed random 32x32x3 class templates plus noise. That gives realistic weight ranges
for conversion, C simulation and planning, not a useful classifier. The author's trained model (78% on
its 100 sample images) can be used as it is: put it at models/model_2_15.keras; `make models` never
overwrites a model file it did not write.

Run inside the image:  hlsbox model models/mini_resnet.py --out models/model_2_15.keras
"""

from __future__ import annotations

import argparse
from pathlib import Path


def build(tf):
    layers = tf.keras.layers

    def conv(x, filters, size, name, activation="relu"):
        return layers.Conv2D(filters, size, padding="same", activation=activation, name=name)(x)

    def block(x, filters, first):
        """Two 3x3 convolutions beside a linear 1x1 shortcut, added, then pooled (Keras' default names)."""
        names = [f"conv2d_{first + i}" if first + i else "conv2d" for i in range(3)]
        y = conv(conv(x, filters, 3, names[0]), filters, 3, names[1])
        shortcut = conv(x, filters, 1, names[2], activation="linear")
        suffix = f"_{first // 3}" if first else ""
        y = layers.Add(name=f"add{suffix}")([y, shortcut])
        return layers.MaxPooling2D(2, name=f"max_pooling2d{suffix}")(y)

    inputs = layers.Input((32, 32, 3), name="input_1")
    x = block(block(inputs, 28, 0), 56, 3)
    x = layers.GlobalAveragePooling2D(name="global_average_pooling2d")(x)
    outputs = layers.Dense(10, activation="softmax", name="dense")(x)
    return tf.keras.Model(inputs, outputs, name="model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output .keras file")
    parser.add_argument("--cifar10", type=Path, help="local CIFAR-10 (python version); synthetic data without it")
    parser.add_argument("--epochs", type=int, default=None, help="default: 10 on CIFAR-10, 3 on synthetic data")
    parser.add_argument("--samples", type=int, default=2048, help="synthetic training images")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import tensorflow as tf

    from hlsbox.steps.datasets import synthetic_cifar

    tf.keras.utils.set_random_seed(args.seed)
    if args.cifar10:
        from hlsbox.steps.datasets import cifar10_test, cifar10_train

        x_train, y_train = cifar10_train(args.cifar10)
        x_val, y_val = cifar10_test(args.cifar10)
        epochs = args.epochs or 10
    else:
        x_train, y_train = synthetic_cifar(args.samples, args.seed)
        x_val, y_val = synthetic_cifar(512, args.seed + 1)
        epochs = args.epochs or 3
    model = build(tf)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, validation_data=(x_val, y_val), verbose=2)
    _, accuracy = model.evaluate(x_val, y_val, verbose=0)
    data = "CIFAR-10" if args.cifar10 else "synthetic data"
    print(f"mini_resnet: {model.count_params()} parameters, validation accuracy {accuracy:.4f} on {data}")
    model.save(args.out)


if __name__ == "__main__":
    main()
