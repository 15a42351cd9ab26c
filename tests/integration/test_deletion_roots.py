"""Nothing outside its own roots is deleted, end to end: a child pytest with `--alluredir .`,
VM names that would name a path outside the run root (ARCHY_VM_NAME, --node, python -m vm)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path):
    p = tmp_path / "project"
    p.mkdir()
    (p / "conftest.py").write_text('# harness.plugin: the pytest11 entry point archy\n')
    (p / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    (p / "notes.txt").write_text("mine")
    (p / "old-result.json").write_text("{}")            # a previous allure run's file
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "precious").write_text("keep me")
    return p


def run(cwd, *args, env=None):
    e = {**os.environ, "PYTHONPATH": str(ROOT), "ARCHY_RUN": str(cwd.parent / "runs"), **(env or {})}
    r = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=e)
    return r.returncode, r.stdout + r.stderr


def test_alluredir_dot_keeps_the_working_dir(project):
    rc, out = run(project, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_plain.py",
                  "--alluredir", ".", "--results-dir", "res")
    assert rc == 0, out
    names = {p.name for p in project.iterdir()}
    assert {"conftest.py", "test_plain.py", "notes.txt", "res"} <= names
    assert (project / "notes.txt").read_text() == "mine"
    assert "old-result.json" not in names                         # the previous run's result is gone
    assert any(n.endswith("-result.json") for n in names)         # and this run's is written


@pytest.mark.parametrize("env,args", [
    ({"ARCHY_VM_NAME": "../outside"}, []),
    ({}, ["--node", "vm://../outside"]),
    ({}, ["--node", "vm:///../outside"]),
], ids=["ARCHY_VM_NAME", "vm://..", "vm:///.."])
def test_a_vm_name_naming_a_path_is_one_line(project, env, args):
    rc, out = run(project, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_plain.py", *args, env=env)
    assert rc == 4, out
    err = [line for line in out.splitlines() if line.startswith("ERROR:")]
    assert len(err) == 1 and "VM name '../outside' must be 1-63 of a-z, 0-9 and '-'" in err[0], out
    assert "Traceback" not in out
    assert (project.parent / "outside" / "precious").read_text() == "keep me"


def test_vm_down_of_a_path_is_refused_before_anything_is_deleted(project):
    rc, out = run(project, "-m", "vm", "down", "../outside")
    assert rc == 2, out
    assert out.strip() == ("error: python -m vm down: VM name '../outside' must be 1-63 of a-z, 0-9 and '-', "
                           "starting with a letter or digit (e.g. vm0)")
    assert (project.parent / "outside" / "precious").read_text() == "keep me"
