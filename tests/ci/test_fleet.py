"""ci/fleet.py: merging per-node results into one grid with a node column (pure), an unreachable
node reported as such (real subprocess, no VM), and — opt-in, ARCHY_FLEET_TEST=1 — two embedded
VMs with one killed mid-run."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ci"))
import fleet  # noqa: E402
from chaos import catalog  # noqa: E402
from harness.report import build, markdown_report  # noqa: E402
from matrix.model import load, plan  # noqa: E402


def rec(app, event, verdict, reason="", artifacts=()):
    return {"app": app, "event": event, "requirement": "MUST", "verdict": verdict, "reason": reason,
            "artifacts": list(artifacts), "duration": 1.0, "nodeid": f"x[{app}-{event}]"}


def test_merge_one_grid_with_a_node_column(tmp_path):
    m = load()
    wanted = plan(m, ["lnd"], ["fresh_install", "ui_direct_port"])
    a = fleet.Member("ssh://root@a:22", "a", tmp_path / "a", status="done")
    b = fleet.Member("ssh://root@b:22", "b", tmp_path / "b", status="lost", detail="its QEMU process exited")
    c = fleet.Member("ssh://root@c:22", "c", tmp_path / "c", status="unreachable", detail="c:22 does not answer")
    docs = {"a": {"cells": [rec("lnd", "fresh_install", "passed"),
                            rec("lnd", "ui_direct_port", "failed", "502", ["artifacts/a/lnd-ui/journal.txt"])]},
            "b": {"cells": [rec("lnd", "fresh_install", "passed"),
                            rec("lnd", "ui_direct_port", "not_run", "no result (interrupted)")]},
            "c": None}
    doc = fleet.merge([a, b, c], docs, wanted, time.time())
    by = {(r["node"], r["event"]): r for r in doc["cells"]}
    assert by[("a", "ui_direct_port")]["artifacts"] == ["a/artifacts/a/lnd-ui/journal.txt"]
    assert by[("b", "fresh_install")]["verdict"] == "passed"          # what b finished stays
    assert by[("b", "ui_direct_port")]["verdict"] == "failed"
    assert "node b lost: its QEMU process exited" in by[("b", "ui_direct_port")]["reason"]
    assert {by[("c", e)]["verdict"] for e in ("fresh_install", "ui_direct_port")} == {"failed"}
    assert doc["nodes"]["c"]["status"] == "unreachable"
    doc["selection"] = {"apps": ["lnd"], "events": ["fresh_install", "ui_direct_port"]}
    md = markdown_report(build(m, doc, catalog.load()))
    assert "| node | event \\ app |" in md
    assert re.search(r"\| b \| UI direct port \|[^\n]*❌", md)


def test_unreachable_node_is_reported_and_fails_the_run(tmp_path):
    out = tmp_path / "fleet"
    r = subprocess.run([sys.executable, str(ROOT / "ci" / "fleet.py"), "--node",
                        "ssh://root@127.0.0.1:9?known_hosts=/dev/null&name=gone", "--apps", "lnd",
                        "--events", "fresh_install", "--results-dir", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "gone: unreachable at the start" in r.stdout and "Traceback" not in r.stderr
    doc = json.loads((out / "cells.json").read_text())
    assert doc["nodes"]["gone"]["status"] == "unreachable"
    assert doc["cells"][0]["verdict"] == "failed" and "unreachable" in doc["cells"][0]["reason"]
    assert (out / "grid.md").exists()


def test_node_that_died_before_the_grace_ran_out_is_lost(tmp_path, capsys):
    """On the VM: the killed node's cells failed fast and its pytest ended 22 s after the kill,
    inside the 10 s grace's polling, so it was reported 'done'. A run that ends by itself while
    its node is gone is lost."""
    class Gone:
        def alive(self):
            return False
    m = fleet.Member("ssh://root@127.0.0.1:1", "fleet1", tmp_path, vm=type("N", (), {"vm": Gone()})(),
                     status="running", started=time.time())
    m.proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])   # cells failed: pytest rc 1
    fleet.watch(m, grace=3600, deadline=time.monotonic() + 60)
    assert (m.status, m.detail) == ("lost", "its QEMU process exited")
    assert "fleet1: lost (its QEMU process exited) in " in capsys.readouterr().out


def test_bad_input_is_one_line():
    for args in (["--node", "ftp://x"], [], ["--node", "vm://a"], ["--vms", "1", "--apps", "nope"]):
        r = subprocess.run([sys.executable, str(ROOT / "ci" / "fleet.py"), *args], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and r.stderr.startswith("fleet: ") and "Traceback" not in r.stderr, args


@pytest.mark.vm
@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("ARCHY_FLEET_TEST") != "1", reason="opt-in: ARCHY_FLEET_TEST=1 (two TCG VMs)")
def test_two_vms_one_killed_mid_run(tmp_path):
    out = tmp_path / "fleet"
    p = subprocess.Popen([sys.executable, "-u", str(ROOT / "ci" / "fleet.py"), "--vms", "2", "--apps", "bitcoin-knots",
                          "--events", "fresh_install,ui_direct_port", "--results-dir", str(out), "--grace", "10"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, killed, t0 = [], None, time.monotonic()
    try:
        for line in p.stdout:
            lines.append(line)
            m = re.search(r"fleet: (fleet1\S*): VM up \(QEMU pid (\d+)\)", line)
            if m:
                victim, qemu = m.group(1), int(m.group(2))
            if killed is None and re.search(r"fleet: fleet1\S*: pytest started", line):
                time.sleep(20)                          # let its first cell get going, then pull the plug
                os.kill(qemu, signal.SIGKILL)
                killed = time.monotonic()
            assert time.monotonic() - t0 < 1800, "fleet run hangs"
        p.wait(60)
    finally:
        if p.poll() is None:
            p.kill()
    text = "".join(lines)
    assert killed, text
    assert re.search(rf"{victim}: lost \(its QEMU process exited\)", text), text
    doc = json.loads((out / "cells.json").read_text())
    assert doc["nodes"][victim]["status"] == "lost"
    other = next(n for n in doc["nodes"] if n != victim)
    assert doc["nodes"][other]["status"] == "done"
    verdicts = {(r["node"], r["event"]): r["verdict"] for r in doc["cells"]}
    assert verdicts[(other, "fresh_install")] == "passed"
    assert "failed" in {verdicts[(victim, e)] for e in ("fresh_install", "ui_direct_port")}
    assert "| node |" in (out / "grid.md").read_text()
    assert p.returncode == 1
