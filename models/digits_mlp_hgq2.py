"""A small HGQ2 MLP on scikit-learn's digits (no download): the da4ml flow's model (flows/digits_mlp_da4ml.toml).

da4ml traces only HGQ2's quantised layers (plain keras.layers.Dense is refused), and unrolls the whole network into
shift-and-add logic, so the model stays small: the 8x8 image flattened to 64 inputs, two narrow QDense layers. HGQ2
learns every weight's and activation's bit width (its EBOPs regularisation, beta), which prunes the logic further.
Trains in a few seconds; deterministic for a given seed.

Run inside the keras3 image:  hlsbox model models/digits_mlp_hgq2.py --toolchain keras3 \\
                                  --out models/digits_mlp_hgq2.keras
"""

from __future__ import annotations

import argparse
import os

HIDDEN = 12  # units of the hidden layer: ~1,000 multiplications, about a quarter of an xc7z010 in LUTs


def build(keras):
    from hgq.config import LayerConfigScope, QuantizerConfigScope
    from hgq.layers import QDense

    # HGQ2's default quantisers (WRAP: da4ml traces an unquantised input only into a wrapping quantiser); EBOPs
    # regularisation (beta) trims the bit widths
    with QuantizerConfigScope(place="weight", overflow_mode="SAT_SYM"), LayerConfigScope(enable_ebops=True, beta0=1e-5):
        return keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Flatten(name="flatten"),
                QDense(HIDDEN, activation="relu", name="hidden"),
                QDense(10, name="output"),  # logits: the argmax is the class, no softmax in hardware
            ],
            name="digits_mlp_hgq2",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="digits_mlp_hgq2: an HGQ2 MLP on scikit-learn's digits")
    parser.add_argument("--out", required=True, help="output .keras file")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    from hlsbox.steps.datasets import digits_split

    keras.utils.set_random_seed(args.seed)
    x_train, y_train, x_test, y_test = digits_split()
    model = build(keras)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(5e-3), loss=loss, metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=2)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(
        f"digits_mlp_hgq2: Keras {keras.__version__} ({keras.backend.backend()}), {model.count_params()} "
        f"parameters, test accuracy {accuracy:.4f} on {len(x_test)} images"
    )
    model.save(args.out)


if __name__ == "__main__":
    main()
