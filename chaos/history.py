"""Jepsen-style operation history and its checker ("nothing was lost").

Every lifecycle RPC the suite sends is logged as ``invoke`` followed by exactly one of
``ok`` (acknowledged: it must be in effect afterwards), ``fail`` (definitely not applied)
or ``info`` (indeterminate: the fault hit while it was in flight, so either outcome is fine
but never a half-applied one). ``observe`` records hold stand-in data (chain height,
data checksum) so the checker can prove data never went backwards.

The log is JSON lines on the controller, appended and flushed per record, so a crash of
the chaos process loses at most the record being written. Checking is pure.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from node.names import HARNESS

# What each operation does to an app's state: absent | running | stopped.
EFFECTS = {
    "install": lambda s: "running" if s == "absent" else s,  # installing an installed app changes nothing
    "uninstall": lambda s: "absent",
    "start": lambda s: "running" if s != "absent" else s,
    "stop": lambda s: "stopped" if s != "absent" else s,
}
STATES = ("absent", "running", "stopped")
COMPLETIONS = ("ok", "fail", "info")


class HistoryError(ValueError):
    """A malformed history (a bug in the recorder, reported cleanly)."""


@dataclass(frozen=True)
class Op:
    """One operation once its completion is known."""

    index: int          # order of the invoke in the log
    f: str
    app: str
    outcome: str        # ok | fail | info
    detail: str = ""


def default_path() -> str:
    """Per-process file, so a stock `chaos run` without ARCHY_CHAOS_HISTORY still works."""
    return os.environ.get("ARCHY_CHAOS_HISTORY") or f"/tmp/{HARNESS.mark('chaos-history')}-{os.getpid()}.jsonl"


def append(path: str, record: Mapping) -> dict:
    rec = {"time": time.time(), **record}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return rec


def load(path: str) -> list[dict]:
    """Read a history; a missing file is an empty history."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise HistoryError(f"{path}:{n}: not JSON: {e.msg}") from None
    return out


def next_process(history: Iterable[Mapping]) -> int:
    return 1 + max((int(r.get("process", 0)) for r in history), default=0)


def pair(history: list[Mapping]) -> list[Op]:
    """Match each invoke with its completion; an invoke never completed counts as info."""
    open_ops: dict[int, tuple[int, Mapping]] = {}
    done: dict[int, Op] = {}
    for i, r in enumerate(history):
        t = r.get("type")
        if t == "observe" or t == "baseline":
            continue
        p = r.get("process")
        if t == "invoke":
            if p in open_ops:
                raise HistoryError(f"record {i}: process {p} invoked twice without completing")
            if r.get("f") not in EFFECTS:
                raise HistoryError(f"record {i}: unknown operation {r.get('f')!r}")
            open_ops[p] = (i, r)
        elif t in COMPLETIONS:
            if p not in open_ops:
                raise HistoryError(f"record {i}: {t} for process {p} that has no open invoke")
            j, inv = open_ops.pop(p)
            done[j] = Op(j, inv["f"], inv["app"], t, str(r.get("error", "")))
        else:
            raise HistoryError(f"record {i}: unknown record type {t!r}")
    for j, inv in open_ops.values():
        done[j] = Op(j, inv["f"], inv["app"], "info", "never completed")
    return [done[k] for k in sorted(done)]


def baseline(history: Iterable[Mapping]) -> dict[str, str]:
    """App states observed before anything was done (the first baseline record)."""
    for r in history:
        if r.get("type") == "baseline":
            return dict(r["states"])
    return {}


def possible_states(start: Mapping[str, str], ops: Iterable[Op]) -> dict[str, set[str]]:
    """Per app, the final states consistent with the history.

    ok applies the effect, fail does not, info may or may not. Operations are taken in
    invoke order; the suite issues at most one operation per app at a time.
    """
    poss: dict[str, set[str]] = {app: {s} for app, s in start.items()}
    for op in ops:
        cur = poss.setdefault(op.app, {"absent"})
        applied = {EFFECTS[op.f](s) for s in cur}
        if op.outcome == "ok":
            poss[op.app] = applied
        elif op.outcome == "info":
            poss[op.app] = cur | applied
    return poss


def check_ops(history: list[Mapping], observed: Mapping[str, str]) -> list[str]:
    """Violations of 'every acknowledged operation is in effect, nothing half-applied'.

    observed: app -> absent | running | stopped, or any other string describing a half
    state (e.g. "half: unit without container"), which is always a violation.
    """
    problems = []
    ops = pair(history)
    poss = possible_states(baseline(history), ops)
    for app in sorted(set(poss) | set(observed)):
        got = observed.get(app, "absent")
        allowed = poss.get(app, {"absent"})
        if got not in STATES:
            problems.append(f"{app}: half-applied state after the fault: {got}")
        elif got not in allowed:
            acked = [f"{o.f}#{o.index}" for o in ops if o.app == app and o.outcome == "ok"]
            why = f"acknowledged {', '.join(acked)}" if acked else "no operation touched it"
            problems.append(f"{app}: observed {got}, history allows {sorted(allowed)} ({why})")
    return problems


def check_observations(history: Iterable[Mapping]) -> list[str]:
    """Stand-in data never goes backwards.

    chain_height never decreases; a data checksum may change only together with a chain
    height increase (append-only chain), so an app without a chain height keeps its checksum.
    """
    problems = []
    last: dict[str, Mapping] = {}
    for r in history:
        if r.get("type") != "observe":
            continue
        app = r["app"]
        prev = last.get(app)
        if prev is not None:
            h0, h1 = prev.get("chain_height"), r.get("chain_height")
            if h0 is not None and (h1 is None or h1 < h0):
                problems.append(f"{app}: chain height went backwards: {h0} -> {h1}")
            grew = h0 is not None and h1 is not None and h1 > h0
            c0, c1 = prev.get("data_checksum"), r.get("data_checksum")
            if c0 and c1 != c0 and not grew:
                problems.append(f"{app}: data checksum changed without new data: {c0[:12]} -> {str(c1)[:12]}")
        last[app] = r
    return problems


def check(history: list[Mapping], observed: Mapping[str, str]) -> list[str]:
    return check_observations(history) + check_ops(history, observed)
