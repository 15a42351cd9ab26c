"""Grid planning (harness/grid/plan.py): lines, the ladder order and batches."""
import pytest

from harness.events import EVENTS
from harness.grid import plan as P
from matrix.model import load, plan as cells_of


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
