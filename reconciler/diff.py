"""The pure diff: desired node x current snapshot x backoff x now -> the next batch of steps.

Level-triggered like balena's supervisor: only the next batch is returned; the next tick recomputes
from a fresh snapshot. No I/O here. An empty plan means converged.
Order inside a batch: heal podman, dirs, file writes/removals, one daemon-reload, nginx/tor reloads,
network, stale containers, stops (dependents first), restarts, starts (dependencies healthy first).
"""
from __future__ import annotations

from typing import Mapping

from . import backoff as bo
from .model import (AppPlan, CurrentState, DaemonReload, DesiredNode, DropHealthcheck, EnsureDir, HealPodman,
                    RecreateNetwork, ReloadService, RemoveContainer, RemoveNetwork, RemovePath, ResetFailed,
                    ResetIpam, RestartUnit, StartAux, StartUnit, Step, StopUnit, UnitState, Wait, WriteFile)
from .podman_heal import CORRUPT_HINTS, IPAM_DB
from .variants import REFERENCE, Variant

TOR_UNIT = "tor@default.service"
NGINX_UNIT = "nginx.service"
NETWORK_UNIT = "archy-network.service"


# bitcoind stops below 50 MiB free; starting apps on a fuller disk only churns it (each start
# writes logs and container layers) and fails again
DISK_PRESSURE_BYTES = 64 * 1024 * 1024


def disk_pressure(current: CurrentState, variant: Variant = REFERENCE) -> dict[str, int]:
    """Data paths under pressure -> MiB still available (none in the chaos-no-disk-pressure variant)."""
    if variant.off("disk-pressure"):
        return {}
    return {path: free >> 20 for path, free in sorted(current.disk_free.items())
            if free is not None and free < DISK_PRESSURE_BYTES}


def corrupt_db(error: str) -> bool:
    e = error.lower()
    return "timed out" not in e and any(h in e for h in CORRUPT_HINTS)


def app_status(plan: AppPlan, current: CurrentState) -> tuple[str, str]:
    """(active state, health) of an app: systemd for units, podman for imperative containers."""
    c = current.containers.get(plan.container)
    health = c.health if c else ""
    if plan.managed_by_unit:
        return current.units.get(plan.unit, UnitState(plan.unit)).active, health
    if c is None or c.external:
        return "inactive", ""
    return ("active" if c.state == "running" else "failed" if c.state == "exited" else "inactive"), health


def is_healthy(plan: AppPlan, current: CurrentState) -> bool:
    # Notify=healthy: a Quadlet unit only turns active after its first passing health check
    active, health = app_status(plan, current)
    return active == "active" and health not in ("unhealthy", "starting")


def plan(desired: DesiredNode, current: CurrentState, backoff: Mapping[str, bo.Entry], now: float,
         variant: Variant = REFERENCE) -> tuple[Step, ...]:
    heal: list[Step] = []
    waits: list[Step] = []
    dirs: list[Step] = []
    writes: list[Step] = []
    reloads: list[Step] = []
    containers: list[Step] = []
    stops: list[Step] = []
    restarts: list[Step] = []
    starts: list[Step] = []

    pressure = disk_pressure(current, variant)
    if current.system_stopping:
        # a tick racing the shutdown would start units systemd is stopping (refused, logged as
        # errors) or restart an app mid-flush; after the boot the next tick converges again
        return ()
    if current.podman_error:
        # only a corrupt state DB is healed: `podman system migrate` stops running containers, so a
        # podman that is merely slow (timeout) must never trigger it
        if corrupt_db(current.podman_error) and not variant.off("podman-selfheal"):
            heal.append(HealPodman(reason=current.podman_error[:200]))
        else:
            waits.append(Wait(reason=f"podman unavailable: {current.podman_error[:120]}"))

    for path, (mode, app) in sorted(desired.dirs.items()):
        if path not in current.dirs:
            dirs.append(EnsureDir(app=app, path=path, mode=mode))

    need_reload = False
    unit_drift: set[str] = set()
    config_drift: set[str] = set()
    nginx_changed = tor_changed = False
    for path, spec in sorted(desired.files.items()):
        have = current.files.get(path)
        if have == spec.content:
            continue
        if _written_at_install_only(spec, desired, current, variant):
            continue
        writes.append(WriteFile(app=spec.app, spec=spec, drift=have is not None))
        if spec.kind in ("unit", "network"):
            need_reload = True
            if have is not None and spec.app:
                unit_drift.add(spec.app)
        elif spec.kind == "config":
            config_drift.add(spec.app)
        elif spec.kind == "nginx":
            nginx_changed = True
        elif spec.kind == "tor":
            tor_changed = True

    # nothing installed any more: the shared network goes too, once every app unit is down
    if desired.shared_stale and not any(current.units.get(u, UnitState(u)).running
                                        for u in desired.catalog_units.values()):
        net = current.aux_units.get(NETWORK_UNIT, UnitState(NETWORK_UNIT))
        if net.running:
            containers.append(StopUnit(unit=NETWORK_UNIT))
        elif net.active == "failed":
            containers.append(ResetFailed(unit=NETWORK_UNIT))
        if current.network_present and current.podman_error is None:
            containers.append(RemoveNetwork())
        for path in desired.shared_stale:
            if current.files.get(path) is not None:
                writes.append(RemovePath(path=path))
                need_reload = True

    # ---- uninstalled apps: stop (dependents first), then remove what they left ----
    for app, paths in sorted(desired.removals.items()):
        unit = desired.catalog_units[app]
        us = current.units.get(unit, UnitState(unit))
        if us.running:
            if us.active == "deactivating":
                waits.append(Wait(app=app, reason="stopping"))
            elif any(current.units.get(desired.catalog_units[o], UnitState("")).running
                     for o in desired.removal_after.get(app, ())):
                waits.append(Wait(app=app, reason="dependents still stopping"))
            else:
                stops.append(StopUnit(app=app, unit=unit))
            continue
        for p in paths:
            present = current.files.get(p) is not None or p in current.dirs
            if not present:
                continue
            if p.endswith(".container"):
                if variant.off("uninstall-removes-unit"):
                    continue
                need_reload = True
            if "/nginx/" in p:
                nginx_changed = True
            if "/torrc.d/" in p:
                tor_changed = True
            writes.append(RemovePath(app=app, path=p))
        if us.active == "failed" or (us.load == "not-found" and us.result not in ("success", "")):
            containers.append(ResetFailed(app=app, unit=unit))
        c = current.containers.get(unit.removesuffix(".service"))
        if c is not None:
            containers.append(RemoveContainer(app=app, name=c.name, storage=c.external))

    # ---- installed apps ----
    for app, p in sorted(desired.apps.items()):
        us = current.units.get(p.unit, UnitState(p.unit))
        if p.managed_by_unit and (us.need_reload or (us.load == "not-found"
                                                     and current.files.get(p.unit_file) is not None)):
            need_reload = True

    if need_reload:
        reloads.append(DaemonReload())
    if nginx_changed:
        reloads.append(ReloadService(unit=NGINX_UNIT))
    tor = current.aux_units.get(TOR_UNIT, UnitState(TOR_UNIT))
    if desired.tor_wanted and not tor.running and not variant.off("tor-supervised"):
        reloads.append(StartAux(unit=TOR_UNIT))
    elif tor_changed and tor.running:
        reloads.append(ReloadService(unit=TOR_UNIT))

    network_restart = False
    network_file = next((f.path for f in desired.files.values() if f.kind == "network"), None)
    if (desired.apps and not current.network_present and current.podman_error is None
            and network_file and current.files.get(network_file) is not None
            and not variant.off("network-recreate")):
        reloads.append(RecreateNetwork())
        network_restart = True

    cleared: set[str] = set()
    for app, p in sorted(desired.apps.items()):
        c = current.containers.get(p.container)
        # storage-only leftover (the DB lost it): "name already in use" until removed. Only while the
        # unit is down: a container being created shows up in storage before podman's DB has it.
        if (c is not None and c.external and not variant.off("podman-selfheal")
                and not current.units.get(p.unit, UnitState(p.unit)).running):
            containers.append(RemoveContainer(app=app, name=c.name, storage=True))
            cleared.add(app)
    if current.podman_error is None and not variant.off("podman-selfheal"):
        containers.extend(DropHealthcheck(container_id=i) for i in sorted(current.orphan_healthchecks))
        # After a lost state DB netavark's IPAM DB (in /run, so it outlives podman's) still holds the
        # lost containers' fixed IPs: "requested ip address ... is already allocated". Only running
        # containers hold allocations, so while podman runs none a fresh IPAM DB loses nothing.
        failed = any(p.run and current.units.get(p.unit, UnitState(p.unit)).active == "failed"
                     for p in desired.apps.values())
        if (cleared or failed) and current.podman_running == 0:
            containers.append(ResetIpam(path=IPAM_DB))

    dependents: dict[str, list[str]] = {a: [] for a in desired.apps}
    for app, p in desired.apps.items():
        for d in p.deps:
            dependents.setdefault(d, []).append(app)

    for app, p in sorted(desired.apps.items()):
        active, _ = app_status(p, current)
        running = active in ("active", "activating", "reloading", "deactivating", "refreshing")
        if not p.run:
            if not running:
                continue
            if active == "deactivating":
                waits.append(Wait(app=app, reason="stopping"))
            elif any(not desired.apps[d].run and app_status(desired.apps[d], current)[0] != "inactive"
                     and app_status(desired.apps[d], current)[0] != "failed" for d in dependents.get(app, ())):
                waits.append(Wait(app=app, reason="dependents still stopping"))
            else:
                stops.append(StopUnit(app=app, unit=p.unit, imperative=not p.managed_by_unit))
            continue
        if running:
            reason = ("unit changed" if app in unit_drift else "config changed" if app in config_drift
                      else "network recreated" if network_restart and active == "active" else "")
            if reason and p.managed_by_unit and active != "deactivating":
                if p.image not in current.images:
                    waits.append(Wait(app=app, reason=f"image {p.image} missing; not restarting onto it"))
                else:
                    restarts.append(RestartUnit(app=app, unit=p.unit, reason=reason))
            elif active != "active":
                waits.append(Wait(app=app, reason=active))
            continue
        if not p.managed_by_unit and variant.off("companion-units"):
            continue  # fm1: companions were created once at install, nobody looks again
        if p.missing:
            waits.append(Wait(app=app, reason=f"requires {', '.join(p.missing)}"))
            continue
        unready = [d for d in p.deps if d not in desired.apps or not is_healthy(desired.apps[d], current)]
        if unready:
            waits.append(Wait(app=app, reason=f"waiting for {', '.join(unready)} to be healthy"))
            continue
        if p.image not in current.images:
            waits.append(Wait(app=app, reason=f"image {p.image} missing"))
            continue
        if pressure:
            waits.append(Wait(app=app, reason="disk pressure (" + ", ".join(
                f"{path} {mib} MiB free" for path, mib in pressure.items()) + "): not starting"))
            continue
        failed = active == "failed"
        if failed and variant.off("retry-failed"):
            waits.append(Wait(app=app, reason="failed; not retried"))
            continue
        if failed and app not in cleared and bo.in_backoff(backoff.get(app), p.spec_hash, now):
            left = bo.remaining(backoff.get(app), p.spec_hash, now)
            waits.append(Wait(app=app, reason=f"crash-loop backoff, {left:.0f} s left"))
            continue
        starts.append(StartUnit(app=app, unit=p.unit, after_failure=failed and app not in cleared,
                                spec_hash=p.spec_hash, imperative=not p.managed_by_unit))

    return tuple(heal + dirs + writes + reloads + containers + stops + restarts + starts + waits)


def _written_at_install_only(spec, desired: DesiredNode, current: CurrentState, variant: Variant) -> bool:
    """Broken variants: some files are written on the install tick and never re-rendered."""
    if spec.app is None or spec.app not in desired.apps:
        return False
    repair = {"nginx": "nginx-rerender"}.get(spec.kind)
    if spec.kind == "config" and spec.path.endswith("/bitcoin.conf"):
        repair = "bitcoin-conf-rederive"
    if repair is None or not variant.off(repair):
        return False
    plan_ = desired.apps[spec.app]
    return current.units.get(plan_.unit, UnitState(plan_.unit)).load == "loaded"
