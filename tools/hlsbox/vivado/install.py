"""The host's Vivado HLS / Vitis HLS: where it is, which version, which tool, how to mount it.

hlsbox never installs or falls back to any Vivado: it uses the host's, mounted read-only at its
own path, and says exactly what is missing when there is none.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from hlsbox.core.errors import BadInput

HOW_TO_POINT = (
    "Point hlsbox at an install with --vivado PATH or VIVADO=/opt/Xilinx/Vivado/2019.2 "
    "(or set XILINX_VIVADO / XILINX_HLS, or put vivado_hls on PATH)."
)
SEARCH_ROOTS = ("/opt/Xilinx/Vivado", "/tools/Xilinx/Vivado", "/opt/Xilinx/Vitis_HLS", "/tools/Xilinx/Vitis_HLS")
TOOLS = ("vivado_hls", "vitis_hls", "vitis-run")
LICENCE_VARIABLES = ("XILINXD_LICENSE_FILE", "LM_LICENSE_FILE")
LAST_VIVADO_HLS = (2020, 1)  # Vivado HLS ends with 2020.1; Vitis HLS takes over from 2020.2
# export_design of releases up to 2021.2 fails from 2022 on (Xilinx AR 76960: a date in the IP's revision
# overflows) unless Xilinx's patch put this file into the install.
Y2K22_LAST = (2021, 2)
Y2K22_PATCH = Path("common/scripts/automg_patch_20220104.tcl")
Y2K22_FAKE_DATE = "2021-12-31 12:00:00"
_VERSION = re.compile(r"\bv?(20\d\d)\.(\d)")


@dataclass(frozen=True)
class Install:
    root: Path  # the dir with bin/ and settings64.sh, mounted read-only at the same path
    tool: str  # vivado_hls, vitis_hls or vitis-run
    version: tuple[int, int] | None = None

    @property
    def settings(self) -> Path:
        return self.root / "settings64.sh"

    @property
    def tool_path(self) -> Path:
        return self.root / "bin" / self.tool

    @property
    def version_text(self) -> str:
        return f"{self.version[0]}.{self.version[1]}" if self.version else "unknown version"

    @property
    def backend(self) -> str:
        """The hls4ml backend this install serves."""
        return "Vivado" if self.tool == "vivado_hls" else "Vitis"

    def __str__(self) -> str:
        return f"{self.tool} {self.version_text} at {self.root}"

    @property
    def y2k22_affected(self) -> bool:
        """export_design fails on today's date: an affected release without Xilinx's patch, after 2021."""
        if datetime.date.today() < datetime.date(2022, 1, 1) or self.version is None:
            return False
        return self.version <= Y2K22_LAST and not (self.root / Y2K22_PATCH).is_file()


def _install_root(path: Path) -> Path | None:
    """The install root for a root, its bin/ dir or a tool in it."""
    for candidate in (path, path.parent, path.parent.parent):
        if any((candidate / "bin" / tool).is_file() for tool in TOOLS):
            return candidate
    return None


def _tool_in(root: Path, backend: str | None) -> str:
    present = [tool for tool in TOOLS if (root / "bin" / tool).is_file()]
    if backend == "Vitis":
        return next((t for t in ("vitis_hls", "vitis-run") if t in present), present[0])
    return next((t for t in ("vivado_hls", "vitis_hls", "vitis-run") if t in present), present[0])


def candidates(explicit: str | None = None) -> list[Path]:
    """Where to look, in order: --vivado, the environment, PATH, the usual install dirs (newest first)."""
    paths: list[str | None] = [explicit] if explicit else []
    paths += [os.environ.get(v) for v in ("VIVADO", "XILINX_VIVADO", "XILINX_HLS")]
    paths += [shutil.which(tool) for tool in TOOLS]
    for root in SEARCH_ROOTS:
        if Path(root).is_dir():
            paths += sorted((str(p) for p in Path(root).iterdir()), reverse=True)
    return [Path(p) for p in paths if p]


def discover_quietly(explicit: str | None = None) -> Path | None:
    """The first install root found, or None (for `doctor`)."""
    return next((root for p in candidates(explicit) if (root := _install_root(p))), None)


def discover(explicit: str | None, backend: str | None) -> Install:
    """The install to use; a clear error naming what was found and what is needed otherwise."""
    if explicit:
        path = Path(explicit)
        if not path.exists():
            raise BadInput(f"The Vivado path '{explicit}' does not exist.", HOW_TO_POINT)
        root = _install_root(path)
        if root is None:
            raise BadInput(
                f"'{explicit}' is not a Vivado HLS / Vitis HLS install: no bin/vivado_hls, bin/vitis_hls or "
                "bin/vitis-run in it or above it.",
                "Give the version directory, e.g. /opt/Xilinx/Vivado/2019.2 or /tools/Xilinx/Vitis_HLS/2023.1.",
            )
    else:
        root = discover_quietly()
        if root is None:
            raise BadInput("This step needs Vivado HLS (or Vitis HLS), and none was found on this host.", HOW_TO_POINT)
    install = Install(root.resolve(), _tool_in(root, backend), version_from_path(root))
    if not install.settings.is_file():
        raise BadInput(
            f"Found {install.tool} at {install.root}, but no settings64.sh there.",
            "hlsbox sources settings64.sh to set up the tools: point at the version directory of a complete install.",
        )
    return install


def version_from_path(root: Path) -> tuple[int, int] | None:
    match = _VERSION.search(root.name) or _VERSION.search(str(root))
    return (int(match.group(1)), int(match.group(2))) if match else None


def parse_version_output(text: str) -> tuple[int, int] | None:
    """'Vivado(TM) HLS - ... v2019.2 (64-bit)' or 'vitis_hls v2023.1 (64-bit)' -> (2019, 2)."""
    for line in text.splitlines():
        if ("HLS" in line or "Vitis" in line or "vitis" in line) and (match := _VERSION.search(line)):
            return int(match.group(1)), int(match.group(2))
    return None


def check_backend(install: Install, backend: str) -> None:
    """The flow's hls4ml backend must match the tool: Vivado -> vivado_hls (<= 2020.1), Vitis -> vitis_hls."""
    if install.version is None:
        raise BadInput(
            f"Could not tell the version of {install.tool} at {install.root}.",
            "Check the install: `<root>/bin/<tool> -version` must print a version such as v2019.2.",
        )
    if install.tool == "vivado_hls" and install.version > LAST_VIVADO_HLS:
        raise BadInput(f"{install} claims a version after 2020.1, when Vivado HLS ended.", "Check the install.")
    if backend != install.backend:
        needed = "Vivado HLS 2018.x-2020.1 (vivado_hls)" if backend == "Vivado" else "Vitis HLS 2020.2 or later"
        raise BadInput(
            f"The flow uses hls4ml's {backend} backend, but the install found is {install}.",
            f'Point at {needed} with --vivado / VIVADO=, or set backend = "{install.backend}" in the flow.',
        )


def licence_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in LICENCE_VARIABLES if os.environ.get(name)}


def licence_needs_network(env: dict[str, str]) -> bool:
    """A licence server (port@host) is reached over the network; a licence file is not."""
    return any("@" in value for value in env.values())
