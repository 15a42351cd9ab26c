"""A crash loop across a daemon restart (seed 000: "restart counters reset on restart, so endless
loops"): an app that keeps failing, and the reconciler restarted mid-loop. Its backoff must go on
where it was, as kubelet's does, not start again from zero (a restart storm).

Judged from systemd's journal of the app's unit, so any reconciler's backoff can be measured:
- a *cycle* is one start by someone other than systemd's own Restart= (the reconciler's), with the
  automatic restarts that follow it until the unit gives up (start-limit-hit);
- a *hold* is how long the unit then sat failed before the next cycle: the backoff at work.
The daemon is restarted in a hold once a hold of at least `hold_min` seconds was seen, so the
backoff (not systemd's burst) sets the pace. A loop that never holds, restarted more often than a
kubelet-style schedule allows (10 s doubling to 300 s), is the seed's restart storm itself: a failure. Backoff never shrinks within a loop, so the hold
across the restart must be at least the hold before it: a daemon that forgot its backoff starts
the app again as soon as it is up. Pure but the activities at the end."""
from __future__ import annotations

import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass

from chaoslib.exceptions import InterruptExecution

from node.api import poll
from node.journal import (UNIT_FAILURE_RESULT, UNIT_RESTART_SCHEDULED, UNIT_STARTING, json_lines,
                          unit_of)
from node.faults import set_fault

from . import actions, memo

STARTING, RESTART_SCHEDULED, FAILED = UNIT_STARTING, UNIT_RESTART_SCHEDULED, UNIT_FAILURE_RESULT
FAULT = "exit-at-start"                                   # the stand-in's fault (reconciler/standin/faults.py)


@dataclass(frozen=True)
class Cycle:
    start: float | None     # seconds (journal monotonic); None: the loop's first, begun by the fault
    starts: int             # starts in it: the first and systemd's automatic restarts
    failed: float | None    # when it last failed; None while it has not (yet)


def events(entries: list[dict], unit: str) -> list[tuple[float, str]]:
    """(monotonic seconds, message id) of the unit's starts, scheduled restarts and failures; pure."""
    out = []
    for e in entries:
        mid = e.get("MESSAGE_ID")
        if mid in (STARTING, RESTART_SCHEDULED, FAILED) and unit_of(e) == unit:
            try:
                out.append((int(e["__MONOTONIC_TIMESTAMP"]) / 1e6, str(mid)))
            except (KeyError, TypeError, ValueError):
                continue
    return sorted(out)


def cycles(evts: list[tuple[float, str]]) -> list[Cycle]:
    """The unit's cycles in time order: a start with no scheduled restart before it opens one; pure."""
    out: list[Cycle] = []
    scheduled = False
    for t, mid in evts:
        if mid == RESTART_SCHEDULED:
            scheduled = True
        elif mid == STARTING:
            if scheduled and out:
                out[-1] = Cycle(out[-1].start, out[-1].starts + 1, out[-1].failed)
            else:
                out.append(Cycle(None if scheduled else t, 1, None))
            scheduled = False
        elif mid == FAILED:
            # a restart systemd scheduled but refused (start-limit-hit) fails with no start: the
            # next start is someone else's, a new cycle
            scheduled = False
            if not out:
                out.append(Cycle(None, 0, t))
            else:
                out[-1] = Cycle(out[-1].start, out[-1].starts, t)
    return out


def holds(cs: list[Cycle]) -> list[float]:
    """holds[i]: seconds the unit sat failed between cycle i and cycle i+1; pure."""
    return [b.start - a.failed for a, b in zip(cs, cs[1:]) if a.failed is not None and b.start is not None]


def ready_to_restart(cs: list[Cycle], hold_min: float) -> bool:
    """The latest cycle has ended (its unit failed) and the hold before it was the backoff's, not
    the tick's: restarting the daemon now lands in a hold worth comparing; pure."""
    if len(cs) < 2 or cs[-1].failed is None or cs[-1].start is None or cs[-2].failed is None:
        return False
    return cs[-1].start - cs[-2].failed >= hold_min and cs[-1].failed >= cs[-1].start


def schedule_starts(window: float, initial: float = 10, cap: float = 300) -> int:
    """The most starts a kubelet-style backoff (initial, doubling, capped) allows in `window`
    seconds of a crash loop: the first at once, each next one its delay later; pure."""
    n, t, delay = 1, 0.0, initial
    while t + delay <= window:
        n, t, delay = n + 1, t + delay, min(delay * 2, cap)
    return n


def storm(evts: list[tuple[float, str]], initial: float = 10, cap: float = 300) -> str:
    """A loop no backoff paces, or "": more starts since the first than the schedule allows; pure."""
    starts = [t for t, mid in evts if mid == STARTING]
    if len(starts) < 2:
        return ""
    window = starts[-1] - starts[0]
    allowed = schedule_starts(window, initial, cap)
    if len(starts) <= allowed:
        return ""
    return (f"restart storm: {len(starts)} starts in {window:.0f} s, where a backoff from {initial:.0f} s "
            f"doubling to {cap:.0f} s allows {allowed}")


def judge(cs: list[Cycle], restarted: float) -> tuple[list[str], dict]:
    """Problems with the hold across the daemon restart at `restarted` (journal monotonic), and the
    figures; pure. Needs the cycle before the restart, the one before that, and the one after."""
    before = [c for c in cs if c.start is not None and c.start < restarted]
    after = [c for c in cs if c.start is not None and c.start >= restarted]
    if len(before) < 2 or before[-1].failed is None or before[-2].failed is None:
        return [f"fewer than two ended cycles before the daemon restart ({len(before)}): nothing to compare"], {}
    last, prev = before[-1], before[-2]
    if last.failed > restarted:
        return ["the daemon was restarted while the app was still restarting, not in a hold"], {}
    if not after:
        return ["no start of the app after the daemon restart: the loop did not go on"], {}
    hold_before = last.start - prev.failed
    hold_across = after[0].start - last.failed
    early = [c for c in after if c.start < last.failed + hold_before]
    figures = {"cycles": len(cs), "hold_before_s": round(hold_before, 1), "hold_across_s": round(hold_across, 1),
               "restart_after_failure_s": round(restarted - last.failed, 1),
               "starts_in_window": sum(c.starts for c in early)}
    if hold_across < hold_before:
        return [f"the backoff restarted from zero with the daemon: the app sat failed {hold_across:.0f} s across "
                f"the restart, {hold_before:.0f} s before it ({figures['starts_in_window']} start(s) in the "
                f"{hold_before:.0f} s window the schedule keeps free)"], figures
    return [], figures


# ---- activities (I/O) -------------------------------------------------------------------------
def _interrupt(msg: str):
    raise InterruptExecution(f"injection failed, nothing would be tested: {msg}")


def _journal(node, cursor: str, *ids: str) -> list[dict]:
    matches = " ".join(f"MESSAGE_ID={i}" for i in ids)
    return json_lines(node.succeed(f"{node.cmd.journalctl} -q -o json --no-pager "
                                   f"--after-cursor={shlex.quote(cursor)} {matches}", timeout=120))


def _cycles(node, app: str) -> list[Cycle]:
    return cycles(events(_journal(node, memo.get("loop_cursor") or "", STARTING, RESTART_SCHEDULED, FAILED),
                         node.names.unit(app)))


def start_crash_loop(configuration: Mapping, app: str, timeout: float = 240) -> dict:
    """The app's stand-in refuses every start from now on (its exit-at-start fault), and its running
    process is SIGKILLed: the unit fails, and fails again on every start, the same spec each time."""
    node = actions._node(configuration)
    if "standin" not in node.capabilities:
        _interrupt("the node's apps are not the bundled stand-ins: no fault can make one crash at start")
    cursor = node.journal_cursor()
    if not cursor:
        _interrupt("no journal cursor to read the loop from")
    memo.put("loop_cursor", cursor)
    try:
        set_fault(node, app, FAULT)
    except ValueError as e:
        _interrupt(str(e))
    killed = actions.kill_container_init(configuration, app)
    def failing() -> bool:   # restarted by systemd and failed again: one journal read per look
        cs = _cycles(node, app)
        return any(c.starts for c in cs) and any(c.failed for c in cs)

    if not poll(failing, timeout, 2.0):
        _interrupt(f"{node.names.unit(app)} was not restarted and did not fail within {timeout:.0f}s")
    return {"app": app, "fault": FAULT, "killed_pid": killed["killed_pid"]}


def restart_reconciler_in_hold(configuration: Mapping, app: str, hold_min: float = 45,
                               timeout: float = 1200) -> dict:
    """Once the loop's backoff held the unit failed for hold_min seconds, restart the daemon in the
    next hold (right after the app gave up again)."""
    node = actions._node(configuration)
    unit = node.names.unit(app)
    failed = f"{node.cmd.systemctl} is-failed --quiet {shlex.quote(unit)}"

    def in_hold() -> bool:
        return ready_to_restart(_cycles(node, app), hold_min) and node.run(failed, timeout=30).rc == 0

    t0 = time.monotonic()
    if not poll(in_hold, timeout, 3.0):
        evts = events(_journal(node, memo.get("loop_cursor") or "", STARTING, RESTART_SCHEDULED, FAILED), unit)
        cs = cycles(evts)
        if why := storm(evts):   # restarted all along, never held: nothing paces the loop (seed 000)
            raise AssertionError(f"{unit}: {why}; it never sat failed for {hold_min:.0f} s "
                                 f"({len(cs)} cycle(s)), so the daemon restart was not tried")
        _interrupt(f"no hold of {hold_min:.0f} s in {unit}'s crash loop within {timeout:.0f}s "
                   f"({len(cs)} cycles, holds {[round(h) for h in holds(cs)]})")
    restarted = actions.restart_reconciler(configuration)
    return {"app": app, "waited_s": round(time.monotonic() - t0), "cycles": len(_cycles(node, app)), **restarted}


def crash_loop_held(configuration: Mapping, app: str, timeout: float = 900) -> dict:
    """After the daemon restart: wait for the loop's next cycle, then judge the hold across it."""
    node = actions._node(configuration)
    daemon = node.names.daemon_unit

    def restarted_at() -> float | None:
        starts = [t for t, _ in events(_journal(node, memo.get("loop_cursor") or "", STARTING), daemon)]
        return starts[-1] if starts else None

    r = restarted_at()
    if r is None:
        raise AssertionError(f"no start of {daemon} in the journal since the loop began")
    if not poll(lambda: any(c.start is not None and c.start >= r for c in _cycles(node, app)), timeout, 3.0):
        cs = _cycles(node, app)
        raise AssertionError(f"{app} was not started again within {timeout:.0f}s of the daemon restart: "
                             f"the loop stopped ({len(cs)} cycles, holds {[round(h) for h in holds(cs)]})")
    problems, figures = judge(_cycles(node, app), r)
    if problems:
        raise AssertionError("; ".join(problems))
    return {"status": 0, **figures}


def end_crash_loop(configuration: Mapping, app: str) -> dict:
    """Undo (idempotent): the fault file goes and the unit is started again past its start limit."""
    node = actions._node(configuration)
    unit = shlex.quote(node.names.unit(app))
    set_fault(node, app, None)
    node.run(f"{node.cmd.systemctl} reset-failed {unit}; {node.cmd.systemctl} start --no-block {unit}", timeout=60)
    return {"app": app, "fault_removed": True, "unit": node.names.unit(app)}


__all__ = ["start_crash_loop", "restart_reconciler_in_hold", "crash_loop_held", "end_crash_loop",
           "cycles", "events", "holds", "judge", "ready_to_restart", "schedule_starts", "storm"]
