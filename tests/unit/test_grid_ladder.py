"""The snapshot ladder's choices (harness/grid/ladder.py): which rung it restores, what it
installs on top, which rungs it saves. The node here is a recorder: only the decisions are tested."""
import pytest

from harness.grid import ladder as L
from harness.grid import reset
from node import platform
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


class RealNodeDriver(Driver):
    """A node without snapshots whose container.list answers from what was installed."""
    def __init__(self, node, have):
        super().__init__(node)
        self.have, self.platform = list(have), platform.load("reference")
        node.names = self.platform.names

    def call(self, method, timeout=60, **params):
        if method == "container.list":      # companions are rows of their own, as on the reference
            return [{"app": a} for a in self.have] + [{"app": c} for a in self.have
                                                      for c in load().apps[a].companions]
        self.node.calls.append((method, params.get("id")) + (("purge",) if params.get("purge") else ()))
        if method != "package.start":
            (self.have.append if method == "package.install" else self.have.remove)(params["id"])
        return {}

    def containers(self, timeout=60):
        return self.call("container.list")


def _in_place(monkeypatch, caps, have, stopped=()):
    monkeypatch.setattr(L.probes, "wait_healthy", lambda node, app, timeout: {})
    monkeypatch.setattr(L.probes, "unit", lambda node, a: {"ActiveState": "inactive" if a in stopped else "active"})
    node = Recorder()
    node.capabilities, node.name = frozenset(caps), "lab"
    node.wait_settled = lambda timeout: node.calls.append(("settled",))
    return L.Ladder(node, RealNodeDriver(node, have), load())


def test_a_disposable_node_gets_exactly_the_state_dependents_uninstalled_first(monkeypatch):
    lad = _in_place(monkeypatch, {"node", "destructive"}, ["bitcoin-knots", "lnd", "electrumx", "mempool"])
    lad.ensure(("bitcoin-knots", "btcpay"))
    removed = [c for c in lad.node.calls if c[0] == "package.uninstall"]
    assert {c[1] for c in removed} == {"lnd", "electrumx", "mempool"} and all(c[2] == "purge" for c in removed)
    assert lad.node.calls[-2:] == [("package.install", "btcpay"), ("settled",)]


def test_an_app_left_stopped_is_started_and_the_node_settles(monkeypatch):
    lad = _in_place(monkeypatch, {"node", "destructive"}, ["bitcoin-knots", "lnd"], stopped={"lnd"})
    lad.ensure(("bitcoin-knots", "lnd"))
    assert lad.node.calls == [("package.start", "lnd"), ("settled",)]


def test_a_node_not_disposable_is_never_changed(monkeypatch):
    lad = _in_place(monkeypatch, {"node"}, ["bitcoin-knots", "lnd", "mempool"])
    lad.ensure(("bitcoin-knots", "lnd"))            # there already, extra apps are no concern
    with pytest.raises(L.StateUnavailable, match="electrumx not installed on lab, which is not disposable"):
        lad.ensure(("bitcoin-knots", "electrumx"))
    assert lad.node.calls == []


def test_uninstall_order_puts_dependents_first():
    m = load()
    order = reset.uninstall_order(["bitcoin-knots", "lnd", "btcpay", "electrumx", "someone-else"], m)
    assert order.index("lnd") < order.index("bitcoin-knots") and order.index("btcpay") < order.index("bitcoin-knots")
    assert order.index("electrumx") < order.index("bitcoin-knots") and order[-1] == "someone-else"


def test_leftovers_are_the_apps_units_containers_and_quadlet_files():
    from harness.inventory import Inventory
    inv = Inventory({"containers": frozenset({"archy-lnd", "unrelated"}), "units": frozenset({"archipelago.service"}),
                     "quadlet": frozenset({"/etc/containers/systemd/archy-lnd-ui.container"})})
    assert reset.leftovers(inv, platform.load("reference").names) == ["archy-lnd", "archy-lnd-ui.container"]
