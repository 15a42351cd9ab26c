"""The results file (results/cells.json): one record per cell and node. Pure helpers.

A record: {"app", "event", "requirement", "node", "verdict": passed|failed|not_run, "reason",
"artifacts": [paths], "duration", "nodeid", optional "parts_not_run": [reasons]} — a passed cell
whose checks ran but one part of it could not run here (the onion round trip without a Tor
network): the part is listed, never counted as passed. Report, gate and levels read only this file.
"""
from __future__ import annotations

import json
from pathlib import Path

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


def read(path: Path | str) -> dict:
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except OSError as e:
        raise ValueError(f"{p}: cannot read: {e.strerror}") from None
    except ValueError as e:
        raise ValueError(f"{p}: not JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        raise ValueError(f"{p}: not a results file (no 'cells' list)")
    for i, r in enumerate(doc["cells"]):
        missing = {"app", "event", "verdict"} - set(r)
        if missing:
            raise ValueError(f"{p}: cells[{i}] lacks {', '.join(sorted(missing))}")
    return doc


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
