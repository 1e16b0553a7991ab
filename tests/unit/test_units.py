import pytest

from hlsbox.core.errors import BadInput
from hlsbox.core.units import human_duration, human_rate, human_time, parse_duration, parse_size


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


def test_rates_and_times_keep_their_digits_at_any_scale():
    # the seed's io_stream design: a new input every 2,333,097 cycles at 5 ns
    assert human_rate(1e9 / (2_333_097 * 5.0)) == "85.7 Hz"
    assert human_time(2_333_176 * 5.0 * 1e-9) == "11.7 ms"
    assert (human_rate(5.556e6), human_time(42 * 5e-9), human_time(3725.0)) == ("5.56 MHz", "210 ns", "3,725 s")
