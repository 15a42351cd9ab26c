"""Journal check after a cell (the Cockpit idea): errors from the reconciler, the Quadlet units
and the app containers that are not on an allowlist fail the cell. Pure except `check`.
"""
from __future__ import annotations

import re
from typing import Iterable

from node.api import Node
from node.journal import UNIT_STARTED
from node.names import Names

from .artifacts import redact

# What counts as an error message (besides priority err and worse and core dumps).
ERROR_PATTERNS = [
    r"(?i)\b(error|fatal|panic|traceback|segfault|exception)\b",
    r"(?i)core dumped",
    r"Failed with result",                # systemd: a unit failed
    r"Main process exited, code=(killed|dumped)",
]
# Messages that look like errors but are not (kept short and explained).
DEFAULT_ALLOW = [
    r"(?i)\b0 errors?\b",                 # "... completed with 0 errors"
    r"(?i)errors?=0\b",
]


def _text(v) -> str:
    if isinstance(v, list):  # journald hands non-UTF-8 messages over as byte arrays
        return bytes(x & 0xFF for x in v).decode(errors="replace")
    return "" if v is None else str(v)


def source(entry: dict, names: Names) -> str | None:
    """The platform unit/container (an app's or the daemon's) an entry belongs to, or None when it
    is not ours."""
    # user units (a rootless node) log with _SYSTEMD_USER_UNIT / USER_UNIT (systemd's own lines)
    for key in ("CONTAINER_NAME", "UNIT", "_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER", "COREDUMP_UNIT",
                "USER_UNIT", "_SYSTEMD_USER_UNIT"):
        v = _text(entry.get(key))
        if names.is_platform(v):
            return v
    return None


def errors(entries: Iterable[dict], allow: Iterable[str] = (),
           patterns: Iterable[str] = ERROR_PATTERNS, *, names: Names) -> list[str]:
    """'source: message' lines for error entries of ours not matched by `allow`."""
    pats = [re.compile(p) for p in patterns]
    allowed = [re.compile(p) for p in [*DEFAULT_ALLOW, *allow]]
    out = []
    for e in entries:
        src = source(e, names)
        coredump = _text(e.get("SYSLOG_IDENTIFIER")) == "systemd-coredump"
        if src is None and not coredump:
            continue
        msg = _text(e.get("MESSAGE"))
        try:
            prio = int(_text(e.get("PRIORITY")) or 6)
        except ValueError:
            prio = 6
        bad = coredump or prio <= 3 or any(p.search(msg) for p in pats)
        if bad and not any(a.search(msg) for a in allowed):
            out.append(f"{src or 'systemd-coredump'}: {msg}")
    return out




def unit_starts(entries: Iterable[dict], unit: str) -> int:
    """How many times systemd (the system manager, or a user manager: USER_UNIT) logged the unit
    started; a restart job logs one start."""
    return sum(1 for e in entries if _text(e.get("MESSAGE_ID")) == UNIT_STARTED
               and unit in (_text(e.get("UNIT")), _text(e.get("USER_UNIT"))))


def check(node: Node, cursor: str, allow: Iterable[str] = ()) -> list[str]:
    """Error lines logged since `cursor` (redacted); empty means the journal is clean."""
    return [redact(line) for line in errors(node.journal_since(cursor), allow, names=node.names)]
