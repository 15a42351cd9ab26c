"""matrix/standing.py: an app's level and what each level rests on. Level 5 rests on the chaos
experiments that judge the app (not on the reboot cell), a part not run stops the app below that
cell's level, level 7 asks for the nightly soak of the same commit when there is one."""
from matrix.model import load
from matrix.standing import NIGHTLY, Evidence, Soak, standings

M = load()
CHAOS = {"bitcoin-knots": ("chaos:clock_jump", "chaos:delete_nginx_snippet"), "lnd": ("chaos:clock_jump",)}
COMMIT = "a" * 40


def all_passed(**also):
    v = {k: "passed" for k in M.cells}
    v.update({(app, e): "passed" for app, events in CHAOS.items() for e in events})
    v.update(also.get("verdicts", {}))
    return v


def levels_of(ev):
    return {a: s.level for a, s in standings(M, ev).items()}


def test_without_the_chaos_suite_no_app_passes_level_4():
    s = standings(M, Evidence({k: "passed" for k in M.cells}, chaos=CHAOS))
    assert {a: x.level for a, x in s.items()} == {a: 4 for a in M.apps}
    assert s["bitcoin-knots"].stopped_at.why == "no chaos result for bitcoin-knots: the chaos suite did not run"
    assert s["mempool"].stopped_at.why == "no chaos experiment judges mempool"
    assert s["mempool"].stopped_at.n == 5


def test_level_5_rests_on_the_chaos_experiments_not_on_the_reboot_cell():
    s = standings(M, Evidence(all_passed(), chaos=CHAOS))
    assert [p.id for p in s["bitcoin-knots"].rungs[4].proofs] == ["chaos:clock_jump", "chaos:delete_nginx_snippet"]
    assert s["bitcoin-knots"].level == s["lnd"].level == 7
    assert s["electrumx"].level == 4                     # no experiment judges it
    failed = all_passed(verdicts={("bitcoin-knots", "chaos:delete_nginx_snippet"): "failed"})
    s = standings(M, Evidence(failed, {("bitcoin-knots", "chaos:delete_nginx_snippet"): "route 404"}, chaos=CHAOS))
    assert s["bitcoin-knots"].level == 4 and s["lnd"].level == 7
    assert s["bitcoin-knots"].stopped_at.why == "chaos:delete_nginx_snippet: failed: route 404"
    # a chaos cell not run (a node without power_cut) is not evidence either
    skipped = all_passed(verdicts={("lnd", "chaos:clock_jump"): "not_run"})
    assert levels_of(Evidence(skipped, {("lnd", "chaos:clock_jump"): "node lacks capability"}, chaos=CHAOS))["lnd"] == 4


def test_a_part_not_run_stops_the_app_below_that_cells_level_and_says_why():
    ev = Evidence(all_passed(), parts={("lnd", "tor_onion"): ("onion round trip: no Tor network",),
                                      ("bitcoin-knots", "reboot_survival"): ("power-cut half: no power_cut",)},
                  chaos=CHAOS)
    s = standings(M, ev)
    assert s["lnd"].level == 1
    assert s["lnd"].stopped_at.why == "lnd-tor_onion: part not run: onion round trip: no Tor network"
    assert [p.verdict for p in s["lnd"].rungs[1].proofs] == ["passed", "passed", "passed", "partial"]
    assert s["bitcoin-knots"].level == 3 and s["bitcoin-knots"].stopped_at.title == "Survives reboot"
    assert s["btcpay"].level == 4


def test_rungs_are_the_levels_earned_then_the_first_not():
    v = all_passed(verdicts={("lnd", "stop_ports_released"): "failed"})
    s = standings(M, Evidence(v, {("lnd", "stop_ports_released"): "ports still open"}, chaos=CHAOS))["lnd"]
    assert s.level == 2 and [r.n for r in s.rungs] == [1, 2, 3] and [r.earned for r in s.rungs] == [True, True, False]
    assert s.stopped_at.why == "lnd-stop_ports_released: failed: ports still open"
    assert [p.id for p in s.rungs[2].proofs] == ["lnd-stop_ports_released", "lnd-restart_integrations", "lnd-config_drift"]


def test_no_result_is_not_passed_and_a_level_without_cells_is_carried():
    v = all_passed()
    del v[("fedimint", "fresh_install")]
    s = standings(M, Evidence(v, chaos=CHAOS))
    assert s["fedimint"].level == 0 and s["fedimint"].stopped_at.why == "fedimint-fresh_install: no result"
    # bitcoin-knots has no restart cell, electrumx no Tor cell: their levels do not need them
    assert [p.id for p in s["bitcoin-knots"].rungs[2].proofs] == ["bitcoin-knots-stop_ports_released",
                                                                       "bitcoin-knots-config_drift"]
    assert [p.id for p in s["electrumx"].rungs[1].proofs] == [f"electrumx-{e}" for e in
                                                              ("ui_direct_port", "ui_https_proxy", "ui_iframe")]


def test_level_7_and_the_nightly_soak():
    def soak(passed=True, commit=COMMIT, apps=("bitcoin-knots", "lnd")):
        return Soak(passed, commit, apps, "PASS: all soak rules held" if passed else "FAIL: memory: grew",
                    "results/soak/latest/verdict.json")

    def l7(ev):
        s = standings(M, ev)["bitcoin-knots"]
        return s.level, s.rungs[6] if len(s.rungs) > 6 else None

    level, r = l7(Evidence(all_passed(), chaos=CHAOS, commit=COMMIT))
    assert level == 7 and r.notes == ("no nightly soak results given (SOAK_RESULTS): rests on the grid's soak "
                                      "cell alone",)
    level, r = l7(Evidence(all_passed(), chaos=CHAOS, commit=COMMIT, soak=soak()))
    assert level == 7 and r.notes == () and r.proofs[-1].id == NIGHTLY and r.proofs[-1].holds
    level, r = l7(Evidence(all_passed(), chaos=CHAOS, commit=COMMIT, soak=soak(passed=False)))
    assert level == 6 and r.why == ("nightly soak: failed: FAIL: memory: grew (results/soak/latest/verdict.json)")
    level, r = l7(Evidence(all_passed(), chaos=CHAOS, commit=COMMIT, soak=soak(passed=False, commit="b" * 40)))
    assert level == 7 and r.notes == (f"the nightly soak (results/soak/latest/verdict.json) is of commit "
                                      f"{'b' * 12}, not the results' {'a' * 12}: rests on the grid's soak cell alone",)
    level, r = l7(Evidence(all_passed(), chaos=CHAOS, commit=COMMIT, soak=soak(passed=False, apps=("lnd",))))
    assert level == 7 and "did not run bitcoin-knots" in r.notes[0]
    v = all_passed(verdicts={("bitcoin-knots", "soak"): "failed"})
    level, r = l7(Evidence(v, chaos=CHAOS, commit=COMMIT, soak=soak()))
    assert level == 6 and r.why == "bitcoin-knots-soak: failed"
