"""chaos.run and the stock `chaos validate` as a user runs them: a file Chaos Toolkit's lint rejects
is refused in one line before anything starts; the shipped experiments validate from any directory
once `make setup` has installed the project's packages (pyproject.toml)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_chaos_run_refuses_a_file_that_fails_lint(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"title": "t", "method": []}))
    r = subprocess.run([sys.executable, "-m", "chaos.run", str(bad), "--node", "vm://vm0", "--out",
                        str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"error: {bad}: fails Chaos Toolkit's lint (chaos validate): experiment requires a description\n"
    assert not (tmp_path / "out").exists()


def _installed(pkg: str) -> bool:
    """Whether the venv's install of this project maps `pkg` (a venv set up before pyproject.toml
    listed the packages maps none until `make setup` re-installs)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-c", f"import importlib.util as u; print(u.find_spec({pkg!r}).origin)"],
                       cwd="/", env=env, capture_output=True, text=True, timeout=60)
    return r.returncode == 0 and Path(r.stdout.strip()).parent.parent == ROOT


def test_stock_chaos_validate_from_another_directory(tmp_path):
    if not _installed("chaos"):
        pytest.skip("this venv's install of the project predates its package list: run `make setup`")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for exp in sorted((ROOT / "chaos" / "experiments").glob("*.json")):
        r = subprocess.run([str(BIN / "chaos"), "--no-version-check", "validate", str(exp)], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{exp.name}: {r.stdout}{r.stderr}"
        assert "experiment syntax and semantic look valid" in r.stdout + r.stderr
