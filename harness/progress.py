"""One line per grid cell as it starts and as it ends, for CI logs that are read while they run:

    [grid] start  lnd-fresh_install  (13/99)
    [grid] PASS   lnd-fresh_install  183 s  13/99 done  ETA 16:05 (41 min left)

The ETA counts the cells still to run at their durations in the previous run's results (the file
`make beta-matrix` keeps as previous-cells.json, else the last cells.json), a cell the previous run
did not have at the mean of this run's so far, spread over the xdist workers. The pure half
(`remaining_seconds`, `end_line`) is tested on its own; `CellProgress` is the controller's plugin.
Grid cells print these lines instead of pytest's dots; every other test reports as usual.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from statistics import mean
from typing import Iterable, Mapping

import pytest

from . import results

GRID_FILE = "tests/grid/"
SHOWN = {"passed": "PASS", "failed": "FAIL", "not_run": "NOT RUN"}


def remaining_seconds(remaining: Iterable[str], previous: Mapping[str, float], done: list[float],
                      workers: int = 1) -> float | None:
    """The expected time left for `remaining` (node ids), or None with nothing to go on yet."""
    todo = list(remaining)
    if not todo:
        return 0.0
    fallback = mean(done) if done else (mean(previous.values()) if previous else None)
    if fallback is None and any(n not in previous for n in todo):
        return None
    return sum(previous.get(n, fallback) for n in todo) / max(1, workers)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def end_line(cell: str, verdict: str, seconds: float, done: int, total: int, left: float | None,
             now: float) -> str:
    eta = ("ETA unknown" if left is None else
           f"ETA {time.strftime('%H:%M', time.localtime(now + left))} ({_minutes(left)} left)" if left else "last cell")
    return f"[grid] {SHOWN.get(verdict, verdict.upper()):<7} {cell}  {seconds:.0f} s  {done}/{total} done  {eta}"


def say(tr, line: str) -> None:
    """One line on pytest's terminal, at once. Not write_line: it forgets the current file, and
    pytest would name the file again before its next result."""
    if getattr(tr._tw, "width_of_current_line", 0):
        tr.line("")
    tr.line(line)
    tr.flush()                  # a CI log is a pipe: without this it arrives in blocks


def previous_durations(results_dir: Path) -> dict[str, float]:
    """{nodeid: seconds} of the last grid run's cells (an unreadable or absent file: none)."""
    for name in ("previous-cells.json", "cells.json"):
        # not results.read: an ETA is advice, and a record it would refuse still has its duration
        try:
            doc = json.loads((results_dir / name).read_text())
            return {c["nodeid"]: float(c["duration"]) for c in doc.get("cells", [])
                    if isinstance(c, dict) and c.get("nodeid") and c.get("verdict") != "not_run"}
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            continue
    return {}


def _cell_name(nodeid: str) -> str:
    return nodeid.rsplit("[", 1)[-1].rstrip("]") if "[" in nodeid else nodeid


def _is_grid(nodeid: str) -> bool:
    return GRID_FILE in nodeid.replace("\\", "/") and "[" in nodeid


class CellProgress:
    """Controller-side (xdist forwards every worker's logstart and reports)."""

    def __init__(self, config: pytest.Config, results_dir: Path, workers: int):
        self.config, self.workers = config, max(1, workers)
        self.previous = previous_durations(results_dir)
        self.planned: list[str] = []              # the run's grid cells, in the planned order
        self.running: dict[str, float] = {}       # nodeid -> monotonic start
        self.finished: set[str] = set()
        self.phases: dict[str, dict[str, str]] = {}
        self.done: list[float] = []               # this run's cell durations so far

    # the cells to run: from the controller's own collection, or (xdist) the first worker's
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self.planned:
            self.planned = [i.nodeid for i in session.items if _is_grid(i.nodeid)]

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids) -> None:
        if not self.planned:
            self.planned = [n for n in ids if _is_grid(n)]

    def _say(self, line: str) -> None:
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            say(tr, line)

    def pytest_runtest_logstart(self, nodeid: str, location) -> None:
        if _is_grid(nodeid):
            self.running[nodeid] = time.monotonic()
            self._say(f"[grid] start   {_cell_name(nodeid)}  ({len(self.finished) + len(self.running)}/"
                      f"{len(self.planned)})")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not _is_grid(report.nodeid):
            return
        self.phases.setdefault(report.nodeid, {})[report.when] = report.outcome
        if report.when != "teardown":
            return
        now = time.monotonic()
        seconds = now - self.running.pop(report.nodeid, now)
        self.done.append(seconds)
        self.finished.add(report.nodeid)
        verdict, _ = results.phase_verdict({w: (o, "") for w, o in self.phases.pop(report.nodeid).items()})
        self._say(end_line(_cell_name(report.nodeid), verdict, seconds, len(self.finished),
                           len(self.planned), self.left(now), time.time()))

    def left(self, now: float) -> float | None:
        """The cells not started at their expected time, plus what the running ones have still to go."""
        waiting = [n for n in self.planned if n not in self.finished and n not in self.running]
        left = remaining_seconds(waiting, self.previous, self.done, self.workers)
        if left is None:
            return None
        typical = mean(self.done) if self.done else 0.0
        return left + sum(max(0.0, self.previous.get(n, typical) - (now - t0))
                          for n, t0 in self.running.items()) / self.workers

    def pytest_report_teststatus(self, report, config):
        """A grid cell's line replaces its dot (its verdict still counts in pytest's summary)."""
        if _is_grid(report.nodeid) and config.option.verbose <= 0 and report.when == "call":
            return report.outcome, "", report.outcome.upper()
        return None
