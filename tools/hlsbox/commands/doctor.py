"""`hlsbox doctor`: what is there and what is missing, each with how to get it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import psutil

from hlsbox.core.errors import HlsboxError
from hlsbox.core.units import human_size
from hlsbox.runtime import engines, image, toolchains


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def run_checks(workspace: Path) -> list[Check]:
    checks = _engine_checks()
    from hlsbox.vivado import install as vivado

    found = vivado.discover_quietly()
    checks.append(
        Check(
            "Vivado / Vitis HLS",
            found is not None,
            str(found) if found else "not found",
            vivado.HOW_TO_POINT,
            required=False,
        )
    )
    checks.append(
        Check(
            "debootstrap",
            shutil.which("debootstrap") is not None,
            shutil.which("debootstrap") or "not installed",
            "`apt-get install debootstrap` (only needed where no registry is reachable)",
            required=False,
        )
    )
    disk = shutil.disk_usage(workspace)
    checks.append(
        Check(
            "free disk",
            disk.free > 5 * 1024**3,
            f"{human_size(disk.free)} in {workspace}",
            "the image needs ~2 GB and builds ~1 GB more; free some space",
        )
    )
    memory = psutil.virtual_memory()
    checks.append(
        Check(
            "free memory",
            memory.available > 2 * 1024**3,
            f"{human_size(memory.available)} of {human_size(memory.total)}, {psutil.cpu_count()} CPUs",
            "csim of large io_parallel models needs several GB",
            required=False,
        )
    )
    return checks


def _engine_checks() -> list[Check]:
    """The container engine, its base image and the hlsbox image."""
    try:
        engine = engines.select()
        info = engine.info()
    except HlsboxError as exc:
        return [Check("container engine", False, exc.message, exc.hint)]
    checks = [Check("container engine", True, f"{info.name} {info.version} (API {info.api_version}, {info.endpoint})")]
    base = image.present_base(engine)
    checks.append(
        Check(
            "base image",
            base is not None,
            base.ref if base else "none",
            "`hlsbox image base` (pull, or debootstrap where no registry is reachable)",
        )
    )
    if base is not None:
        checks += [_image_check(engine, base.id, toolchain) for toolchain in toolchains.TOOLCHAINS]
    return checks


def _image_check(engine, base_id: str, toolchain: toolchains.Toolchain) -> Check:
    """One toolchain's image: the default one is required, the others are built when a model first needs them."""
    default = toolchain == toolchains.DEFAULT
    tag = image.tag_for(base_id, toolchain=toolchain)
    built = engine.image_id(tag) is not None
    detail = f"{tag} ({human_size(engine.image_size(tag))})" if built else f"{tag} not built"
    make = "`make image`" if default else f"`make image TOOLCHAIN={toolchain.name}`"
    reads = f"; reads {toolchain.reads}" if not default else ""
    return Check(
        f"hlsbox image ({toolchain.name})",
        built,
        detail,
        f"{make} (a few minutes, once){reads}" if default else f"{make} when a model needs it{reads}",
        required=default,
    )
