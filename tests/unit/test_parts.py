import pytest

from hlsbox.core.errors import BadInput
from hlsbox.core.parts import DEVICES, resolve_device


@pytest.mark.parametrize(
    ("part", "device"),
    [
        ("xc7z010clg400-1", "xc7z010"),
        ("XC7Z020CLG400-1", "xc7z020"),
        ("xczu9eg-ffvb1156-2-e", "xczu9eg"),
        ("xcu250-figd2104-2L-e", "xcu250"),
        ("xcvu13p-flga2577-2-e", "xcvu13p"),
        ("xcvu9p", "xcvu9p"),
        ("xc7a100tcsg324-1", "xc7a100t"),
    ],
)
def test_any_package_and_speed_grade_resolves_to_its_device(part: str, device: str):
    assert resolve_device(part).name == device


def test_the_seed_part_has_the_data_sheet_numbers():
    z010 = resolve_device("xc7z010clg400-1")
    assert (z010.lut, z010.ff, z010.bram18, z010.dsp) == (17_600, 35_200, 120, 80)


def test_the_z020_matches_what_vivado_hls_reports():
    # hls4ml's own report fixture (Vivado HLS 2020.1, xc7z020): BRAM_18K 280, DSP 220, FF 106400, LUT 53200
    assert resolve_device("xc7z020clg400-1").capacity() == {
        "LUT": 53_200,
        "FF": 106_400,
        "BRAM_18K": 280,
        "DSP": 220,
        "URAM": 0,
    }


def test_unknown_part_names_the_closest():
    with pytest.raises(BadInput) as info:
        resolve_device("xc7z011clg400-1")
    assert "xc7z010" in info.value.hint
    with pytest.raises(BadInput):
        resolve_device("xc7z0100")  # a longer digit run is another device, not xc7z010


def test_every_device_names_its_source():
    assert all(d.source.startswith("Xilinx DS") for d in DEVICES.values())
