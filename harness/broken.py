"""Broken infrastructure is not a product failure: a grid cell whose guest kernel crashed runs once more.

The VM's crash watch marks the node (`node.crash`, the kernel's crash line; vm/crashwatch.py) when
the guest dies. A cell that failed while its node was crashed says nothing about the product: it
runs again once, from a fresh restore of the state it starts from, and its record keeps the first
attempt (`retried`). A cell whose own checks failed on a live node is never retried (Cockpit's
policy). When the retry crashes too, the cell stays failed and is marked `broken`, so the gate
still fails.

Only the final attempt's reports are logged, so JUnit, Allure and cells.json each see one result.
"""
from __future__ import annotations

import json
from typing import Callable

import pytest
from _pytest.runner import runtestprotocol

NODE = pytest.StashKey[object]()                      # the session's node (set by the node fixture)
ON_CRASH = pytest.StashKey[Callable[[], None]]()       # drops state the crash made stale (the grid's)


def crash_of(config: pytest.Config, reports: list[pytest.TestReport]) -> str | None:
    """The guest crash behind a failed attempt, or None (passed, or failed on a live node)."""
    if not any(r.failed for r in reports):
        return None
    return getattr(config.stash.get(NODE, None), "crash", None)


def _say(item: pytest.Item, msg: str) -> None:
    tr = item.config.pluginmanager.get_plugin("terminalreporter")
    if tr:
        tr.write_line(f"archy: {msg}")


def run_with_retry(item: pytest.Item, nextitem: pytest.Item | None) -> list[pytest.TestReport]:
    """Run the item's protocol; once more after a guest crash. Returns the reports to log."""
    props = list(item.user_properties)
    reports = runtestprotocol(item, nextitem=nextitem, log=False)
    crash = crash_of(item.config, reports)
    if crash is None:
        return reports
    _say(item, f"{item.nodeid}: the guest kernel crashed ({crash}): broken infrastructure, "
               "running the cell once more from a fresh restore")
    if forget := item.config.stash.get(ON_CRASH, None):
        forget()
    item.user_properties[:] = props            # the retry's record starts as the first one did
    reports = runtestprotocol(item, nextitem=nextitem, log=False)
    marks = [("archy_retried", json.dumps(f"guest kernel crashed: {crash}"))]
    if again := crash_of(item.config, reports):
        marks.append(("archy_broken", json.dumps(f"guest kernel crashed again: {again}")))
    for r in reports:
        r.user_properties.extend(marks)
    return reports


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    if not any(k == "archy_cell" for k, _ in item.user_properties):
        return None                                  # not a grid cell: pytest's own protocol
    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for rep in run_with_retry(item, nextitem):
        ihook.pytest_runtest_logreport(report=rep)
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True
