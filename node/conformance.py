"""Does the node look like its platform profile? Checked once before any cell runs.

A profile whose names are not on the node would fail every cell for the wrong reason; instead
the run refuses at once with what it could not find. `gather` asks the node (a few bounded,
read-only commands); `mismatches` is pure and says, per fact, what is wrong.
"""
from __future__ import annotations

import shlex

from .api import Node, NodeError
from .driver import PlatformDriver, RpcError
from .platform import Platform

# directories every profile names that a working node of that kind has
_DIRS = ("quadlet_dir", "state_dir", "secrets_dir", "nginx_dir", "torrc_dir")


class NotThisPlatform(NodeError):
    """The node lacks names its profile promises; str() names each and the fix."""


def gather(node: Node, driver: PlatformDriver) -> dict:
    p: Platform = driver.platform
    n = p.names
    facts: dict = {"dirs": {}, "units": {}}
    for field in _DIRS:
        path = getattr(n, field)
        facts["dirs"][path] = node.run(node.cmd.as_root(f"test -d {shlex.quote(path)}"), timeout=30).rc == 0
    facts["daemon_unit"] = _load_state(node, "systemctl", n.daemon_unit)   # the daemon is a system unit
    try:
        facts["health"] = driver.health(timeout=20)
    except NodeError as e:
        facts["health_error"] = str(e)
    try:
        listed = driver.call("container.list", timeout=60)
        facts["apps"] = app_ids(listed, n)
    except RpcError as e:
        facts["list_error"] = str(e)
    for app in facts.get("apps", []):
        facts["units"][n.unit(app)] = _load_state(node, node.cmd.systemctl, n.unit(app))
    return facts


def app_ids(rows, names) -> list[str]:
    """The app ids in a container.list answer: the reference's rows carry "app"; others may name
    only the container ("id"/"name"/"container"), read back through the profile's names; pure."""
    ids = set()
    for r in rows if isinstance(rows, list) else []:
        if isinstance(r, dict):
            app = r.get("app") or names.app_of(str(r.get("container") or r.get("name") or r.get("id") or ""))
            ids.add(str(app))
    return sorted(ids - {""})


def _load_state(node: Node, systemctl: str, unit: str) -> str:
    out = node.run(f"{systemctl} show -p LoadState --value {shlex.quote(unit)}", timeout=30).stdout
    return out.strip() or "unknown"


def mismatches(p: Platform, facts: dict) -> list[str]:
    """What the node lacks of the profile, one phrase each; pure."""
    out = [f"no directory {path}" for path, there in facts["dirs"].items() if not there]
    if facts["daemon_unit"] != "loaded":
        out.append(f"no unit {p.names.daemon_unit} in the system scope (LoadState {facts['daemon_unit']})")
    if "health_error" in facts:
        out.append(f"no health endpoint at {p.names.health_url} ({facts['health_error']})")
    elif missing := [k for k, _ in p.health.ok if k not in facts["health"]]:
        has = ", ".join(sorted(k for k in facts["health"] if k != "http_status")) or "nothing"
        out.append(f"{p.names.health_url} has no field {', '.join(missing)} (it has {has})")
    if "list_error" in facts:
        out.append(f"container.list failed ({facts['list_error']})")
    scope = "user scope of " + p.login if p.scope == "user" else "system scope"
    out += [f"no unit {u} in the {scope}" for u, state in facts["units"].items() if state != "loaded"]
    return out


def check(node: Node, driver: PlatformDriver) -> None:
    """Raise NotThisPlatform naming every mismatch; nothing on the node changes."""
    p = driver.platform
    found = mismatches(p, gather(node, driver))
    if found:
        raise NotThisPlatform(f"node {node.name} does not look like platform {p.name} ({p.source}): "
                              + "; ".join(found) + ". Is --platform right?")

