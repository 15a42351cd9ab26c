"""Desired node (pure): everything the tick wants on disk and in systemd, from the catalog, the
user's desired state and the canonical secrets."""
from __future__ import annotations

from dataclasses import replace

from . import boot, render
from .catalog import providers
from .model import (STARTED, AppPlan, AppSpec, Catalog, DesiredNode, DesiredState, FileSpec, Secrets,
                    frozen_map, spec_hash)
from .store import Paths
from .variants import REFERENCE, Variant

CONFIG_MODE = 0o600   # derived configs hold credentials
DIR_MODE = 0o750


def installed_members(catalog: Catalog, desired: DesiredState) -> dict[str, tuple[str, str | None]]:
    """app id -> (desired state, parent app for companions). Unknown ids are ignored."""
    out: dict[str, tuple[str, str | None]] = {}
    for app, state in sorted(desired.apps.items()):
        spec = catalog.apps.get(app)
        if spec is None or spec.is_companion:
            continue
        out[app] = (state, None)
    for app, (state, _) in list(out.items()):
        for comp in catalog.apps[app].companions:
            prev = out.get(comp)
            # a companion shared by two parents runs when either parent runs
            if prev is None or (prev[0] != STARTED and state == STARTED):
                out[comp] = (state, app)
    return out


def _as_variant(spec: AppSpec, variant: Variant) -> AppSpec:
    """The catalog entry as a broken variant renders it: no memory limit, no capability added back."""
    if variant.off("memory-limit"):
        spec = replace(spec, memory=None)
    if variant.off("added-caps"):
        spec = replace(spec, caps=())
    return spec


def build(catalog: Catalog, desired: DesiredState, secrets: Secrets, paths: Paths,
          variant: Variant = REFERENCE) -> DesiredNode:
    members = installed_members(catalog, desired)
    top = [a for a, (_, parent) in members.items() if parent is None]
    files: dict[str, FileSpec] = {}
    dirs: dict[str, tuple[int, str, str | None]] = {}   # path -> (mode, app, owner)
    apps: dict[str, AppPlan] = {}
    no_units = variant.off("own-cgroup")
    stop_timeout = (lambda s: 10) if variant.off("stop-grace") else (lambda s: s.grace)
    node = paths.node
    hosts = render.addresses((s.container for s in catalog.apps.values()), node)
    boot_after = boot.after(catalog) if not variant.off("boot-order") else {a: () for a in catalog.apps}
    host_alias = not variant.off("host-alias")
    restart = "no" if variant.off("retry-failed") else "on-failure"   # a crashed app stays down

    def add(path: str, text: str, mode: int, app: str | None, kind: str) -> None:
        files[path] = FileSpec(path, text.encode(), mode, app, kind)

    for app, (state, parent) in members.items():
        spec = _as_variant(catalog.apps[app], variant)
        config_files: list[bytes] = []
        data_dir = config_dir = None
        if parent is None:
            data_dir, config_dir = paths.data_dir(app), paths.config_dir(app)
            dirs[data_dir] = (DIR_MODE, app, spec.data_owner)
            dirs[config_dir] = (DIR_MODE, app, None)
            for name, text in _config_files(catalog, app, top, secrets).items():
                add(f"{config_dir}/{name}", text, CONFIG_MODE, app, "config")
                config_files.append(text.encode())
        if parent is None:
            deps, missing = _deps(catalog, app, top)
        else:
            deps, missing = (parent,), ()
        unit_text = render.quadlet_container(
            spec, enabled=state == STARTED, stop_timeout=stop_timeout(spec),
            data_dir=paths.host(data_dir) if data_dir else None,
            config_dir=paths.host(config_dir) if config_dir else None, hosts=hosts, host_alias=host_alias,
            restart=restart, node=node, boot_after=boot_after[app])
        imperative = no_units or (parent is not None and variant.off("companion-units"))
        if not imperative:
            add(paths.unit_file(spec.stem), unit_text, 0o644, app, "unit")
        # WantedBy, Restart and After do not change what runs (diff.RELOAD_ONLY_KEYS): out of the restart/backoff hash
        run_text = render.quadlet_container(spec, enabled=True, stop_timeout=stop_timeout(spec), data_dir=data_dir,
                                            config_dir=config_dir, hosts=hosts, host_alias=host_alias,
                                            restart="on-failure", node=node)
        apps[app] = AppPlan(app=app, unit=spec.unit, container=spec.container, run=state == STARTED,
                            deps=deps, missing=missing,
                            spec_hash=spec_hash(run_text.encode(), *config_files),
                            image=spec.image, unit_file=paths.unit_file(spec.stem),
                            managed_by_unit=not imperative)
        if parent is None:
            _proxy_files(catalog, app, paths, add)

    if members:
        add(paths.network_file, render.network_unit(node), 0o644, None, "network")

    removals = _removals(catalog, members, paths)
    # reverse dependency order among apps being removed: companions and dependents stop first
    removal_after = {}
    for app in removals:
        spec = catalog.apps[app]
        caps = {app, spec.provides} - {None}
        removal_after[app] = tuple(o for o in removals if o != app and (
            o in spec.companions or caps & set(catalog.apps[o].depends)))
    return DesiredNode(
        files=frozen_map(files), dirs=frozen_map(dirs), apps=frozen_map(apps),
        removals=frozen_map(removals), removal_after=frozen_map(removal_after),
        shared_stale=() if members else (paths.network_file,),
        catalog_units=frozen_map({a: s.unit for a, s in catalog.apps.items()}),
        tor_wanted=any(f.kind == "tor" for f in files.values()),
        network=node.network, ipam_db=paths.host(paths.ipam_db), nginx_dir=paths.nginx_dir,
        torrc_dir=paths.tor_dir, user_scope=node.user_scope,
    )


def _removals(catalog: Catalog, members, paths: Paths) -> dict[str, tuple[str, ...]]:
    """What an app that is not installed may have left. Rootless, the daemon cannot even stat the
    hidden-service dirs (debian-tor, 02700): priv.py's tor-reload prunes them instead."""
    removals: dict[str, tuple[str, ...]] = {}
    for app, spec in catalog.apps.items():
        if app in members:
            continue
        hs = () if paths.node.user_scope else (paths.hs_dir(spec.stem),)
        removals[app] = (paths.unit_file(spec.stem), paths.config_dir(app), paths.nginx_file(app),
                         paths.tor_file(spec.stem), *hs)
    return removals


def _deps(catalog: Catalog, app: str, top: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    deps: list[str] = []
    missing: list[str] = []
    for cap in catalog.apps[app].depends:
        provs = providers(catalog, cap, top)
        if provs:
            deps.extend(p for p in provs if p not in deps)
        else:
            missing.append(cap)
    return tuple(deps), tuple(missing)


def _provider(catalog: Catalog, cap: str, top: list[str]):
    provs = providers(catalog, cap, top)
    return catalog.apps[provs[0]] if provs else None


def _config_files(catalog: Catalog, app: str, top: list[str], secrets: Secrets) -> dict[str, str]:
    spec = catalog.apps[app]
    rpc = secrets.bitcoin_rpc
    out: dict[str, str] = {}
    bitcoin = _provider(catalog, "bitcoin", top)
    if spec.profile == "bitcoind":
        out["bitcoin.conf"] = render.bitcoin_conf(spec, rpc)
    if spec.profile == "lnd":
        out["admin.macaroon.hex"] = secrets.lnd_macaroon + "\n"
        if bitcoin:
            out["lnd.conf"] = render.lnd_conf(bitcoin, rpc)
    if spec.profile == "electrumx" and bitcoin:
        out["electrumx.env"] = render.electrumx_env(bitcoin, rpc)
    if spec.integrations:
        links = {}
        for cap in spec.integrations:
            prov = _provider(catalog, cap, top)
            if prov is None:
                continue
            if prov.profile == "bitcoind":
                links[cap] = render.bitcoin_link(prov, rpc)
            elif prov.profile == "lnd":
                links[cap] = render.lnd_link(prov, secrets.lnd_macaroon)
            elif prov.profile == "electrumx":
                links[cap] = render.electrum_link(prov)
        out["integrations.json"] = render.integrations_json(links)
    return out


def _proxy_files(catalog: Catalog, app: str, paths: Paths, add) -> None:
    spec = catalog.apps[app]
    ui = catalog.apps.get(spec.ui or app)
    if ui is not None and ui.ui_port:
        route = catalog.proxy_path.format(id=app)
        add(paths.nginx_file(app), render.nginx_snippet(app, route, ui.ui_port, catalog.frame_ancestors,
                                                        catalog.x_frame_options), 0o644, app, "nginx")
    if spec.tor is not None:
        target = catalog.apps.get(spec.tor.target)
        if target is not None and target.ui_port:
            add(paths.tor_file(spec.stem),
                render.torrc(paths.host(paths.hs_dir(spec.stem)), spec.tor.onion_port, target.ui_port),
                0o644, app, "tor")
