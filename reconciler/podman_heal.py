"""Podman self-heal: when the libpod state DB is wiped or corrupt, podman commands fail or forget
containers that still sit in storage. Move a corrupt DB aside and `podman system migrate`; storage-only
containers are then removed by the diff (`podman rm -f --storage`) so the units can start them again.

Rootless (seed 004's FM6 procedure) first stops podman's socket and the apps' user units and
removes podman's runtime dirs under $XDG_RUNTIME_DIR (a stale pause process or netns there keeps
every later call failing with "invalid internal status"), then renumbers the locks and migrates."""
from __future__ import annotations

import os
import time

from .store import Paths, remove_path

STORAGE = "/var/lib/containers/storage"
# netavark's IPAM allocations (rootful; a tmpfs, so a reboot clears it but a DB wipe does not)
IPAM_DB = "/run/containers/networks/ipam.db"
DB_FILES = {"sqlite": ("db.sql",), "boltdb": ("libpod/bolt_state.db",)}
CORRUPT_HINTS = ("database", "malformed", "bolt", "invalid internal status", "sqlite", "not a database")
INFO = ("podman", "info", "--format", "{{.Host.DatabaseBackend}}")
RUNTIME_DIRS = ("containers", "libpod", "podman")   # rootless: podman's state under $XDG_RUNTIME_DIR
STOP_TIMEOUT = 120.0


def backend(runner, timeout: float = 30) -> str | None:
    res = runner.run(list(INFO), timeout=timeout)
    return res.stdout.strip() or None if res.ok else None


def heal(runner, reason: str, paths: Paths | None = None, units: tuple[str, ...] = (),
         timeout: float = 120) -> tuple[str, str | None]:
    """(what was done, for the log; why podman still fails afterwards, or None).
    Never deletes container storage or volumes. units: the apps' units (stopped first, rootless)."""
    paths = paths or Paths()
    info = runner.run(list(INFO), timeout=30)
    text = (info.stderr + info.stdout + reason).lower()
    corrupt = not info.ok and any(h in text for h in CORRUPT_HINTS)
    rootless = paths.node.user_scope
    done = _reset_runtime(runner, paths, units) if rootless else []
    if corrupt:
        done += _move_aside(paths.graphroot)
    steps = (("renumber",), ("migrate",)) if rootless else (("migrate",),)
    for step in steps:
        res = runner.run(["podman", "system", *step], timeout=timeout)
        done.append(f"podman system {step[0]}" + ("" if res.ok else f" failed: {res.brief()}"))
    after = runner.run(list(INFO), timeout=30)
    done.append(f"backend now {(after.stdout.strip() if after.ok else '') or 'unavailable'}")
    return "; ".join(done), None if after.ok else after.brief()


def _move_aside(storage: str) -> list[str]:
    done = []
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for files in DB_FILES.values():
        for rel in files:
            path = os.path.join(storage, rel)
            if os.path.exists(path):
                os.replace(path, f"{path}.corrupt-{stamp}")
                done.append(f"moved aside {path}")
    return done


def _reset_runtime(runner, paths: Paths, units: tuple[str, ...]) -> list[str]:
    """Rootless: podman's socket and the apps stop, then podman's runtime dirs go (the pause
    process's pid, the rootless netns, netavark's IPAM DB); the next tick starts the apps."""
    stop = runner.run(paths.node.systemctl("stop", "podman.socket", "podman.service", *units), timeout=STOP_TIMEOUT)
    done = ["stopped podman and the apps" + ("" if stop.ok else f" (not all: {stop.brief()})")]
    for name in RUNTIME_DIRS:
        path = os.path.join(paths.runtime_dir, name)
        if os.path.lexists(path):
            try:
                remove_path(path, paths.owned_roots)
                done.append(f"removed {path}")
            except OSError as e:
                done.append(f"could not remove {path}: {e.strerror or e}")
    return done
