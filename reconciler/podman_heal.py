"""Podman self-heal: when the libpod state DB is wiped or corrupt, podman commands fail or forget
containers that still sit in storage. Move a corrupt DB aside and `podman system migrate`; storage-only
containers are then removed by the diff (`podman rm -f --storage`) so the units can start them again."""
from __future__ import annotations

import os
import time

STORAGE = "/var/lib/containers/storage"
# netavark's IPAM allocations (rootful; a tmpfs, so a reboot clears it but a DB wipe does not)
IPAM_DB = "/run/containers/networks/ipam.db"
DB_FILES = {"sqlite": ("db.sql",), "boltdb": ("libpod/bolt_state.db",)}
CORRUPT_HINTS = ("database", "malformed", "bolt", "invalid internal status", "sqlite", "not a database")


def backend(runner, timeout: float = 30) -> str | None:
    res = runner.run(["podman", "info", "--format", "{{.Host.DatabaseBackend}}"], timeout=timeout)
    return res.stdout.strip() or None if res.ok else None


def heal(runner, reason: str, root: str = "/", timeout: float = 120) -> str:
    """Returns what was done (for the log). Never deletes container storage or volumes."""
    done = []
    info = runner.run(["podman", "info", "--format", "{{.Host.DatabaseBackend}}"], timeout=30)
    text = (info.stderr + info.stdout + reason).lower()
    if not info.ok and any(h in text for h in CORRUPT_HINTS):
        stamp = time.strftime("%Y%m%dT%H%M%S")
        for files in DB_FILES.values():
            for rel in files:
                path = os.path.join(root, STORAGE.lstrip("/"), rel)
                if os.path.exists(path):
                    os.replace(path, f"{path}.corrupt-{stamp}")
                    done.append(f"moved aside {path}")
    mig = runner.run(["podman", "system", "migrate"], timeout=timeout)
    done.append("podman system migrate" + ("" if mig.ok else f" failed: {mig.brief()}"))
    after = backend(runner)
    done.append(f"backend now {after or 'unavailable'}")
    return "; ".join(done)
