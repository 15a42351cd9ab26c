"""Grid batches (harness/events/grid.py): one shared action, verdicts and journal lines per member,
and the journal cursor a batched cell's failure artifacts start from (before the shared reboot)."""
import pytest

from harness.events import grid as G, ladder as L
from matrix.model import load, plan
from node.names import REFERENCE


class Node:
    capabilities = frozenset({"node", "snapshot", "reboot"})
    names = REFERENCE

    def __init__(self):
        self.cursors = iter(f"cursor-{i}" for i in range(100))

    def journal_cursor(self):
        return next(self.cursors)

    def restore(self, name="golden"):
        pass

    def snapshot(self, name):
        pass


class Driver:
    def call(self, method, timeout=60, **params):
        return {"id": params.get("id"), "state": "running", "healthy": True}


@pytest.fixture
def run(monkeypatch):
    monkeypatch.setattr(L.probes, "wait_healthy", lambda node, app, timeout: {"healthy": True})
    monkeypatch.setattr(G.journal, "check", lambda node, cursor: [
        f"archy-lnd-ui.service: Failed with result 'exit-code' (after {cursor})"])
    m = load()
    cells = [c for c in plan(m, apps=["bitcoin-knots", "lnd"]) if c.event in ("reboot_survival", "stop_ports_released")]
    return G.GridRun(m, cells, Node(), Driver()), {c.id: c for c in cells}


def test_a_batched_cells_artifacts_start_before_the_shared_action(run, monkeypatch):
    grid, cells = run
    monkeypatch.setattr(G, "module", lambda event: type("M", (), {"observe": staticmethod(lambda ctx: {})}))
    reboot = cells["lnd-reboot_survival"]
    grid.prepare(reboot)
    since = grid.artifacts_since(reboot)
    assert since and since.startswith("cursor-")
    assert grid.artifacts_since(cells["bitcoin-knots-reboot_survival"]) == since   # one batch, one cursor
    assert grid.artifacts_since(cells["lnd-stop_ports_released"]) is None           # its own cursor
    # the UI companion's line is lnd's, not bitcoin-knots'
    res = grid.batches[grid.steps[reboot.id].batch_key]
    assert res.journal == {"lnd": [f"archy-lnd-ui.service: Failed with result 'exit-code' (after {since})"]}
