"""The toolchains: one pinned image per model frontend, and which one reads a given model file.

keras2 is today's image (docker/: TF 2.15, Keras 2, QKeras, HGQ) and the default; keras3 (Keras 3, HGQ2) and
qonnx (onnx, qonnx, onnxruntime) each have their own lock under docker/<name>/. Every one carries the same
hls4ml. The model file says which one it needs (hlsbox.runtime.modelfiles); a flow may pin one (`toolchain = ...`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from hlsbox.core.errors import BadInput
from hlsbox.runtime.modelfiles import ModelOrigin, UnreadableModel, origin_of


@dataclass(frozen=True)
class Toolchain:
    name: str
    reads: str  # what it reads, for messages
    formats: tuple[str, ...]  # ModelOrigin.format values it reads
    keras_major: int | None = None  # for Keras files: the major version it loads
    subdir: str = ""  # its build files: docker/<subdir> (keras2: docker/ itself)
    env: tuple[tuple[str, str], ...] = ()  # environment of its containers

    def reads_origin(self, origin: ModelOrigin) -> bool:
        if origin.format not in self.formats:
            return False
        return origin.format != "keras" or origin.keras_major in (None, self.keras_major)


TOOLCHAINS = (
    Toolchain("keras2", "Keras 2 .keras/.h5 files (TF 2.15; QKeras and HGQ layers)", ("keras",), keras_major=2),
    Toolchain(
        "keras3",
        "Keras 3 .keras/.h5 files (Keras 3 on JAX CPU; HGQ2 layers)",
        ("keras",),
        keras_major=3,
        subdir="keras3",
        env=(("HLSBOX_TOOLCHAIN", "keras3"), ("KERAS_BACKEND", "jax")),
    ),
    Toolchain(
        "qonnx",
        "QONNX and plain ONNX .onnx files (onnx, qonnx, onnxruntime)",
        ("qonnx", "onnx"),
        subdir="qonnx",
        env=(("HLSBOX_TOOLCHAIN", "qonnx"),),
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


def build_dir(toolchain: Toolchain, docker: Path) -> Path:
    return docker / toolchain.subdir if toolchain.subdir else docker


def is_defined(toolchain: Toolchain, docker: Path) -> bool:
    """This checkout has the toolchain's build files (its lock)."""
    return (build_dir(toolchain, docker) / "requirements.lock").is_file()


def origin(path: Path) -> ModelOrigin:
    """The model file's origin; bad input naming what the file is when it is no model any toolchain reads."""
    if path.suffix.lower() == ".json":  # a Keras architecture with .h5 weights: Keras 2's to_json()
        return ModelOrigin("keras", _json_keras_version(path))
    try:
        return origin_of(path)
    except UnreadableModel as exc:
        raise BadInput(
            f"Model file '{path}' is {exc}; it may be truncated or corrupt.",
            f"Give a model file: {'; '.join(f'{t.name} reads {t.reads}' for t in TOOLCHAINS)}.",
        ) from None
    except OSError as exc:
        raise BadInput(f"Model file '{path}' cannot be read ({exc.strerror}).", "Check its permissions.") from None


def _json_keras_version(path: Path) -> str | None:
    import json

    try:
        version = json.loads(path.read_text(encoding="utf-8")).get("keras_version")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return str(version) if version else None


def for_model(path: Path, pinned: str | None, docker: Path) -> Toolchain:
    """The toolchain that runs this model: the flow's pin if it reads the file, else the first that does.
    Bad input, naming the file's origin and what would read it, when none of this checkout's does."""
    found = origin(path)
    if found.finn_ops:
        ops = ", ".join(f"{op} x{n}" for op, n in sorted(found.finn_ops.items()))
        raise BadInput(
            f"Model '{path.name}' is a graph from inside FINN's build ({ops}): FINN's own steps have already turned "
            "its Quant nodes into thresholds and its layers into FINN's hardware layers, which hls4ml does not read.",
            "Give hlsbox the QONNX export from before FINN's steps (Brevitas' export_qonnx output, the model file "
            "FINN's build started from).",
        )
    readers = [t for t in TOOLCHAINS if t.reads_origin(found)]
    if pinned is not None:
        toolchain = by_name(pinned)
        if toolchain not in readers:
            raise BadInput(
                f"The flow pins toolchain '{toolchain.name}', which reads {toolchain.reads}, but model '{path.name}' "
                f"is {found.describe()}.",
                _what_reads(readers),
            )
    elif not readers:
        raise BadInput(
            f"Model '{path.name}' is {found.describe()}, which none of hlsbox's toolchains reads "
            f"({'; '.join(f'{t.name}: {t.reads}' for t in TOOLCHAINS)}).",
            "Re-save it with Keras 2 or 3 (`model.save('m.keras')`) or export it to QONNX.",
        )
    else:
        toolchain = readers[0]
    if not is_defined(toolchain, docker):
        raise BadInput(
            f"Model '{path.name}' is {found.describe()}: the {toolchain.name} toolchain reads it ({toolchain.reads}), "
            f"but this checkout has no build files for it ({build_dir(toolchain, docker)}/requirements.lock).",
            "Re-save the model with TF 2.15 / Keras 2 for the keras2 toolchain, or use a checkout of hlsbox that "
            f"has {toolchain.name}.",
        )
    return toolchain


def _what_reads(readers: list[Toolchain]) -> str:
    if not readers:
        return "No toolchain reads it: re-save it with Keras 2 or 3, or export it to QONNX."
    names = " or ".join(f"'{t.name}'" for t in readers)
    return f"Set `toolchain = {names}` in the flow, or leave `toolchain` out: the model picks its own."
