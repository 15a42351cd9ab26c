"""A real sshd on 127.0.0.1 (free port, throwaway host + client keys under tmp), as root.

It logs in as root: its nodes and URLs carry the rootful reference profile (PROFILE), whose
apps are root's system units; the rootless default refuses a root login (node.preflight).
A module with a unique name (not conftest) so tests can import keygen."""
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from node.platform import load as load_platform
from node.ssh import SSHNode

PROFILE = "reference-rootful"
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "archy-test", "-f", str(path)],
                   check=True, timeout=30)
    return path.with_suffix(".pub").read_text().strip() if path.suffix else Path(f"{path}.pub").read_text().strip()


class Sshd:
    def __init__(self, d: Path, extra_config: str = ""):
        if not os.access(SSHD, os.X_OK):
            pytest.skip("openssh-server is not installed (make setup installs it)")
        if os.geteuid() != 0:
            pytest.skip("the test sshd runs as root (it must switch to the login user)")
        self.dir, self.port = d, free_port()
        self.host_pub = keygen(d / "host_key")
        self.client_pub = keygen(d / "client_key")
        self.identity = str(d / "client_key")
        (d / "authorized_keys").write_text(self.client_pub + "\n")
        self.known_hosts = d / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {' '.join(self.host_pub.split()[:2])}\n")
        (d / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\n"
            f"AuthorizedKeysFile {d / 'authorized_keys'}\nPidFile {d / 'sshd.pid'}\n"
            "UsePAM no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nStrictModes no\nMaxSessions 20\nLogLevel ERROR\n" + extra_config)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
                                     stdout=subprocess.DEVNULL, stderr=open(d / "sshd.log", "w"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # readiness: the port accepts connections
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {(d / 'sshd.log').read_text()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("sshd did not listen within 20 s")

    @property
    def url(self) -> str:
        return f"ssh://root@127.0.0.1:{self.port}"

    def node(self, **kw) -> SSHNode:
        kw.setdefault("known_hosts", str(self.known_hosts))
        kw.setdefault("identity_file", self.identity)
        kw.setdefault("platform", load_platform(PROFILE))
        return SSHNode("127.0.0.1", self.port, user="root", **kw)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
