"""Targets named on the command line (`--node URL`, `--vm`) -> descriptors -> connected Nodes.

URLs:
  ssh://user@host[:port]?disposable=1&key=PATH&known_hosts=PATH&name=NAME
  vm://NAME            the embedded QEMU VM (vm.launch), e.g. vm://vm0
Parsing is pure (no connection), so the grid can decide skips before touching a node.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

from .api import Node, NodeError

SSH_CAPABILITIES = frozenset({"node", "reboot", "soak"})
VM_CAPABILITIES = frozenset({"node", "destructive", "reboot", "power_cut", "pause", "snapshot", "soak"})
_SSH_PARAMS = {"disposable", "key", "known_hosts", "name", "connect_timeout"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


class TargetError(NodeError):
    pass


@dataclass(frozen=True)
class Target:
    kind: str                       # "ssh" | "vm"
    url: str                        # without the query string
    name: str
    disposable: bool
    capabilities: frozenset[str]
    params: dict = field(default_factory=dict, compare=False)

    @property
    def is_vm(self) -> bool:
        return self.kind == "vm"


def _flag(url: str, key: str, value: str) -> bool:
    v = value.lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise TargetError(f"{url}: {key}={value!r} is not a boolean (use 1 or 0)")


def parse(url: str) -> Target:
    u = urlparse(url.strip())
    if u.scheme == "vm":
        name = u.netloc or u.path.strip("/") or "vm0"
        return Target("vm", f"vm://{name}", name, True, VM_CAPABILITIES)
    if u.scheme != "ssh":
        raise TargetError(f"{url}: unknown scheme {u.scheme + '://' if u.scheme else '(none)'}; "
                          "use ssh://user@host[:port]?disposable=1&key=...&known_hosts=... or vm://NAME")
    if not u.hostname:
        raise TargetError(f"{url}: no host (expected ssh://user@host[:port])")
    try:
        port = u.port or 22
    except ValueError:
        raise TargetError(f"{url}: invalid port") from None
    q = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
    if unknown := set(q) - _SSH_PARAMS:
        raise TargetError(f"{url}: unknown parameter(s) {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(_SSH_PARAMS))})")
    disposable = _flag(url, "disposable", q.get("disposable", "0"))
    base = f"ssh://{u.username + '@' if u.username else ''}{u.hostname}:{port}"
    caps = SSH_CAPABILITIES | ({"destructive"} if disposable else frozenset())
    params = {
        "known_hosts": os.path.expanduser(q.get("known_hosts", "~/.ssh/known_hosts")),
        "identity_file": os.path.expanduser(q["key"]) if q.get("key") else None,
        "connect_timeout": float(q.get("connect_timeout", 10)),
    }
    return Target("ssh", base, q.get("name") or f"{u.hostname}:{port}", disposable, caps, params)


def connect(target: Target, progress=None, keep: bool = False) -> Node:
    """A connected Node for the target (boots the embedded VM for vm://; `keep`: it outlives this process)."""
    if target.is_vm:
        try:
            from vm import launch  # the embedded VM package; imported late so unit tests never need it
        except ImportError as e:
            raise TargetError(f"{target.url}: the embedded VM package is not available ({e})") from None
        return launch(name=target.name, progress=progress or (lambda *_: None), detached=keep)
    from .ssh import SSHNode
    return SSHNode(target.url, known_hosts=target.params["known_hosts"],
                   identity_file=target.params["identity_file"], disposable=target.disposable,
                   name=target.name, connect_timeout=target.params["connect_timeout"])
