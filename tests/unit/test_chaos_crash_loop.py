"""The crash loop across a daemon restart, judged from systemd's journal (chaos/crash_loop.py)."""
import pytest

from chaos.crash_loop import (FAILED, RESTART_SCHEDULED, STARTING, Cycle, cycles, events, holds, judge,
                              ready_to_restart, schedule_starts, storm)

UNIT = "lnd.service"


def burst(t: float, starts: int = 3, each: float = 10) -> list[tuple[float, str]]:
    """One cycle: a start at t, then systemd's automatic restarts, each failing after `each` s."""
    out = [(t, STARTING)]
    for i in range(starts):
        out.append((t + (i + 1) * each - 1, FAILED))
        if i < starts - 1:
            out += [(t + (i + 1) * each - 0.5, RESTART_SCHEDULED), (t + (i + 1) * each, STARTING)]
    return out


def loop(starts_at: list[float]) -> list[tuple[float, str]]:
    return [e for t in starts_at for e in burst(t)]


def test_a_cycle_is_a_start_with_systemds_own_restarts_behind_it():
    cs = cycles(loop([100, 200]))
    assert cs == [Cycle(100, 3, 129), Cycle(200, 3, 229)]
    assert holds(cs) == [71]


def test_a_restart_refused_by_the_start_limit_ends_the_cycle():
    # the journal of a real loop (VM, d6e2332): systemd schedules a 5th restart, refuses it
    # ("Start request repeated too quickly", then the failure result) and the reconciler starts it
    evts = [*burst(100), (129.5, RESTART_SCHEDULED), (129.6, FAILED), *burst(200)]
    cs = cycles(evts)
    assert cs == [Cycle(100, 3, 129.6), Cycle(200, 3, 229)]
    assert holds(cs) == [pytest.approx(70.4)]


def test_the_loop_begun_by_the_fault_has_no_start_of_its_own():
    evts = [(5, FAILED), (5.5, RESTART_SCHEDULED), (6, STARTING), (8, FAILED), *loop([50])]
    cs = cycles(evts)
    assert cs[0] == Cycle(None, 1, 8)
    assert cs[1].start == 50 and holds(cs) == [42]


def test_events_are_the_units_own_from_either_manager_in_time_order():
    entries = [{"MESSAGE_ID": STARTING, "USER_UNIT": UNIT, "__MONOTONIC_TIMESTAMP": "2000000"},
               {"MESSAGE_ID": FAILED, "UNIT": UNIT, "__MONOTONIC_TIMESTAMP": "1000000"},
               {"MESSAGE_ID": STARTING, "UNIT": "bitcoin-knots.service", "__MONOTONIC_TIMESTAMP": "3000000"},
               {"MESSAGE_ID": "other", "UNIT": UNIT, "__MONOTONIC_TIMESTAMP": "4000000"},
               {"MESSAGE_ID": STARTING, "UNIT": UNIT}]
    assert events(entries, UNIT) == [(1.0, FAILED), (2.0, STARTING)]


def test_the_daemon_is_restarted_only_in_a_hold_after_a_long_one():
    short = cycles(loop([100, 135]))           # held 6 s: the tick's pace, not the backoff's
    assert not ready_to_restart(short, hold_min=45)
    long = cycles(loop([100, 200]))
    assert ready_to_restart(long, hold_min=45)
    running = cycles(loop([100]) + [(200, STARTING)])   # the next cycle has begun and not failed yet
    assert not ready_to_restart(running, hold_min=45)


def test_a_backoff_that_goes_on_across_the_restart_passes():
    cs = cycles(loop([100, 200, 420]))         # hold 71 s, then 191 s across the restart at 235
    problems, figures = judge(cs, restarted=235)
    assert problems == []
    assert figures["hold_before_s"] == 71 and figures["hold_across_s"] == 191 and figures["starts_in_window"] == 0


def test_a_backoff_forgotten_with_the_daemon_is_a_restart_storm():
    cs = cycles(loop([100, 200, 250]))         # started again 21 s after the app gave up
    problems, figures = judge(cs, restarted=240)
    assert len(problems) == 1 and "restarted from zero" in problems[0]
    assert figures["starts_in_window"] == 3 and figures["hold_across_s"] == 21


@pytest.mark.parametrize("starts, restarted, want", [
    ([100], 140, "fewer than two ended cycles"),
    ([100, 200, 300], 210, "still restarting"),
    ([100, 200], 235, "did not go on"),
])
def test_a_restart_that_tested_nothing_says_why(starts, restarted, want):
    problems, _ = judge(cycles(loop(starts)), restarted)
    assert len(problems) == 1 and want in problems[0]


def test_the_schedule_allows_a_start_at_once_then_one_per_doubled_delay():
    assert schedule_starts(0) == 1
    assert schedule_starts(10) == 2
    assert schedule_starts(69) == 3            # 0, 10, 30: the next is due at 70
    assert schedule_starts(1210) == 9          # 10+20+40+80+160+300+300+300 = 1210


def test_a_loop_restarted_every_half_minute_is_a_storm_a_backed_off_one_is_not():
    every_30s = [e for i in range(20) for e in ((i * 30.0, STARTING), (i * 30.0 + 25, FAILED))]
    assert "restart storm: 20 starts in 570 s" in storm(every_30s) and "allows 6" in storm(every_30s)
    backed_off = [(t, STARTING) for t in (0, 10, 30, 70, 150, 310, 610)]
    assert storm(backed_off) == ""
