"""Switch the node's reference reconciler to a deliberately broken variant (`make prove`, chaos).

The variant lives in the daemon's settings (`node.names.settings`, "variant"), read when the
daemon starts; ARCHY_RECONCILER_VARIANT names the one a grid run applies after every golden restore.
"""
from __future__ import annotations

import json
import os
import shlex

ENV = "ARCHY_RECONCILER_VARIANT"


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
