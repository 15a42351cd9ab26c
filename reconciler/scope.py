"""The node the reconciler runs on: its scope (rootful system units, or rootless podman with the
daemon user's Quadlet units) and what it calls things. Pure; standard library only.

/etc/archipelago/reconciler.json may carry a "node" block (written by provisioning from the
platform profile). Without it the node is `SYSTEM`: today's rootful names and paths, exactly.
`parse` turns the block into a `Node` or raises NodeError with one line naming the key.
"""
from __future__ import annotations

import ipaddress
import os
import re
import string
from dataclasses import dataclass

from .model import ID_RE

STATE_DIR = "/var/lib/archipelago"
USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")      # a podman container or network name
PREFIX_RE = re.compile(r"^([a-z0-9][a-z0-9_.-]{0,31})?$")
PATH_RE = re.compile(r"^/[A-Za-z0-9._@+/-]*$")                  # no spaces, ':', '%' (Quadlet lines), quotes
FIRST_ADDRESS = 10                                              # containers get .10 upwards; the gateway below
KEYS = ("scope", "user", "uid", "home", "quadlet_dir", "prefix", "container", "names", "data", "config",
        "nginx_dir", "torrc_dir", "tor_dir", "network", "subnet", "gateway")
REQUIRED_IN_USER_SCOPE = ("user", "quadlet_dir")


class NodeError(ValueError):
    pass


@dataclass(frozen=True)
class Node:
    scope: str = "system"                        # "system": rootful podman; "user": rootless, systemctl --user
    user: str = "root"                           # the daemon's user
    uid: int | None = None                       # None: the daemon's own (os.getuid())
    home: str | None = None                      # the user's home (rootless podman's storage); None: /home/<user>
    quadlet_dir: str = "/etc/containers/systemd"
    prefix: str = "archy-"                       # ids that carry it are kept as they are (companions)
    container: str = "{prefix}{app}"             # container (and unit stem) template: {app}, {prefix}
    names: tuple[tuple[str, str], ...] = ()      # (app id, container) overrides
    data: str = STATE_DIR + "/apps/{app}"        # templates: {app}, {container}, {state_dir}
    config: str = STATE_DIR + "/config/{app}"
    nginx_dir: str = "/etc/nginx/archy.d"
    torrc_dir: str = "/etc/tor/torrc.d"
    tor_dir: str = "/var/lib/tor"                # hidden services' dirs (owned by debian-tor)
    network: str = "archy"
    subnet: str = "10.89.7.0/24"
    gateway: str = "10.89.7.1"

    @property
    def user_scope(self) -> bool:
        return self.scope == "user"

    def container_name(self, app: str) -> str:
        """The app's container, its unit's stem and its Quadlet file's stem."""
        override = dict(self.names).get(app)
        if override:
            return override
        if self.prefix and app.startswith(self.prefix):
            return app
        return self.container.format(prefix=self.prefix, app=app)

    def fill(self, template: str, app: str) -> str:
        return template.format(app=app, container=self.container_name(app), state_dir=STATE_DIR)

    def systemctl(self, *args: str) -> list[str]:
        """systemctl for the apps' units, the network unit and podman's healthcheck timers."""
        return ["systemctl", "--user", *args] if self.user_scope else ["systemctl", *args]

    @property
    def network_unit(self) -> str:
        return f"{self.network}-network.service"   # what Quadlet names the unit of <network>.network

    @property
    def user_home(self) -> str:
        return self.home or ("/root" if self.user == "root" else f"/home/{self.user}")

    def address(self, index: int) -> str:
        """The fixed address of the index-th container of the catalog."""
        return str(ipaddress.IPv4Network(self.subnet).network_address + FIRST_ADDRESS + index)

    @property
    def max_containers(self) -> int:
        return min(240, ipaddress.IPv4Network(self.subnet).num_addresses - FIRST_ADDRESS - 6)


SYSTEM = Node()


# ---- parsing the block ----

def parse(block) -> Node:
    if block is None:
        return SYSTEM
    if not isinstance(block, dict):
        raise NodeError("node: expected an object")
    unknown = sorted(str(k) for k in block if k not in KEYS)
    if unknown:
        raise NodeError(f"node: unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    scope = block.get("scope")
    if scope not in ("system", "user"):
        raise NodeError(f"node.scope: must be 'user' or 'system', got {scope!r}")
    missing = [k for k in REQUIRED_IN_USER_SCOPE if scope == "user" and k not in block]
    if missing:
        raise NodeError(f"node.{missing[0]}: required in user scope")
    fields = {k: _CHECKS[k](k, block[k]) for k in KEYS[1:] if k in block}
    node = Node(scope=scope, **fields)
    _check_scope(node)
    _check_templates(node)
    _check_network(node)
    return node


def _matching(regex, what: str):
    """A check of one string key against `regex`; the error says `what` it must be."""
    def check(key: str, v) -> str:
        if not isinstance(v, str) or not regex.match(v):
            raise NodeError(f"node.{key}: must be {what}, got {v!r}")
        return v
    return check


_user = _matching(USER_RE, "a user name such as archipelago")
_prefix = _matching(PREFIX_RE, "lowercase letters, digits and ._- such as archy-")
_name = _matching(NAME_RE, "a container/network name (letters, digits, ._-)")


def _uid(key: str, v) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 2**32 - 1:
        raise NodeError(f"node.{key}: must be a numeric uid, got {v!r}")
    return v


def _path(key: str, v) -> str:
    if not isinstance(v, str) or not PATH_RE.match(v) or os.path.normpath(v) != v or v == "/":
        raise NodeError(f"node.{key}: must be an absolute, normalised path below / of letters, digits "
                        f"and ._@+- (no spaces, ':' or '%'), got {v!r}")
    return v


def _names(key: str, v) -> tuple[tuple[str, str], ...]:
    if not isinstance(v, dict):
        raise NodeError(f"node.{key}: must map app ids to container names, got {v!r}")
    for app, name in v.items():
        if not isinstance(app, str) or not ID_RE.match(app):
            raise NodeError(f"node.{key}: {app!r} is not an app id")
        _name(f"{key}.{app}", name)
    if len(set(v.values())) != len(v):
        raise NodeError(f"node.{key}: two apps share a container name")
    return tuple(sorted(v.items()))


def _template_fields(key: str, v, allowed: set[str]) -> set[str]:
    if not isinstance(v, str):
        raise NodeError(f"node.{key}: must be a template string, got {v!r}")
    try:
        parts = list(string.Formatter().parse(v))
    except ValueError as e:
        raise NodeError(f"node.{key}: bad template {v!r}: {e}") from None
    fields = {f for _, f, _, _ in parts if f is not None}
    if any(spec or conv for _, f, spec, conv in parts if f is not None) or not fields <= allowed:
        raise NodeError(f"node.{key}: bad template {v!r}: the fields are {{{'}, {'.join(sorted(allowed))}}}")
    if not fields & {"app", "container"}:
        raise NodeError(f"node.{key}: template {v!r} must contain {{app}}")
    return fields


def _container(key: str, v) -> str:
    _template_fields(key, v, {"app", "prefix"})
    return v


def _dir_template(key: str, v) -> str:
    _template_fields(key, v, {"app", "container", "state_dir"})
    return v


def _subnet(key: str, v) -> str:
    try:
        net = ipaddress.IPv4Network(v, strict=True) if isinstance(v, str) else None
    except ValueError as e:
        raise NodeError(f"node.{key}: {e}") from None
    if net is None or net.prefixlen > 24:
        raise NodeError(f"node.{key}: must be an IPv4 network of /24 or larger such as 10.89.0.0/24, got {v!r}")
    return v


def _gateway(key: str, v) -> str:
    if isinstance(v, str):
        try:
            ipaddress.IPv4Address(v)
            return v
        except ValueError:
            pass
    raise NodeError(f"node.{key}: must be an IPv4 address such as 10.89.0.1, got {v!r}")


_CHECKS = {"user": _user, "uid": _uid, "home": _path, "quadlet_dir": _path, "prefix": _prefix,
           "container": _container, "names": _names, "data": _dir_template, "config": _dir_template,
           "nginx_dir": _path, "torrc_dir": _path, "tor_dir": _path, "network": _name, "subnet": _subnet,
           "gateway": _gateway}


def _check_scope(node: Node) -> None:
    if node.user_scope and (node.user == "root" or node.uid == 0):
        raise NodeError("node.user: user scope runs rootless podman as a user other than root")
    if not node.user_scope and (node.user != "root" or node.uid not in (None, 0)):
        raise NodeError("node.user: system scope runs as root (user 'root', uid 0)")


def _check_templates(node: Node) -> None:
    sample = "bitcoin-knots"
    if not NAME_RE.match(node.container_name(sample)):
        raise NodeError(f"node.container: {node.container!r} makes the invalid container name "
                        f"{node.container_name(sample)!r}")
    for key in ("data", "config"):
        try:
            _path(key, node.fill(getattr(node, key), sample))
        except NodeError:
            raise NodeError(f"node.{key}: {getattr(node, key)!r} must fill in to an absolute, normalised "
                            "path (no spaces, ':' or '%')") from None
    if node.fill(node.data, sample) == node.fill(node.config, sample):
        raise NodeError("node.config: must differ from node.data")


def _check_network(node: Node) -> None:
    net = ipaddress.IPv4Network(node.subnet)
    gw = ipaddress.IPv4Address(node.gateway)
    if not net.network_address < gw < net.network_address + FIRST_ADDRESS:
        raise NodeError(f"node.gateway: must be one of {node.subnet}'s first {FIRST_ADDRESS - 1} host addresses "
                        f"(containers get .{FIRST_ADDRESS} upwards), got {node.gateway}")
