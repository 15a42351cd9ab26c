"""Crash-loop backoff, kubelet style: 10 s doubling to 300 s, reset after 600 s without a new
failure, keyed by the app's spec hash (a changed spec starts fresh). Persisted in backoff.json."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping

from .model import UnitState, frozen_map
from .store import atomic_write, read_bytes

INITIAL = 10.0
MAX = 300.0
RESET_AFTER = 2 * MAX


@dataclass(frozen=True)
class Entry:
    delay: float
    last: float     # wall-clock time of the last start after a failure
    spec: str


def in_backoff(entry: Entry | None, spec: str, now: float, failed: float = 0.0) -> bool:
    """failed: when the unit last failed (0: not known). The delay runs from the failure, as
    kubelet's does from the container's exit: counted from the start instead, a cycle of systemd's
    own restarts longer than the delay (5 failing starts take ~150 s under TCG) used it all up,
    and the app was started again at once, cycle after cycle."""
    return entry is not None and entry.spec == spec and 0 <= now - max(entry.last, failed) < entry.delay


def remaining(entry: Entry | None, spec: str, now: float, failed: float = 0.0) -> float:
    if not in_backoff(entry, spec, now, failed):
        return 0.0
    return max(entry.last, failed) + entry.delay - now


def doubled(entry: Entry | None, spec: str, since: float | None = None) -> bool:
    """The app with this spec failed again after two restarts following failures (since `since`):
    a crash loop, not one lost start race."""
    return (entry is not None and entry.spec == spec and entry.delay >= 2 * INITIAL
            and (since is None or entry.last >= since))


START_LIMIT_HIT = "start-limit-hit"
START_LIMIT_BURST = 5     # the app units' StartLimitBurst (render.py)


def gave_up(unit: UnitState | None, since: float | None = None) -> bool:
    """systemd gave up on the unit (since `since`, wall clock): each of its automatic restarts
    failed until the start limit refused the next (the reconciler resets the count before the
    starts it issues, so only systemd's own add up). Five failures, not one lost start race: a
    crash loop after one cycle, where the doubled backoff takes three (about 150 s each under TCG).

    systemd 257 keeps the failure's own Result (`exit-code`) when it refuses an automatic restart
    ("Start request repeated too quickly"); NRestarts, which the refused restart still counted,
    says so. `start-limit-hit` is what a refused manual start leaves."""
    return (unit is not None and unit.active == "failed"
            and (unit.result == START_LIMIT_HIT or unit.restarts >= START_LIMIT_BURST)
            and (since is None or unit.changed >= since))


def crash_looping(entry: Entry | None, spec: str, unit: UnitState | None, since: float | None = None) -> bool:
    """The app with this spec is failed in a crash loop: systemd gave up on it, or it failed again
    after two restarts following failures."""
    return (unit is not None and unit.active == "failed"
            and (gave_up(unit, since) or doubled(entry, spec, since)))


def record(entry: Entry | None, spec: str, now: float) -> Entry:
    """A start after a failure happens now: the next one must wait the returned delay."""
    if entry is None or entry.spec != spec or now - entry.last > RESET_AFTER or now < entry.last:
        return Entry(INITIAL, now, spec)
    return Entry(min(entry.delay * 2, MAX), now, spec)


def load(path: str) -> Mapping[str, Entry]:
    raw = read_bytes(path)
    if not raw:
        return frozen_map()
    try:
        data = json.loads(raw)
        return frozen_map({k: Entry(float(v["delay"]), float(v["last"]), str(v["spec"]))
                           for k, v in data.items()})
    except (ValueError, KeyError, TypeError, AttributeError):
        return frozen_map()  # a corrupt file only forgets backoff, never blocks starts


def save(path: str, entries: Mapping[str, Entry]) -> None:
    body = {k: {"delay": e.delay, "last": e.last, "spec": e.spec} for k, e in sorted(entries.items())}
    atomic_write(path, (json.dumps(body, indent=1) + "\n").encode(), 0o644)
