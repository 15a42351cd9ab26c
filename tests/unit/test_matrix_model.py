"""The real matrix data: what the seed's table says, and planning (levels: test_standing.py)."""
import pytest

from matrix.model import MatrixError, load, plan

M = load()


def test_counts_match_the_seed_table():
    assert list(M.apps) == ["bitcoin-knots", "bitcoin-core", "lnd", "electrumx", "btcpay", "mempool", "fedimint"]
    assert len(M.events) == 11
    assert set(M.companions) == {"archy-bitcoin-ui", "archy-lnd-ui", "archy-electrs-ui"}
    # 7 x 11 = 77 minus electrumx's Tor cell and three restart cells marked "-"
    assert len(plan(M)) == 73
    assert all(c.requirement == "MUST" for c in plan(M))


@pytest.mark.parametrize("app,event", [("electrumx", "tor_onion"), ("bitcoin-knots", "restart_integrations"),
                                       ("bitcoin-core", "restart_integrations"), ("fedimint", "restart_integrations")])
def test_dash_cells_are_not_generated(app, event):
    assert (app, event) not in M.cells
    assert f"{app}-{event}" not in {c.id for c in plan(M)}


def test_app_facts():
    knots, core, lnd = M.apps["bitcoin-knots"], M.apps["bitcoin-core"], M.apps["lnd"]
    assert knots.provides == core.provides == "bitcoin"
    assert "bitcoin-core" in knots.conflicts and "bitcoin-knots" in core.conflicts
    assert knots.stop_grace == 600 and lnd.stop_grace == 330 and M.apps["electrumx"].stop_grace == 300
    assert M.apps["mempool"].stop_grace == 120 and M.apps["btcpay"].stop_grace == 60
    assert M.apps["fedimint"].stop_grace == 30
    assert M.apps["btcpay"].depends == ("bitcoin", "lnd")
    assert set(M.apps["mempool"].depends) == {"electrum", "bitcoin"}
    assert lnd.proxy_path == "/apps/lnd/" and lnd.port("rest") == 8080
    assert M.providers("bitcoin") == ["bitcoin-knots", "bitcoin-core"]
    assert M.app("archy-lnd-ui").companion_of == "lnd"


def test_plan_selection_keeps_lifecycle_order_and_needs():
    cells = plan(M, apps=["lnd"], events=["uninstall_no_orphans", "fresh_install", "reboot_survival"])
    assert [c.id for c in cells] == ["lnd-fresh_install", "lnd-reboot_survival", "lnd-uninstall_no_orphans"]
    assert cells[1].needs == ("reboot", "destructive")
    assert [c.id for c in plan(M, events=["tor_onion"])] == [
        f"{a}-tor_onion" for a in M.apps if a != "electrumx"]


def test_unknown_app_and_event_name_the_valid_ones():
    with pytest.raises(MatrixError) as e:
        plan(M, apps=["lnd", "lndd"])
    assert str(e.value).startswith("unknown app 'lndd'; valid apps: bitcoin-knots, bitcoin-core, lnd")
    with pytest.raises(MatrixError, match=r"unknown event 'reboot'; valid events: fresh_install"):
        plan(M, events=["reboot"])
