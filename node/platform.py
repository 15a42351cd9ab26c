"""A platform profile: one YAML file per node kind (platforms/NAME.yaml) that says everything the
harness needs to know about a node it did not build: who logs in and how it gets root, the units'
scope, every name and path (a `Names`), the ports where they differ from the matrix, and how to
read the daemon's health and call its RPC.

`load(name_or_path)` validates the file against a schema that keeps YAML marks, so a bad profile
is refused with `file:line: field: what is wrong`. Fields a profile marks in `unverified` are
defaults the seeds do not pin down; the run lists them so a user checks them on their node.
A loaded profile's names know the matrix's app ids (`Names.with_apps`): where containers are
named by app id alone, only they tell an app's unit from any other unit of the scope.

`reconciler_node_block(platform)` is the "node" block the reference reconciler reads from its
settings (/etc/archipelago/reconciler.json): the same names, for the reconciler's own side.
"""
from __future__ import annotations

import dataclasses
import functools
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from matrix.model import Matrix, Port
from matrix.model import load as load_matrix
from matrix.model import _show
from matrix.schema import Ctx, Enum, Int, List, Map, MatrixError, Record, Schema, Str, compose, kind, locate, scalar_value

from .api import NodeError
from .commands import Commands
from .names import Names

PLATFORM_DIR = Path(__file__).resolve().parent.parent / "platforms"
DEFAULT = "reference"
ENV = "ARCHY_PLATFORM"          # the default profile of a run (make PLATFORM=...), else DEFAULT
SCOPES = ("system", "user")
# How a container comes back after it exits: systemd's Restart= on its (Quadlet) unit, or a podman
# restart policy. A Quadlet `podman run` passes --rm, which podman refuses with any policy but "no".
RESTARTS = ("systemd", "unless-stopped", "always")
RPC_METHODS = ("install", "uninstall", "start", "stop", "list", "health")   # "tick" is optional


class PlatformError(NodeError):
    """A missing or malformed profile; str() is one line naming file:line."""


@dataclass(frozen=True)
class Health:
    """How to read the daemon's GET health: the body fields (and "http_status") that mean healthy,
    and the field that moves each time the daemon's loop completes (None: the body has none)."""
    ok: tuple[tuple[str, Any], ...] = (("http_status", 200),)
    progress: str | None = "last_good_tick"

    def wrong(self, body: dict) -> list[str]:
        """The ok fields the body does not have as the profile says, named with what it has."""
        return [f"{k} is {body.get(k)!r}, not {v!r}" for k, v in self.ok if body.get(k) != v]

    def is_ok(self, body: dict) -> bool:
        return not self.wrong(body)


@dataclass(frozen=True)
class Rpc:
    """The daemon's JSON-RPC: our verbs -> its method names, and the install/uninstall params as
    templates over {app} and {image} (the catalog's image of the app)."""
    methods: tuple[tuple[str, str], ...] = tuple((v, f"package.{v}") for v in
                                                 ("install", "uninstall", "start", "stop")) + (
        ("list", "container.list"), ("health", "container.health"), ("tick", "reconcile.tick"))
    install: tuple[tuple[str, str], ...] = (("id", "{app}"),)
    purge: str | None = None          # the uninstall param that also removes data, if any

    def method(self, verb: str) -> str | None:
        return dict(self.methods).get(verb)

    def install_params(self, app: str, image: str) -> dict[str, str]:
        return {k: v.format(app=app, image=image) for k, v in self.install}


@dataclass(frozen=True)
class Platform:
    name: str
    source: str                                   # the profile file, for messages
    login: str = "root"                           # the login when the node URL names none
    become: str = "sudo -n"                       # how a non-root login gets root ("" = it cannot)
    scope: str = "system"                         # the apps' units: system, or user (rootless podman)
    restart: str = "systemd"                      # what restarts a container (RESTARTS)
    names: Names = field(default_factory=Names)
    ports: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = ()   # app -> port name -> port
    images: tuple[tuple[str, str], ...] = ()       # app -> the image its install names (default: the matrix's)
    health: Health = field(default_factory=Health)
    rpc: Rpc = field(default_factory=Rpc)
    subnet: str | None = None                     # the apps' network, e.g. 10.89.0.0/24 (None: not pinned)
    gateway: str | None = None                    # its gateway: the node as the containers see it
    unverified: tuple[str, ...] = ()              # fields that are defaults, not facts of the node

    def commands(self, user: str) -> Commands:
        """How `user` runs the platform's tools on this node."""
        try:
            return Commands.for_login(user, self.become, self.scope, rootless=self.scope == "user")
        except ValueError as e:
            raise PlatformError(f"platform {self.name} ({self.source}): {e}") from None

    def apply(self, matrix: Matrix) -> Matrix:
        """The matrix as this node has it: its ports and data dirs (the matrix holds the reference's)."""
        overrides, images = {app: dict(p) for app, p in self.ports}, dict(self.images)
        for what, given in (("ports", overrides), ("images", images)):
            if unknown := set(given) - set(matrix.apps) - set(matrix.companions):
                raise PlatformError(f"{self.source}: apps.{what}: {', '.join(sorted(unknown))} "
                                    "is not an app of the matrix")

        def fit(app):
            ports = tuple(Port(p.name, overrides.get(app.id, {}).get(p.name, p.port), p.ui) for p in app.ports)
            dirs = (self.names.data_dir(app.id),) if app.data_dirs else ()
            return dataclasses.replace(app, ports=ports, data_dirs=dirs, image=images.get(app.id, app.image))

        return dataclasses.replace(matrix, apps={i: fit(a) for i, a in matrix.apps.items()},
                                   companions={i: fit(a) for i, a in matrix.companions.items()})

    def with_apps(self, ids) -> "Platform":
        """The profile whose names know these app ids (load() gives it the matrix's); pure."""
        return dataclasses.replace(self, names=self.names.with_apps(ids))


def reconciler_node_block(p: Platform) -> dict:
    """The "node" block of the reference reconciler's settings for this profile (without "uid",
    which provisioning adds on the node): where the daemon writes its units and files and how it
    names containers. Templates keep {app} (and {prefix} in "container"); every other field is
    filled in. PlatformError when the profile pins no subnet; pure."""
    if not (p.subnet and p.gateway):
        raise PlatformError(f"{p.source}: apps.subnet and apps.gateway: the reconciler needs both")
    n = p.names
    return {"scope": p.scope, "user": p.login if p.scope == "user" else "root",
            "quadlet_dir": n.quadlet_dir, "prefix": n.prefix, "container": n.container_template,
            "names": dict(n.containers), "data": n.fill(n.data_template, "{app}"),
            "config": n.fill(n.config_template, "{app}"), "nginx_dir": n.nginx_dir,
            "torrc_dir": n.torrc_dir, "tor_dir": n.tor_dir, "network": n.network,
            "subnet": p.subnet, "gateway": p.gateway}


# ------------------------------------------------------------------------ the schema
class _Scalar(Schema):
    """A string, number or boolean (a value a health body field must have)."""
    def check(self, node, ctx):
        v = scalar_value(node) if isinstance(node, yaml.ScalarNode) else None
        if v is None or isinstance(v, (list, dict)):
            raise ctx.error(node, f"expected a string, number or boolean, got {kind(node)}")
        return v


_NAME = Str(r"[a-z0-9][a-z0-9_-]*", "a lowercase name")
# no ".." component: the harness deletes and rewrites files under these dirs
_PATH = Str(r"(?!\S*(?:^|/)\.\.(?:/|$))(/|~/|\{)\S*", "an absolute path without '..' (or a template starting with a {field})")
_TEMPLATE = Str(r"\S+", "a name template without spaces")
_SCHEMA = Record({
    "schema_version": Enum((1,)),
    "name": _NAME,
    "description": Str(),
    "login": Record({"user": _NAME, "become": Enum(("sudo -n", "none"))}, required=("user", "become")),
    "units": Record({"scope": Enum(SCOPES), "quadlet_dir": _PATH}, required=("scope", "quadlet_dir")),
    "apps": Record({
        "container": _TEMPLATE, "unit": _TEMPLATE, "label": _TEMPLATE, "network": _NAME, "prefix": _TEMPLATE,
        "subnet": Str(r"\d{1,3}(\.\d{1,3}){3}/\d{1,2}", "an IPv4 network such as 10.89.0.0/24"),
        "gateway": Str(r"\d{1,3}(\.\d{1,3}){3}", "an IPv4 address such as 10.89.0.1"),
        "restart": Enum(RESTARTS),
        "names": Map(_TEMPLATE, key=_NAME), "images": Map(_TEMPLATE, key=_NAME),
        "configs": Map(List(Str(r"[\w.-]+", "a file name"), unique=True), key=_NAME),
        "ports": Map(Map(Int(1, 65535), key=Str(r"[a-z0-9_]+", "a port name")), key=_NAME),
    }, required=("container", "unit", "prefix")),
    "paths": Record({k: _PATH for k in ("etc", "code", "state", "secrets", "data", "config", "nginx_dir",
                                        "nginx", "torrc_dir", "torrc", "tor_dir", "hidden_service")},
                    required=("state", "data", "secrets")),
    "tor": Record({"unit": _TEMPLATE}),
    "daemon": Record({
        "unit": Str(r"[\w@.-]+\.service", "a unit name ending in .service"),
        "slices": List(_TEMPLATE, unique=True),
        "api": Str(r"http://127\.0\.0\.1:\d+", "http://127.0.0.1:PORT (the API is called on the node)"),
        "health": Record({"path": _PATH, "ok": Map(_Scalar(), key=Str(r"[a-z_]+", "a field")),
                          "progress": Str()}, required=("path", "ok")),
        "rpc": Record({"path": _PATH, "methods": Map(Str(r"[\w.]+", "a method name"), key=_NAME),
                       "install": Map(_TEMPLATE, key=Str(r"\w+", "a param name")), "purge": Str(r"\w+", "a param")},
                      required=("path", "methods", "install")),
    }, required=("unit", "api", "health", "rpc")),
    "credentials": Record({"bitcoin_rpc_user": _NAME, "bitcoin_rpc_password_file": _PATH,
                           "lnd_macaroon_file": _PATH}),
    "unverified": List(Str(r"[a-z_.]+", "a field path such as paths.nginx"), unique=True),
}, required=("schema_version", "name", "login", "units", "apps", "paths", "daemon"))


# ------------------------------------------------------------------------ loading
def path_of(name_or_path: str) -> Path:
    """A profile name (platforms/NAME.yaml) or a path to a profile file."""
    if "/" in name_or_path or name_or_path.endswith((".yaml", ".yml")):
        return Path(name_or_path).expanduser()
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name_or_path):
        raise PlatformError(f"platform {name_or_path!r}: not a profile name (known: {', '.join(known())})")
    return PLATFORM_DIR / f"{name_or_path}.yaml"


def default_name() -> str:
    """The profile a node URL without ?platform= gets: $ARCHY_PLATFORM, else the reference."""
    return os.environ.get(ENV) or DEFAULT


def known() -> list[str]:
    return sorted(p.stem for p in PLATFORM_DIR.glob("*.yaml"))


def load(name_or_path: str = DEFAULT) -> Platform:
    """The validated profile; PlatformError (one line, file:line) when it is missing or malformed."""
    return _load(path_of(name_or_path).resolve(), name_or_path)


@functools.lru_cache(maxsize=16)
def _load(path: Path, name_or_path: str) -> Platform:
    if not path.is_file():
        raise PlatformError(f"platform {name_or_path!r}: no profile {path} (known: {', '.join(known())})")
    try:
        root = compose(path)
        data = _SCHEMA.check(root, Ctx(_show(path)))
        return build(data, str(_show(path)), root).with_apps(_app_ids())
    except MatrixError as e:
        raise PlatformError(str(e)) from None


@functools.cache
def _app_ids() -> tuple[str, ...]:
    """The ids of the matrix's apps and companions (matrix/: what any node of ours may run)."""
    m = load_matrix()
    return tuple(sorted({*m.apps, *m.companions}))


def build(d: dict, source: str, root: yaml.Node | None = None) -> Platform:
    """A Platform from validated data; cross-field problems name file:line through `root`."""
    def err(keys: tuple, msg: str) -> PlatformError:
        node = locate(root, *keys) if root is not None else None
        return PlatformError(str(Ctx(Path(source), ".".join(map(str, keys))).error(node, msg)))

    daemon, apps, paths = d["daemon"], d["apps"], d["paths"]
    if missing := [v for v in RPC_METHODS if v not in daemon["rpc"]["methods"]]:
        raise err(("daemon", "rpc", "methods"), f"missing method(s) {', '.join(missing)}")
    if unknown := set(daemon["rpc"]["methods"]) - set(RPC_METHODS) - {"tick"}:
        raise err(("daemon", "rpc", "methods"), f"unknown verb(s) {', '.join(sorted(unknown))} "
                                                f"(known: {', '.join(RPC_METHODS + ('tick',))})")
    if d["login"]["user"] != "root" and d["login"]["become"] == "none":
        raise err(("login", "become"), "a non-root login needs become: sudo -n")
    if d["login"]["user"] == "root" and d["units"]["scope"] == "user":
        raise err(("login", "user"), "the apps are user units: the login is the user who owns them, "
                                     "not root (root's user units and podman are not the apps')")
    _check_network(apps, err)
    names = _names(d)
    for keys, template in _templates(d):
        try:
            names.fill(template, "app")
        except (KeyError, IndexError, ValueError) as e:
            raise err(keys, f"{template!r}: unknown field {e} (fields: {', '.join(_fields(names))})")
    unverified = tuple(d.get("unverified", ()))
    for u in unverified:
        if _lookup(d, u.split(".")) is None:
            raise err(("unverified",), f"{u}: no such field in this profile")
    h = daemon["health"]
    return Platform(
        name=d["name"], source=source, login=d["login"]["user"],
        become="" if d["login"]["become"] == "none" else d["login"]["become"], scope=d["units"]["scope"],
        restart=apps.get("restart", "systemd"),
        names=names, ports=tuple((a, tuple(p.items())) for a, p in apps.get("ports", {}).items()),
        images=tuple(apps.get("images", {}).items()),
        health=Health(ok=tuple(h["ok"].items()), progress=h.get("progress")),
        rpc=Rpc(methods=tuple(daemon["rpc"]["methods"].items()), install=tuple(daemon["rpc"]["install"].items()),
                purge=daemon["rpc"].get("purge")),
        subnet=apps.get("subnet"), gateway=apps.get("gateway"), unverified=unverified)


def _check_network(apps: dict, err) -> None:
    """apps.subnet is a network and apps.gateway a host inside it (both or neither)."""
    subnet, gateway = apps.get("subnet"), apps.get("gateway")
    if (subnet is None) != (gateway is None):
        raise err(("apps", "subnet" if subnet is None else "gateway"), "give apps.subnet and apps.gateway together")
    if subnet is None:
        return
    try:
        net = ipaddress.IPv4Network(subnet)
    except ValueError as e:
        raise err(("apps", "subnet"), f"{subnet}: {e}") from None
    try:
        gw = ipaddress.IPv4Address(gateway)
    except ValueError as e:
        raise err(("apps", "gateway"), f"{gateway}: {e}") from None
    if gw not in net or gw in (net.network_address, net.broadcast_address):
        raise err(("apps", "gateway"), f"{gateway} is not a host of {subnet}")


# profile field -> Names field (the Names defaults are the rootful reference node's: ROOTFUL)
_NAMES = {("apps", "prefix"): "prefix", ("apps", "container"): "container_template",
          ("apps", "unit"): "unit_template", ("apps", "label"): "app_label", ("apps", "network"): "network",
          ("units", "quadlet_dir"): "quadlet_dir",
          ("paths", "etc"): "etc_dir", ("paths", "code"): "code_dir", ("paths", "state"): "state_dir",
          ("paths", "secrets"): "secrets_dir", ("paths", "data"): "data_template",
          ("paths", "config"): "config_template", ("paths", "nginx_dir"): "nginx_dir",
          ("paths", "nginx"): "nginx_template", ("paths", "torrc_dir"): "torrc_dir",
          ("paths", "torrc"): "tor_snippet_template", ("paths", "tor_dir"): "tor_dir",
          ("paths", "hidden_service"): "hs_template", ("tor", "unit"): "tor_unit", ("daemon", "api"): "api",
          ("daemon", "health", "path"): "health_path", ("daemon", "rpc", "path"): "rpc_path",
          ("credentials", "bitcoin_rpc_user"): "bitcoin_rpc_user",
          ("credentials", "bitcoin_rpc_password_file"): "bitcoin_rpc_password_file",
          ("credentials", "lnd_macaroon_file"): "lnd_macaroon_file"}


def _lookup(d: dict, keys) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _names(d: dict) -> Names:
    given = {f: v for keys, f in _NAMES.items() if (v := _lookup(d, keys)) is not None}
    unit = d["daemon"]["unit"].removesuffix(".service")
    extra = {"daemon": unit, "containers": tuple(d["apps"].get("names", {}).items()),
             "configs": tuple((a, tuple(fs)) for a, fs in d["apps"].get("configs", {}).items())}
    if "slices" in d["daemon"]:
        extra["daemon_slices"] = tuple(d["daemon"]["slices"])
    return Names(**given, **extra)


def _templates(d: dict):
    """(key path, template) of every field that is filled per app."""
    for keys, f in _NAMES.items():
        if isinstance(v := _lookup(d, keys), str) and "{" in v:
            yield keys, v


def _fields(names: Names) -> list[str]:
    return [k for k, v in names.__dict__.items() if isinstance(v, str)] + ["app", "container"]
