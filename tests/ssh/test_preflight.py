"""node.preflight against the real local sshd: a login that cannot get root, or whose user units
have no user manager, is refused at connect, in one line, and the connection is closed.

The sshd logs in as root here (tests/ssh/sshd_helper.py). What sudo answers is real when this
machine has no sudo ("not installed"); a password-asking sudo is played by a small script at an
absolute path used as the login's become prefix: only for this refusal test."""
import os
import shutil

import pytest

from node import ssh
from node.commands import ROOT, USER_ENV, Commands
from node.platform import Platform
from node.preflight import LoginRefused, check
from node.target import connect, parse
from sshd_helper import PROFILE

SUDO = Commands.for_login("archytest", "sudo -n", "system", False)


def _password_sudo(tmp_path) -> str:
    fake = tmp_path / "sudo"
    fake.write_text("#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n")
    fake.chmod(0o755)
    return str(fake)


def test_a_root_login_with_system_units_runs_nothing(ssh_node, monkeypatch):
    ran = []
    monkeypatch.setattr(ssh_node, "run", lambda cmd, **kw: ran.append(cmd))
    assert ssh_node.cmd == ROOT
    check(ssh_node)
    assert ran == []


@pytest.mark.skipif(shutil.which("sudo") is not None, reason="sudo is installed here: root passes sudo -n true")
def test_no_sudo_on_the_node(ssh_node):
    ssh_node.cmd = SUDO
    with pytest.raises(LoginRefused) as e:
        check(ssh_node)
    assert str(e.value) == (f"root@127.0.0.1: sudo -n true failed (sudo is not installed): install sudo and "
                            "give the login passwordless sudo for the commands in docs/real-node.md#sudo, "
                            "or log in as root")


def test_sudo_asking_for_a_password_is_refused_at_connect(sshd, tmp_path, monkeypatch):
    cmd = Commands(root=f"{_password_sudo(tmp_path)} -n ", systemctl="systemctl")
    monkeypatch.setattr(Platform, "commands", lambda self, user: cmd)     # what a sudo profile sets
    closed = []
    real_close = ssh.SSHNode.close
    monkeypatch.setattr(ssh.SSHNode, "close", lambda self: (closed.append(1), real_close(self)))
    url = f"{sshd.url}?known_hosts={sshd.known_hosts}&key={sshd.identity}"
    with pytest.raises(LoginRefused) as e:
        connect(parse(url))
    line = str(e.value)
    assert line == (f"root@127.0.0.1: {tmp_path}/sudo -n true failed (a password is required): give the "
                    "login passwordless sudo for the commands in docs/real-node.md#sudo, or log in as root")
    assert closed, "the refused connection is closed"


@pytest.mark.skipif(os.path.isdir("/run/systemd/system"), reason="systemd runs here: a user manager may exist")
def test_user_units_without_a_user_manager(ssh_node):
    """The login here is root; it plays a login that needs no sudo (root="") and owns user units."""
    ssh_node.user = "archytest"
    ssh_node.cmd = Commands(systemctl=f"{USER_ENV} systemctl --user", podman=f"{USER_ENV} podman",
                            login="archytest")
    with pytest.raises(LoginRefused) as e:
        check(ssh_node)
    line = str(e.value)
    assert line.startswith("archytest@127.0.0.1: the apps are user units of archytest but its user manager "
                           "is not reachable (systemctl --user: ")
    assert line.endswith("run `loginctl enable-linger archytest` as root on the node (it starts the manager "
                         "and keeps it after logout)") and "\n" not in line


def test_a_root_login_on_the_rootless_reference_is_refused_at_connect(sshd):
    """The default profile's apps are user units: root's would be root's own. Nothing is asked."""
    url = f"{sshd.url}?known_hosts={sshd.known_hosts}&key={sshd.identity}&platform=reference"
    with pytest.raises(LoginRefused) as e:
        connect(parse(url))
    assert str(e.value).startswith("root@127.0.0.1: the apps are user units of the profile's login, but root's ")
    assert connect(parse(url.replace("platform=reference", f"platform={PROFILE}"))).cmd == ROOT
