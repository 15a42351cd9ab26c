"""Shared by every test folder: the fixtures tests/unit and tests/integration both use.

(This file also puts tests/ on sys.path, so tests import tests/helpers.py by name.)
"""
import shutil
from pathlib import Path

import pytest

from matrix.model import MATRIX_DIR


@pytest.fixture
def matrix_copy(tmp_path) -> Path:
    """A writable copy of the real matrix data, to break on purpose."""
    d = tmp_path / "matrix"
    d.mkdir()
    for f in ("apps.yaml", "events.yaml", "cells.yaml", "levels.yaml"):
        shutil.copy(MATRIX_DIR / f, d / f)
    return d


# fixtures that reach the session's node: the embedded VM unless --node names another
NODE_FIXTURES = frozenset({"node", "driver", "from_golden", "cell", "vm_node", "chaos_node"})


@pytest.hookimpl(tryfirst=True)   # before `-m` deselects by marker
def pytest_collection_modifyitems(items):
    """Markers by what a test uses, so a new test file cannot forget them: `vm` on every test
    that reaches the node, `grid` on the lifecycle cells. Tests that boot a VM another way (a
    child process) carry `vm` themselves."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & NODE_FIXTURES:
            item.add_marker(pytest.mark.vm)
        if "cell" in used:
            item.add_marker(pytest.mark.grid)
