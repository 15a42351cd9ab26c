"""testinfra on the node's own connection: a `testinfra.host.Host` whose every command goes
through `Node.run`, so a testinfra check (`host.file(...).mode`, `host.socket(...)`,
`host.service(...)`, `host.run(...)`) gets what the harness's own commands get: the pinned host
key, a timeout on every command, the node's privilege path, a crashed guest seen at once, and a
count in node.timing.

testinfra's own backends fall short here: its paramiko backend accepts any host key and has no
timeout, and its plugin's `host` fixture is the machine running pytest unless `--hosts` names
another. What testinfra does well, its modules, is kept.
"""
from __future__ import annotations

from typing import Any

import testinfra.host
from testinfra.backend.base import BaseBackend, CommandResult

DEFAULT_TIMEOUT = 120.0


class NodeBackend(BaseBackend):
    NAME = "archy-node"

    def __init__(self, node, *, as_root: bool = True, timeout: float = DEFAULT_TIMEOUT):
        super().__init__(node.name, sudo=as_root)
        self.node, self.timeout = node, timeout

    def get_sudo_command(self, command: str, sudo_user: str | None) -> str:
        """Root as the node gets it (root login, or its sudo rules): node.cmd.as_root."""
        return self.node.cmd.as_root(command)

    def get_encoding(self) -> str:
        return "utf-8"            # the node's commands are decoded as UTF-8 everywhere else too

    def run(self, command: str, *args: str, **kwargs: Any) -> CommandResult:
        cmd = self.get_command(command, *args)
        r = self.node.run(cmd, timeout=self.timeout)
        return self.result(r.rc, self.encode(cmd), r.stdout.encode(), r.stderr.encode())


def host(node, *, as_root: bool = True, timeout: float = DEFAULT_TIMEOUT) -> testinfra.host.Host:
    """A testinfra Host on `node` (as root by default, as testinfra's `--sudo` would run it)."""
    backend = NodeBackend(node, as_root=as_root, timeout=timeout)
    h = testinfra.host.Host(backend)
    backend.set_host(h)
    return h
