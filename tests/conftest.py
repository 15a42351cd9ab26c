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
