"""The snapshot ladder's choices (harness/grid/ladder.py): which rung it restores, what it
installs on top, which rungs it saves. The node here is a recorder: only the decisions are tested."""
import pytest

from harness.grid import ladder as L
from matrix.model import load


class Recorder:
    capabilities = frozenset({"node", "snapshot"})

    def __init__(self):
        self.calls = []

    def restore(self, name="golden"):
        self.calls.append(("restore", name))

    def snapshot(self, name):
        self.calls.append(("snapshot", name))


class Driver:
    def __init__(self, node):
        self.node = node

    def call(self, method, timeout=60, **params):
        self.node.calls.append((method, params.get("id")))
        return {"id": params.get("id"), "state": "running", "healthy": True}


@pytest.fixture
def lad(monkeypatch):
    monkeypatch.setattr(L.probes, "wait_healthy", lambda node, app, timeout: {"healthy": True})
    node = Recorder()
    return L.Ladder(node, Driver(node), load())


def test_builds_rungs_from_golden_then_restores_the_nearest(lad):
    lad.ensure(("bitcoin-knots", "lnd"))
    assert lad.node.calls == [("restore", "golden"), ("package.install", "bitcoin-knots"),
                              ("snapshot", L.rung_name(("bitcoin-knots",))), ("package.install", "lnd"),
                              ("snapshot", L.rung_name(("bitcoin-knots", "lnd")))]
    lad.node.calls.clear()
    lad.ensure(("bitcoin-knots", "lnd"))              # clean and current: nothing to do
    assert lad.node.calls == []
    lad.touched()
    lad.ensure(("bitcoin-knots", "lnd", "fedimint"))  # dirty: restore the nearest rung, install the rest
    assert lad.node.calls[:2] == [("restore", L.rung_name(("bitcoin-knots", "lnd"))),
                                  ("package.install", "fedimint")]


def test_a_clean_current_prefix_is_extended_without_restoring(lad):
    lad.ensure(("bitcoin-knots",))
    lad.node.calls.clear()
    lad.ensure(("bitcoin-knots", "electrumx"))
    assert ("restore", "golden") not in lad.node.calls and lad.node.calls[0] == ("package.install", "electrumx")


def test_a_failed_build_is_never_reused(lad, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("install failed")
    monkeypatch.setattr(lad, "_install", boom)
    with pytest.raises(AssertionError):
        lad.ensure(("bitcoin-knots",))
    assert lad.current is None and lad.dirty


def test_naive_mode_saves_no_rung(monkeypatch):
    monkeypatch.setattr(L.probes, "wait_healthy", lambda node, app, timeout: {"healthy": True})
    node = Recorder()
    lad = L.Ladder(node, Driver(node), load(), use_snapshots=False)
    lad.ensure(("bitcoin-knots", "lnd"))
    assert not [c for c in node.calls if c[0] == "snapshot"]
