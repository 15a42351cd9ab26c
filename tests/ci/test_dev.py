"""The developer loop (harness/dev.py): pure parts fast; on the embedded VM, driven through a pipe:
one run, Enter, a second run of the same cell, Ctrl-C -> the VM is torn down (known state)."""
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.dev import DevError, GridState, changed, resolve_events, table, watched_files
from matrix.model import load

ROOT = Path(__file__).resolve().parents[2]


def test_event_words():
    m = load()
    assert resolve_events(m, ["install", "restart"]) == ["fresh_install", "broken_install", "restart_integrations"]
    assert resolve_events(m, ["ui"]) == ["ui_direct_port", "ui_https_proxy", "ui_iframe"]
    assert resolve_events(m, ["reinstall_idempotent"]) == ["reinstall_idempotent"]
    assert resolve_events(m, None) is None
    with pytest.raises(DevError, match="unknown event 'instal'"):
        resolve_events(m, ["instal"])


def test_grid_state_folds_plugin_events():
    s = GridState(run=1)
    s.apply({"kind": "collected", "cells": [{"nodeid": "a", "app": "lnd", "event": "fresh_install"},
                                            {"nodeid": "b", "app": "lnd", "event": "ui_iframe"}]})
    s.apply({"kind": "start", "nodeid": "a"})
    assert s.cells["a"]["status"] == "running"
    msg = s.apply({"kind": "report", "nodeid": "a", "when": "call", "outcome": "failed", "reason": "boom"})
    assert msg == "run 1: lnd-fresh_install failed: boom"
    s.apply({"kind": "report", "nodeid": "a", "when": "teardown", "outcome": "passed"})   # stays failed
    s.apply({"kind": "report", "nodeid": "b", "when": "setup", "outcome": "skipped", "reason": "no tor"})
    assert s.counts() == {"failed": 1, "not_run": 1}
    from rich.console import Console
    c = Console(record=True, width=100)
    c.print(table(s, "idle"))
    text = c.export_text()
    assert "✗" in text and "○" in text and "lnd" in text


def test_watch_is_bounded_and_sees_changes(tmp_path):
    (tmp_path / "pkg").mkdir()
    for i in range(30):
        (tmp_path / "pkg" / f"m{i}.py").write_text("x")
    before = watched_files(tmp_path, ("pkg",), limit=10)
    assert len(before) == 10
    allf = watched_files(tmp_path, ("pkg",))
    f = tmp_path / "pkg" / "m3.py"
    os.utime(f, (time.time() + 5, time.time() + 5))
    assert changed(allf, watched_files(tmp_path, ("pkg",))) == [str(f)]


def test_unknown_event_is_one_line():
    r = subprocess.run([sys.executable, "-m", "harness.dev", "--node", "ssh://root@127.0.0.1:9?known_hosts=/dev/null",
                        "--events", "nope"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "dev: unknown event 'nope'" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.vm
@pytest.mark.slow
def test_enter_reruns_the_cell_on_the_vm():
    p = subprocess.Popen([sys.executable, "-u", "-m", "harness.dev", "--apps", "bitcoin-knots",
                          "--events", "install"], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, start_new_session=True)
    q: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [q.put(line) for line in p.stdout], daemon=True).start()
    seen = []

    def wait_for(pattern, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = q.get(timeout=1)
            except queue.Empty:
                assert p.poll() is None, "dev exited early:\n" + "".join(seen)
                continue
            seen.append(line)
            if m := re.search(pattern, line):
                return m
        raise AssertionError(f"no {pattern!r} within {timeout}s:\n" + "".join(seen[-40:]))

    try:
        wait_for(r"run 1: bitcoin-knots-fresh_install passed", 1500)
        wait_for(r"run 1 finished .*1 passed, 0 failed", 300)
        p.stdin.write("\n")
        p.stdin.flush()
        wait_for(r"Enter: re-run now", 30)
        wait_for(r"run 2 started", 300)
        wait_for(r"run 2: bitcoin-knots-fresh_install passed", 1500)
        wait_for(r"run 2 finished .*1 passed, 0 failed", 300)
        os.killpg(p.pid, signal.SIGINT)
        wait_for(r"node left in a known state: the embedded VM was torn down", 300)
        assert p.wait(120) == 130
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    runs = ROOT / "results" / "dev"
    assert (runs / "pytest-1.log").exists() and (runs / "pytest-2.log").exists()
