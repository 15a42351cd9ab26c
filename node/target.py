"""Node URLs -> Targets -> connected Nodes: the one parser and the one `connect`.

URLs:
  ssh://user@host[:port]?disposable=1&key=PATH&known_hosts=PATH&name=NAME&platform=NAME
  vm://NAME[?platform=NAME]   the embedded QEMU VM, e.g. vm://vm0 (NAME: [a-z0-9][a-z0-9-]*)
`platform` names a profile (platforms/NAME.yaml, node/platform.py; default: the caller's, else
$ARCHY_PLATFORM, else reference); without a user in the URL the login is the profile's.
Parsing is pure (no connection), so the grid can decide skips before touching a node. `connect`
opens SSH itself; a vm:// target is handed to the caller's `vm` hook (vm.launcher(), or chaos's
attach): node/ sits below vm/ and never imports it.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, replace
from typing import Callable
from urllib.parse import parse_qs, quote, urlparse

from . import capabilities, keyfiles, preflight
from .api import Node, NodeError
from .names import Names
from .platform import Platform, PlatformError, default_name
from .platform import load as load_platform
from .ssh import SSHNode, base_url

_SSH_PARAMS = {"disposable", "key", "known_hosts", "name", "connect_timeout", "platform"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
DEFAULT_CONNECT_TIMEOUT = 10.0
# a VM name becomes a dir under the run root (deleted with the run) and part of a QMP socket path
VM_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


class TargetError(NodeError):
    pass


@dataclass(frozen=True)
class Target:
    kind: str                       # "ssh" | "vm"
    url: str                        # without the query string
    name: str
    disposable: bool
    capabilities: frozenset[str]
    # ssh only: where and how to log in
    host: str | None = None
    port: int | None = None
    user: str | None = None         # as written in the URL (the login defaults to the profile's)
    known_hosts: str | None = None
    identity_file: str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    platform: Platform = field(default_factory=load_platform, compare=False)

    @property
    def is_vm(self) -> bool:
        return self.kind == "vm"

    @property
    def names(self) -> Names:
        return self.platform.names

    @property
    def login(self) -> str:
        return self.user or self.platform.login


def vm_name(name: str, where: str = "vm://NAME") -> str:
    """`name` when it is a valid VM name, else TargetError naming `where` it came from; pure."""
    if not VM_NAME.fullmatch(name):
        raise TargetError(f"{where}: VM name {name[:60]!r} must be 1-63 of a-z, 0-9 and '-', "
                          "starting with a letter or digit (e.g. vm0)")
    return name


def _flag(url: str, key: str, value: str) -> bool:
    v = value.lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise TargetError(f"{url}: {key}={value!r} is not a boolean (use 1 or 0)")


def _port(url: str, u) -> int:
    """The URL's port, 22 when it names none; 0 or 65536 is refused, not turned into 22."""
    text = u.netloc.rpartition("@")[2].rpartition("]")[2]
    if ":" not in text:
        return 22
    text = text.rpartition(":")[2]
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise TargetError(f"{url}: port {text!r} is not a port number (use 1..65535, e.g. ssh://host:2222)")
    return int(text)


def _seconds(url: str, value: str | None) -> float:
    if value is None:
        return DEFAULT_CONNECT_TIMEOUT
    try:
        s = float(value)
    except ValueError:
        s = math.nan
    if not 0 < s <= 3600:   # nan and inf fail too
        raise TargetError(f"{url}: connect_timeout={value!r} is not a number of seconds "
                          "(use 0 < seconds <= 3600, e.g. connect_timeout=10)")
    return s


def _platform(url: str, name: str) -> Platform:
    try:
        return load_platform(name)
    except PlatformError as e:
        raise TargetError(f"{url}: {e}") from None


def parse(url: str, platform: str | None = None) -> Target:
    """The target of a node URL; `platform` is the profile when the URL's ?platform= names none."""
    u = urlparse(url.strip())
    if u.password is not None:    # the message shows the URL without it
        raise TargetError(f"{u.scheme}://{u.username}@{u.hostname}: a password in the URL is refused (it would "
                          "show in ps and logs); log in with a key: ?key=PATH")
    q = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
    plat = _platform(url, q.get("platform") or platform or default_name())
    if u.scheme == "vm":
        if unknown := set(q) - {"platform"}:
            raise TargetError(f"{url}: unknown parameter(s) {', '.join(sorted(unknown))} (known: platform)")
        name = vm_name((u.netloc + u.path).strip("/") or "vm0", url)
        return Target("vm", f"vm://{name}", name, True, capabilities.VM, platform=plat)
    if u.scheme != "ssh":
        raise TargetError(f"{url}: unknown scheme {u.scheme + '://' if u.scheme else '(none)'}; "
                          "use ssh://user@host[:port]?disposable=1&key=...&known_hosts=... or vm://NAME")
    if not u.hostname:
        raise TargetError(f"{url}: no host (expected ssh://user@host[:port])")
    port = _port(url, u)
    if unknown := set(q) - _SSH_PARAMS:
        raise TargetError(f"{url}: unknown parameter(s) {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(_SSH_PARAMS))})")
    disposable = _flag(url, "disposable", q.get("disposable", "0"))
    return Target("ssh", base_url(u.username, u.hostname, port), q.get("name") or f"{u.hostname}:{port}",
                  disposable, capabilities.ssh(disposable), host=u.hostname, port=port, user=u.username,
                  known_hosts=os.path.expanduser(q.get("known_hosts", DEFAULT_KNOWN_HOSTS)),
                  identity_file=os.path.expanduser(q["key"]) if q.get("key") else None,
                  connect_timeout=_seconds(url, q.get("connect_timeout")), platform=plat)


def check_files(t: Target) -> None:
    """The files an ssh target's login reads (known_hosts, ?key=), checked once before any cell:
    TargetError naming the URL, the file and the fix."""
    if t.is_vm:
        return
    try:
        keyfiles.check(t.known_hosts, t.identity_file)
    except keyfiles.KeyFileError as e:
        raise TargetError(f"{t.url}: {e}") from None


def to_url(t: Target) -> str:
    """The URL `parse` reads back as this target (what a child process is given: fleet, dev, chaos)."""
    plat = [("platform", t.platform.source if "/" in t.platform.name else t.platform.name)] \
        if t.platform.name != default_name() else []
    if t.is_vm:
        return t.url + ("?" + "&".join(f"{k}={quote(str(v), safe='/~:')}" for k, v in plat) if plat else "")
    query = [("disposable", "1")] if t.disposable else []
    if t.known_hosts != os.path.expanduser(DEFAULT_KNOWN_HOSTS):
        query.append(("known_hosts", t.known_hosts))
    if t.identity_file:
        query.append(("key", t.identity_file))
    if t.name != f"{t.host}:{t.port}":
        query.append(("name", t.name))
    if t.connect_timeout != DEFAULT_CONNECT_TIMEOUT:
        query.append(("connect_timeout", f"{t.connect_timeout:g}"))
    query += plat
    return t.url + ("?" + "&".join(f"{k}={quote(str(v), safe='/~:')}" for k, v in query) if query else "")


def of_node(n: SSHNode) -> Target:
    """The ssh target of a connected node: an embedded VM is reached over SSH on its current port
    with its own keys (a restore moves it to a fresh port, so ask again after one). The connect
    timeout stays the URL default: it is the node's own business how long it waited."""
    return Target("ssh", n.url, n.name, n.disposable, n.capabilities, host=n.hostname, port=n.port,
                  user=n.user, known_hosts=n.known_hosts, identity_file=n.identity_file, platform=n.platform)


def with_keys(t: Target, known_hosts: str | None = None, identity_file: str | None = None) -> Target:
    """The target with other pinned keys / client key (None keeps the URL's)."""
    return replace(t, known_hosts=known_hosts or t.known_hosts, identity_file=identity_file or t.identity_file)


def connect(target: Target, *, vm: Callable[[Target], Node] | None = None) -> Node:
    """A connected Node for the target. vm:// goes through the `vm` hook (e.g. vm.launcher());
    without one a vm:// target is refused."""
    if target.is_vm:
        if vm is None:
            raise TargetError(f"{target.url}: the embedded VM cannot be reached from here")
        return vm(target)
    node = SSHNode(target.host, target.port, user=target.login, known_hosts=target.known_hosts,
                   identity_file=target.identity_file, disposable=target.disposable, name=target.name,
                   capabilities=target.capabilities, connect_timeout=target.connect_timeout,
                   platform=target.platform)
    try:
        preflight.check(node)   # a sudo / user-scope login that cannot do its job: one line, now
    except NodeError:
        node.close()
        raise
    return node
