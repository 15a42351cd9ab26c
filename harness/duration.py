"""Durations as people write them on a command line: the one grammar of every option that takes one.

    90s  10m  6h  2d  1h30m  1.5h   units s, m, h, d, combined without spaces, any case
    45                              a bare number is seconds
    0                               only where zero means "none" (zero_ok): --soak-duration 0
"""
import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_NUMBER = r"\d+(?:\.\d+)?"
_DURATION = re.compile(rf"{_NUMBER}|(?:{_NUMBER}[smhd])+")
_PART = re.compile(rf"({_NUMBER})([smhd])")


class DurationError(ValueError):
    """A duration that does not parse; the message is one line naming the text."""


def parse_duration(text: str, *, zero_ok: bool = False) -> float:
    """Seconds for '10m', '6h', '1h30m', '45' (seconds), or '0' when zero_ok; DurationError otherwise."""
    s = str(text).strip().lower()
    if not _DURATION.fullmatch(s):
        raise DurationError(f"bad duration {text!r}: use e.g. 90s, 10m, 1h30m or 6h" + (" (or 0)" if zero_ok else ""))
    value = float(s) if s[-1].isdigit() else sum(float(n) * _UNITS[u] for n, u in _PART.findall(s))
    if value == 0 and not zero_ok:
        raise DurationError(f"bad duration {text!r}: must be greater than zero")
    return value


def format_duration(seconds: float) -> str:
    """Compact human form: 3725 -> '1h2m5s'."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)
