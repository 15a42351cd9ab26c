"""The real-node path, rehearsed: the grid run against the embedded VM addressed exactly as a
user addresses a lab node, a plain SSH URL with the profile's sudo login, a profile and pinned
keys. The child run goes through node.ssh (no QMP), so only what a real node offers is there:
every cell whose needs an SSH node has must pass; the power-cut half is reported not run.

It runs on the rootful reference (platforms/reference-rootful.yaml): the session's VM is that
profile's (vm/ keeps a golden per profile), and the rest of make test runs the rootless default.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from harness.plugin import current_target
from matrix.model import load
from node import capabilities
from node.platform import load as load_platform
from node.proc import stop_group
from node.target import of_node, parse, to_url

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ("fresh_install,ui_direct_port,ui_https_proxy,ui_iframe,tor_onion,stop_ports_released,"
          "restart_integrations,reboot_survival,reinstall_idempotent,uninstall_no_orphans")
CHILD_TIMEOUT = 45 * 60
PROFILE = load_platform("reference-rootful")
LOGIN = PROFILE.login                   # the profile's sudo login (vm/image.py provisions it)


@pytest.fixture(scope="session")
def target(pytestconfig):
    """The session's embedded VM with the rootful profile, whose golden it is restored from; a
    node the user named (--node ssh://...) keeps the profile it was given."""
    t = current_target(pytestconfig)
    return replace(t, platform=PROFILE) if t.is_vm else t


def _url(node) -> str:
    t = replace(of_node(node), user=LOGIN, url=f"ssh://{LOGIN}@{node.hostname}:{node.port}",
                name="rehearsal", capabilities=capabilities.ssh(True), platform=PROFILE)
    url = to_url(t)       # without ?platform= when it is the default: the child gets no ARCHY_PLATFORM
    return url if "platform=" in url else f"{url}&platform={PROFILE.name}"


def _child(url: str, results: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "tests/grid", "--node", url, "--allow-destructive",
           "--apps", "lnd", "--events", EVENTS, "--results-dir", str(results), "-p", "no:cacheprovider", "-q", "-rs"]
    env = {k: v for k, v in os.environ.items() if k != "ARCHY_PLATFORM"}
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        stop_group(p, interrupt=120, terminate=30)    # SIGINT first: the child tears its state down
        out, _ = p.communicate()
        pytest.fail(f"the rehearsal grid did not finish within {CHILD_TIMEOUT}s:\n{out[-3000:]}")
    except BaseException:         # Ctrl-C or SIGTERM here: the child has its own session, stop it too
        stop_group(p, interrupt=120, terminate=30)
        raise
    return subprocess.CompletedProcess(cmd, p.returncode, out)


@pytest.mark.rehearsal
def test_the_grid_over_plain_ssh_with_a_sudo_login(from_golden, tmp_path):
    url = _url(from_golden)
    assert url.startswith(f"ssh://{LOGIN}@127.0.0.1:") and "disposable=1" in url and "key=" in url
    assert parse(url).platform.name == PROFILE.name == from_golden.platform.name
    run = _child(url, tmp_path / "results")
    print(run.stdout[-4000:])
    doc = json.loads((tmp_path / "results" / "cells.json").read_text())
    assert [(t["url"], t["login"], t["platform"]) for t in doc["targets"]] == \
           [(url.split("?")[0], LOGIN, PROFILE.name)], doc["targets"]
    matrix, ssh = load(), capabilities.ssh(True)
    cells = {(c["app"], c["event"]): c for c in doc["cells"]}
    assert len(cells) == len([e for e in EVENTS.split(",") if matrix.cells.get(("lnd", e), "-") != "-"])
    for (app, event), c in cells.items():
        needs = set(matrix.events[event].needs)
        if needs <= ssh:
            assert c["verdict"] == "passed", f"{app}-{event}: {c['verdict']}: {c.get('reason')}"
    reboot = cells[("lnd", "reboot_survival")]
    assert any("power-cut half" in p for p in reboot.get("parts_not_run", [])), reboot
    assert run.returncode == 0, run.stdout[-3000:]
