"""`hlsbox doctor`: what is there and what is missing, each with how to get it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import psutil

from hlsbox import engine, image
from hlsbox.errors import HlsboxError
from hlsbox.units import human_size


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def run_checks(workspace: Path) -> list[Check]:
    checks: list[Check] = []
    try:
        client = engine.connect()
        version = client.version()
        checks.append(Check("Docker daemon", True, f"{version.get('Version')} (API {version.get('ApiVersion')})"))
    except HlsboxError as exc:
        checks.append(Check("Docker daemon", False, exc.message, exc.hint))
        client = None
    if client is not None:
        base = image.present_base(client)
        checks.append(
            Check(
                "base image",
                base is not None,
                base or "none",
                "`hlsbox image base` (pull, or debootstrap where no registry is reachable)",
            )
        )
        tag = image.image_tag()
        try:
            size = human_size(client.images.get(tag).attrs["Size"])
            checks.append(Check("hlsbox image", True, f"{tag} ({size})"))
        except Exception:
            checks.append(Check("hlsbox image", False, f"{tag} not built", "`make image` (a few minutes, once)"))
    from hlsbox import vivado

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
