"""The developer loop: `make dev NODE=ssh://user@host APPS=lnd EVENTS=install,restart`.

Runs the selected grid cells with pytest in a subprocess, shows a live grid in the terminal
(rich), and runs them again on Enter or when a watched file changes (mtimes polled once a second,
at most MAX_WATCHED files). Without NODE it boots the embedded VM once and restores its golden
state before every run. Ctrl-C stops the running pytest (SIGINT first, so its own cleanup runs),
then leaves the node in a known state: the embedded VM is torn down; a real node gets reconcile
ticks until it converges and its containers are listed.

Also a pytest plugin (`-p harness.dev`, added to the subprocess): it streams collection, test
start and verdict events as JSON lines to $ARCHY_DEV_EVENTS, which the loop reads.
"""
from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

import vm
from matrix.model import load
from node.api import NodeError
from node.driver import PlatformDriver
from node.target import TargetError, check_files, connect, of_node, parse, to_url
from node.proc import stop_group

ROOT = Path(__file__).resolve().parent.parent
WATCH = ("harness", "matrix", "goss", "tests/grid", "reconciler", "conftest.py")
WATCH_SUFFIXES = (".py", ".yaml", ".yml", ".json")
MAX_WATCHED = 5000
EVENTS_ENV = "ARCHY_DEV_EVENTS"


# ------------------------------------------------------------------ pytest plugin side
def _emit(rec: dict) -> None:
    path = os.environ.get(EVENTS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")


def pytest_collection_finish(session) -> None:
    cells = []
    for item in session.items:
        cell = getattr(getattr(item, "callspec", None), "params", {}).get("cell")
        if cell is not None:
            cells.append({"nodeid": item.nodeid, "app": cell.app, "event": cell.event})
    _emit({"kind": "collected", "cells": cells})


def pytest_runtest_logstart(nodeid, location) -> None:
    _emit({"kind": "start", "nodeid": nodeid})


def pytest_runtest_logreport(report) -> None:
    if report.when == "call" or report.outcome != "passed":
        reason = ""
        if report.outcome != "passed":
            crash = getattr(getattr(report.longrepr, "reprcrash", None), "message", None)
            reason = crash or (report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr))
        _emit({"kind": "report", "nodeid": report.nodeid, "when": report.when, "outcome": report.outcome,
               "reason": str(reason).splitlines()[0][:200] if reason else "", "duration": report.duration})


def pytest_sessionfinish(session, exitstatus) -> None:
    _emit({"kind": "finished", "exitstatus": int(exitstatus)})


# ------------------------------------------------------------------ pure parts
class DevError(ValueError):
    pass


def resolve_events(matrix, words: list[str] | None) -> list[str] | None:
    """Event ids from ids or short words: install -> fresh_install, restart -> restart_integrations,
    ui -> the three UI events; a word matches whole `_`-separated parts of an id."""
    if not words:
        return None
    out: list[str] = []
    for w in words:
        if w in matrix.events:
            hits = [w]
        else:
            hits = [e for e in matrix.events if w in e.split("_")]
        if not hits:
            raise DevError(f"unknown event {w!r} (events: {', '.join(matrix.events)})")
        out += [h for h in hits if h not in out]
    return out


@dataclass
class GridState:
    run: int = 0
    cells: dict[str, dict] = field(default_factory=dict)    # nodeid -> {app, event, status, reason}
    finished: int | None = None                              # pytest exit status of the run
    started: float = 0.0

    def apply(self, rec: dict) -> str | None:
        """Fold one plugin event in; returns a log line worth printing, if any."""
        k = rec.get("kind")
        if k == "collected":
            for c in rec["cells"]:
                self.cells[c["nodeid"]] = {**c, "status": "pending", "reason": ""}
            return f"run {self.run}: {len(rec['cells'])} cell(s) selected"
        cell = self.cells.get(rec.get("nodeid", ""))
        if k == "start" and cell:
            cell["status"] = "running"
        elif k == "report" and cell:
            status = {"passed": "passed", "failed": "failed", "skipped": "not_run"}[rec["outcome"]]
            if rec["when"] != "call" and rec["outcome"] == "failed":
                status = "failed"
            if cell["status"] != "failed":
                cell["status"], cell["reason"] = status, rec.get("reason", "")
            return f"run {self.run}: {cell['app']}-{cell['event']} {cell['status'].replace('_', ' ')}" + (
                f": {cell['reason']}" if cell["reason"] else "")
        elif k == "finished":
            self.finished = rec["exitstatus"]
        return None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.cells.values():
            out[c["status"]] = out.get(c["status"], 0) + 1
        return out


SYMBOLS = {"pending": ("·", "dim"), "running": ("⟳", "bold yellow"), "passed": ("✓", "bold green"),
           "failed": ("✗", "bold red"), "not_run": ("○", "yellow")}


def table(state: GridState, status: str):
    apps = sorted({c["app"] for c in state.cells.values()})
    events = list(dict.fromkeys(c["event"] for c in state.cells.values()))
    t = Table(title=f"archy dev: run {state.run}", caption=status, show_lines=False)
    t.add_column("event \\ app")
    for a in apps:
        t.add_column(a, justify="center")
    by = {(c["app"], c["event"]): c for c in state.cells.values()}
    for ev in events:
        row = [ev]
        for a in apps:
            c = by.get((a, ev))
            sym, style = SYMBOLS[c["status"]] if c else ("—", "dim")
            row.append(Text(sym, style=style))
        t.add_row(*row)
    return t


def watched_files(root: Path, entries=WATCH, limit: int = MAX_WATCHED) -> dict[str, float]:
    """mtimes of the watched sources (bounded: a huge tree cannot stall the loop)."""
    out: dict[str, float] = {}
    for entry in entries:
        p = root / entry
        paths = [p] if p.is_file() else (sorted(p.rglob("*")) if p.is_dir() else [])
        for f in paths:
            if f.suffix in WATCH_SUFFIXES and "__pycache__" not in f.parts and f.is_file():
                try:
                    out[str(f)] = f.stat().st_mtime
                except OSError:
                    continue
                if len(out) >= limit:
                    return out
    return out


def changed(before: dict[str, float], after: dict[str, float]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


# ------------------------------------------------------------------ the loop (I/O)
class Loop:
    def __init__(self, args, pytest_extra: list[str]):
        self.args, self.extra = args, pytest_extra
        self.console = Console(highlight=False, soft_wrap=True)
        self.vm = None                      # the embedded VM when we booted it
        self.url = None
        self.proc: subprocess.Popen | None = None
        self.state = GridState()
        self.events_path = ROOT / "results" / "dev" / "events.jsonl"
        self._offset = 0
        self.pending = False

    def log(self, msg: str) -> None:
        self.console.print(f"dev: {msg}", markup=False)

    # -- the target
    def prepare_target(self) -> None:
        if self.args.node:
            self.url = self.args.node
            return
        self.log("booting the embedded VM (golden restore; the first time builds the image) ...")
        self.vm = vm.launch(name="dev", progress=lambda *p: self.log(" ".join(map(str, p))))
        self._vm_url()

    def _vm_url(self) -> None:
        # a restore starts a new QEMU on a fresh port: the URL is rebuilt after each one
        self.url = to_url(of_node(self.vm))

    # -- one run
    def start_run(self) -> None:
        self.state = GridState(run=self.state.run + 1, started=time.monotonic())
        if self.vm is not None and self.state.run > 1:
            self.log(f"run {self.state.run}: restoring the VM's golden state")
            self.vm.restore()
            self._vm_url()
        self.events_path.parent.mkdir(parents=True, exist_ok=True)
        self.events_path.write_text("")
        self._offset = 0
        log = self.events_path.with_name(f"pytest-{self.state.run}.log")
        cmd = [sys.executable, "-m", "pytest", "tests/grid", "-p", "harness.dev", "-q", "--node", self.url,
               "--results-dir", str(ROOT / "results" / "dev")]
        if self.args.apps:
            cmd += ["--apps", self.args.apps]
        if self.events:
            cmd += ["--events", ",".join(self.events)]
        if self.args.allow_destructive or self.vm is not None:
            cmd += ["--allow-destructive"]
        cmd += self.extra
        self.log(f"run {self.state.run} started (log {log.relative_to(ROOT)})")
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         env={**os.environ, EVENTS_ENV: str(self.events_path)})

    def poll_events(self) -> None:
        try:
            with open(self.events_path, encoding="utf-8") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return
        complete, _, _ = data.rpartition("\n")
        if not complete:
            return
        self._offset += len(complete) + 1
        for line in complete.splitlines():
            try:
                msg = self.state.apply(json.loads(line))
            except (ValueError, KeyError):
                continue
            if msg:
                self.log(msg)

    def run_finished(self) -> bool:
        if self.proc is None or self.proc.poll() is None:
            return False
        self.poll_events()
        rc, self.proc = self.proc.returncode, None
        n = self.state.counts()
        self.log(f"run {self.state.run} finished (pytest exit {rc}) in {time.monotonic() - self.state.started:.0f}s: "
                 f"{n.get('passed', 0)} passed, {n.get('failed', 0)} failed, {n.get('not_run', 0)} not run"
                 f" — Enter re-runs, Ctrl-C quits")
        return True

    def stop_run(self) -> None:
        """SIGINT to pytest's process group (its finalizers run), then SIGTERM, then SIGKILL."""
        if self.proc is None:
            return
        stop_group(self.proc, interrupt=120, terminate=30,
                   on_ignored=lambda sig, wait: self.log(f"pytest ignored {sig.name} for {wait}s"))
        self.proc = None

    def settle(self) -> None:
        """Leave the node in a known state."""
        if self.vm is None and self.url is None:
            return                            # nothing was touched
        if self.vm is not None:
            self.vm.destroy()
            self.vm = None
            self.log("node left in a known state: the embedded VM was torn down (nothing left running)")
            return
        try:
            node = connect(parse(self.url))
        except NodeError as e:
            self.log(f"node unreachable, its state is unknown: {e}")
            return
        try:
            d = PlatformDriver(node)
            for _ in range(5):
                if d.tick(timeout=300).get("converged"):
                    break
            apps = sorted({f"{c['app']}:{c['state']}" for c in d.containers()})
            self.log(f"node left in a known state: reconciler converged; apps: {', '.join(apps) or 'none'}")
        except NodeError as e:
            self.log(f"node reachable but the reconciler did not converge: {e}")
        finally:
            node.close()

    # -- the loop
    def main(self) -> int:
        words = [w.strip() for w in (self.args.events or "").split(",") if w.strip()]
        self.events = resolve_events(load(), words)
        self.prepare_target()
        mtimes = watched_files(ROOT)
        last_watch = time.monotonic()
        interactive = self.console.is_terminal
        stdin_open = True
        self.start_run()
        with Live(table(self.state, ""), console=self.console, auto_refresh=False,
                  transient=False) if interactive else _NoLive() as live:
            while True:
                self.poll_events()
                done = self.run_finished()
                if done and self.args.once:
                    return 0 if self.state.counts().get("failed", 0) == 0 else 1
                if self.proc is None and self.pending:
                    self.pending = False
                    self.start_run()
                status = (f"run {self.state.run} running ..." if self.proc else "idle") + \
                    " · Enter: re-run · Ctrl-C: quit"
                live.update(table(self.state, status), refresh=True)
                if stdin_open:
                    ready, _, _ = select.select([sys.stdin], [], [], 0.25)
                    if ready:
                        line = sys.stdin.readline()
                        if not line:
                            stdin_open = False
                        elif line.strip() in ("q", "quit"):
                            return 0
                        else:
                            self.log("Enter: re-run " + ("queued after this run" if self.proc else "now"))
                            self.pending = True
                else:
                    time.sleep(0.25)
                if time.monotonic() - last_watch >= 1.0:
                    last_watch = time.monotonic()
                    now = watched_files(ROOT)
                    if diff := changed(mtimes, now):
                        mtimes = now
                        self.log(f"changed: {', '.join(Path(p).relative_to(ROOT).as_posix() for p in diff[:3])}"
                                 + (f" (+{len(diff) - 3})" if len(diff) > 3 else "") + " -> re-run")
                        self.pending = True


class _NoLive:
    """Stand-in for rich.live.Live when the output is not a terminal (the log lines suffice)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, *a, **k):
        pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.dev", description=__doc__.split("\n\n")[0])
    ap.add_argument("--node", help="ssh://user@host...; default: the embedded VM")
    ap.add_argument("--vm", action="store_true", help="the embedded VM (the default)")
    ap.add_argument("--apps", help="comma-separated apps")
    ap.add_argument("--events", help="comma-separated events or words (install, restart, ui, reboot ...)")
    ap.add_argument("--allow-destructive", action="store_true")
    ap.add_argument("--once", action="store_true", help="one run, then exit (its verdict as exit status)")
    args, extra = ap.parse_known_args(argv)
    if args.node and args.node.startswith("vm://"):
        args.node = None                      # the loop boots and restores the VM itself
    try:   # a bad URL or key file is one line now, not a pytest run that says "unreachable"
        if args.node:
            check_files(parse(args.node))
    except TargetError as e:
        print(f"dev: --node: {e}", file=sys.stderr)
        return 2
    loop = Loop(args, extra)
    try:
        return loop.main()
    except KeyboardInterrupt:
        loop.log("Ctrl-C: stopping the run")
        return 130
    except (DevError, NodeError) as e:
        print(f"dev: {e}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)      # finish the cleanup even on a second Ctrl-C
        loop.stop_run()
        try:
            loop.settle()
        finally:
            signal.signal(signal.SIGINT, signal.SIG_DFL)


if __name__ == "__main__":
    sys.exit(main())
