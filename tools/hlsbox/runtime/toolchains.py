"""Which toolchain (core.toolchains: one pinned image per model frontend) reads a given model file, and whether
this checkout has its build files. The model file says which one it needs (hlsbox.runtime.modelfiles); a flow may
pin one (`toolchain = ...`).
"""

from __future__ import annotations

from pathlib import Path

from hlsbox.core.errors import BadInput
from hlsbox.core.toolchains import DEFAULT, NAMES, TOOLCHAINS, Toolchain, by_name
from hlsbox.runtime.modelfiles import ModelOrigin, UnreadableModel, origin_of

__all__ = ["DEFAULT", "NAMES", "TOOLCHAINS", "Toolchain", "build_dir", "by_name", "for_model", "is_defined", "origin"]


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
    readers = [t for t in TOOLCHAINS if t.reads_format(found.format, found.keras_major)]
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
