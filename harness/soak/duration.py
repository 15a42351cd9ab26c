"""Durations as people write them on a command line: 90s, 10m, 6h, 1h30m, 2d (or plain seconds)."""
import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> float:
    """Seconds for '10m', '6h', '1h30m', '45' (seconds); a clear error for anything else."""
    s = str(text).strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", s):
        value = float(s)
    else:
        parts = _PART.findall(s)
        if not parts or "".join(n + u for n, u in parts) != s:
            raise DurationError(f"bad duration {text!r}: use e.g. 90s, 10m, 6h or 1h30m")
        value = sum(float(n) * _UNITS[u] for n, u in parts)
    if value <= 0:
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
