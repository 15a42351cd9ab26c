"""harness.duration: the one duration grammar (soak CLI, --soak-duration, make soak SOAK=...)."""
import pytest

from harness.duration import DurationError, format_duration, parse_duration


@pytest.mark.parametrize("text,seconds", [
    ("90s", 90), ("10m", 600), ("6h", 21600), ("2d", 172800), ("1h30m", 5400), ("1h2m5s", 3725),
    ("1.5h", 5400), ("45", 45), ("2.5", 2.5), (" 10M ", 600), (90, 90),
])
def test_parses(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10x", "m10", "-5m", "1h 30m", "10 m", "ten minutes", "1h30", "h", ".5m"])
def test_refuses_junk_in_one_line(text):
    with pytest.raises(DurationError, match=r"^bad duration .*: use e\.g\. 90s, 10m, 1h30m or 6h$"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["0", "0s", "0h0m"])
def test_zero_only_where_it_means_none(text):
    assert parse_duration(text, zero_ok=True) == 0
    with pytest.raises(DurationError, match="must be greater than zero"):
        parse_duration(text)


def test_the_error_names_zero_where_it_is_allowed():
    with pytest.raises(DurationError, match=r"or 6h \(or 0\)$"):
        parse_duration("soon", zero_ok=True)


@pytest.mark.parametrize("seconds,text", [(0, "0s"), (45, "45s"), (60, "1m"), (3725, "1h2m5s"), (90000, "1d1h")])
def test_formats_back(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text, zero_ok=True) == seconds
