"""wait_converged's liveness rule: the daemon's own loop must tick twice after the fault (a tick
already running when the clock stepped back ends by itself and proves nothing)."""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from chaos import probes
from node import platform


def _fake(monkeypatch, ticks: list[float], plat=None):
    """_health returns the first value, then each later value once; the last one repeats (a stall)."""
    seq = iter(ticks)
    state = {"now": None}

    def health(_configuration):
        state["now"] = next(seq, state["now"])
        return {"ok": True, "last_good_tick": state["now"]}

    monkeypatch.setattr(probes, "_health", health)
    monkeypatch.setattr(probes, "steady", lambda *_a, **_k: {"status": 0, "problems": []})
    plat = plat or platform.load("reference")
    monkeypatch.setattr(probes.target, "driver", lambda _configuration: SimpleNamespace(platform=plat))


def test_in_flight_tick_then_stall_is_not_alive(monkeypatch):
    # 1000 at the fault; the in-flight tick ends (wall clock stepped back: 0.5); then nothing
    _fake(monkeypatch, [1000.0, 1000.0, 0.5])
    with pytest.raises(AssertionError, match="completed 1 of 2 ticks"):
        probes.wait_converged({}, "bitcoin-knots", timeout=0.3, interval=0.01)


def test_two_loop_ticks_after_the_fault_converge(monkeypatch):
    _fake(monkeypatch, [1000.0, 0.5, 0.5, 5.6])
    out = probes.wait_converged({}, "bitcoin-knots", timeout=5, interval=0.01)
    assert out["status"] == 0


def test_a_platform_whose_health_shows_no_tick_converges_on_the_steady_state(monkeypatch):
    ref = platform.load("reference")
    quiet = dataclasses.replace(ref, health=dataclasses.replace(ref.health, progress=None))
    _fake(monkeypatch, [1000.0], plat=quiet)          # the tick field never moves
    assert probes.wait_converged({}, "bitcoin-knots", timeout=0.3, interval=0.01)["status"] == 0
