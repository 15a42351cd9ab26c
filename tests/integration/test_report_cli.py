"""python -m harness.report on recorded results: both grids written next to them, a bad file in one line."""
import json
import subprocess
import sys
from pathlib import Path

from helpers import recorded

ROOT = Path(__file__).resolve().parents[2]


def test_cli_writes_both_next_to_the_results(tmp_path):
    (tmp_path / "cells.json").write_text(json.dumps(recorded()))
    r = subprocess.run([sys.executable, "-m", "harness.report", str(tmp_path / "cells.json")],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "grid.html").read_text().startswith("<!doctype html>")
    assert "**L4**" in (tmp_path / "grid.md").read_text()     # no chaos suite in it: nobody earns L5


def test_cli_bad_results_file(tmp_path):
    (tmp_path / "cells.json").write_text('{"cells": [{"app": "lnd"}]}')
    r = subprocess.run([sys.executable, "-m", "harness.report", str(tmp_path / "cells.json")],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == f"report: {tmp_path / 'cells.json'}: cells[0] lacks event, verdict"


def test_cli_reads_the_nightly_soak_for_level_7_and_refuses_a_bad_one_in_one_line(tmp_path):
    (tmp_path / "cells.json").write_text(json.dumps(recorded()))
    r = subprocess.run([sys.executable, "-m", "harness.report", str(tmp_path / "cells.json"), "--soak-results",
                        str(tmp_path / "nope")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr == f"report: {tmp_path / 'nope'}: cannot read: No such file or directory\n"
    r = subprocess.run([sys.executable, "-m", "harness.report", str(tmp_path / "cells.json"), "--soak-results",
                        str(ROOT / "tests" / "unit" / "data" / "soak-verdict-failed.json")],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "## What the levels rest on" in (tmp_path / "grid.md").read_text()


def test_the_page_summarises_the_runs_timings_and_ignores_another_runs(tmp_path):
    from harness import timings
    doc = recorded()
    (tmp_path / "cells.json").write_text(json.dumps(doc))
    cell = timings.cell_record("lnd-fresh_install", {"node": "vm0"}, {"setup": 30.0, "call": 200.0},
                               {"ssh": {"calls": 40, "seconds": 16.0}, "spans": {"ladder restore": [1, 25.0]},
                                "waits": {"harness.checks.probes.wait_healthy": [3, 120.0]}})
    other = timings.document([cell], commit="another", started=0.0, finished=1.0)
    (tmp_path / "timings.json").write_text(json.dumps(other))
    run = lambda: subprocess.run([sys.executable, "-m", "harness.report", str(tmp_path / "cells.json")],  # noqa: E731
                                 cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run().returncode == 0
    assert "Where the time went" not in (tmp_path / "grid.md").read_text()
    same = timings.document([cell], commit=doc.get("commit"), started=doc.get("started") or 0.0,
                            finished=doc.get("finished"))
    (tmp_path / "timings.json").write_text(json.dumps(same))
    assert run().returncode == 0
    md, page = (tmp_path / "grid.md").read_text(), (tmp_path / "grid.html").read_text()
    assert "## Where the time went" in md and "| SSH round trips: 40, 0.40 s each | 16 s |" in md
    assert "waiting in harness.checks.probes.wait_healthy (3 polls)" in page
