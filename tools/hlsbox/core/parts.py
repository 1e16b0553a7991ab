"""FPGA part database: device resources from the vendor data sheets, and part-name resolution.

A full part name (``xc7z010clg400-1``, ``xczu9eg-ffvb1156-2-e``, ``xcu250-figd2104-2L-e``) is a
device, a package and a speed grade; resources depend on the device only.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from hlsbox.core.errors import BadInput


@dataclass(frozen=True)
class Device:
    name: str  # the device prefix of a part name, e.g. "xc7z010"
    family: str
    lut: int
    ff: int
    bram36: int  # 36 Kb block RAMs; hls4ml and Vivado HLS count BRAM_18K = 2 * bram36
    dsp: int
    uram: int
    source: str  # the data sheet the numbers come from

    @property
    def bram18(self) -> int:
        return 2 * self.bram36

    def capacity(self) -> dict[str, int]:
        """Resources in the units Vivado HLS reports use."""
        return {"LUT": self.lut, "FF": self.ff, "BRAM_18K": self.bram18, "DSP": self.dsp, "URAM": self.uram}


_DS190 = "Xilinx DS190 Zynq-7000 SoC Data Sheet: Overview, table 1"
_DS180 = "Xilinx DS180 7 Series FPGAs Data Sheet: Overview, tables 2-3"
_DS891 = "Xilinx DS891 Zynq UltraScale+ MPSoC Data Sheet: Overview, tables 1-2"
_DS890 = "Xilinx DS890 UltraScale Architecture and Product Data Sheet: Overview"
_DS965 = "Xilinx DS965 Alveo U50 Data Center Accelerator Card Data Sheet"
_DS962 = "Xilinx DS962 Alveo U200 and U250 Data Center Accelerator Cards Data Sheet"
_DS963 = "Xilinx DS963 Alveo U280 Data Center Accelerator Card Data Sheet"

DEVICES: dict[str, Device] = {
    d.name: d
    for d in [
        Device("xc7z010", "Zynq-7000", 17_600, 35_200, 60, 80, 0, _DS190),
        Device("xc7z020", "Zynq-7000", 53_200, 106_400, 140, 220, 0, _DS190),
        Device("xc7z045", "Zynq-7000", 218_600, 437_200, 545, 900, 0, _DS190),
        Device("xc7a35t", "Artix-7", 20_800, 41_600, 50, 90, 0, _DS180),
        Device("xc7a100t", "Artix-7", 63_400, 126_800, 135, 240, 0, _DS180),
        Device("xc7a200t", "Artix-7", 134_600, 269_200, 365, 740, 0, _DS180),
        Device("xc7k325t", "Kintex-7", 203_800, 407_600, 445, 840, 0, _DS180),
        Device("xc7k410t", "Kintex-7", 254_200, 508_400, 795, 1_540, 0, _DS180),
        Device("xczu3eg", "Zynq UltraScale+", 70_560, 141_120, 216, 360, 0, _DS891),
        Device("xczu7ev", "Zynq UltraScale+", 230_400, 460_800, 312, 1_728, 96, _DS891),
        Device("xczu9eg", "Zynq UltraScale+", 274_080, 548_160, 912, 2_520, 0, _DS891),
        Device("xcku115", "Kintex UltraScale", 663_360, 1_326_720, 2_160, 5_520, 0, _DS890),
        Device("xcvu9p", "Virtex UltraScale+", 1_182_240, 2_364_480, 2_160, 6_840, 960, _DS890),
        Device("xcvu13p", "Virtex UltraScale+", 1_728_000, 3_456_000, 2_688, 12_288, 1_280, _DS890),
        Device("xcu50", "Alveo U50", 872_000, 1_743_000, 1_344, 5_952, 640, _DS965),
        Device("xcu250", "Alveo U250", 1_728_000, 3_456_000, 2_688, 12_288, 1_280, _DS962),
        Device("xcu280", "Alveo U280", 1_304_000, 2_607_000, 2_016, 9_024, 960, _DS963),
    ]
}


def resolve_device(part: str) -> Device:
    """The device of a full part name; a clear error with the closest names when unknown."""
    key = part.strip().lower()
    # Longest device name first, so that a longer name is not shadowed by a shorter prefix.
    for name in sorted(DEVICES, key=len, reverse=True):
        rest = key[len(name) :]
        # After the device comes a package ("clg400", "-ffvb1156") or nothing.
        if key.startswith(name) and (rest == "" or rest[0] == "-" or rest[0].isalpha()):
            return DEVICES[name]
    close = difflib.get_close_matches(key[:8], list(DEVICES), n=3, cutoff=0.5)
    hint = f"Closest known devices: {', '.join(close)}. " if close else ""
    raise BadInput(
        f"Unknown FPGA part '{part}'.",
        f"{hint}Known devices: {', '.join(DEVICES)} (any package and speed grade, e.g. xc7z010clg400-1). "
        "Give one of these with --part / PART=, or set part in the flow file.",
    )
