"""node.api.poll: the one waiting loop; bounded, and its pause grows in a long wait."""
from node import api


def _clock(monkeypatch):
    now = [0.0]
    pauses = []
    monkeypatch.setattr(api.time, "monotonic", lambda: now[0])

    def sleep(s):
        pauses.append(round(s, 3))
        now[0] += s
    monkeypatch.setattr(api.time, "sleep", sleep)
    return pauses


def test_pause_grows_to_four_times_the_interval_and_the_deadline_ends_it(monkeypatch):
    pauses = _clock(monkeypatch)
    assert api.poll(lambda: False, 30, 1.0) is False
    assert pauses[:5] == [1.0, 1.5, 2.25, 3.375, 4.0] and max(pauses) == 4.0
    assert abs(sum(pauses) - 30) < 1e-6


def test_the_cap_is_five_seconds_but_never_below_the_interval(monkeypatch):
    pauses = _clock(monkeypatch)
    api.poll(lambda: False, 60, 3.0)
    assert max(pauses) == 5.0
    pauses.clear()
    api.poll(lambda: False, 60, 10.0)
    assert set(pauses) == {10.0}


def test_true_at_once_does_not_sleep(monkeypatch):
    pauses = _clock(monkeypatch)
    assert api.poll(lambda: True, 30, 1.0) is True and pauses == []
