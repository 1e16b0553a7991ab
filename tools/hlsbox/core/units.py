"""Parsing of human sizes ("8g") and durations ("90s", "2h30m") given on the command line."""

from __future__ import annotations

import re

from hlsbox.core.errors import BadInput

_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_size(text: str) -> int:
    """'8g', '512m', '8GiB', '1073741824' -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise BadInput(f"'{text}' is not a memory size.", "Give a size such as 512m, 8g or 16GiB.")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def parse_duration(text: str) -> float:
    """'90', '90s', '30m', '2h30m', '1d' -> seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise BadInput(f"'{text}' is not a duration.", "Give a duration such as 90s, 30m, 2h30m or 3600.")
        seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise BadInput(f"The duration '{text}' must be positive.", "Give a duration such as 90s, 30m or 2h.")
    return seconds


def parse_duration_or_off(text: str) -> float:
    """A duration, or 0.0 for 'off' / '0' (a watchdog turned off)."""
    return 0.0 if text.strip().lower() in ("off", "0", "none") else parse_duration(text)


def human_size(n_bytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n_bytes) < 1024 or unit == "TiB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def human_rate(per_second: float) -> str:
    """A rate with the SI prefix that keeps it readable: 85.7 Hz, 5.56 MHz."""
    return _with_prefix(per_second, (("GHz", 1e9), ("MHz", 1e6), ("kHz", 1e3), ("Hz", 1.0)))


def human_time(seconds: float) -> str:
    """A short time with the SI prefix that keeps it readable: 210 ns, 11.7 ms, 3.2 s."""
    return _with_prefix(seconds, (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)))


def _with_prefix(value: float, units: tuple[tuple[str, float], ...]) -> str:
    """Three significant digits (all of the integer part from 100 up) in the largest unit not above the value;
    the smallest unit below that."""
    unit, scale = next(((u, s) for u, s in units if value >= s), units[-1])
    scaled = value / scale
    return f"{scaled:,.0f} {unit}" if scaled >= 100 else f"{scaled:.3g} {unit}"
