"""The grid model behind both renderers: results file + matrix -> rows of cells (the grid's events,
then the chaos experiments the run merged in), and each app's level with what it rests on. Pure."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from chaos import catalog as chaos_catalog
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
class RunInfo:
    """What heads the page: the run's commit and times (from the results file), the gate's verdict
    of this very results file (results/gate.json), and links to the run's other reports."""
    commit: str | None = None
    started: float | None = None
    finished: float | None = None
    gate: dict | None = None                       # {"verdict": PASS|FAIL, "summary", "problems"}
    links: tuple[tuple[str, str], ...] = ()        # (label, href relative to the page)


def gate_of(doc: dict, gate: dict | None) -> dict | None:
    """The gate's verdict when it judged this results file (same commit and end time), else None."""
    if not isinstance(gate, dict) or gate.get("verdict") not in ("PASS", "FAIL"):
        return None
    same = gate.get("commit") == doc.get("commit") and gate.get("results_finished") == doc.get("finished")
    return gate if same else None


@dataclass(frozen=True)
class Grid:
    nodes: list[str]
    apps: list[str]
    events: list[str]
    titles: dict[str, str]               # app/event id -> title
    cells: dict[tuple[str, str, str], GridCell]   # (node, app, event); chaos rows' events are chaos:<name>
    levels: dict[str, dict[str, int]]    # node -> app -> level
    level_titles: dict[int, str]
    standings: dict[str, dict[str, Standing]]   # node -> app -> its level and what it rests on
    chaos: list[str] = field(default_factory=list)   # the chaos rows: chaos:<experiment>, the run's
    run: RunInfo = field(default_factory=RunInfo)
    time_spent: tuple[tuple[str, str], ...] = ()      # (what, how long): harness.timings.summary

    @property
    def rows(self) -> list[str]:
        return self.events + self.chaos

    def counts(self, node: str | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for (n, _, _), c in self.cells.items():
            if node in (None, n) and c.verdict != NA:
                out[c.verdict] = out.get(c.verdict, 0) + 1
        return out


def _cell(doc: dict, node: str, app: str, ev: str, req: str | None, selected: bool,
          verdicts: dict) -> GridCell:
    rec = results.record_for(doc, node, app, ev)
    if req is None:
        return GridCell(node, app, ev, None, NA)
    if rec is None:
        return GridCell(node, app, ev, req, MISSING if selected else UNSELECTED)
    return GridCell(node, app, ev, req, verdicts[(app, ev)], rec.get("reason", ""), tuple(rec.get("artifacts") or ()),
                    float(rec.get("duration") or 0), tuple(results.parts_not_run(doc, node, app, ev)),
                    str(rec.get("retried") or ""), str(rec.get("broken") or ""))


def chaos_rows(doc: dict, catalog: Mapping[str, Experiment]) -> list[str]:
    """The experiments a run's chaos block selected, else those it has cells of (catalog order)."""
    named = set((doc.get("chaos") or {}).get("experiments") or ())
    named |= {x for c in doc["cells"] if (x := chaos_catalog.experiment_of(c["event"]))}
    return [chaos_catalog.event(n) for n in catalog if n in named]


def build(matrix: Matrix, doc: dict, catalog: Mapping[str, Experiment], soak: Soak | None = None,
          gate: dict | None = None, links: tuple[tuple[str, str], ...] = (),
          time_spent: tuple[tuple[str, str], ...] = ()) -> Grid:
    """`catalog`: the chaos experiments (chaos.catalog.load()); level 5 rests on those judging each app.
    `gate`: gate.json as ci/gate --write left it (shown only when it judged this `doc`)."""
    sel = doc.get("selection") or {}
    try:
        selected = {(c.app, c.event) for c in plan(matrix, sel.get("apps"), sel.get("events"))}
    except MatrixError:
        selected = set(matrix.cells)
    nodes = results.nodes(doc) or [""]
    rows = chaos_rows(doc, catalog)
    block = set((doc.get("chaos") or {}).get("experiments") or ())
    cells = {}
    for node in nodes:
        v = results.verdicts(doc, node)
        for app in matrix.apps:
            for ev in matrix.events:
                cells[(node, app, ev)] = _cell(doc, node, app, ev, matrix.cells.get((app, ev)),
                                               (app, ev) in selected, v)
            for ev in rows:
                name = chaos_catalog.experiment_of(ev)
                cells[(node, app, ev)] = _cell(doc, node, app, ev, "MUST" if app in catalog[name].apps else None,
                                               name in block, v)
    st = level_table.table(matrix, doc, catalog, soak, nodes)
    titles = {**{a.id: a.title for a in matrix.apps.values()},
              **{e.id: e.title for e in matrix.events.values()},
              **{ev: f"chaos: {chaos_catalog.experiment_of(ev)}" for ev in rows}}
    return Grid(nodes, list(matrix.apps), list(matrix.events), titles, cells,
                {n: {a: s.level for a, s in apps.items()} for n, apps in st.items()},
                {n: lvl.title for n, lvl in matrix.levels.items()}, st, rows,
                RunInfo(doc.get("commit"), doc.get("started"), doc.get("finished"), gate_of(doc, gate), links),
                time_spent)
