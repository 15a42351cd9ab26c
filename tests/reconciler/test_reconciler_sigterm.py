"""SIGTERM ends the daemon within seconds even mid-tick (a reboot once hit TimeoutStopSec=30 and
SIGKILL while the daemon finished its tick's remaining podman calls). Real processes, stub commands."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import reconciler.runner as runner_mod
from reconciler.runner import Runner, Stopping

REPO = Path(__file__).resolve().parents[2]


def test_stop_cuts_a_running_command_short_and_refuses_the_next():
    runner = Runner()
    t0 = time.monotonic()
    threading.Timer(0.5, runner.stop).start()
    with pytest.raises(Stopping):
        runner.run(["sleep", "60"], timeout=60)
    assert time.monotonic() - t0 < 5
    with pytest.raises(Stopping):
        runner.run(["true"])


def test_a_child_ignoring_sigterm_is_killed_after_the_grace(monkeypatch):
    monkeypatch.setattr(runner_mod, "STOP_GRACE", 1.0)
    runner = Runner()
    threading.Timer(0.5, runner.stop).start()
    t0 = time.monotonic()
    with pytest.raises(Stopping):
        runner.run(["sh", "-c", "trap '' TERM; sleep 60 & wait; sleep 60"], timeout=60)
    assert time.monotonic() - t0 < 5


def test_timeout_still_reports_124():
    res = Runner().run(["sleep", "5"], timeout=0.3)
    assert res.rc == 124 and "timed out" in res.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_daemon_exits_within_seconds_when_sigtermed_mid_tick(tmp_path):
    root, bin_dir, started = tmp_path / "root", tmp_path / "bin", tmp_path / "started"
    (root / "etc/archipelago").mkdir(parents=True)
    (root / "etc/archipelago/catalog.json").write_text(json.dumps({"image": "localhost/archy-standin:1", "apps": {}}))
    (root / "etc/archipelago/reconciler.json").write_text(json.dumps({"listen_port": _free_port()}))
    bin_dir.mkdir()
    for cmd in ("systemctl", "podman"):   # every command of the tick hangs, as on a loaded node
        stub = bin_dir / cmd
        stub.write_text(f"#!/bin/sh\necho $$ >> {started}\nexec sleep 120\n")
        stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", str(root)], env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), f"the tick never ran a command: {proc.poll()}"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=20)
        took = time.monotonic() - t0
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 0 and "stopped;" in err, err
    assert took < 8, f"took {took:.1f} s to stop"
    for pid in started.read_text().split():   # the in-flight command did not outlive the daemon
        assert not Path(f"/proc/{pid}").exists() or "sleep" not in Path(f"/proc/{pid}/cmdline").read_text()
