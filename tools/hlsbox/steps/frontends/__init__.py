"""The model frontend of the image a step runs in: one module per toolchain, `frontends/<toolchain>.py`, each with
its FRONTEND (a Frontend), picked by HLSBOX_TOOLCHAIN, which the host sets from its toolchain table
(hlsbox.runtime.toolchains; unset, keras2). No other step code asks which toolchain it runs in: what differs
between them is a method here.

- keras2: TF 2.15's tf.keras (QKeras and HGQ layers), as the seed ran it.
- keras3: Keras 3 (`keras.saving.load_model`); hls4ml's Keras entry points read Keras 3 models themselves.
- qonnx: a QONNX or plain ONNX file through qonnx's cleanup and channels-last conversion, as hls4ml's ONNX
  documentation prescribes (clean, to channels-last, Gemm to MatMul, clean again); the reference outputs are
  qonnx's own execution of that model (Quant nodes included, which onnxruntime alone cannot run).
"""

from __future__ import annotations

import functools
import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from hlsbox.steps.protocol import StepFailure, StepInputError

if TYPE_CHECKING:
    import numpy as np

# A per-layer reference: (hls4ml layer name, the frontend's output for it, the scale between the two)
Reference = tuple[str, "np.ndarray", float]


class Frontend:
    """What a step needs of a model frontend: load, hls4ml's parse, config and conversion, the reference outputs
    (whole model and per layer) and the hooks of fit's search."""

    name = ""
    reference = "Keras"  # what the C simulation is compared with
    # The model carries its own types (a QONNX graph's Quant nodes, or a plain ONNX graph's): fit judges those
    # first and narrows only what hls4ml infers, and hls4ml's conversion of the graph gets hlsbox's repairs.
    own_types = False
    readable_errors: tuple[type[Exception], ...] = (Exception,)  # what its library raises for a damaged file

    def load(self, path: Path, weights: Path | None = None):
        """The model in the file (a Keras JSON architecture with its weights file, on keras2)."""
        if not path.is_file():
            raise StepInputError(f"Model file '{path}' does not exist.", "Make it first (see models/, `make models`).")
        try:
            return self.read(path, weights)
        except (StepInputError, StepFailure):  # explained already
            raise
        except self.readable_errors as exc:
            raise self.unreadable(path, str(exc).strip().splitlines()[0][:300] if str(exc).strip() else "") from exc

    def read(self, path: Path, weights: Path | None):
        raise NotImplementedError

    def unreadable(self, path: Path, why: str) -> StepInputError:
        return StepInputError(
            f"'{path}' could not be loaded by the {self.name} toolchain: {why}.",
            "Check that the file is complete; re-make it with its script.",
        )

    def parsed_layers(self, model) -> list[dict]:
        """hls4ml's own parse of the model: each layer's name and class as hls4ml's config names them."""
        raise NotImplementedError

    def config_from_model(self, model, granularity: str, backend: str) -> dict:
        raise NotImplementedError

    def convert(self, model, **kwargs):
        """hls4ml's conversion of the model (its keyword arguments as hls4ml's convert_from_*_model takes them)."""
        raise NotImplementedError

    def created_layers(self, parsed: list[dict]) -> dict[str, str]:
        """Layers hls4ml makes as it converts that a flow's [layers.X] table may set -> their class."""
        return {}

    def config_name(self, layer: str, parsed_names: list[str]) -> str:
        """The name an hls4ml config takes for a layer of the converted model."""
        return layer

    def has_quant_nodes(self, model) -> bool:
        """Whether quantisers in the graph fix some of its types (a QONNX graph's Quant nodes)."""
        return False

    def input_shape(self, model) -> tuple[int, ...]:
        """One input's shape, without the batch axis (channels last)."""
        return tuple(int(d) for d in model.inputs[0].shape[1:])

    def predict(self, model, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def layer_references(self, model, hls_model, traced: dict, x: np.ndarray) -> list[Reference]:
        """The frontend's output for each traced hls4ml layer it has one for."""
        raise NotImplementedError

    def count_params(self, model) -> int:
        return int(model.count_params())

    def versions(self) -> dict[str, str]:
        """The versions of the frontend's own libraries."""
        return {"toolchain": self.name} | installed(self.packages)

    packages: tuple[str, ...] = ()


def installed(packages: tuple[str, ...]) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


@functools.cache
def current() -> Frontend:
    """The frontend of this image's toolchain."""
    return importlib.import_module(f"{__name__}.{os.environ.get('HLSBOX_TOOLCHAIN', 'keras2')}").FRONTEND
