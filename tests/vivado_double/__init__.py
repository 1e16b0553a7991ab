"""The vivado_hls test double and a helper that lays it out like a real install. TEST ONLY: hlsbox never
falls back to it. The reports it writes are hls4ml's own Vivado HLS 2020.1 test fixtures, read from the shared
reports beside the checkout (never copied into the repository)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.shared import shared

HERE = Path(__file__).resolve().parent
REPORTS = ("myproject_csynth.rpt", "myproject_csynth.xml", "vivado_synth.rpt", "vivado_hls.app")


def make_install(base: Path, version: str = "2019.2", tool: str = "vivado_hls", **knobs: object) -> Path:
    """<base>/Xilinx/Vivado/<version>/{bin/<tool>, settings64.sh, double.json}: the real layout."""
    family = "Vivado" if tool == "vivado_hls" else "Vitis_HLS"
    root = base / "Xilinx" / family / version
    (root / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "vivado_hls", root / "bin" / tool)
    (root / "bin" / tool).chmod(0o755)
    # The container sees only the install: the reports go inside it, as the tool's own files would be.
    fixtures = root / "double-fixtures"
    fixtures.mkdir(exist_ok=True)
    for name in REPORTS:
        shutil.copy(shared(f"hls4ml_test_report/{name}"), fixtures / name)
    (root / "settings64.sh").write_text(
        f"# settings64.sh of the hlsbox test double\nexport XILINX_VIVADO={root}\nexport PATH={root}/bin:$PATH\n"
    )
    set_knobs(root, version=version, **knobs)
    return root


def patch_y2k22(root: Path) -> None:
    """What Xilinx's Y2K22 patch (AR 76960) leaves in an install."""
    (root / "common" / "scripts").mkdir(parents=True, exist_ok=True)
    (root / "common" / "scripts" / "automg_patch_20220104.tcl").write_text("# the Y2K22 patch's file\n")


def set_knobs(root: Path, **knobs: object) -> None:
    current = json.loads((root / "double.json").read_text()) if (root / "double.json").is_file() else {}
    (root / "double.json").write_text(json.dumps({**current, **knobs}))
