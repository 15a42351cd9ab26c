"""Snapshot of what is on the node: files, systemd units, podman containers, images, network.

systemd is the source of truth for "running" (Quadlet containers are --rm); podman adds health and
storage-only leftovers. Only our names are looked at, so foreign units and containers are never touched.
"""
from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping

from .model import ContainerState, CurrentState, DesiredNode, UnitState, frozen_map
from .scope import Node
from .store import Paths, read_bytes

SHOW_PROPS = "Id,LoadState,ActiveState,SubState,Result,NRestarts,NeedDaemonReload,StateChangeTimestampMonotonic"
TOR_UNIT, NGINX_UNIT = "tor@default.service", "nginx.service"
AUX_UNITS = (TOR_UNIT, NGINX_UNIT, "archy-network.service")   # without a node block
DISK_PATHS = ("/var/lib/archipelago", "/var/lib/containers")   # app data, podman storage (rootful)
NETNS_DIR = "containers/networks/rootless-netns"   # under $XDG_RUNTIME_DIR
NETNS_PID = "rootless-netns-conn.pid"               # pasta's pid (podman 5)
HEALTHCHECK_UNIT = re.compile(r"^([0-9a-f]{64})-[0-9a-f]+\.service$")   # podman's transient healthcheck


class SnapshotError(RuntimeError):
    pass


def parse_show(text: str, clock_offset: float = 0.0) -> dict[str, UnitState]:
    """clock_offset: wall-clock minus monotonic seconds, to date each unit's last state change."""
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
        try:
            mono = int(kv.get("StateChangeTimestampMonotonic") or 0) / 1e6
        except ValueError:
            mono = 0.0
        out[unit] = UnitState(unit=unit, load=kv.get("LoadState", "not-found"),
                              active=kv.get("ActiveState", "inactive"), sub=kv.get("SubState", "dead"),
                              result=kv.get("Result", "success"), restarts=restarts,
                              need_reload=kv.get("NeedDaemonReload") == "yes",
                              changed=mono + clock_offset if mono > 0 else 0.0)
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
             disk: Mapping[str, str] | None = None, paths: Paths | None = None) -> CurrentState:
    """disk: node path -> local path whose free space to read (a statvfs each, no process).
    paths: the node's (scope and runtime dir); None: a rootful node at /."""
    paths = paths or Paths()
    files, dirs = _files(desired)
    units = sorted(set(desired.catalog_units.values()))
    names = {u.removesuffix(".service") for u in units}
    # containers before units: a container seen with its unit down was there before the unit
    # started (a leftover to remove); read the other way round, a unit starting between the two
    # reads looked down with its new container already in storage, and the tick removed it mid-start
    podman_error, containers, running, orphans = _podman(runner, paths.node, names, timeout)
    unit_states, aux = _units(runner, paths.node, units, desired.network_unit, timeout)
    images = {image for image in sorted({a.image for a in desired.apps.values()})
              if runner.run(["podman", "image", "exists", image], timeout=timeout).ok}
    stopping = runner.run(["systemctl", "is-system-running"], timeout=timeout).stdout.strip() == "stopping"
    network_present = True
    if podman_error is None:
        # exit 1 is podman's "no such network"; a timeout (124) or podman's own error (125) on a
        # loaded node says nothing, and taking it for "missing" restarts every app onto a new network
        network_present = runner.run(["podman", "network", "exists", desired.network], timeout=timeout).rc != 1
    netns = (podman_error is not None or not paths.node.user_scope
             or netns_ok(runner, paths, containers, unit_states, timeout))
    return CurrentState(files=frozen_map(files), dirs=dirs, units=frozen_map(unit_states),
                        containers=frozen_map(containers), images=frozenset(images),
                        podman_error=podman_error, network_present=network_present,
                        aux_units=frozen_map(aux), system_stopping=stopping, podman_running=running,
                        orphan_healthchecks=orphans, netns_ok=netns,
                        disk_free=frozen_map({p: runner.free_bytes(local) for p, local in (disk or {}).items()}))


def _files(desired: DesiredNode) -> tuple[dict[str, bytes | None], frozenset[str]]:
    paths = set(desired.files) | set(desired.shared_stale)
    dirs_of_interest = set(desired.dirs)
    for removal in desired.removals.values():
        for p in removal:
            paths.add(p)
            dirs_of_interest.add(p)
    files = {p: read_bytes(p) for p in sorted(paths)}
    return files, frozenset(d for d in dirs_of_interest if os.path.isdir(d))


def _show(runner, argv: list[str], units, timeout: float) -> dict[str, UnitState]:
    res = runner.run([*argv, "--property", SHOW_PROPS, "--", *units], timeout=timeout)
    if not res.ok:
        raise SnapshotError(f"systemctl show failed: {res.brief()}")
    return parse_show(res.stdout, time.time() - time.monotonic())


def _units(runner, node: Node, units: list[str], network_unit: str, timeout: float):
    """(app units, aux units): tor and nginx are system units; rootless, the apps' units and the
    network's are the user manager's (a system `show` of tor and nginx needs no privilege)."""
    aux_units = (TOR_UNIT, NGINX_UNIT, network_unit)
    if node.user_scope:
        shown = _show(runner, node.systemctl("show"), [*units, network_unit], timeout)
        shown.update(_show(runner, ["systemctl", "show"], [TOR_UNIT, NGINX_UNIT], timeout))
    else:
        shown = _show(runner, ["systemctl", "show"], [*units, *aux_units], timeout)
    return ({u: shown.get(u, UnitState(u)) for u in units}, {u: shown.get(u, UnitState(u)) for u in aux_units})


def _podman(runner, node: Node, names: set[str], timeout: float):
    """(error, our containers, running containers podman knows, orphaned healthcheck ids)."""
    ps = runner.run(["podman", "ps", "-a", "--external", "--format", "json"], timeout=timeout)
    if not ps.ok:
        return ps.brief(), {}, 0, frozenset()
    try:
        containers = parse_ps(ps.stdout, names)
        rows = json.loads(ps.stdout or "[]") or []
        running = known_running(rows)
    except (ValueError, TypeError, AttributeError):
        return "podman ps printed invalid JSON", {}, 0, frozenset()
    failed = runner.run(node.systemctl("list-units", "--state=failed", "--plain", "--no-legend", "--type=service"),
                        timeout=timeout)
    return None, containers, running, orphan_healthchecks(failed.stdout, rows) if failed.ok else frozenset()


def netns_ok(runner, paths: Paths, containers: Mapping[str, ContainerState],
             units: Mapping[str, UnitState], timeout: float) -> bool:
    """Rootless, while an app runs: podman's own test of its network namespace (common's
    rootlessnetns): the pasta process in rootless-netns-conn.pid is alive and the namespace is still
    mounted (in podman's mount namespace: `podman unshare findmnt`). Only a clear "no" counts:
    a missing pid file, a timeout or podman's own error say nothing.

    An app counts only once its unit is active. A container whose unit is still starting may be
    the only user of the namespace and exit at once (a release that crash-loops): podman then
    tears the namespace down, which is no revocation. Taken for one, it stopped and restarted the
    looping app, and the reconciler's own start reset systemd's start limit, so the loop never
    ended in start-limit-hit and an install waited its whole deadline."""
    if not any(c.state == "running" and not c.external
               and units.get(f"{name}.service", UnitState(name)).active == "active"
               for name, c in containers.items()):
        return True
    d = os.path.join(paths.runtime_dir, NETNS_DIR)
    raw = read_bytes(os.path.join(d, NETNS_PID))
    if raw is not None:
        try:
            pid = int(raw.strip())
        except ValueError:
            pid = 0
        if pid <= 0 or not runner.pid_alive(pid):
            return False
    found = runner.run(["podman", "unshare", "findmnt", "-n", "-o", "FSTYPE", os.path.join(d, "rootless-netns")],
                       timeout=timeout)
    if found.rc == 1:          # findmnt: nothing mounted there
        return False
    return not found.ok or found.stdout.strip() == "nsfs"
