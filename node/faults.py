"""A bundled stand-in's fault (reconciler/standin/faults.py) switched on or off on the node: the one
writer and remover of `<data dir>/.standin-fault`, for the grid (harness.grid.variant) and the chaos
suite (chaos.crash_loop). The path is checked before anything reaches the shell: an app id, never
a path, and the file strictly inside that app's data dir."""
from __future__ import annotations

import posixpath
import re
import shlex

from reconciler.standin.faults import FAULT_FILE

_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


def fault_path(names, app: str) -> str:
    """`<data dir>/.standin-fault` of a known app; ValueError for anything else."""
    if not _ID.fullmatch(app or "") or (names.apps and app not in names.apps):
        raise ValueError(f"refusing the stand-in fault of {app!r}: not an app id of this node")
    data = posixpath.normpath(names.data_dir(app))
    path = posixpath.normpath(f"{data}/{FAULT_FILE}")
    if not data.startswith("/") or posixpath.dirname(path) != data:
        raise ValueError(f"refusing {path}: not inside {app}'s data dir {data}")
    return path


def set_fault(node, app: str, fault: str | None) -> None:
    """Switch the fault on (read by the stand-in on every answer and at start) or off (None). As
    root both ways: put_file writes as root, so only root is sure to remove it."""
    path = fault_path(node.names, app)
    if fault is None:
        node.succeed(node.cmd.as_root(f"rm -f {shlex.quote(path)}"), timeout=30)
    else:
        node.put_file(path, f"{fault}\n".encode(), 0o644)
