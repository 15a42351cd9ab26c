"""python -m matrix check: the real matrix passes, a malformed copy fails in one line."""
import subprocess
import sys
from pathlib import Path

from helpers import edit, line_of

ROOT = Path(__file__).resolve().parents[2]


def test_cli_prints_one_line_without_traceback(matrix_copy):
    edit(matrix_copy / "apps.yaml", "rest: {port: 8080}", "rest: {port: -1}")
    r = subprocess.run([sys.executable, "-m", "matrix", "check", "--dir", str(matrix_copy)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "apps.yaml:" in r.stderr and "apps.lnd.ports.rest.port: -1 is out of range" in r.stderr


def test_cli_check_ok():
    r = subprocess.run([sys.executable, "-m", "matrix", "check"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "7 apps" in r.stdout and "99 cells (99 MUST, 0 SHOULD)" in r.stdout


def test_cli_refuses_what_no_single_field_shows(matrix_copy):
    f = matrix_copy / "apps.yaml"
    edit(f, "conflicts: [bitcoin-knots]", "conflicts: []")
    r = subprocess.run([sys.executable, "-m", "matrix", "check", "--dir", str(matrix_copy)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == (f"matrix error: {f}:{line_of(f, 'conflicts: [bitcoin-core]')}: apps.bitcoin-knots.conflicts: "
                        "one-sided conflict: bitcoin-knots conflicts with bitcoin-core but bitcoin-core's "
                        "conflicts do not name bitcoin-knots: add it there\n")
