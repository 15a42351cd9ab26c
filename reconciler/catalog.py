"""The app catalog: /etc/archipelago/catalog.json, the JSON rendering of matrix/apps.yaml."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any, Iterable, Mapping

from .model import ID_RE, AppSpec, Catalog, Port, Tor, frozen_map
from .scope import SYSTEM, Node


MEMORY_RE = re.compile(r"^[1-9][0-9]*[bkmg]$")   # what podman --memory takes
CAP_RE = re.compile(r"^[A-Z][A-Z_]*$")             # a capability as podman --cap-add takes it, no CAP_
OWNER_RE = re.compile(r"^[0-9]+:[0-9]+$")


class CatalogError(ValueError):
    pass


def load(path: str, node: Node = SYSTEM) -> Catalog:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise CatalogError(f"{path}: cannot read: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise CatalogError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
    return parse(data, source=path, node=node)


def parse(data: Any, source: str = "catalog", node: Node = SYSTEM) -> Catalog:
    """node: names the apps' containers and units (its template and per-app overrides)."""
    if not isinstance(data, dict) or not isinstance(data.get("apps"), dict):
        raise CatalogError(f"{source}: expected a mapping with 'apps'")
    image = data.get("image")
    if not isinstance(image, str) or not image:
        raise CatalogError(f"{source}: 'image' must be a non-empty string")
    grace = data.get("stop_grace") or {}
    defaults = data.get("defaults") or {}
    iframe = defaults.get("iframe") or {}
    apps: dict[str, AppSpec] = {}
    for section in ("apps", "companions"):
        for app_id, raw in (data.get(section) or {}).items():
            apps[app_id] = _app(app_id, raw, image, grace, source, section == "companions")
    named: dict[str, str] = {}
    for app_id in apps:
        name = node.container_name(app_id)
        if name in named:
            raise CatalogError(f"{source}: {app_id} and {named[name]} would both be container {name!r}")
        named[name] = app_id
        apps[app_id] = replace(apps[app_id], name=name)
    for spec in apps.values():
        for c in spec.companions:
            if c not in apps:
                raise CatalogError(f"{source}: {spec.id}: unknown companion {c!r}")
    return Catalog(
        apps=frozen_map(apps),
        image=image,
        proxy_path=str(defaults.get("proxy_path", "/apps/{id}/")),
        frame_ancestors=str(iframe.get("frame_ancestors", "'self'")),
        x_frame_options=str(iframe.get("x_frame_options", "SAMEORIGIN")),
    )


def _app(app_id: str, raw: Any, image: str, grace: Mapping, source: str, companion: bool) -> AppSpec:
    where = f"{source}: {app_id}"
    if not isinstance(app_id, str) or not ID_RE.match(app_id):
        raise CatalogError(f"{where}: invalid app id")
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: expected a mapping")
    grace_class = raw.get("grace", "default")
    seconds = grace.get(grace_class, grace.get("default", 30))
    if not isinstance(seconds, int) or seconds <= 0:
        raise CatalogError(f"{where}: stop grace {grace_class!r} must be a positive integer")
    ports = []
    for name, p in (raw.get("ports") or {}).items():
        if not isinstance(p, dict) or not isinstance(p.get("port"), int) or not 0 < p["port"] < 65536:
            raise CatalogError(f"{where}: port {name!r} needs an integer 'port'")
        ports.append(Port(name, p["port"], bool(p.get("ui", False))))
    tor = raw.get("tor")
    memory = raw.get("memory")
    if memory is not None and not (isinstance(memory, str) and MEMORY_RE.match(memory)):
        raise CatalogError(f"{where}: 'memory' must be a size such as 256m, got {memory!r}")
    caps = _names(raw.get("caps"))
    bad = [c for c in caps if not CAP_RE.match(c) or c.startswith("CAP_")]
    if bad:
        raise CatalogError(f"{where}: 'caps' must be capability names such as DAC_OVERRIDE, got {bad!r}")
    owner = raw.get("data_owner")
    if owner is not None and not (isinstance(owner, str) and OWNER_RE.match(owner)):
        raise CatalogError(f"{where}: 'data_owner' must be uid:gid such as 1:1, got {owner!r}")
    profile = raw.get("profile")
    if not isinstance(profile, str) or not ID_RE.match(profile):
        raise CatalogError(f"{where}: 'profile' must be a simple name")
    return AppSpec(
        id=app_id,
        title=str(raw.get("title", app_id)),
        profile=profile,
        image=str(raw.get("image", image)),
        grace=seconds,
        ports=tuple(ports),
        provides=raw.get("provides"),
        conflicts=_names(raw.get("conflicts")),
        depends=_names(raw.get("depends")),
        companions=_names(raw.get("companions")),
        companion_of=raw.get("companion_of") if companion else None,
        ui=raw.get("ui"),
        tor=Tor(int(tor["onion_port"]), str(tor["target"])) if isinstance(tor, dict) else None,
        data_dirs=_names(raw.get("data_dirs")),
        status_url=raw.get("status_url"),
        integrations=_names(raw.get("integrations")),
        memory=memory,
        caps=caps,
        data_owner=owner,
    )


def _names(v: Any) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise CatalogError(f"expected a list of names, got {v!r}")
    return tuple(v)


# ---- capability resolution (pure) ----

def providers(catalog: Catalog, cap: str, installed: Iterable[str]) -> tuple[str, ...]:
    """Installed apps that satisfy a capability (or are the app of that id)."""
    return tuple(a for a in installed
                 if a in catalog.apps and (a == cap or catalog.apps[a].provides == cap))


def parent_of(catalog: Catalog, companion: str, installed: Iterable[str]) -> tuple[str, ...]:
    """Installed top-level apps that list this companion."""
    return tuple(a for a in installed if companion in catalog.apps[a].companions)


def dependents(catalog: Catalog, app_id: str, installed: Iterable[str]) -> tuple[str, ...]:
    """Installed apps that need app_id (directly) through one of their depends."""
    installed = tuple(installed)
    out = []
    for other in installed:
        if other == app_id or other not in catalog.apps:
            continue
        for cap in catalog.apps[other].depends:
            provs = providers(catalog, cap, installed)
            if app_id in provs and len(provs) == 1:
                out.append(other)
                break
    return tuple(out)
