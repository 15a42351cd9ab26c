"""The levels of a results file: matrix/standing.py fed from its records (verdicts, reasons,
parts not run, chaos cells), the chaos catalog (which experiments judge each app) and the nightly
soak's verdict. The gate and the grid report both read levels through here. Pure but for
`read_soak`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from chaos import catalog as chaos_catalog
from chaos.catalog import Experiment
from matrix.model import Matrix
from matrix.standing import Evidence, Soak, Standing, standings

from . import results


def evidence(matrix: Matrix, doc: dict, node: str, catalog: Mapping[str, Experiment],
             soak: Soak | None = None) -> Evidence:
    recs = [r for r in doc["cells"] if r.get("node", "") == node]
    return Evidence(
        verdicts=results.verdicts(doc, node),
        reasons={(r["app"], r["event"]): str(r.get("reason") or "") for r in recs if r["verdict"] != "passed"},
        parts={(r["app"], r["event"]): tuple(p) for r in recs
               if (p := results.parts_not_run(doc, node, r["app"], r["event"]))},
        chaos={app: tuple(chaos_catalog.event(e) for e in chaos_catalog.involving(catalog, app))
               for app in matrix.apps},
        soak=soak, commit=doc.get("commit"))


def table(matrix: Matrix, doc: dict, catalog: Mapping[str, Experiment], soak: Soak | None = None,
          nodes: list[str] | None = None) -> dict[str, dict[str, Standing]]:
    """{node: {app: standing}} for every node of the results (or those given)."""
    return {node: standings(matrix, evidence(matrix, doc, node, catalog, soak))
            for node in (results.nodes(doc) if nodes is None else nodes)}


def read_soak(path: Path | str) -> Soak:
    """The nightly soak's verdict.json (or the run directory holding it); ValueError in one line."""
    p = Path(path)
    f = p / "verdict.json" if p.is_dir() else p
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"{f}: cannot read: {e.strerror}") from None
    except ValueError as e:
        raise ValueError(f"{f}: not JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("passed"), bool):
        raise ValueError(f"{f}: not a soak verdict (no 'passed' true/false; harness.soak writes verdict.json)")
    apps = doc.get("apps") or []
    failed = [r.get("name", "?") for r in doc.get("rules") or [] if isinstance(r, dict) and not r.get("passed")]
    summary = doc.get("summary") or ("PASS" if doc["passed"] else "FAIL: " + ", ".join(failed or ["?"]))
    return Soak(doc["passed"], doc.get("commit") if isinstance(doc.get("commit"), str) else None,
                tuple(a for a in apps if isinstance(a, str)), str(summary), str(f))
