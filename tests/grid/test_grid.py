"""The lifecycle matrix: one test per (app, event) cell, dispatched to harness/events/<event>.py.

Parametrized by the plugin from matrix/ (ids `app-event`, marks must/should); ordered and
prepared by tests/grid/conftest.py (snapshot ladder, batches). A cell with a part that could
not run here (the Tor network, a power cut on a real node) is reported as not run, with the
reason, after its local checks passed — never as passed: the cell passes on what it checked and
its record lists the part not run ("parts_not_run"), which the grid marks ✓* and the gate prints.
"""
import json

import pytest

from harness.grid.ladder import StateUnavailable


def test_cell(cell, node, driver, grid, request):
    try:
        ctx = grid.run(cell)
    except StateUnavailable as e:     # a node the run may not change lacks what the cell judges
        pytest.skip(str(e))
    if ctx.notes:
        request.node.user_properties.append(("archy_notes", json.dumps(ctx.notes)))
    if ctx.not_run:
        request.node.user_properties.append(("archy_parts_not_run", json.dumps(ctx.not_run)))
