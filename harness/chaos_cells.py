"""The chaos suite's verdicts as cells of the results: each selected experiment becomes a MUST
cell `chaos:<experiment>` of every app it judges (chaos/catalog.py), on every node of the run,
merged into results/cells.json next to the grid's cells with a `chaos` block naming the experiments
the run selected (the gate then requires them). Pure but for `main`.

A cell passes when the experiment's reference run passed; it is not run when the node skipped it
(a capability it lacks), when the app was not in the stack the suite installed, or when the chaos
run recorded nothing for it; else it failed, with the run's first problems as the reason.

    python -m harness.chaos_cells results/cells.json [--summary results/chaos/summary.jsonl] [--experiments a,b]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterable, Mapping

from chaos import catalog as chaos_catalog
from chaos import summary
from chaos.catalog import CatalogError, Experiment

from . import results

NODEID = "tests/chaos/test_experiments.py::test_experiment[{}]"


def _record(node: str, app: str, name: str, row: dict | None) -> dict:
    rec = {"app": app, "event": chaos_catalog.event(name), "requirement": "MUST", "node": node,
           "nodeid": NODEID.format(name), "artifacts": [], "duration": 0.0}
    if row is None:
        return {**rec, "verdict": "not_run", "reason": "the chaos run recorded no result for it"}
    rec["duration"] = float(row.get("duration_s") or 0)
    if row["passed"] is None:
        return {**rec, "verdict": "not_run", "reason": str(row.get("reason") or "not run")}
    if app not in (row.get("stack") or []):
        return {**rec, "verdict": "not_run",
                "reason": f"{app} was not in the chaos stack ({','.join(row.get('stack') or []) or 'none'})"}
    rec["artifacts"] = [f"chaos/reference/{name}.journal.json"]
    if row["passed"]:
        return {**rec, "verdict": "passed", "reason": ""}
    return {**rec, "verdict": "failed", "reason": "; ".join(row.get("problems") or []) or "failed"}


def cells(catalog: Mapping[str, Experiment], selected: Iterable[str], rows: Iterable[dict],
          nodes: Iterable[str]) -> list[dict]:
    """One record per (node, selected experiment, app it judges), from the reference rows."""
    ref = {(r.get("node", ""), r["experiment"]): r for r in rows if r["kind"] == summary.REFERENCE}
    return [_record(node, app, name, ref.get((node, name)))
            for node in nodes for name in selected for app in catalog[name].apps]


def merge(doc: dict, catalog: Mapping[str, Experiment], selected: list[str], rows: list[dict]) -> dict:
    """The results with the chaos cells in place of any earlier ones, and the `chaos` block."""
    nodes = results.nodes(doc) + sorted({r.get("node", "") for r in rows} - set(results.nodes(doc)))
    grid = [c for c in doc["cells"] if chaos_catalog.experiment_of(c["event"]) is None]
    stack = sorted({a for r in rows for a in r.get("stack") or []})
    return {**doc, "cells": grid + cells(catalog, selected, rows, nodes or [""]),
            "chaos": {"experiments": list(selected), "stack": stack}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.chaos_cells", description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", default="results/cells.json")
    ap.add_argument("--summary", help="the chaos run's rows (default: chaos/summary.jsonl next to the results)")
    ap.add_argument("--experiments", default="", help="the experiments the run selected (default: all)")
    args = ap.parse_args(argv)
    path = Path(args.results)
    try:
        catalog = chaos_catalog.load()
        selected = chaos_catalog.select(catalog, args.experiments)
        doc = results.read(path)
        rows = summary.read(args.summary or summary.path(path.parent))
    except (ValueError, CatalogError) as e:
        print(f"chaos_cells: {e}", file=sys.stderr)
        return 2
    merged = merge(doc, catalog, selected, rows)
    results.write(path, merged)
    new = [c for c in merged["cells"] if chaos_catalog.experiment_of(c["event"])]
    counts = ", ".join(f"{sum(c['verdict'] == v for c in new)} {v.replace('_', ' ')}"
                       for v in ("passed", "failed", "not_run"))
    print(f"chaos_cells: {len(selected)} experiment(s) -> {len(new)} chaos cell(s) ({counts}) in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
