"""The real matrix data: what the seed's table says, and planning (levels: test_standing.py)."""
import pytest

from matrix.model import MatrixError, load, plan

M = load()


TEETH = ("config_drift", "broken_install", "start_order", "upgrade_rollback")     # rows for the seeds' failure classes the table has no cell for


def test_counts_match_the_seed_table():
    assert list(M.apps) == ["bitcoin-knots", "bitcoin-core", "lnd", "electrumx", "btcpay", "mempool", "fedimint"]
    assert set(M.companions) == {"archy-bitcoin-ui", "archy-lnd-ui", "archy-electrs-ui"}
    # the seed's table: 7 x 11 = 77 minus electrumx's Tor cell and three restart cells marked "-"
    seed = [c for c in plan(M) if c.event not in TEETH]
    assert len({c.event for c in seed}) == 11
    assert len(seed) == 73
    # the rows the seed's table lacks (matrix/cells.yaml): one MUST cell per app each
    assert len(M.events) == 11 + len(TEETH)
    assert len(plan(M)) == 73 + 7 * len(TEETH) - 2      # start_order: "-" for the two bitcoinds
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
