"""ci/catches.py: each variant caught where expected, caught elsewhere, missed or not run, from
what its grid cells and chaos experiments showed."""
from chaos import summary
from ci import catches
from ci.catches import CAUGHT, ELSEWHERE, MISSED, NOT_RUN, Judgement, judge
from reconciler.variants import Catch

GRID = Catch(("bitcoin-knots-stop_ports_released",), "killed mid-flush")
CHAOS = Catch(("chaos:kill9_reconciler_mid_install", "chaos:power_cut_normal"), "state lost")


def test_a_failure_at_a_listed_cell_is_caught_where_expected():
    j = judge("stop-timeout-10s", GRID, {"bitcoin-knots-fresh_install": ("passed", ""),
                                         "bitcoin-knots-stop_ports_released": ("failed", "unclean shutdown")})
    assert (j.outcome, j.detail, j.ok) == (CAUGHT, "by bitcoin-knots-stop_ports_released: unclean shutdown", True)


def test_a_failure_elsewhere_is_named_and_not_a_pass():
    j = judge("stop-timeout-10s", GRID, {"bitcoin-knots-fresh_install": ("failed", "install returned early")})
    assert j.outcome == ELSEWHERE and not j.ok
    assert j.detail == ("by bitcoin-knots-fresh_install: install returned early "
                        "(meant for bitcoin-knots-stop_ports_released)")


def test_elsewhere_wins_over_a_listed_catch():
    j = judge("v", Catch(("a-fresh_install", "chaos:x"), "r"),
              {"a-soak": ("failed", "journal"), "chaos:x": ("failed", "deviated")})
    assert j.outcome == ELSEWHERE and j.detail.startswith("by a-soak: journal")


def test_nothing_failed_is_missed():
    j = judge("stop-timeout-10s", GRID, {"bitcoin-knots-fresh_install": ("passed", ""),
                                         "bitcoin-knots-stop_ports_released": ("passed", "")})
    assert j.outcome == MISSED and j.detail == "bitcoin-knots-stop_ports_released passed against it"
    j = judge("stop-timeout-10s", GRID, {"bitcoin-knots-fresh_install": ("passed", "")})
    assert (j.outcome, j.detail) == (MISSED, "nothing failed (1 passed); bitcoin-knots-stop_ports_released never ran")


def test_a_listed_place_that_passed_is_missed_even_when_another_caught_it():
    j = judge("chaos-state-flushed-on-exit", CHAOS, {"chaos:kill9_reconciler_mid_install": ("failed", "lost"),
                                                    "chaos:power_cut_normal": ("passed", "")})
    assert (j.outcome, j.detail) == (MISSED, "chaos:power_cut_normal passed against it; caught by "
                                             "chaos:kill9_reconciler_mid_install")


def test_a_listed_place_not_run_does_not_spoil_a_catch():
    j = judge("chaos-state-flushed-on-exit", CHAOS, {
        "chaos:kill9_reconciler_mid_install": ("failed", "lost"),
        "chaos:power_cut_normal": ("not_run", "node lacks capability 'power_cut'")})
    assert j.outcome == CAUGHT and j.detail == "by chaos:kill9_reconciler_mid_install: lost"


def test_not_run_when_nothing_ran_or_the_runs_were_void():
    assert judge("v", GRID, {}).outcome == NOT_RUN
    j = judge("v", GRID, {"bitcoin-knots-fresh_install": ("failed", "x")}, not_run="the grid reference is not green")
    assert (j.outcome, j.detail) == (NOT_RUN, "the grid reference is not green")
    j = judge("v", CHAOS, {"chaos:power_cut_normal": ("not_run", "node lacks capability 'power_cut'")})
    assert (j.outcome, j.detail) == (NOT_RUN, "chaos:power_cut_normal: node lacks capability 'power_cut'")


def _row(exp, kind, passed, variant=None, problems=(), reason=""):
    return summary.row(exp, kind, variant, passed, node="vm0", stack=["bitcoin-knots"], problems=problems,
                       reason=reason)


def test_chaos_rows_count_only_a_real_failure_against_a_green_reference():
    v = "chaos-state-flushed-on-exit"
    rows = [_row("kill9_reconciler_mid_install", "reference", True),
            _row("kill9_reconciler_mid_install", "variant", False, v, ["ops: fedimint lost after ack"]),
            _row("power_cut_normal", "reference", True),
            _row("power_cut_normal", "variant", False, v,
                 ["steady state did not hold BEFORE the method: nothing was tested (trap 1)"]),
            _row("power_cut_mid_ota", "reference", False, problems=["deviated"]),
            _row("power_cut_mid_ota", "variant", False, v, ["lost"]),
            _row("clock_jump", "reference", True), _row("clock_jump", "variant", True, "chaos-wallclock-ticks")]
    assert catches.chaos_seen(rows, v) == {
        "chaos:kill9_reconciler_mid_install": ("failed", "ops: fedimint lost after ack"),
        "chaos:power_cut_normal": ("not_run", "failed for the wrong reason: steady state did not hold BEFORE "
                                              "the method: nothing was tested (trap 1)"),
        "chaos:power_cut_mid_ota": ("not_run", "the reference did not pass it (deviated)")}
    assert catches.chaos_seen(rows, "chaos-wallclock-ticks") == {"chaos:clock_jump": ("passed", "")}
    skipped = [_row("power_cut_normal", "reference", None, reason="node lacks capability 'power_cut'"),
               _row("power_cut_normal", "variant", None, v, reason="node lacks capability 'power_cut'")]
    assert catches.chaos_seen(skipped, v) == {"chaos:power_cut_normal": ("not_run", "node lacks capability 'power_cut'")}
    # a row of the experiment's own test run under ARCHY_RECONCILER_VARIANT is no reference
    under = [_row("clock_jump", "reference", False, "chaos-wallclock-ticks", ["tick stopped"]),
             _row("clock_jump", "variant", False, "chaos-wallclock-ticks", ["tick stopped"])]
    assert catches.chaos_seen(under, "chaos-wallclock-ticks") == {
        "chaos:clock_jump": ("not_run", "the reference did not pass it (never ran)")}


def test_grid_records_by_cell_id_a_failure_on_any_node_wins():
    cells = [{"app": "lnd", "event": "fresh_install", "verdict": "failed", "reason": "x", "node": "a"},
             {"app": "lnd", "event": "fresh_install", "verdict": "passed", "reason": "", "node": "b"},
             {"app": "bitcoin-knots", "event": "soak", "verdict": "not_run", "reason": "soak 0", "node": "a"}]
    assert catches.grid_seen(cells) == {"lnd-fresh_install": ("failed", "x"), "bitcoin-knots-soak": ("not_run", "soak 0")}


def test_places_split_into_cells_and_experiments():
    c = Catch(("lnd-restart_integrations", "chaos:corrupt_bitcoin_conf"), "r")
    assert catches.grid_cells(c) == ["lnd-restart_integrations"]
    assert catches.experiments(c) == ["corrupt_bitcoin_conf"]
    assert catches.cell_app("bitcoin-knots-fresh_install") == "bitcoin-knots"


def test_report_lines_and_ratio():
    js = [Judgement("fm1", CAUGHT, "by a-fresh_install: x", 75), Judgement("fm2", ELSEWHERE, "by b-soak: y", 3),
          Judgement("chaos-x", MISSED, "nothing failed", 0), Judgement("fm3", CAUGHT, "by c", 0)]
    lines = catches.render(js)
    assert lines[0] == "prove: variant -> where it was caught"
    assert lines[1] == "  fm1        1m15s  caught where expected: by a-fresh_install: x"
    assert lines[2] == "  fm2        0m03s  caught elsewhere: by b-soak: y"
    assert lines[-1] == "prove: 2/4 caught where expected (1 caught elsewhere, 1 missed)"
    assert catches.ratio(js[:1]) == "1/1 caught where expected"
