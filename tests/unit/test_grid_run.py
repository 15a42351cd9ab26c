"""The grid engine (harness/grid/run.py): batches share one action and keep a verdict and journal
lines per member, with the journal cursor a batched cell's failure artifacts start from (before the
shared reboot); the ladder follows the events' declared traits, whatever their names."""
import dataclasses

import pytest

from harness.events import EVENTS
from harness.grid import ladder as L, run as G
from harness.grid.event import BEFORE_APP, WITH_APP, GridEvent
from matrix.model import Cell, load, plan
from node.commands import ROOT
from node.names import ROOTFUL


class Node:
    capabilities = frozenset({"node", "snapshot", "reboot"})
    names = ROOTFUL

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
    monkeypatch.setattr(G.journal, "check", lambda node, cursor, allow=(): [
        f"archy-lnd-ui.service: Failed with result 'exit-code' (after {cursor})"])
    m = load()
    cells = [c for c in plan(m, apps=["bitcoin-knots", "lnd"]) if c.event in ("reboot_survival", "stop_ports_released")]
    events = {**EVENTS, "reboot_survival": dataclasses.replace(EVENTS["reboot_survival"], observe=lambda ctx: {})}
    return G.GridRun(m, cells, Node(), Driver(), events=events), {c.id: c for c in cells}


def test_a_batched_cells_artifacts_start_before_the_shared_action(run, monkeypatch):
    grid, cells = run
    reboot = cells["lnd-reboot_survival"]
    grid.prepare(reboot)
    since = grid.artifacts_since(reboot)
    assert since and since.startswith("cursor-")
    assert grid.artifacts_since(cells["bitcoin-knots-reboot_survival"]) == since   # one batch, one cursor
    assert grid.artifacts_since(cells["lnd-stop_ports_released"]) is None           # its own cursor
    # the UI companion's line is lnd's, not bitcoin-knots'
    res = grid.batches[grid.steps[reboot.id].batch_key]
    assert res.journal == {"lnd": [f"archy-lnd-ui.service: Failed with result 'exit-code' (after {since})"]}


def _fake_events(install, leave):
    return {e.name: e for e in (GridEvent("put", install, starts_from=BEFORE_APP),
                                GridEvent("take", leave, starts_from=WITH_APP, needs_baseline=True))}


def test_the_engine_follows_declared_traits_not_event_names(monkeypatch):
    """An event that installs its app leaves a new rung and the baseline before it; one that
    needs a baseline gets it in its context. The names mean nothing to the engine."""
    monkeypatch.setattr(L.inventory, "snapshot", lambda node: object())
    seen = []
    put, take = (Cell("bitcoin-knots", e, "MUST", ("node",)) for e in ("put", "take"))
    grid = G.GridRun(load(), [take, put], Node(), Driver(), events=_fake_events(seen.append, seen.append))
    assert [s.cell.event for s in grid.steps.values()] == ["put", "take"]    # declaration order
    grid.prepare(put)
    grid.run(put)
    assert grid.ladder.current == ("bitcoin-knots",) and not grid.ladder.dirty
    assert ("bitcoin-knots",) in grid.ladder.rungs and () in grid.ladder.baselines
    grid.prepare(take)
    ctx = grid.run(take)
    assert ctx.baseline is grid.ladder.baselines[()] and seen[-1] is ctx
    assert grid.ladder.dirty                                 # it changed the state: not reused as is


def test_a_failed_install_cell_leaves_an_unknown_state(monkeypatch):
    def boom(ctx):
        raise AssertionError("install failed")
    put = Cell("bitcoin-knots", "put", "MUST", ("node",))
    monkeypatch.setattr(L.inventory, "snapshot", lambda node: object())
    grid = G.GridRun(load(), [put], Node(), Driver(), events=_fake_events(boom, boom))
    grid.prepare(put)
    with pytest.raises(AssertionError, match="install failed"):
        grid.run(put)
    assert grid.ladder.current is None and grid.ladder.dirty


def test_events_that_stop_a_dependency_expect_dependents_to_report_it_down():
    """Seen on the VM: lnd logged 'integration bitcoin: DOWN (...: RPC error -28: Shutting down)'
    during the reboot batch, and the word 'error' failed the journal check of a healthy cell."""
    from harness import journal
    from harness.grid.event import DEPENDENCY_DOWN
    line = {"CONTAINER_NAME": "archy-lnd", "PRIORITY": "6",
            "MESSAGE": "standin: integration bitcoin: DOWN (archy-bitcoin-knots:8332: RPC error -28: Shutting down)"}
    assert journal.errors([line], names=ROOTFUL) != []
    for ev in ("restart_integrations", "reboot_survival", "stop_ports_released"):
        assert journal.errors([line], EVENTS[ev].journal_allow, names=ROOTFUL) == [], ev
    assert EVENTS["fresh_install"].journal_allow == ()           # an install must not see it
    other = {**line, "MESSAGE": "standin: RPC error -28 while serving a client"}
    assert journal.errors([other], (DEPENDENCY_DOWN,), names=ROOTFUL) != []


class FaultNode(Node):
    cmd = ROOT   # a root login: as_root adds nothing

    def __init__(self):
        super().__init__()
        self.files, self.commands = {}, []

    def put_file(self, remote, data, mode=0o644):
        self.files[remote] = data

    def succeed(self, cmd, timeout=60):
        self.commands.append(cmd)
        return ""


def test_a_stand_in_fault_is_switched_on_after_every_golden_restore(monkeypatch):
    from harness.grid import variant
    m = load()
    assert variant.wanted_faults(m, "bitcoin-knots:wrong-height, lnd:not-synced") == \
        {"bitcoin-knots": "wrong-height", "lnd": "not-synced"}
    assert variant.wanted_faults(m, "") == {}
    for raw, why in (("lnd:wrong-height", "wrong-height is a bitcoind fault; lnd is a lnd"),
                     ("bitcoin-knots:slow", "unknown fault 'slow'"), ("nosuch:not-synced", "not an app"),
                     ("../x:not-synced", "not an app")):
        with pytest.raises(variant.FaultError, match=why):
            variant.wanted_faults(m, raw)
    monkeypatch.setenv(variant.FAULT_ENV, "lnd:not-synced")
    node = FaultNode()
    grid = G.GridRun(m, [], node, Driver(), events=EVENTS)
    grid.ladder.assume_golden()
    assert node.files == {"/var/lib/archipelago/apps/lnd/.standin-fault": b"not-synced\n"}
    variant.set_fault(node, "lnd", None)
    assert node.commands == ["rm -f /var/lib/archipelago/apps/lnd/.standin-fault"]
