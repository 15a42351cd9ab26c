"""The grid model behind both renderers: results file + matrix -> rows of cells. Pure."""
from __future__ import annotations

from dataclasses import dataclass

from typing import Mapping

from chaos.catalog import Experiment
from matrix.model import Matrix, MatrixError, plan
from matrix.standing import Soak, Standing

from .. import levels as level_table
from .. import results

# verdicts as shown: the three recorded ones plus what the results file does not say
MISSING = "missing"          # applicable, selected, but no result recorded
UNSELECTED = "unselected"    # applicable, outside this run's --apps/--events
NA = "na"                    # '-' in the matrix: no cell


@dataclass(frozen=True)
class GridCell:
    node: str
    app: str
    event: str
    requirement: str | None
    verdict: str
    reason: str = ""
    artifacts: tuple[str, ...] = ()
    duration: float = 0.0
    parts_not_run: tuple[str, ...] = ()   # passed on what ran; these parts could not run here
    retried: str = ""                     # run once more after its guest kernel crashed (harness/broken.py)
    broken: str = ""                      # ... and the retry crashed too: infrastructure, still a failure


@dataclass(frozen=True)
class Grid:
    nodes: list[str]
    apps: list[str]
    events: list[str]
    titles: dict[str, str]               # app/event id -> title
    cells: dict[tuple[str, str, str], GridCell]   # (node, app, event)
    levels: dict[str, dict[str, int]]    # node -> app -> level
    level_titles: dict[int, str]
    standings: dict[str, dict[str, Standing]]   # node -> app -> its level and what it rests on

    def counts(self, node: str | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for (n, _, _), c in self.cells.items():
            if node in (None, n) and c.verdict != NA:
                out[c.verdict] = out.get(c.verdict, 0) + 1
        return out


def build(matrix: Matrix, doc: dict, catalog: Mapping[str, Experiment], soak: Soak | None = None) -> Grid:
    """`catalog`: the chaos experiments (chaos.catalog.load()); level 5 rests on those judging each app."""
    sel = doc.get("selection") or {}
    try:
        selected = {(c.app, c.event) for c in plan(matrix, sel.get("apps"), sel.get("events"))}
    except MatrixError:
        selected = set(matrix.cells)
    nodes = results.nodes(doc) or [""]
    cells = {}
    st = level_table.table(matrix, doc, catalog, soak, nodes)
    for node in nodes:
        v = results.verdicts(doc, node)
        for app in matrix.apps:
            for ev in matrix.events:
                req = matrix.cells.get((app, ev))
                rec = results.record_for(doc, node, app, ev)
                if req is None:
                    cells[(node, app, ev)] = GridCell(node, app, ev, None, NA)
                elif rec is None:
                    cells[(node, app, ev)] = GridCell(node, app, ev, req,
                                                      MISSING if (app, ev) in selected else UNSELECTED)
                else:
                    cells[(node, app, ev)] = GridCell(node, app, ev, req, v[(app, ev)], rec.get("reason", ""),
                                                      tuple(rec.get("artifacts") or ()),
                                                      float(rec.get("duration") or 0),
                                                      tuple(results.parts_not_run(doc, node, app, ev)),
                                                      str(rec.get("retried") or ""), str(rec.get("broken") or ""))
    titles = {**{a.id: a.title for a in matrix.apps.values()},
              **{e.id: e.title for e in matrix.events.values()}}
    return Grid(nodes, list(matrix.apps), list(matrix.events), titles, cells,
                {n: {a: s.level for a, s in apps.items()} for n, apps in st.items()},
                {n: lvl.title for n, lvl in matrix.levels.items()}, st)
