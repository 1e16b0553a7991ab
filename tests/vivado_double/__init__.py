"""The vivado_hls test double and a helper that lays it out like a real install. TEST ONLY: hlsbox never
falls back to it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent


def make_install(base: Path, version: str = "2019.2", tool: str = "vivado_hls", **knobs: object) -> Path:
    """<base>/Xilinx/Vivado/<version>/{bin/<tool>, settings64.sh, double.json}: the real layout."""
    family = "Vivado" if tool == "vivado_hls" else "Vitis_HLS"
    root = base / "Xilinx" / family / version
    (root / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "vivado_hls", root / "bin" / tool)
    (root / "bin" / tool).chmod(0o755)
    shutil.copytree(HERE / "fixtures", root / "double-fixtures", dirs_exist_ok=True)
    (root / "settings64.sh").write_text(
        f"# settings64.sh of the hlsbox test double\nexport XILINX_VIVADO={root}\nexport PATH={root}/bin:$PATH\n"
    )
    set_knobs(root, version=version, **knobs)
    return root


def set_knobs(root: Path, **knobs: object) -> None:
    current = json.loads((root / "double.json").read_text()) if (root / "double.json").is_file() else {}
    (root / "double.json").write_text(json.dumps({**current, **knobs}))
