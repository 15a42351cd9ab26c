""".ci/run fails when make fails, when pytest ran no test, or when no summary was printed."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def ci_run(tmp_path, output: str, rc: int = 0):
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "out.txt").write_text(output)
    (shim / "make").write_text(f"#!/bin/sh\ncat '{shim / 'out.txt'}'\nexit {rc}\n")
    (shim / "make").chmod(0o755)
    r = subprocess.run([str(ROOT / ".ci" / "run")], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PATH": f"{shim}:{os.environ['PATH']}"})
    return r.returncode, r.stdout + r.stderr


def test_passes_when_tests_ran(tmp_path):
    rc, out = ci_run(tmp_path, "collected 9 items\n======= 8 passed, 1 skipped in 3.10s =======\n"
                               "==== 9 passed in 83.12s (0:01:23) ====\n")
    assert rc == 0 and ".ci/run: OK" in out


@pytest.mark.parametrize("output,rc,why", [
    ("============ no tests ran in 0.01s ============\n", 2, "no test ran"),
    ("=== 5 passed in 1.0s ===\n=== no tests ran in 0.01s ===\n", 0, "no test ran"),
    ("===== 3 skipped in 0.2s =====\n", 0, "no test ran"),
    ("make: *** [Makefile:40: setup] Error 1\n", 2, "printed no summary"),
    ("==== 1 failed, 4 passed in 2.0s ====\n", 2, "make test exited 2"),
])
def test_fails(tmp_path, output, rc, why):
    code, out = ci_run(tmp_path, output, rc)
    assert code != 0 and why in out
