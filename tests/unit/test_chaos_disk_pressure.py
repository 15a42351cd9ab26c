"""fill_var's bite: the reconciler must report the full disk on /health while it lasts, and a node
still reporting disk pressure is not steady."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from chaos import probes
from node.names import REFERENCE


def _health(monkeypatch, bodies: list[dict]):
    seq = iter(bodies)
    state = {"body": {}}

    def health(_configuration):
        state["body"] = next(seq, state["body"])
        return {"http_status": 200, "ok": True, "last_good_tick": 1.0, **state["body"]}

    monkeypatch.setattr(probes, "_health", health)
    monkeypatch.setattr(probes.target, "node", lambda _configuration: SimpleNamespace(names=REFERENCE))
    monkeypatch.setattr(probes.poll.__globals__["time"], "sleep", lambda _s: None)


def test_report_after_a_few_ticks_is_seen(monkeypatch):
    _health(monkeypatch, [{}, {}, {"disk_pressure": {"/var/lib/archipelago": 16}}])
    assert probes.disk_pressure_reported({}, timeout=30) == {"path": "/var/lib/archipelago", "free_mib": 16}


def test_no_report_fails_the_method(monkeypatch):
    # chaos-no-disk-pressure: /health stays silent about the full disk
    _health(monkeypatch, [{}])
    with pytest.raises(AssertionError, match="no disk-pressure report for /var/lib/archipelago"):
        probes.disk_pressure_reported({}, timeout=0.05)


def test_other_path_does_not_count(monkeypatch):
    _health(monkeypatch, [{"disk_pressure": {"/var/lib/containers": 20}}])
    with pytest.raises(AssertionError):
        probes.disk_pressure_reported({}, timeout=0.05)
