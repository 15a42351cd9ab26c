"""harness/progress.py's pure half: the ETA from the previous run's durations, the end line."""
import json
import time

from harness import progress

A, B, C = "tests/grid/test_grid.py::test_cell[a-x]", "tests/grid/test_grid.py::test_cell[b-x]", \
    "tests/grid/test_grid.py::test_cell[c-x]"


def test_the_previous_runs_durations_count_cell_by_cell():
    assert progress.remaining_seconds([A, B], {A: 100.0, B: 300.0}, done=[5.0]) == 400.0


def test_a_cell_the_previous_run_lacked_counts_at_this_runs_mean():
    assert progress.remaining_seconds([A, C], {A: 100.0}, done=[10.0, 30.0]) == 120.0


def test_the_workers_share_the_time_left():
    assert progress.remaining_seconds([A, B], {A: 100.0, B: 300.0}, done=[], workers=2) == 200.0


def test_nothing_to_go_on_is_unknown_and_nothing_left_is_zero():
    assert progress.remaining_seconds([A], {}, done=[]) is None
    assert progress.remaining_seconds([], {}, done=[]) == 0.0
    assert progress.remaining_seconds([C], {A: 60.0}, done=[]) == 60.0   # the previous run's mean


def test_the_end_line_says_verdict_time_count_and_eta():
    now = time.mktime((2026, 12, 3, 15, 0, 0, 0, 0, -1))
    line = progress.end_line("lnd-fresh_install", "passed", 183.4, 13, 99, 41 * 60, now)
    assert line == "[grid] PASS    lnd-fresh_install  183 s  13/99 done  ETA 15:41 (41 min left)"
    assert "FAIL" in progress.end_line("x", "failed", 1, 1, 2, None, now) and "ETA unknown" in \
        progress.end_line("x", "failed", 1, 1, 2, None, now)
    assert progress.end_line("x", "not_run", 0, 2, 2, 0.0, now).endswith("2/2 done  last cell")


def test_previous_durations_prefer_previous_cells_and_skip_not_run(tmp_path):
    (tmp_path / "cells.json").write_text(json.dumps({"cells": [{"nodeid": A, "duration": 9, "verdict": "passed"}]}))
    assert progress.previous_durations(tmp_path) == {A: 9.0}
    (tmp_path / "previous-cells.json").write_text(json.dumps({"cells": [
        {"nodeid": A, "duration": 50, "verdict": "failed"}, {"nodeid": B, "duration": 0, "verdict": "not_run"}]}))
    assert progress.previous_durations(tmp_path) == {A: 50.0}


def test_an_unreadable_previous_file_gives_no_durations(tmp_path):
    (tmp_path / "previous-cells.json").write_text("{not json")
    assert progress.previous_durations(tmp_path) == {}
    (tmp_path / "previous-cells.json").write_text(json.dumps({"cells": [{"nodeid": A}]}))
    assert progress.previous_durations(tmp_path) == {}
