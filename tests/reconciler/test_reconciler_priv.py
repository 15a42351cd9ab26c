"""reconciler/priv.py: the rootless daemon's three privileged verbs, their sudoers file, and the
hidden-service pruning tor-reload does from the root-owned catalog and settings alone."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from reconciler import priv
from reconciler.scope import SYSTEM
from recfake import USER_NODE, catalog_data
from test_reconciler_settings import BLOCK


class Runner:
    def __init__(self, fail: str = ""):
        self.calls, self.fail = [], fail

    def __call__(self, argv, timeout=priv.TIMEOUT):
        self.calls.append(tuple(argv))
        return (1, "emerg: bad config") if self.fail and " ".join(argv).startswith(self.fail) else (0, "")


def test_the_daemons_argv_is_sudo_n_and_a_sudoers_line():
    for verb, line in zip(priv.VERBS, priv.SUDOERS_LINES):
        assert priv.command(verb) == ["sudo", "-n", *line.split(" ")]
        assert line == f"/usr/bin/python3 -I /opt/archipelago/reconciler/priv.py {verb}"
    assert set(priv.ACTIONS) == set(priv.VERBS)
    with pytest.raises(ValueError):
        priv.command("shell")


@pytest.mark.parametrize("user", ["root", "a b", "x\nALL", "", None, "ALL=(ALL)"])
def test_sudoers_refuses_odd_users(user):
    with pytest.raises(ValueError):
        priv.sudoers(user)


def test_nginx_reload_tests_the_config_first():
    run = Runner()
    assert priv.nginx_reload(run) == "nginx.service reloaded"
    assert run.calls == [("nginx", "-t", "-q"), ("systemctl", "reload-or-restart", "--no-block", "nginx.service")]
    bad = Runner(fail="nginx -t")
    with pytest.raises(priv.PrivError, match=r"nginx config test failed \(rc=1\): emerg: bad config"):
        priv.nginx_reload(bad)
    assert bad.calls == [("nginx", "-t", "-q")]


def test_tor_start():
    run = Runner()
    priv.tor_start(run)
    assert run.calls == [("systemctl", "start", "--no-block", "tor@default.service")]


def _node_root(tmp_path, block=BLOCK):
    (tmp_path / "etc/archipelago").mkdir(parents=True)
    (tmp_path / "etc/archipelago/catalog.json").write_text(json.dumps(catalog_data()))
    (tmp_path / "etc/archipelago/reconciler.json").write_text(json.dumps({"tick_interval": 5, "node": block}))
    for d in ("etc/tor/torrc.d", "var/lib/tor"):
        (tmp_path / d).mkdir(parents=True)
    return tmp_path


def test_tor_reload_prunes_only_catalog_hidden_services_without_a_snippet(tmp_path):
    root = _node_root(tmp_path)
    tor = root / "var/lib/tor"
    for name in ("lnd", "btcpay-server", "bitcoin-knots", "archy-lnd", "keys", "mempool"):
        (tor / name).mkdir()
        (tor / name / "hostname").write_text("x.onion\n")
    (root / "etc/tor/torrc.d/bitcoin-knots.conf").write_text("HiddenServiceDir ...\n")
    os.symlink(tor / "keys", tor / "fedimint")         # a link is never followed
    run = Runner()
    out = priv.tor_reload(run, root=str(root))
    assert run.calls == [("systemctl", "reload-or-restart", "--no-block", "tor@default.service")]
    left = sorted(os.listdir(tor))
    # lnd, btcpay-server (the node's name for btcpay) and mempool had no snippet: gone
    assert left == ["archy-lnd", "bitcoin-knots", "fedimint", "keys"]
    assert "removed" in out and str(tor / "btcpay-server") in out


def test_tor_reload_prunes_nothing_when_the_reload_fails(tmp_path):
    root = _node_root(tmp_path)
    (root / "var/lib/tor/lnd").mkdir()
    with pytest.raises(priv.PrivError, match="reload of tor@default.service failed"):
        priv.tor_reload(Runner(fail="systemctl"), root=str(root))
    assert (root / "var/lib/tor/lnd").is_dir()


def test_the_node_comes_from_the_root_owned_settings(tmp_path):
    assert priv.load_node(str(tmp_path)) == SYSTEM        # no settings: today's names
    root = _node_root(tmp_path)
    assert priv.load_node(str(root)).container_name("btcpay") == "btcpay-server"
    assert priv.load_node(str(root)) == priv.scope.Node(**{**USER_NODE.__dict__, "home": None})
    (root / "etc/archipelago/reconciler.json").write_text(json.dumps({"node": {**BLOCK, "tor_dir": "var"}}))
    with pytest.raises(priv.PrivError, match="node.tor_dir: must be an absolute"):
        priv.load_node(str(root))
    (root / "etc/archipelago/catalog.json").write_text("{")
    with pytest.raises(priv.PrivError, match="catalog.json"):
        priv.load_app_ids(str(root))


def test_main_takes_exactly_one_known_verb(monkeypatch, capsys):
    assert priv.main([]) == 2 and priv.main(["tor-reload", "/etc"]) == 2 and priv.main(["rm"]) == 2
    assert "usage: priv.py {nginx-reload|tor-start|tor-reload}" in capsys.readouterr().err
    monkeypatch.setattr(priv.os, "geteuid", lambda: 1000)
    assert priv.main(["tor-start"]) == 2 and "must run as root" in capsys.readouterr().err
    monkeypatch.setattr(priv.os, "geteuid", lambda: 0)

    def boom():
        raise priv.PrivError("start of tor@default.service failed (rc=1)")
    monkeypatch.setitem(priv.ACTIONS, "tor-start", boom)
    assert priv.main(["tor-start"]) == 1
    assert capsys.readouterr().err == "priv.py tor-start: start of tor@default.service failed (rc=1)\n"
    monkeypatch.setitem(priv.ACTIONS, "tor-start", lambda: "tor@default.service started")
    assert priv.main(["tor-start"]) == 0


def test_every_command_has_a_timeout(monkeypatch):
    seen = {}

    def fake_run(argv, **kw):
        seen.update(kw)
        raise subprocess.TimeoutExpired(argv, kw["timeout"])
    monkeypatch.setattr(priv.subprocess, "run", fake_run)
    assert priv.run(["nginx", "-t", "-q"]) == (124, "timed out after 60 s")
    assert seen["timeout"] == priv.TIMEOUT and seen["stdin"] == subprocess.DEVNULL
    assert priv.CALL_TIMEOUT > 2 * priv.TIMEOUT                    # the daemon waits for both of a verb's commands
    source = open(priv.__file__).read()
    assert source.count("subprocess.run(") == 1 and "Popen" not in source


def test_it_runs_isolated_as_a_script():
    """`python3 -I .../priv.py`: no PYTHONPATH, no script dir on sys.path; it still finds its package."""
    p = subprocess.run([sys.executable, "-I", priv.__file__], capture_output=True, text=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin"})
    assert p.returncode == 2 and p.stderr.startswith("usage: priv.py"), p.stderr
