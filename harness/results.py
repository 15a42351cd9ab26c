"""The results file (results/cells.json): one record per cell and node. Pure helpers.

A record: {"app", "event", "requirement", "node", "verdict": passed|failed|not_run, "reason",
"artifacts": [paths], "duration", "nodeid", optional "parts_not_run": [reasons]} — a passed cell
whose checks ran but one part of it could not run here (the onion round trip without a Tor
network): the part is listed, never counted as passed. Report, gate and levels read only this file.
A chaos suite run merged in (harness/chaos_cells.py) adds records whose event is `chaos:<experiment>`
and a block {"chaos": {"experiments": [the selected ones], "stack": [apps]}}.
"""
from __future__ import annotations

import json
from pathlib import Path

from matrix.model import VERDICTS

RESULTS_VERSION = 1


def phase_verdict(phases: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """(verdict, reason) from {when: (outcome, reason)} of setup/call/teardown reports."""
    for when in ("setup", "call", "teardown"):
        outcome, reason = phases.get(when, ("", ""))
        if outcome == "failed":
            return "failed", (f"{when}: " if when != "call" else "") + reason
    for when in ("setup", "call"):
        outcome, reason = phases.get(when, ("", ""))
        if outcome == "skipped":
            return "not_run", reason
    if phases.get("call", ("",))[0] == "passed":
        return "passed", ""
    return "not_run", "no result (interrupted)"


def write(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True))
    tmp.replace(path)


def read(path: Path | str, versioned: bool = False) -> dict:
    """The results file, checked record by record (ValueError: one line naming the record).

    versioned: the file must say it is this format's version (the gate: a file without one
    may be of any format); without it a missing version is read as this one.
    """
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except OSError as e:
        raise ValueError(f"{p}: cannot read: {e.strerror}") from None
    except ValueError as e:
        raise ValueError(f"{p}: not JSON: {e}") from None
    if problem := malformed(doc, versioned):
        raise ValueError(f"{p}: {problem}")
    return doc


def malformed(doc: object, versioned: bool = False) -> str:
    """What keeps `doc` from being a results file of this format, in one line; "" when nothing."""
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        return "not a results file (no 'cells' list)"
    if versioned and "version" not in doc:
        return f"no format version: this harness reads version {RESULTS_VERSION}, as its pytest plugin writes it"
    if "version" in doc and doc["version"] != RESULTS_VERSION:
        return (f"unknown format version {json.dumps(doc['version'])[:20]}: this harness reads version "
                f"{RESULTS_VERSION} (use the harness that wrote the file)")
    return (_bad_targets(doc.get("targets", [])) or _bad_selection(doc.get("selection"))
            or _bad_chaos(doc.get("chaos"))) or next(
        (f"cells[{i}] {p}" for i, r in enumerate(doc["cells"]) if (p := _bad_cell(r))), "")


def _bad_targets(targets: object) -> str:
    if not isinstance(targets, list):
        return f"'targets' is {_kind(targets)}, not a list"
    for i, t in enumerate(targets):
        if not isinstance(t, dict) or not isinstance(t.get("name"), str):
            return f"targets[{i}] has no name: a target is an object with a 'name' string"
    return ""


def _bad_selection(sel: object) -> str:
    if sel is None:
        return ""
    if not isinstance(sel, dict):
        return f"'selection' is {_kind(sel)}, not an object"
    for key in ("apps", "events"):
        v = sel.get(key)
        if v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            return f"selection.{key} is {_kind(v)}: null (all) or a list of names"
    return ""


def _bad_chaos(block: object) -> str:
    if block is None:
        return ""
    names = block.get("experiments") if isinstance(block, dict) else None
    if not (isinstance(names, list) and all(isinstance(x, str) for x in names)):
        return (f"'chaos' is {_kind(block)}: an object whose 'experiments' lists the chaos experiments "
                "the run selected")
    return ""


_CELL_STRINGS = ("app", "event", "node", "reason", "requirement", "nodeid")


def _bad_cell(r: object) -> str:
    """Why one record of 'cells' is not a record ("" when it is); read after 'cells[i] '."""
    if not isinstance(r, dict):
        return f"is {_kind(r)}: a record is an object with app, event and verdict"
    if missing := {"app", "event", "verdict"} - set(r):
        return f"lacks {', '.join(sorted(missing))}"
    if bad := next((k for k in _CELL_STRINGS if k in r and not isinstance(r[k], str)), None):
        return f"{bad} is {_kind(r[bad])}, not a string"
    if r["verdict"] not in VERDICTS:
        return f"verdict {r['verdict']!r} is none of {', '.join(VERDICTS)}"
    pnr = r.get("parts_not_run", [])
    if pnr is not None and not (isinstance(pnr, list) and all(isinstance(x, str) for x in pnr)):
        return f"parts_not_run is {_kind(pnr)}, not a list of strings"
    return ""


def _kind(v: object) -> str:
    return "null" if v is None else f"{type(v).__name__} {json.dumps(v)[:40]}"


def nodes(doc: dict) -> list[str]:
    seen = [t["name"] for t in doc.get("targets", [])]
    for r in doc["cells"]:
        if r.get("node", "") not in seen:
            seen.append(r.get("node", ""))
    return seen


def verdicts(doc: dict, node: str) -> dict[tuple[str, str], str]:
    """{(app, event): verdict} for one node; a failed record wins over a passed duplicate."""
    out: dict[tuple[str, str], str] = {}
    rank = {"failed": 2, "not_run": 1, "passed": 0}
    for r in doc["cells"]:
        if r.get("node", "") == node:
            k = (r["app"], r["event"])
            if k not in out or rank.get(r["verdict"], 2) > rank.get(out[k], 2):
                out[k] = r["verdict"]
    return out


def parts_not_run(doc: dict, node: str, app: str, event: str) -> list[str]:
    rec = record_for(doc, node, app, event) or {}
    return [str(p) for p in rec.get("parts_not_run") or []] if rec.get("verdict") == "passed" else []


def record_for(doc: dict, node: str, app: str, event: str) -> dict | None:
    for r in doc["cells"]:
        if r.get("node", "") == node and r["app"] == app and r["event"] == event:
            return r
    return None
