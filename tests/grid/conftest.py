"""The grid's run machinery: cells sorted into the planned order (snapshot ladder, batches), and
the state each cell needs prepared *before* the plugin's `cell` fixture takes its journal cursor.

--grid-mode ladder (default) or naive (every cell from golden: the benchmark's baseline); ini
archy_grid_mode, env ARCHY_GRID_MODE (harness/settings.py).
"""
from __future__ import annotations

import os

import pytest

from harness.events import EVENTS
from harness import settings
from harness.grid import plan as planmod, schedule, variant
from harness.grid.context import Options
from harness.grid import reset
from harness.grid.ladder import StateUnavailable
from harness.grid.run import GridRun
from harness.broken import ON_CRASH
from harness.plugin import ARTIFACTS_SINCE, STATE, why_not_run


def grid_mode(config) -> str:
    mode, where = settings.sourced(config, "--grid-mode")
    if mode not in planmod.MODES:
        raise pytest.UsageError(f"{where}: grid mode {mode!r}: use {' or '.join(planmod.MODES)}")
    return mode


def _cell(item):
    cs = getattr(item, "callspec", None)
    return cs.params.get("cell") if cs else None


def pytest_collection_modifyitems(config, items):
    grid = [(i, it) for i, it in enumerate(items) if _cell(it) is not None
            and "tests/grid" in str(it.path).replace(os.sep, "/")]
    if not grid:
        return
    st = config.stash[STATE]
    try:
        steps = planmod.plan(st.matrix, [_cell(it) for _, it in grid], grid_mode(config), events=EVENTS)
        order = planmod.order_key(steps)
    except planmod.PlanError as e:
        raise pytest.UsageError(f"grid plan: {e}") from None
    slots = [i for i, _ in grid]
    for slot, (_, it) in zip(slots, sorted(grid, key=lambda p: order[_cell(p[1]).id])):
        items[slot] = it


def pytest_xdist_make_scheduler(config, log):
    """-n N: a batch's cells go to one worker, the rest one by one in the planned order
    (harness/grid/schedule.py). Fleets (`--dist each`) and an explicit other --dist keep xdist's."""
    if config.getvalue("dist") not in ("load", "loadgroup") or STATE not in config.stash:
        return None
    st = config.stash[STATE]
    try:
        steps = planmod.plan(st.matrix, list(st.cells), grid_mode(config), events=EVENTS)
    except planmod.PlanError as e:
        raise pytest.UsageError(f"grid plan: {e}") from None
    return schedule.GridScheduling(config, log, schedule.units(steps, EVENTS))


@pytest.fixture(scope="session")
def grid(archy, node, driver, pytestconfig, request) -> GridRun:
    tr = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    progress = (lambda m: tr.write_line(f"  [grid] {m}")) if tr and pytestconfig.option.verbose > 0 else (lambda m: None)
    options = Options(soak_duration=archy.soak_seconds or Options.soak_duration,
                      soak_interval=min(Options.soak_interval, max(5.0, (archy.soak_seconds or 300) / 10)))
    try:
        run = GridRun(archy.matrix, archy.cells, node, driver, events=EVENTS, mode=grid_mode(pytestconfig),
                      options=options, progress=progress)
    except variant.FaultError as e:
        pytest.exit(str(e), returncode=4)
    # vm.launch restored golden moments ago; when only grid cells use this node, start from there.
    if "snapshot" in node.capabilities and all(_cell(it) is not None for it in request.session.items):
        run.ladder.assume_golden()
    elif "snapshot" not in node.capabilities and "destructive" in node.capabilities:
        try:           # a disposable node without snapshots starts from nothing installed
            removed = reset.clean(node, driver, archy.matrix, progress=progress)
        except reset.ResetFailed as e:
            pytest.exit(str(e), returncode=pytest.ExitCode.USAGE_ERROR)
        progress(f"reset: {node.name} clean ({', '.join(removed) or 'nothing was installed'})")
        run.ladder.current, run.ladder.dirty = (), False
    pytestconfig.stash[ON_CRASH] = run.after_crash
    return run


@pytest.fixture(autouse=True)
def _grid_state(request, archy):
    """Restore / build the cell's state and run its batch action before the `cell` fixture."""
    c = _cell(request.node)
    if c is None or why_not_run(c, request.config):
        yield
        return
    if allow := EVENTS[c.event].journal_allow:      # the plugin's journal check reads this mark
        request.node.add_marker(pytest.mark.journal_allow(*allow))
    run = request.getfixturevalue("grid")
    try:
        run.prepare(c)
    except StateUnavailable as e:      # a node the run may not change lacks the cell's state
        pytest.skip(str(e))
    if since := run.artifacts_since(c):
        request.node.stash[ARTIFACTS_SINCE] = since
    yield
