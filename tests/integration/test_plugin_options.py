"""The pytest plugin end to end, in a child pytest: bad options answered in one line, the grid,
skips recorded as not run, an unreachable node, several nodes on xdist workers."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import edit, line_of

ROOT = Path(__file__).resolve().parents[2]
GRID_TEST = '''
def test_cell(cell):
    assert cell.app
'''


@pytest.fixture
def project(tmp_path):
    (tmp_path / "conftest.py").write_text('# harness.plugin: the pytest11 entry point archy\n')
    (tmp_path / "test_grid.py").write_text(GRID_TEST)
    (tmp_path / "kh").write_text("")
    return tmp_path


def run(project, *args, env=None, timeout=120):
    e = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
                       cwd=project, capture_output=True, text=True, timeout=timeout, env=e)
    return r.returncode, r.stdout + r.stderr


def cells(project):
    return json.loads((project / "results" / "cells.json").read_text())


def test_unknown_app(project):
    rc, out = run(project, "--apps", "lnd,lndx")
    assert rc == 4
    assert ("ERROR: matrix: unknown app 'lndx'; valid apps: bitcoin-knots, bitcoin-core, lnd, electrumx, "
            "btcpay, mempool, fedimint") in out
    assert "Traceback" not in out


def test_malformed_matrix(project, matrix_copy):
    f = matrix_copy / "events.yaml"
    edit(f, "needs: [soak]", "needs: soak")
    rc, out = run(project, env={"ARCHY_MATRIX_DIR": str(matrix_copy)})
    assert rc == 4
    # the path is shown relative to the working directory when it is below it
    assert (f"ERROR: matrix: {f.relative_to(project)}:{line_of(f, 'needs: soak')}: events.soak.needs: "
            "expected a list, got str 'soak'") in out
    assert "Traceback" not in out


def test_bad_node_url(project):
    rc, out = run(project, "--node", "http://lab-node.example")
    assert rc == 4
    assert "ERROR: --node: http://lab-node.example: unknown scheme http://" in out


def test_soak_duration_takes_the_duration_grammar(project):
    (project / "test_soak.py").write_text("def test_s(soak_duration):\n    assert soak_duration == 5400\n")
    rc, out = run(project, "test_soak.py", "--soak-duration", "1h30m")
    assert rc == 0, out
    rc, out = run(project, "--soak-duration", "ten minutes")
    assert rc == 4
    assert "ERROR: --soak-duration: bad duration 'ten minutes': use e.g. 90s, 10m, 1h30m or 6h (or 0)" in out
    assert "Traceback" not in out


def test_grid_ids_and_marks(project):
    rc, out = run(project, "--collect-only", "-m", "must", "--events", "tor_onion,restart_integrations")
    assert rc == 0, out
    ids = [line.split("::")[1] for line in out.splitlines() if "::" in line]
    assert "test_cell[lnd-tor_onion]" in ids and "test_cell[mempool-restart_integrations]" in ids
    assert "test_cell[electrumx-tor_onion]" not in ids            # "-" in the seed
    assert "test_cell[bitcoin-knots-restart_integrations]" not in ids
    assert len(ids) == 6 + 4


def test_destructive_cells_need_the_flag_and_a_disposable_node(project):
    url = f"ssh://root@127.0.0.1:1?disposable=1&known_hosts={project / 'kh'}"
    rc, out = run(project, "--node", url, "--apps", "lnd", "--events", "reboot_survival,uninstall_no_orphans", "-rs")
    assert rc == 0, out  # skipped cells do not fail pytest; the gate counts them as no result
    assert "SKIPPED [2] test_grid.py: destructive cell: pass --allow-destructive to run it on 127.0.0.1:1" in out
    recs = cells(project)["cells"]
    assert {(r["event"], r["verdict"]) for r in recs} == {("reboot_survival", "not_run"), ("uninstall_no_orphans", "not_run")}
    assert all(r["reason"] == "destructive cell: pass --allow-destructive to run it on 127.0.0.1:1" for r in recs)
    rc, out = run(project, "--node", url.replace("disposable=1&", ""), "--apps", "lnd",
                  "--events", "uninstall_no_orphans", "--allow-destructive")
    assert cells(project)["cells"][0]["reason"].startswith("destructive cell: node 127.0.0.1:1 is not marked disposable")
    rc, out = run(project, "--node", url.replace("disposable=1&", ""), "--apps", "lnd",
                  "--events", "fresh_install,ui_iframe,stop_ports_released")
    reasons = {r["event"]: r.get("reason") for r in cells(project)["cells"]}
    assert reasons["stop_ports_released"].startswith("changes the node: 127.0.0.1:1 is not marked disposable"), reasons
    for runs_there in ("ui_iframe", "fresh_install"):   # read-only / judged in place: they run (here: no node)
        assert "disposable" not in (reasons[runs_there] or ""), reasons


def test_unreachable_node_fails_cells_in_one_line(project):
    url = f"ssh://root@127.0.0.1:1?disposable=1&known_hosts={project / 'kh'}"
    rc, out = run(project, "--node", url, "--apps", "lnd", "--events", "fresh_install,ui_iframe")
    assert rc == 1
    assert "Traceback" not in out and "During handling" not in out
    recs = cells(project)["cells"]
    assert [r["verdict"] for r in recs] == ["failed", "failed"]
    assert recs[0]["reason"] == ("setup: node 127.0.0.1:1: ssh://root@127.0.0.1:1: cannot connect: "
                                 "Unable to connect to port 1 on 127.0.0.1")
    assert (project / "results" / "junit.xml").read_text().count("<testcase") == 2


def test_allure_dir_cleaned_before_the_run(project):
    stale = project / "results" / "allure" / "stale-result.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    rc, out = run(project, "--soak-duration", "0", "--events", "soak", "--apps", "lnd")
    assert rc == 0, out
    files = list((project / "results" / "allure").iterdir())
    assert not stale.exists() and any(f.name.endswith("-result.json") for f in files)
    assert cells(project)["cells"][0]["reason"] == "soak disabled (--soak-duration 0)"


def test_two_nodes_one_worker_each(project):
    kh = project / "kh"
    urls = [f"ssh://root@127.0.0.1:{p}?disposable=1&known_hosts={kh}&name={n}" for p, n in ((1, "a"), (2, "b"))]
    rc, out = run(project, "--node", urls[0], "--node", urls[1], "--apps", "lnd", "--events", "fresh_install,soak",
                  "--soak-duration", "0")
    assert rc == 1, out
    assert "2 skipped, 2 errors" in out  # --dist each: both workers ran both cells, each on its node
    doc = cells(project)
    assert [t["name"] for t in doc["targets"]] == ["a", "b"]
    got = sorted((r["node"], r["event"], r["verdict"]) for r in doc["cells"])
    assert got == [("a", "fresh_install", "failed"), ("a", "soak", "not_run"),
                   ("b", "fresh_install", "failed"), ("b", "soak", "not_run")]
    assert "127.0.0.1:2" in next(r["reason"] for r in doc["cells"] if r["node"] == "b" and r["verdict"] == "failed")


def test_wrong_worker_count_for_several_nodes(project):
    rc, out = run(project, "--node", "ssh://a@h1", "--node", "ssh://a@h2", "-n", "3")
    assert rc == 4 and "ERROR: 2 --node values need -n 2 (one worker per node), got -n 3" in out


def test_progress_lines_are_not_captured(project):
    (project / "test_progress.py").write_text(
        "from harness.plugin import _progress\n"
        "def test_p(pytestconfig):\n"
        "    _progress(pytestconfig)('vm0: booting', 42)\n")
    rc, out = run(project, "test_progress.py")
    assert rc == 0, out
    assert "vm0: booting 42" in out


def test_failure_before_the_cell_fixture_is_recorded(project):
    (project / "test_grid.py").write_text(
        "import pytest\n"
        "@pytest.fixture(autouse=True)\n"
        "def prepare(request):\n"
        "    if 'ui_iframe' in request.node.name:\n"
        "        raise RuntimeError('could not prepare the cell state')\n"
        "def test_cell(prepare, cell):\n"
        "    pass\n")
    rc, out = run(project, "--apps", "lnd", "--events", "ui_iframe,soak", "--soak-duration", "0")
    assert rc == 1
    recs = {r["event"]: r for r in cells(project)["cells"]}
    assert recs["ui_iframe"]["verdict"] == "failed"
    assert recs["ui_iframe"]["reason"] == "setup: RuntimeError: could not prepare the cell state"
    assert recs["soak"]["verdict"] == "not_run"


def test_settings_come_from_the_option_then_ini_then_the_environment(project):
    rc, out = run(project, "--vm-name", "../x", "--collect-only")
    assert rc == 4 and "--vm-name: VM name '../x' must be" in out and "Traceback" not in out
    (project / "pytest.ini").write_text("[pytest]\narchy_vm_name = Bad_Name\n")
    rc, out = run(project, "--collect-only", env={"ARCHY_VM_NAME": "vm7"})
    assert rc == 4 and "ini archy_vm_name: VM name 'Bad_Name' must be" in out     # ini before the environment
    (project / "pytest.ini").write_text("[pytest]\n")                         # no ini value: the variable
    rc, out = run(project, "--collect-only", env={"ARCHY_VM_NAME": "../y"})
    assert rc == 4 and "ARCHY_VM_NAME: VM name '../y' must be" in out
    rc, out = run(project, "--help")
    assert "--grid-mode=MODE" in out and "archy_grid_mode" in out and "ARCHY_GRID_MODE" in out
