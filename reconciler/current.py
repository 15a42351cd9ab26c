"""Snapshot of what is on the node: files, systemd units, podman containers, images, network.

systemd is the source of truth for "running" (Quadlet containers are --rm); podman adds health and
storage-only leftovers. Only our names are looked at, so foreign units and containers are never touched.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping

from .model import ContainerState, CurrentState, DesiredNode, UnitState, frozen_map
from .store import read_bytes

SHOW_PROPS = "Id,LoadState,ActiveState,SubState,Result,NRestarts,NeedDaemonReload"
AUX_UNITS = ("tor@default.service", "nginx.service", "archy-network.service")
DISK_PATHS = ("/var/lib/archipelago", "/var/lib/containers")   # app data, podman storage
HEALTHCHECK_UNIT = re.compile(r"^([0-9a-f]{64})-[0-9a-f]+\.service$")   # podman's transient healthcheck


class SnapshotError(RuntimeError):
    pass


def parse_show(text: str) -> dict[str, UnitState]:
    out: dict[str, UnitState] = {}
    for block in text.strip().split("\n\n"):
        kv = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        unit = kv.get("Id")
        if not unit:
            continue
        try:
            restarts = int(kv.get("NRestarts") or 0)
        except ValueError:
            restarts = 0
        out[unit] = UnitState(unit=unit, load=kv.get("LoadState", "not-found"),
                              active=kv.get("ActiveState", "inactive"), sub=kv.get("SubState", "dead"),
                              result=kv.get("Result", "success"), restarts=restarts,
                              need_reload=kv.get("NeedDaemonReload") == "yes")
    return out


def health_of(status: str) -> str:
    s = (status or "").lower()
    for h in ("unhealthy", "healthy", "starting"):
        if h in s:
            return h
    return ""


def parse_ps(text: str, names: set[str]) -> dict[str, ContainerState]:
    out: dict[str, ContainerState] = {}
    for c in json.loads(text or "[]") or []:
        cname = (c.get("Names") or [""])[0]
        labels = c.get("Labels") or {}
        app = labels.get("io.archipelago.app")
        if cname not in names and app is None:
            continue  # not ours
        state = str(c.get("State") or "").lower()
        external = state == "storage" or bool(c.get("IsExternal")) or "storage" == str(c.get("Status", "")).lower()
        out[cname] = ContainerState(name=cname, state="storage" if external else state,
                                    health=health_of(str(c.get("Status", ""))), app=app, external=external)
    return out


def orphan_healthchecks(failed_units: str, rows: list[dict]) -> frozenset[str]:
    """Container IDs of failed healthcheck units (`<id>-<hash>.service`) podman does not know."""
    known = {str(c.get("Id") or "") for c in rows}
    ids = {m.group(1) for line in failed_units.splitlines() if line.split()
           for m in [HEALTHCHECK_UNIT.match(line.split()[0].lstrip("●* "))] if m}
    return frozenset(i for i in ids if not any(k and i.startswith(k) for k in known))


def known_running(rows: list[dict]) -> int:
    """Running containers podman's DB knows, ours or not: each holds an IPAM allocation."""
    return sum(1 for c in rows if str(c.get("State") or "").lower() == "running" and not c.get("IsExternal"))


def snapshot(runner, desired: DesiredNode, timeout: float = 30.0,
             disk: Mapping[str, str] | None = None) -> CurrentState:
    """disk: node path -> local path whose free space to read (a statvfs each, no process)."""
    paths = set(desired.files) | set(desired.shared_stale)
    dirs_of_interest = set(desired.dirs)
    for removal in desired.removals.values():
        for p in removal:
            paths.add(p)
            dirs_of_interest.add(p)
    files = {p: read_bytes(p) for p in sorted(paths)}
    dirs = frozenset(d for d in dirs_of_interest if os.path.isdir(d))

    units = sorted(set(desired.catalog_units.values()))
    res = runner.run(["systemctl", "show", "--property", SHOW_PROPS, "--", *units, *AUX_UNITS],
                     timeout=timeout)
    if not res.ok:
        raise SnapshotError(f"systemctl show failed: {res.brief()}")
    shown = parse_show(res.stdout)
    unit_states = {u: shown.get(u, UnitState(u)) for u in units}
    aux = {u: shown.get(u, UnitState(u)) for u in AUX_UNITS}

    names = {u.removesuffix(".service") for u in units}
    podman_error = None
    containers: dict[str, ContainerState] = {}
    running = 0
    orphans: frozenset[str] = frozenset()
    ps = runner.run(["podman", "ps", "-a", "--external", "--format", "json"], timeout=timeout)
    if ps.ok:
        try:
            containers = parse_ps(ps.stdout, names)
            rows = json.loads(ps.stdout or "[]") or []
            running = known_running(rows)
        except (ValueError, TypeError, AttributeError):
            podman_error = "podman ps printed invalid JSON"
        else:
            failed = runner.run(["systemctl", "list-units", "--state=failed", "--plain", "--no-legend",
                                 "--type=service"], timeout=timeout)
            orphans = orphan_healthchecks(failed.stdout, rows) if failed.ok else frozenset()
    else:
        podman_error = ps.brief()

    images = set()
    for image in sorted({a.image for a in desired.apps.values()}):
        if runner.run(["podman", "image", "exists", image], timeout=timeout).ok:
            images.add(image)
    stopping = runner.run(["systemctl", "is-system-running"], timeout=timeout).stdout.strip() == "stopping"
    network_present = True
    if podman_error is None:
        # exit 1 is podman's "no such network"; a timeout (124) or podman's own error (125) on a
        # loaded node says nothing, and taking it for "missing" restarts every app onto a new network
        network_present = runner.run(["podman", "network", "exists", "archy"], timeout=timeout).rc != 1
    return CurrentState(files=frozen_map(files), dirs=dirs, units=frozen_map(unit_states),
                        containers=frozen_map(containers), images=frozenset(images),
                        podman_error=podman_error, network_present=network_present,
                        aux_units=frozen_map(aux), system_stopping=stopping, podman_running=running,
                        orphan_healthchecks=orphans,
                        disk_free=frozen_map({p: runner.free_bytes(local) for p, local in (disk or {}).items()}))
