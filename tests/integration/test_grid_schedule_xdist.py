"""harness/grid/schedule.GridScheduling in a real `pytest -n 2` (pytester, a subprocess): the
cells of one work unit all run on one worker, in their planned order, and every cell runs once.
xdist's own load scheduling, the control, splits the same cells over both workers."""
pytest_plugins = ["pytester"]

CONFTEST = '''
from harness.grid import schedule

def pytest_xdist_make_scheduler(config, log):
    if config.getoption("--grid-units", default=False):
        return schedule.GridScheduling(config, log, {"a-x": "batch r", "c-x": "batch r", "e-x": "batch r"})

def pytest_addoption(parser):
    parser.addoption("--grid-units", action="store_true")
'''

CELLS = '''
import os
import pytest

@pytest.mark.parametrize("cell", ["a-x", "b-x", "c-x", "d-x", "e-x", "f-x", "g-x", "h-x"])
def test_cell(cell):
    with open(os.environ["RAN"], "a") as f:
        f.write(f"{cell} {os.environ['PYTEST_XDIST_WORKER']}\\n")
'''


def run(pytester, *args) -> list[tuple[str, str]]:
    pytester.makeconftest(CONFTEST)
    grid = pytester.path / "tests" / "grid"
    grid.mkdir(parents=True, exist_ok=True)
    (grid / "test_grid.py").write_text(CELLS)
    ran = pytester.path / "ran.txt"          # a fresh pytester dir per test: nothing to clear
    pytester._monkeypatch.setenv("RAN", str(ran))
    r = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:archy", "-n", "2", "tests/grid", *args)
    r.assert_outcomes(passed=8)
    return [tuple(line.split()) for line in ran.read_text().splitlines()]


def test_a_work_unit_runs_on_one_worker_in_its_order(pytester):
    ran = run(pytester, "--grid-units")
    assert sorted(c for c, _ in ran) == ["a-x", "b-x", "c-x", "d-x", "e-x", "f-x", "g-x", "h-x"]
    batch = [(c, w) for c, w in ran if c in ("a-x", "c-x", "e-x")]
    assert len({w for _, w in batch}) == 1, batch
    assert [c for c, _ in batch] == ["a-x", "c-x", "e-x"]
    assert len({w for _, w in ran}) == 2                      # the others went to the other worker too


def test_the_control_xdist_load_splits_the_same_cells(pytester):
    ran = run(pytester)
    assert len({w for c, w in ran if c in ("a-x", "c-x", "e-x")}) == 2
