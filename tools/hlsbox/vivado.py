"""Finding the host's Vivado / Vitis HLS install."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

HOW_TO_POINT = (
    "Point hlsbox at an install with --vivado PATH or VIVADO=/opt/Xilinx/Vivado/2019.2 "
    "(or set XILINX_VIVADO / XILINX_HLS, or put vivado_hls on PATH)."
)
_SEARCH_ROOTS = ("/opt/Xilinx/Vivado", "/tools/Xilinx/Vivado", "/opt/Xilinx/Vitis_HLS", "/tools/Xilinx/Vitis_HLS")
_TOOLS = ("vivado_hls", "vitis_hls")


def _install_of(path: Path) -> Path | None:
    """The install root (the dir with bin/ and settings64.sh) for a root, a bin dir or a tool."""
    for candidate in (path, path.parent, path.parent.parent):
        if any((candidate / "bin" / tool).is_file() for tool in _TOOLS):
            return candidate
    return None


def candidates(explicit: str | None = None) -> list[Path]:
    paths = [explicit] if explicit else []
    paths += [os.environ.get(v) for v in ("VIVADO", "XILINX_VIVADO", "XILINX_HLS")]
    paths += [shutil.which(tool) for tool in _TOOLS]
    for root in _SEARCH_ROOTS:
        if Path(root).is_dir():
            paths += sorted((str(p) for p in Path(root).iterdir()), reverse=True)
    return [Path(p) for p in paths if p]


def discover_quietly(explicit: str | None = None) -> Path | None:
    for path in candidates(explicit):
        install = _install_of(path)
        if install:
            return install
    return None
