"""harness/progress.CellProgress in a real pytest run (pytester, in a subprocess so the output is
the console's): a start and an end line per grid cell, with the count and an ETA from the previous
run's durations; no dots for grid cells; other tests report as usual."""
import json

pytest_plugins = ["pytester"]

CONFTEST = '''
from pathlib import Path
from harness import progress

def pytest_configure(config):
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(progress.CellProgress(config, Path("results"), 1), "archy-progress")
'''

CELLS = '''
import pytest

@pytest.mark.parametrize("cell", ["a-x", "b-x", "c-x"])
def test_cell(cell):
    assert cell != "b-x", "b is broken"
'''


def test_one_start_and_one_end_line_per_cell_with_an_eta(pytester):
    pytester.makeconftest(CONFTEST)
    grid = pytester.mkpydir("tests").joinpath("grid")
    grid.mkdir()
    grid.joinpath("test_grid.py").write_text(CELLS)
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    nodeid = "tests/grid/test_grid.py::test_cell[{}]"
    pytester.path.joinpath("results").mkdir()
    pytester.path.joinpath("results", "previous-cells.json").write_text(json.dumps({"cells": [
        {"nodeid": nodeid.format(c), "duration": 600, "verdict": "passed"} for c in ("a-x", "b-x", "c-x")]}))
    r = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:archy", "tests/grid", "test_plain.py")
    out = r.stdout.str()
    starts = [ln for ln in out.splitlines() if ln.startswith("[grid] start")]
    ends = [ln for ln in out.splitlines() if ln.startswith("[grid] ") and not ln.startswith("[grid] start")]
    assert [s.split()[2] for s in starts] == ["a-x", "b-x", "c-x"] and "(1/3)" in starts[0]
    assert [e.split()[1:3] for e in ends] == [["PASS", "a-x"], ["FAIL", "b-x"], ["PASS", "c-x"]]
    assert "1/3 done  ETA" in ends[0] and "(20 min left)" in ends[0]       # the two cells left, 600 s each
    assert ends[-1].endswith("3/3 done  last cell")
    assert not [ln for ln in out.splitlines() if ln.startswith("tests/grid/test_grid.py") and "." in ln[24:]]
    assert "test_plain.py ." in out                                         # other tests keep theirs
    r.assert_outcomes(passed=3, failed=1)
