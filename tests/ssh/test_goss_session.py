"""goss comes along (harness/goss_session.py) against a real sshd on this machine, which has no goss
on its PATH: the pinned goss is copied into a mktemp dir, runs the rendered goss file there, and
the dir is removed at the end, on a failure and on Ctrl-C. Stand-in binaries show each refusal."""
import hashlib
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from harness import goss, goss_session
from harness.goss_binary import PIN, GossUnavailable, Pinned
from harness.goss_session import OURS
from harness.soak.sampler import Sampler
from helpers import edit, line_of, pinned_goss
from matrix.model import load
from node.driver import PlatformDriver
from sshd_helper import PROFILE, Sshd

M = load()
ROOT = Path(__file__).resolve().parents[2]
LEFTOVERS = "ls -d /tmp/archy-goss.* /run/user/$(id -u)/archy-goss.* 2>/dev/null || true"


@pytest.fixture
def bare_node(ssh_node):
    """The sshd node with no goss of its own; fails the test when a goss dir is left on it."""
    if ssh_node.run("command -v goss").rc == 0:
        pytest.skip("this machine has goss on its PATH: nothing to copy")
    before = set(ssh_node.succeed(LEFTOVERS).split())
    with goss_session.session(ssh_node):
        yield ssh_node
    assert set(ssh_node.succeed(LEFTOVERS).split()) == before, "a goss dir was left on the node"


def stand_in(tmp_path, body: bytes, **pin) -> Pinned:
    """A small binary in place of goss, pinned by its own digest unless `pin` says otherwise."""
    p = tmp_path / "goss"
    p.write_bytes(body)
    p.chmod(0o755)
    return Pinned(p, replace(PIN, **{"bin_sha256": hashlib.sha256(body).hexdigest()} | pin))


def exists(node, path: str) -> bool:
    return node.run(f"test -e {shlex.quote(path)}").rc == 0


def test_the_pinned_goss_is_copied_runs_and_goes(bare_node):
    pinned_goss()
    s = goss_session.ensure(bare_node)
    assert s.copied and OURS.match(s.dir) and s.goss == f"{s.dir}/goss"
    assert bare_node.succeed(f"sha256sum {s.goss}").split()[0] == PIN.bin_sha256
    report = goss.validate(bare_node, M, M.app("lnd"), timeout=60)
    # goss ran the file rendered with the (rootful) reference names: lnd is not on this machine
    assert report.tests > 20 and not report.ok
    failing = {(f.resource_type, f.resource_id) for f in report.failures}
    assert ("Command", "archy-lnd.service is active") in failing and ("File", "/var/lib/archipelago/apps/lnd") in failing
    assert exists(bare_node, f"{s.dir}/lnd.yaml") and exists(bare_node, f"{s.dir}/lnd.vars.json")
    assert goss_session.ensure(bare_node) == s                    # once per session
    goss_session.release(bare_node)
    assert not exists(bare_node, s.dir)


def test_a_soak_sample_runs_the_same_goss(bare_node):
    """The soak's bare_node probe runs the session's goss with the same rendered file and vars."""
    pinned_goss()
    sampler = Sampler(bare_node, PlatformDriver(bare_node), M, ["lnd"], goss_timeout=60, tick=False)
    sampler.prepare(cursor="s=0")         # a cursor of its own: this machine's journal is not the point
    g = sampler.sample(1)["goss"]["lnd"]
    assert g["ok"] is False and g["tests"] > 20, g
    assert any(f.startswith("Command archy-lnd.service is active exit-status: ") for f in g["failed"]), g["failed"]


def test_a_dir_gone_with_a_reboot_is_made_again(bare_node, tmp_path):
    pinned = stand_in(tmp_path, b"#!/bin/sh\necho stand-in goss\n")
    s = goss_session.ensure(bare_node, pinned=lambda: pinned)
    bare_node.succeed(f"rm -rf {s.dir}")
    again = goss_session.ensure(bare_node, pinned=lambda: pinned)
    assert again.dir != s.dir and again.copied and bare_node.succeed(again.goss) == "stand-in goss\n"


def test_ctrl_c_removes_the_dir(ssh_node, tmp_path):
    pinned = stand_in(tmp_path, b"#!/bin/sh\n")
    with pytest.raises(KeyboardInterrupt):
        with goss_session.session(ssh_node):
            s = goss_session.ensure(ssh_node, pinned=lambda: pinned)
            assert exists(ssh_node, s.goss)
            raise KeyboardInterrupt
    assert not exists(ssh_node, s.dir)


@pytest.mark.parametrize("body, pin, why", [
    (b"#!/bin/sh\n", {"bin_sha256": "0" * 64}, "the copy is not the pinned goss (sha256 differs)"),
    (b"\x7fELF not a program", {}, "the copied goss does not run there (a noexec mount? another libc?)"),
], ids=["digest", "does-not-run"])
def test_a_goss_that_cannot_be_copied_is_one_line(bare_node, tmp_path, body, pin, why):
    pinned = stand_in(tmp_path, body, **pin)
    with pytest.raises(GossUnavailable) as e:
        goss_session.ensure(bare_node, pinned=lambda: pinned)
    assert str(e.value).startswith(f"cannot copy goss to {bare_node.name}:")
    assert str(e.value).endswith(f": {why}: install goss on the node (apt-get install goss)")
    assert "\n" not in str(e.value)


def test_another_machine_is_refused_before_the_copy(bare_node, tmp_path):
    pinned = stand_in(tmp_path, b"#!/bin/sh\n", machine="aarch64")
    machine = bare_node.succeed("uname -m").strip()
    with pytest.raises(GossUnavailable) as e:
        goss_session.ensure(bare_node, pinned=lambda: pinned)
    assert str(e.value) == (f"{bare_node.name} has no goss on its PATH and is {machine}; the pinned goss is "
                            f"aarch64 only: install goss on the node (apt-get install goss)")


def test_a_broken_goss_file_names_its_line(bare_node, tmp_path, monkeypatch):
    pinned_goss()
    (tmp_path / "lnd.yaml").write_text((goss.GOSS_DIR / "lnd.yaml").read_text())
    edit(tmp_path / "lnd.yaml", "{{ .Vars.app.data_dir }}", "{{ .Vars.app.datadir }}")
    monkeypatch.setattr(goss, "GOSS_DIR", tmp_path)
    with pytest.raises(goss.GossError) as e:
        goss.validate(bare_node, M, M.app("lnd"), timeout=60)
    line = line_of(tmp_path / "lnd.yaml", ".Vars.app.datadir")
    assert str(e.value) == (f"goss/lnd.yaml:{line}:10: template error: at <.Vars.app.datadir>: "
                            'map has no entry for key "datadir"')


@pytest.fixture(scope="module")
def node_with_goss(tmp_path_factory):
    """An sshd whose sessions find a goss (a stand-in) on their PATH."""
    d = tmp_path_factory.mktemp("own-goss")
    (d / "bin").mkdir()
    (d / "bin" / "goss").write_text("#!/bin/sh\necho the node's own goss\n")
    (d / "bin" / "goss").chmod(0o755)
    s = Sshd(d, extra_config=f"SetEnv PATH={d / 'bin'}:/usr/local/bin:/usr/bin:/bin\n")
    yield s, str(d / "bin" / "goss")
    s.stop()


def test_the_nodes_own_goss_is_used(node_with_goss):
    sshd, own = node_with_goss
    n = sshd.node()
    try:
        with goss_session.session(n):
            s = goss_session.ensure(n, pinned=lambda: pytest.fail("copied although the node has goss"))
            assert (s.goss, s.copied) == (own, False) and OURS.match(s.dir)
        assert not exists(n, s.dir) and exists(n, own)
    finally:
        n.close()


HOLD = '''
import dataclasses, hashlib, os, time
from pathlib import Path
from harness import goss_binary, goss_session

def test_hold(node):
    stand_in = Path(os.environ["STAND_IN"])
    pin = dataclasses.replace(goss_binary.PIN, bin_sha256=hashlib.sha256(stand_in.read_bytes()).hexdigest())
    s = goss_session.ensure(node, pinned=lambda: goss_binary.Pinned(stand_in, pin))
    open(os.environ["MARK"], "w").write(s.dir)
    time.sleep(120)
'''


def test_the_plugin_removes_the_dir_on_ctrl_c(sshd, tmp_path):
    """A grid session interrupted by Ctrl-C: the plugin's node fixture still removes the dir."""
    # this sshd is no platform node: the profile's conformance check is not what is tested here
    (tmp_path / "conftest.py").write_text('# harness.plugin: the pytest11 entry point archy\n'
                                          'from node import conformance\nconformance.check = lambda *a: None\n')
    (tmp_path / "test_hold.py").write_text(HOLD)
    stand_in = tmp_path / "goss"
    stand_in.write_bytes(b"#!/bin/sh\n")
    mark = tmp_path / "mark"
    url = (f"ssh://root@127.0.0.1:{sshd.port}?key={sshd.identity}&known_hosts={sshd.known_hosts}"
           f"&platform={PROFILE}")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STAND_IN": str(stand_in), "MARK": str(mark)}
    p = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--node", url,
                          "test_hold.py"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while not mark.exists() and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert mark.exists(), p.communicate(timeout=30)[0] if p.poll() is not None else "no goss dir in 60s"
        d = mark.read_text()
        n = sshd.node()
        assert exists(n, f"{d}/goss")
        p.send_signal(signal.SIGINT)
        out = p.communicate(timeout=60)[0]
        assert "KeyboardInterrupt" in out and p.returncode == 2
        assert not exists(n, d)
        n.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
