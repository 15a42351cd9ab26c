"""Fixtures for the reconciler's unit tests (helpers live in recfake.py)."""
from __future__ import annotations

import pytest

from recfake import Clock, make


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def env(tmp_path, clock):
    rec, fake = make(tmp_path, clock=clock)
    return rec, fake

