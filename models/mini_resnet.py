"""The seed's Mini-ResNet for CIFAR-10 (32x32x3 -> 10 classes), saved as model_2_15.keras.

Architecture (about 67k parameters): a 3x3 stem conv (16 channels), three residual stages of
16, 32 and 56 channels (3x3 convs with batch norm; stride-2 downsampling with a 1x1 projection
shortcut), global average pooling, and a dense layer to 10 classes.

Training: with --cifar10 PATH (a local cifar-10-batches-py directory or cifar-10-python.tar.gz)
it trains on CIFAR-10. Without it (no download is possible here) it trains briefly on a synthetic
stand-in: 10 fixed random 32x32x3 class templates plus noise. That gives realistic weight ranges
for conversion, C simulation and planning, not a useful classifier.

Run inside the image:  hlsbox model models/mini_resnet.py --out models/model_2_15.keras
"""

from __future__ import annotations

import argparse
from pathlib import Path


def build(tf):
    layers = tf.keras.layers

    def conv_bn(x, filters, stride, name, relu=True):
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=True, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
        return layers.Activation("relu", name=f"{name}_relu")(x) if relu else x

    def block(x, filters, stride, name):
        shortcut = x
        y = conv_bn(x, filters, stride, f"{name}a")
        y = conv_bn(y, filters, 1, f"{name}b", relu=False)
        if stride != 1 or x.shape[-1] != filters:
            shortcut = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_proj")(x)
        y = layers.Add(name=f"{name}_add")([y, shortcut])
        return layers.Activation("relu", name=f"{name}_out")(y)

    inputs = layers.Input((32, 32, 3), name="image")
    x = conv_bn(inputs, 16, 1, "stem")
    x = block(x, 16, 1, "stage1")
    x = block(x, 32, 2, "stage2")
    x = block(x, 56, 2, "stage3")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(10, activation="softmax", name="logits")(x)
    return tf.keras.Model(inputs, outputs, name="mini_resnet")


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
