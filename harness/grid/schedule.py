"""Handing grid cells to xdist workers (`-n N` against the embedded VM: one VM per worker).

The cells of one batch go to one worker, so its shared action (a reboot of the line, the soak,
the dependencies' restart) runs once instead of once on every worker that got a member; the
other cells are handed out one at a time, in the planned order (the ladder's), to whichever
worker is free.

xdist's own `--dist loadgroup` cannot do this on pytest 9.2: it tags grouped items by rewriting
`Item._nodeid`, which pytest 9 no longer reads (a node's id comes from `_id`), so every test
stays its own group. `GridScheduling` is xdist's LoadScopeScheduling (what loadgroup is built on)
with the work unit read from the plan instead. Pure but the class.
"""
from __future__ import annotations

import re
from typing import Mapping

from xdist.scheduler import LoadScopeScheduling

from harness.grid.plan import Events, Step

_PARAM = re.compile(r"::test_cell\[([^\]]+)\]$")


def cell_of(nodeid: str) -> str | None:
    """The grid cell a test id runs: `tests/grid/test_grid.py::test_cell[<cell id>]`."""
    m = _PARAM.search(nodeid)
    return m.group(1) if m else None


def units(steps: list[Step], events: Events) -> dict[str, str]:
    """Cell id -> work unit: a batched cell's batch, any other cell its own id."""
    return {s.cell.id: f"batch {s.batch_key}" if events[s.cell.event].batched else s.cell.id
            for s in steps}


class GridScheduling(LoadScopeScheduling):
    """Work units from `units`, sent in collection order (the plan's): a test that is no grid
    cell, or one the plan does not know, is its own unit."""

    def __init__(self, config, log, work_units: Mapping[str, str]):
        super().__init__(config, log)
        self.work_units = dict(work_units)
        config.option.loadscopereorder = False     # biggest-first would break the ladder's order

    def _split_scope(self, nodeid: str) -> str:
        cell = cell_of(nodeid)
        return self.work_units.get(cell, nodeid) if cell else nodeid
