"""A small HGQ2 MLP on scikit-learn's digits (no download): the da4ml flow's model (flows/digits_mlp_da4ml.toml).

da4ml traces only HGQ2's quantised layers (plain keras.layers.Dense is refused), and unrolls the whole network into
shift-and-add logic, so the model stays small: the 8x8 image flattened to 64 inputs, two narrow QDense layers. HGQ2
learns every weight's and activation's bit width (its EBOPs regularisation, beta), which prunes the logic further.
Trains in a few seconds; deterministic for a given seed.

Run inside the keras3 image:  hlsbox model models/digits_mlp_hgq2.py --toolchain keras3 \\
                                  --out models/digits_mlp_hgq2.keras
"""

from __future__ import annotations

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
    from digits_resnet_keras3 import train_on_digits  # this folder: the script's own directory is on sys.path

    train_on_digits(build, "digits_mlp_hgq2", epochs=60, learning_rate=5e-3, logits=True)


if __name__ == "__main__":
    main()
