"""The toolchains: one pinned image per model frontend. This table is the host's one place for a toolchain; the
rest of one is its build files (docker/<subdir>/) and its frontend in the image (steps/frontends/<name>.py).

keras2 is the seed's image (docker/: TF 2.15, Keras 2, QKeras, HGQ) and the default; keras3 (Keras 3, HGQ2) and
qonnx (onnx, qonnx, onnxruntime) each have their own lock under docker/<name>/. Every one carries the same hls4ml.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from hlsbox.core.errors import BadInput


@dataclass(frozen=True)
class Toolchain:
    name: str
    reads: str  # what it reads, for messages
    formats: tuple[str, ...]  # ModelOrigin.format values it reads
    keras_major: int | None = None  # for Keras files: the major version it loads
    subdir: str = ""  # its build files: docker/<subdir> (keras2: docker/ itself)
    env: tuple[tuple[str, str], ...] = ()  # environment of its containers
    packages: tuple[str, ...] = ()  # its frontend's own Python packages (`hlsbox image describe` names them)
    apt_packages: tuple[str, ...] = ()  # Debian packages its image adds to docker/Dockerfile's (a last layer)

    def reads_format(self, file_format: str, keras_major: int | None) -> bool:
        """Whether it reads a model file of this format (runtime.modelfiles' ModelOrigin.format), saved by Keras
        of this major version (for a Keras file, when known)."""
        if file_format not in self.formats:
            return False
        return file_format != "keras" or keras_major in (None, self.keras_major)


TOOLCHAINS = (
    Toolchain(
        "keras2",
        "Keras 2 .keras/.h5 files (TF 2.15; QKeras and HGQ layers)",
        ("keras",),
        keras_major=2,
        packages=("tensorflow-cpu", "keras", "qkeras", "hgq"),
    ),
    Toolchain(
        "keras3",
        "Keras 3 .keras/.h5 files (Keras 3 on JAX CPU; HGQ2 layers)",
        ("keras",),
        keras_major=3,
        subdir="keras3",
        env=(("HLSBOX_TOOLCHAIN", "keras3"), ("KERAS_BACKEND", "jax")),
        packages=("keras", "jax", "hgq2", "da4ml"),
        apt_packages=("yosys", "verilator"),  # the da4ml steps: rtl's Verilog synthesised (synth), simulated (rtlsim)
    ),
    Toolchain(
        "qonnx",
        "QONNX and plain ONNX .onnx files (onnx, qonnx, onnxruntime)",
        ("qonnx", "onnx"),
        subdir="qonnx",
        env=(("HLSBOX_TOOLCHAIN", "qonnx"),),
        packages=("qonnx", "onnx", "onnxruntime"),
    ),
)
DEFAULT = TOOLCHAINS[0]
NAMES = tuple(t.name for t in TOOLCHAINS)


def by_name(name: str) -> Toolchain:
    for toolchain in TOOLCHAINS:
        if toolchain.name == name:
            return toolchain
    close = difflib.get_close_matches(name, NAMES, n=1)
    raise BadInput(
        f"'{name}' is not a toolchain{f' (closest: {close[0]})' if close else ''}.",
        f"Toolchains: {', '.join(NAMES)}.",
    )
