"""Helpers shared by tests/unit and tests/integration (imported by name: tests/conftest.py puts tests/ on sys.path)."""
from pathlib import Path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"test setup: {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def recorded(overrides=None, node="vm0", drop=(), cells=None):
    """A results document as the plugin writes it: every MUST cell passed unless overridden.

    overrides: {(app, event): (verdict, reason)}; drop: cells without any record.
    """
    from matrix.model import load, plan
    recs = []
    for c in cells or plan(load()):
        if (c.app, c.event) in drop:
            continue
        verdict, reason = (overrides or {}).get((c.app, c.event), ("passed", ""))
        recs.append({"app": c.app, "event": c.event, "requirement": c.requirement, "node": node,
                     "verdict": verdict, "reason": reason, "duration": 1.5,
                     "artifacts": [f"artifacts/{node}/{c.id}/journal.txt"] if verdict == "failed" else [],
                     "nodeid": f"tests/grid/test_grid.py::test_cell[{c.id}]"})
    return {"version": 1, "targets": [{"name": node, "url": f"vm://{node}", "kind": "vm"}],
            "selection": {"apps": None, "events": None}, "cells": recs}


def pinned_goss():
    """The harness's pinned goss on this controller (harness/goss_binary.py: fetched once with apt
    into the cache), or a skip that says why this controller cannot have it."""
    import pytest
    from harness.goss_binary import GossUnavailable, ensure
    try:
        return ensure()
    except GossUnavailable as e:
        pytest.skip(f"no pinned goss on this controller: {e}")
