"""Grid planning (harness/grid/plan.py): lines, the ladder order and batches, from the traits the
events declare (harness/grid/event.py)."""
import pytest

from harness.events import EVENTS
from harness.grid import plan as P
from harness.grid.event import BEFORE_APP, FULL_LINE, WITH_APP, GridEvent
from matrix.model import Cell, load, plan as cells_of


@pytest.fixture(scope="module")
def m():
    return load()


def test_conflicting_apps_get_their_own_line(m):
    lines = P.lines(m, list(m.apps))
    assert lines[0][0] == "bitcoin-knots" and "bitcoin-core" not in lines[0]
    assert lines[1] == ("bitcoin-core",)
    assert set(lines[0]) == set(m.apps) - {"bitcoin-core"}


def test_ladder_plan_orders_phases_and_batches(m):
    steps = P.plan(m, cells_of(m), events=EVENTS)
    assert len(steps) == len(cells_of(m))
    first_line = [s for s in steps if "bitcoin-core" not in s.line]
    events = [s.cell.event for s in first_line]
    assert events.index("ui_direct_port") > max(i for i, e in enumerate(events) if e == "fresh_install")
    fi = [s for s in first_line if s.cell.event == "fresh_install"]
    assert [s.rung for s in fi] == list(range(len(fi)))          # each install builds the next rung
    reboot = [s for s in steps if s.cell.event == "reboot_survival" and "bitcoin-core" not in s.line]
    assert {s.batch for s in reboot} == {tuple(s.cell.app for s in reboot)}   # one shared reboot
    assert len({s.batch_key for s in reboot}) == 1
    un = next(s for s in steps if s.cell.id == "lnd-uninstall_no_orphans")
    assert un.installed[-1] == "lnd"                              # the app is the leaf of its rung


def test_naive_plan_runs_every_cell_alone_from_its_stack(m):
    steps = P.plan(m, cells_of(m, apps=["btcpay"]), P.NAIVE, events=EVENTS)
    assert all(s.batch == ("btcpay",) for s in steps)
    fi = next(s for s in steps if s.cell.event == "fresh_install")
    assert fi.installed == ("bitcoin-knots", "lnd")
    assert next(s for s in steps if s.cell.event == "soak").installed == ("bitcoin-knots", "lnd", "btcpay")


def test_unknown_mode_is_refused(m):
    with pytest.raises(P.PlanError, match="unknown grid mode"):
        P.plan(m, cells_of(m), "fast", events=EVENTS)


def test_order_key_covers_every_cell(m):
    steps = P.plan(m, cells_of(m), events=EVENTS)
    assert set(P.order_key(steps)) == {c.id for c in cells_of(m)}


def _noop(ctx):
    pass


FAKE = {e.name: e for e in (
    GridEvent("build", _noop, starts_from=BEFORE_APP),
    GridEvent("look", _noop, starts_from=FULL_LINE, read_only=True),
    GridEvent("shake", _noop, starts_from=FULL_LINE, observe=_noop),
    GridEvent("tear_down", _noop, starts_from=WITH_APP, needs_baseline=True),
)}
LINE = ("bitcoin-knots", "lnd")


def _cells(events):
    return [Cell(a, e, "MUST", ("node",)) for e in events for a in reversed(LINE)]


def test_traits_give_the_state_the_restore_and_the_batch(m):
    steps = P.plan(m, _cells(["tear_down", "shake", "look", "build"]), events=FAKE)
    got = [(s.cell.id, s.rung, s.clean, s.batch) for s in steps]
    assert got == [
        ("bitcoin-knots-build", 0, True, ("bitcoin-knots",)),    # starts before its app: builds rung 1
        ("lnd-build", 1, True, ("lnd",)),
        ("bitcoin-knots-look", 2, False, ("bitcoin-knots",)),    # read-only: shares the full line
        ("lnd-look", 2, False, ("lnd",)),
        ("bitcoin-knots-shake", 2, True, LINE),                  # batched: one action for the line
        ("lnd-shake", 2, True, LINE),
        ("bitcoin-knots-tear_down", 1, True, ("bitcoin-knots",)),  # its app the leaf of its rung
        ("lnd-tear_down", 2, True, ("lnd",)),
    ]
    assert all(s.line == LINE for s in steps)


def test_the_tables_order_is_the_run_order_within_a_line(m):
    backwards = dict(reversed(FAKE.items()))
    steps = P.plan(m, _cells(["build", "tear_down"]), events=backwards)
    assert [s.cell.event for s in steps] == ["tear_down", "tear_down", "build", "build"]


def test_naive_mode_reads_the_same_traits(m):
    steps = P.plan(m, _cells(["build", "look", "tear_down"]), P.NAIVE, events=FAKE)
    rungs = {s.cell.id: (s.rung, s.clean, s.batch) for s in steps}
    assert rungs["lnd-build"] == (1, True, ("lnd",))             # its stack without it
    assert rungs["lnd-look"] == rungs["lnd-tear_down"] == (2, True, ("lnd",))


def test_a_cell_without_an_event_module_is_a_plan_error(m):
    with pytest.raises(P.PlanError, match="no event module for 'fresh_install'"):
        P.plan(m, cells_of(m, apps=["lnd"]), events=FAKE)


def test_a_start_state_the_engine_does_not_know_is_refused():
    with pytest.raises(ValueError, match="starts_from 'somewhere'"):
        GridEvent("odd", _noop, starts_from="somewhere")


def test_the_event_table_covers_the_matrix_in_the_grids_run_order(m):
    assert set(EVENTS) == set(m.events)
    assert list(EVENTS) == ["fresh_install", "ui_direct_port", "ui_https_proxy", "ui_iframe", "tor_onion",
                            "restart_integrations", "config_drift", "stop_ports_released", "reboot_survival", "start_order", "soak",
                            "broken_install", "upgrade_rollback", "reinstall_idempotent", "uninstall_no_orphans"]
    assert [e for e, ev in EVENTS.items() if ev.batched] == ["restart_integrations", "reboot_survival", "start_order",
                                                                    "soak"]
