"""harness/broken.py in a real pytest run (pytester, in process): a crashed cell runs once more,
a cell whose own check failed never does, and a second crash leaves the cell failed and broken."""
import json

pytest_plugins = ["pytester"]

CONFTEST = '''
import json, pytest
from harness import broken
pytest_plugins = ["harness.broken"]
FORGOTTEN = []

class FakeNode:
    crash = None        # what VMNode's crash watch sets; a restore clears it

@pytest.fixture(scope="session")
def node(pytestconfig):
    n = FakeNode()
    pytestconfig.stash[broken.NODE] = n
    pytestconfig.stash[broken.ON_CRASH] = lambda: FORGOTTEN.append(1)
    return n

def pytest_collection_modifyitems(items):
    for it in items:
        if it.name != "test_not_a_cell":
            it.user_properties.append(("archy_cell", json.dumps({"id": it.name})))

def pytest_sessionfinish(session):
    session.config.forgotten = len(FORGOTTEN)
'''

TESTS = '''
RUNS = {}

def attempt(name):
    RUNS[name] = RUNS.get(name, 0) + 1
    return RUNS[name]

def test_crash_then_pass(node):
    if attempt("once") == 1:
        node.crash = "Oops: int3: 0000 [#1] PREEMPT SMP NOPTI"
        raise ConnectionError("guest died")
    node.crash = None

def test_own_check_fails(node):
    assert attempt("own") == 99, "the cell's own check"

def test_crash_twice(node):
    attempt("twice")
    node.crash = "Oops: double fault"
    raise ConnectionError("guest died")

def test_not_a_cell(node):
    node.crash = "Oops: a crash outside the grid"
    assert attempt("plain") == 99

def test_attempts():
    assert RUNS == {"once": 2, "own": 1, "twice": 2, "plain": 1}
'''


def test_a_crashed_cell_runs_once_more_and_only_then(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_cells=TESTS)
    rec = pytester.inline_run("-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:archy")
    calls = {r.nodeid.split("::")[-1]: r for r in rec.getreports("pytest_runtest_logreport") if r.when == "call"}
    assert {n: r.outcome for n, r in calls.items()} == {
        "test_crash_then_pass": "passed", "test_own_check_fails": "failed", "test_crash_twice": "failed",
        "test_not_a_cell": "failed", "test_attempts": "passed"}
    props = {n: dict(r.user_properties) for n, r in calls.items()}
    assert json.loads(props["test_crash_then_pass"]["archy_retried"]).startswith("guest kernel crashed: Oops: int3")
    assert "archy_broken" not in props["test_crash_then_pass"]
    assert "archy_retried" not in props["test_own_check_fails"]         # never retried: its own check failed
    assert json.loads(props["test_crash_twice"]["archy_broken"]) == "guest kernel crashed again: Oops: double fault"
    assert "archy_retried" not in props["test_not_a_cell"]              # not a grid cell: pytest's own protocol
    assert rec.getcalls("pytest_sessionfinish")[0].session.config.forgotten == 2                                    # the grid's stale state dropped per retry
    # one result per cell in the log: JUnit, Allure and cells.json see the final attempt only
    assert len(rec.getreports("pytest_runtest_logreport")) == 3 * len(calls)
