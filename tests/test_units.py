import pytest

from hlsbox.errors import BadInput
from hlsbox.units import human_duration, parse_duration, parse_size


@pytest.mark.parametrize(("text", "n"), [("8g", 8 << 30), ("512m", 512 << 20), ("16GiB", 16 << 30), ("100", 100)])
def test_sizes(text: str, n: int):
    assert parse_size(text) == n


@pytest.mark.parametrize(("text", "s"), [("90", 90), ("90s", 90), ("30m", 1800), ("2h30m", 9000), ("1d", 86400)])
def test_durations(text: str, s: float):
    assert parse_duration(text) == s


@pytest.mark.parametrize("text", ["", "8x", "-1", "0", "m30"])
def test_bad_durations(text: str):
    with pytest.raises(BadInput):
        parse_duration(text)


@pytest.mark.parametrize("text", ["", "lots", "0g", "-8g"])
def test_bad_sizes(text: str):
    with pytest.raises(BadInput):
        parse_size(text)


def test_human_duration():
    assert (human_duration(5), human_duration(65), human_duration(3725)) == ("5s", "1m05s", "1h02m05s")
