"""Work units for xdist workers (harness/grid/schedule.py): a batch is one unit, every other
cell its own, read from the plan; ids that are no grid cell stay their own unit."""
import pytest

from harness.events import EVENTS
from harness.grid import plan as P, schedule
from matrix.model import load, plan as cells_of


@pytest.fixture(scope="module")
def m():
    return load()


def test_a_batch_is_one_work_unit_and_every_other_cell_its_own(m):
    steps = P.plan(m, cells_of(m), events=EVENTS)
    units = schedule.units(steps, EVENTS)
    assert set(units) == {s.cell.id for s in steps}
    reboot = {units[s.cell.id] for s in steps if s.cell.event == "reboot_survival" and "bitcoin-core" not in s.line}
    assert len(reboot) == 1 and next(iter(reboot)).startswith("batch ")
    alone = [s for s in steps if not EVENTS[s.cell.event].batched]
    assert alone and all(units[s.cell.id] == s.cell.id for s in alone)
    batched = [s for s in steps if EVENTS[s.cell.event].batched]
    assert len({units[s.cell.id] for s in batched}) < len(batched)     # some unit holds several cells


@pytest.mark.parametrize("nodeid, want", [
    ("tests/grid/test_grid.py::test_cell[lnd-fresh_install]", "lnd-fresh_install"),
    ("tests/grid/test_grid.py::test_cell[bitcoin-knots-reboot_survival]", "bitcoin-knots-reboot_survival"),
    ("tests/grid/test_grid.py::test_other", None),
    ("tests/unit/test_x.py::test_cell", None),
], ids=["install", "reboot", "other-test", "no-param"])   # ids without "tests/grid": progress lines key on it
def test_the_cell_of_a_test_id(nodeid, want):
    assert schedule.cell_of(nodeid) == want
