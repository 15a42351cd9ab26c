"""results/timings.json: where a grid run's time went, per cell and in total. Pure but read/write.

Per cell (its setup, test body and teardown, as pytest timed them), and within it from the
worker's tally (node/timing.py):
- `ssh`: remote commands run and their summed time;
- `spans`: the ladder's restores, installs, snapshots and baseline inventories, a batch's shared
  action (charged to the cell whose setup ran it), the journal check, artifacts;
- `waits`: polls, per caller, and their wall time (their checks' SSH commands included).
Spans nest and overlap with polls and SSH time, so the columns do not add up to the total: each
answers its own question (how much went to restores? to SSH? to waiting on health?).
"""
from __future__ import annotations

import json
from pathlib import Path

VERSION = 1
PHASES = ("setup", "call", "teardown")


def cell_record(cell_id: str, meta: dict, phases: dict[str, float], tally: dict | None) -> dict:
    """One cell's line: `meta` is cells.json's record (node, machine, verdict), `phases` pytest's
    durations, `tally` node.timing.since() over the cell (None: the worker sent none)."""
    tally = tally or {}
    return {"cell": cell_id, "node": meta.get("node"), "machine": meta.get("machine"),
            "verdict": meta.get("verdict"),
            "seconds": round(sum(phases.values()), 3),
            "phases": {p: round(phases.get(p, 0.0), 3) for p in PHASES},
            "ssh": tally.get("ssh", {"calls": 0, "seconds": 0.0}),
            "spans": tally.get("spans", {}), "waits": tally.get("waits", {})}


def _sum_table(rows: list[dict], key: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for r in rows:
        for name, (n, s) in (r.get(key) or {}).items():
            t = out.setdefault(name, [0, 0.0])
            t[0] += n
            t[1] = round(t[1] + s, 3)
    return dict(sorted(out.items(), key=lambda kv: -kv[1][1]))


def totals(cells: list[dict]) -> dict:
    return {"cells": len(cells),
            "seconds": round(sum(c["seconds"] for c in cells), 3),
            "phases": {p: round(sum(c["phases"][p] for c in cells), 3) for p in PHASES},
            "ssh": {"calls": sum(c["ssh"]["calls"] for c in cells),
                    "seconds": round(sum(c["ssh"]["seconds"] for c in cells), 3)},
            "spans": _sum_table(cells, "spans"),
            "waits": _sum_table(cells, "waits"),
            "batches": [{"cell": c["cell"], "action": name.removeprefix("batch action "), "seconds": s}
                        for c in cells for name, (_n, s) in c["spans"].items()
                        if name.startswith("batch action ")]}


def document(cells: list[dict], *, commit: str | None, started: float, finished: float) -> dict:
    cells = sorted(cells, key=lambda c: (str(c["node"]), c["cell"]))
    return {"version": VERSION, "commit": commit, "started": started, "finished": finished,
            "cells": cells, "totals": totals(cells)}


def write(path: Path, doc: dict) -> None:
    path.write_text(json.dumps(doc, indent=1) + "\n")


def read(path: Path) -> dict | None:
    """The timings of a run, or None when there are none (or they are unreadable: the report
    then goes without its breakdown rather than fail)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(doc, dict) and doc.get("version") == VERSION and isinstance(doc.get("totals"), dict)
    return doc if ok else None


def _m(s: float) -> str:
    return f"{s / 60:.1f} min" if s >= 90 else f"{s:.0f} s"


def summary(doc: dict, top: int = 8) -> list[tuple[str, str]]:
    """(what, how long) rows for the report: the cells' total, pytest's phases, SSH, the spans
    and the longest waits."""
    t = doc["totals"]
    rows = [(f"{t['cells']} cells, summed", _m(t["seconds"]))]
    rows += [(f"pytest {p}" + (" (state: restores, installs, batch actions)" if p == "setup" else
                               " (the event and its checks)" if p == "call" else " (journal, artifacts)"),
              _m(t["phases"][p])) for p in PHASES]
    ssh = t["ssh"]
    mean = f", {ssh['seconds'] / ssh['calls']:.2f} s each" if ssh["calls"] else ""
    rows.append((f"SSH round trips: {ssh['calls']}{mean}", _m(ssh["seconds"])))
    rows += [(f"{name} ×{int(n)}", _m(s)) for name, (n, s) in list(t["spans"].items())[:top]]
    rows += [(f"waiting in {name} ({int(n)} polls)", _m(s)) for name, (n, s) in list(t["waits"].items())[:top]]
    return rows
