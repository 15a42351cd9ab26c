"""Bad input to the pytest plugin and the project's CLIs, in a child process: exactly one line
naming the problem and the fix, exit 4 (pytest's usage error) or 2 (the CLIs), and no traceback.
No child reaches a network or a VM: every node URL fails before connecting, or names 127.0.0.1
on port 1, where nothing listens."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ED = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
KNOWN_HOSTS = {"ca": f"@cert-authority * ssh-ed25519 {ED}\n", "revoked": f"@revoked * ssh-ed25519 {ED}\n",
               "b64": "127.0.0.1 ssh-ed25519 AAAAB\n", "ok": ""}


def node(kh="ok", **query):
    q = "".join(f"&{k}={v}" for k, v in query.items())
    return ["--node", f"ssh://root@127.0.0.1:1?known_hosts={{d}}/kh-{kh}{q}"]


# id -> (pytest args ({d}: the project dir), extra environment, what the one line says)
PYTEST = {
    "results dir under a file": (["--results-dir", "{d}/kh-ok/x"], {}, "--results-dir {d}/kh-ok/x: not a writable directory"),
    "junitxml dir missing": (["--junitxml", "/proc/nope/j.xml"], {}, "--junitxml /proc/nope: not a writable directory"),
    "alluredir under a file": (["--alluredir", "{d}/kh-ok/a"], {}, "--alluredir {d}/kh-ok/a: not a writable directory"),
    "apps names none": (["--apps", ","], {}, "--apps ',' names no id; give comma-separated ids"),
    "events names none": (["--events", " , "], {}, "--events ' , ' names no id"),
    "a selection with no cell": (["--apps", "electrumx", "--events", "tor_onion"], {}, "selects no cell"),
    "unknown app": (["--apps", "lndx"], {}, "matrix: unknown app 'lndx'; valid apps:"),
    "unknown event": (["--events", "reboot"], {}, "matrix: unknown event 'reboot'; valid events:"),
    "bad soak duration": (["--soak-duration", "ten"], {}, "--soak-duration: bad duration 'ten'"),
    "unknown platform": (["--platform", "nope"], {}, "platform 'nope': no profile"),
    "connect_timeout=abc": (node(connect_timeout="abc"), {}, "connect_timeout='abc' is not a number of seconds"),
    "port 0": (["--node", "ssh://root@127.0.0.1:0"], {}, "port '0' is not a port number (use 1..65535"),
    "port 65536": (["--node", "ssh://root@127.0.0.1:65536"], {}, "port '65536' is not a port number"),
    "known_hosts @cert-authority": (node("ca"), {}, "kh-ca:1: @cert-authority lines are not supported"),
    "known_hosts @revoked": (node("revoked"), {}, "kh-revoked:1: @revoked lines are not supported"),
    "known_hosts bad base64": (node("b64"), {}, "kh-b64:1: the key is not valid base64"),
    "known_hosts missing": (node("none"), {}, "known_hosts {d}/kh-none: cannot read it"),
    "key missing": (node(key="/missing/id"), {}, "client key /missing/id: cannot read it"),
    "-n 2 on one real node": ([*node(), "-n", "2"], {}, "-n 2 with one --node: one worker per node"),
    "a password in the URL": (["--node", "ssh://root:hunter2@127.0.0.1:1"], {}, "a password in the URL is refused"),
    "unknown scheme": (["--node", "http://lab-node.example"], {}, "unknown scheme http://"),
    "two nodes, one name": ([*node(name="a"), *node(name="a")], {}, "two targets share a name"),
    "ARCHY_VM_NAME": ([], {"ARCHY_VM_NAME": "../x"}, "ARCHY_VM_NAME: VM name '../x' must be"),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "conftest.py").write_text('# harness.plugin: the pytest11 entry point archy\n')
    (d / "test_grid.py").write_text("def test_cell(cell):\n    assert cell.app\n")
    for name, text in KNOWN_HOSTS.items():
        (d / f"kh-{name}").write_text(text)
    return d


def one_line(rc: int, want_rc: int, out: str, said: str) -> None:
    assert "Traceback" not in out and "INTERNALERROR" not in out, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert rc == want_rc and len(lines) == 1, (rc, out)
    assert said in lines[0], out
    assert "hunter2" not in out


@pytest.mark.parametrize("what", PYTEST)
def test_pytest_option(project, what):
    args, env, said = PYTEST[what]
    args = [a.replace("{d}", str(project)) for a in args]
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
                       cwd=project, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    one_line(r.returncode, 4, r.stdout + r.stderr, said.replace("{d}", str(project)))


# id -> (argv after the python, file name, file text, what the one line says)
CLIS = {
    "gate: a cell that is a number": ([str(ROOT / "ci" / "gate"), "{f}"], "c.json",
                                      {"version": 1, "targets": [], "cells": [5]}, "cells[0] is int 5"),
    "gate: version 99": ([str(ROOT / "ci" / "gate"), "{f}"], "c.json", {"version": 99, "cells": []},
                         "unknown format version 99: this harness reads version 1"),
    "gate: no file": ([str(ROOT / "ci" / "gate"), "{d}/nope.json"], "c.json", {}, "nope.json: cannot read"),
    "chaos.run: invalid JSON": ([sys.executable, "-m", "chaos.run", "{f}", "--node", "vm://vm0", "--out", "{d}/o"],
                                "e.json", "{", "e.json:1: invalid JSON"),
    "chaos.run: a bad node URL": ([sys.executable, "-m", "chaos.run", "{f}", "--node", "ssh://h:0", "--out", "{d}/o"],
                                  "e.json", json.loads((ROOT / "chaos" / "experiments" / "clock_jump.json").read_text()),
                                  "error: --node: ssh://h:0: port '0' is not a port number"),
    "gate: not JSON": ([str(ROOT / "ci" / "gate"), "{f}"], "c.json", "[", "c.json: not JSON"),
    "report: a target without a name": ([sys.executable, "-m", "harness.report", "{f}", "--out", "{d}/r"], "c.json",
                                        {"version": 1, "cells": [], "targets": [{"url": "x"}]}, "targets[0] has no name"),
    "dev: port 0": ([sys.executable, "-m", "harness.dev", "--node", "ssh://h:0", "--once"], "x", "",
                    "dev: --node: ssh://h:0: port '0' is not a port number"),
    "dev: known_hosts @revoked": ([sys.executable, "-m", "harness.dev", "--once", "--node",
                                   "ssh://root@127.0.0.1:1?known_hosts={f}"], "kh", f"@revoked * ssh-ed25519 {ED}",
                                  "kh:1: @revoked lines are not supported"),
    "fleet: known_hosts bad base64": ([sys.executable, str(ROOT / "ci" / "fleet.py"), "--results-dir", "{d}/fl",
                                       "--node", "ssh://root@127.0.0.1:1?known_hosts={f}"], "kh",
                                      "127.0.0.1 ssh-ed25519 AAAAB", "kh:1: the key is not valid base64"),
    "fleet: --apps ,": ([sys.executable, str(ROOT / "ci" / "fleet.py"), "--results-dir", "{d}/fl", "--apps", ",",
                         "--node", "ssh://root@127.0.0.1:1?known_hosts={f}"], "kh", "", "selects no cell"),
    "matrix check: no such dir": ([sys.executable, "-m", "matrix", "check", "--dir", "{d}/nope"], "x", "",
                                  "nope/apps.yaml: cannot read"),
}


@pytest.mark.parametrize("what", CLIS)
def test_cli(tmp_path, what):
    argv, name, text, said = CLIS[what]
    (tmp_path / name).write_text(text if isinstance(text, str) else json.dumps(text))
    argv = [a.replace("{f}", str(tmp_path / name)).replace("{d}", str(tmp_path)) for a in argv]
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    one_line(r.returncode, 2, r.stdout + r.stderr, said)
