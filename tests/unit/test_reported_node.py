"""-n N against the one embedded VM: each worker runs its own VM (vm0-w<i>), but every record
counts for the node the user named, so the gate sees one grid of vm0 (a run once failed its gate
with "73 MUST cells per node" against vm0-w0 and vm0-w1, each holding half the grid)."""
from types import SimpleNamespace

import pytest

from harness.plugin import STATE, current_target, reported_node
from node.target import parse


def _config(targets, worker: str | None):
    cfg = SimpleNamespace(stash=pytest.Stash())
    cfg.stash[STATE] = SimpleNamespace(targets=targets)
    if worker:
        cfg.workerinput = {"workerid": worker}
    return cfg


def test_workers_of_the_embedded_vm_report_the_named_node():
    cfg = _config([parse("vm://vm0")], "gw1")
    assert current_target(cfg).name == "vm0-w1"      # its own VM ...
    assert reported_node(cfg) == "vm0"                # ... its records count for vm0


def test_several_nodes_report_each_worker_its_own():
    cfg = _config([parse("vm://a"), parse("vm://b")], "gw1")
    assert reported_node(cfg) == current_target(cfg).name == "b"


def test_one_process_reports_the_target():
    assert reported_node(_config([parse("vm://vm0")], None)) == "vm0"
