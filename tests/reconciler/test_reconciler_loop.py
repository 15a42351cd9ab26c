"""The daemon loop's pause between ticks (pure)."""
from reconciler.__main__ import pause_after
from reconciler.daemon import TickReport


def test_work_found_means_the_next_tick_comes_after_the_interval():
    assert pause_after(TickReport(duration=9.0, converged=False), 5.0) == 5.0
    assert pause_after(None, 5.0) == 5.0        # the tick failed: try again on the interval


def test_a_slow_converged_tick_keeps_the_loop_under_a_fifth_of_a_cpu():
    assert pause_after(TickReport(duration=6.0, converged=True), 5.0) == 24.0
    assert pause_after(TickReport(duration=0.3, converged=True), 5.0) == 5.0   # a fast node: unchanged
