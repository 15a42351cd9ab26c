"""Where a run's time goes, tallied in this process (each xdist worker has its own):

- `ssh`: every remote command (`SSHNode.run`): how many, and their summed wall time;
- `spans`: named stretches (`with span("restore")`): a ladder restore, an install, a batch's action;
- `waits`: the time `node.api.poll` slept, per caller (`module.function`), and how many polls.

A reader takes `snapshot()` before a stretch and `since(before)` after it: the difference is that
stretch's share (harness/timings.py turns it into results/timings.json). Spans nest: an install
inside a restore-and-install counts in both. Pure but the one module-level tally.
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Tally:
    ssh_calls: int = 0
    ssh_seconds: float = 0.0
    spans: dict[str, list[float]] = field(default_factory=dict)    # name -> [count, seconds]
    waits: dict[str, list[float]] = field(default_factory=dict)    # caller -> [polls, seconds slept]

    def copy(self) -> "Tally":
        return Tally(self.ssh_calls, self.ssh_seconds, {k: list(v) for k, v in self.spans.items()},
                     {k: list(v) for k, v in self.waits.items()})


TALLY = Tally()


def _add(table: dict[str, list[float]], key: str, count: int, seconds: float) -> None:
    row = table.setdefault(key, [0, 0.0])
    row[0] += count
    row[1] += seconds


def command(seconds: float) -> None:
    """One remote command (an SSH session) took `seconds`."""
    TALLY.ssh_calls += 1
    TALLY.ssh_seconds += seconds


def waited(seconds: float, depth: int = 2) -> None:
    """A poll slept `seconds` in all; charged to the function that called poll."""
    f = sys._getframe(depth)
    _add(TALLY.waits, f"{f.f_globals.get('__name__', '?')}.{f.f_code.co_name}", 1, seconds)


@contextmanager
def span(name: str):
    t0 = time.monotonic()
    try:
        yield
    finally:
        _add(TALLY.spans, name, 1, time.monotonic() - t0)


def snapshot() -> Tally:
    return TALLY.copy()


def _minus(now: dict[str, list[float]], then: dict[str, list[float]]) -> dict[str, list[float]]:
    out = {}
    for k, (n, s) in now.items():
        n0, s0 = then.get(k, (0, 0.0))
        if n - n0 or s - s0 > 0:
            out[k] = [int(n - n0), round(s - s0, 3)]
    return out


def since(before: Tally, now: Tally | None = None) -> dict:
    """What happened between `before` and `now` (default: the tally now), JSON-ready."""
    now = now or TALLY
    return {"ssh": {"calls": now.ssh_calls - before.ssh_calls,
                    "seconds": round(now.ssh_seconds - before.ssh_seconds, 3)},
            "spans": _minus(now.spans, before.spans),
            "waits": _minus(now.waits, before.waits)}
