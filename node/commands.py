"""How a node's platform spells its privileged tools: the login may not be root.

A login as root runs everything as it is. A sudo user (`become: sudo -n`) prefixes what needs
root; rootless podman and user units run as the login user itself (`systemctl --user`). Callers
write `f"{node.cmd.systemctl} restart {unit}"` or `node.cmd.as_root(cmd)`, never a bare
`systemctl`/`podman` for the platform's own units and containers.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class Commands:
    root: str = ""                  # prefix of a command that needs root: "" or "sudo -n "
    systemctl: str = "systemctl"    # for the platform's app units (system or user scope)
    journalctl: str = "journalctl"  # reads those units' journal
    podman: str = "podman"          # the podman that owns the apps' containers

    def as_root(self, cmd: str) -> str:
        """`cmd` (any shell text) run with root rights."""
        return f"{self.root}sh -c {shlex.quote(cmd)}" if self.root else cmd


ROOT = Commands()
