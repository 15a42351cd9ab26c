"""Switch the node's reference reconciler to a deliberately broken variant (`make prove`, chaos),
and break one stand-in app on purpose (a fault the grid's protocol checks must catch).

The variant lives in the daemon's settings (`node.names.settings`, "variant"), read when the
daemon starts; ARCHY_RECONCILER_VARIANT names the one a grid run applies after every golden restore.
ARCHY_STANDIN_FAULT=<app>:<fault>[,...] writes the fault switch into that app's data dir after every
golden restore (reconciler/standin/faults.py: wrong-height for bitcoind, not-synced for lnd).
"""
from __future__ import annotations

import json
import os
import re
import shlex

from matrix.model import Matrix
from node.faults import set_fault
from reconciler.standin.faults import ANY, FAULTS

ENV = "ARCHY_RECONCILER_VARIANT"
FAULT_ENV = "ARCHY_STANDIN_FAULT"


class FaultError(ValueError):
    """A bad ARCHY_STANDIN_FAULT entry (one line)."""


def wanted() -> str | None:
    v = os.environ.get(ENV, "").strip()
    return None if v in ("", "null", "reference") else v


def apply(node, name: str | None, timeout: float = 120) -> None:
    """Set the variant (None = reference), restart the daemon, wait until it answers healthy."""
    n = node.names
    raw = node.run(node.cmd.as_root(f"cat {n.settings}"), timeout=30).stdout
    try:
        settings = json.loads(raw) if raw.strip() else {}
    except ValueError:
        settings = {}
    settings["variant"] = name
    node.put_file(n.settings, (json.dumps(settings, indent=1) + "\n").encode(), 0o644)
    node.succeed(node.cmd.as_root(f"systemctl restart {n.daemon_unit}"), timeout=timeout)
    node.wait_until_succeeds(f"curl -sf --max-time 5 {n.health_url} >/dev/null",
                             timeout=timeout, interval=1)
    read = f"python3 -c {shlex.quote('import json; print(json.load(open(' + repr(n.settings) + ')).get(\"variant\"))')}"
    got = node.succeed(node.cmd.as_root(read), timeout=30).strip()
    if got != str(name):
        raise AssertionError(f"reconciler variant is {got!r} after setting {name!r}")


def wanted_faults(matrix: Matrix, raw: str | None = None) -> dict[str, str]:
    """{app: fault} from ARCHY_STANDIN_FAULT (or `raw`); FaultError names the first bad entry."""
    raw = os.environ.get(FAULT_ENV, "") if raw is None else raw
    out: dict[str, str] = {}
    for item in filter(None, (i.strip() for i in raw.split(","))):
        app, _, fault = item.partition(":")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", app) or app not in {**matrix.apps, **matrix.companions}:
            raise FaultError(f"{FAULT_ENV}: {item!r}: {app!r} is not an app of the matrix (want app:fault)")
        if fault not in FAULTS:
            raise FaultError(f"{FAULT_ENV}: {item!r}: unknown fault {fault!r}; known: {', '.join(sorted(FAULTS))}")
        if FAULTS[fault] != ANY and matrix.app(app).profile != FAULTS[fault]:
            raise FaultError(f"{FAULT_ENV}: {item!r}: {fault} is a {FAULTS[fault]} fault; {app} is a "
                             f"{matrix.app(app).profile}")
        out[app] = fault
    return out


def prepare(node, name: str | None, faults: dict[str, str]) -> None:
    """After a golden restore: the reconciler variant (when one is wanted), then the stand-in faults."""
    if name:
        apply(node, name)
    for app_id, fault in faults.items():
        set_fault(node, app_id, fault)
