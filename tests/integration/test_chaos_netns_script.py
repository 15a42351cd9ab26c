"""chaos.actions.revoke_netns_script run by a real sh against a fake rootless runtime dir (with a
blank and a quote in its path) and fake podman and pkill: paths reach the tools as one argument
each, the pasta pid is checked to be digits before `kill -9` (never -1), the pid killed is printed."""
import os
import shlex
import subprocess

import pytest

from chaos import actions


def _fake_tools(bin_dir, log):
    """pkill and podman that log their argv (| separated), one line per call."""
    for tool in ("pkill", "podman"):
        f = bin_dir / tool
        f.write_text(f'#!/bin/sh\nprintf "%s|" {tool} "$@" >> {shlex.quote(str(log))}\necho >> '
                     f'{shlex.quote(str(log))}\n')
        f.chmod(0o755)


def test_the_netns_script_quotes_its_paths_and_checks_the_pid(tmp_path, monkeypatch):
    """Run by sh: the pasta stand-in (a sleep) is killed, pkill and `podman unshare umount` get the
    login's uid and the netns file as one argument each, and the pid printed is the one killed."""
    run = tmp_path / "run user's dir"
    netns = run / "rootless-netns"
    netns.mkdir(parents=True)
    monkeypatch.setattr(actions, "NETNS_DIR", str(netns))
    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    bin_dir.mkdir()
    _fake_tools(bin_dir, log)
    pasta = subprocess.Popen(["sleep", "60"])
    try:
        (netns / "rootless-netns-conn.pid").write_text(f"{pasta.pid}\n")
        r = _run(actions.revoke_netns_script("podman"), bin_dir)
        assert (r.returncode, r.stdout.strip()) == (0, str(pasta.pid)), r.stderr
        assert pasta.wait(timeout=10) == -9
    finally:
        pasta.kill()
    assert log.read_text().splitlines() == [f"pkill|-9|-u|{os.getuid()}|-x|rootlessport|",
                                            f"podman|unshare|umount|{netns}/rootless-netns|"]


@pytest.mark.parametrize("pid", ["", "12 34", "$(touch /tmp/x)", "-1"])
def test_the_netns_script_refuses_what_is_not_a_pid(tmp_path, monkeypatch, pid):
    netns = tmp_path / "rootless-netns"
    netns.mkdir()
    monkeypatch.setattr(actions, "NETNS_DIR", str(netns))
    (netns / "rootless-netns-conn.pid").write_text(pid)
    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    bin_dir.mkdir()
    _fake_tools(bin_dir, log)
    r = _run(actions.revoke_netns_script("podman"), bin_dir)
    assert r.returncode == 3 and not log.exists()


def _run(script: str, bin_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    return subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=30)
