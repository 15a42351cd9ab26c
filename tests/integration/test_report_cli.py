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
