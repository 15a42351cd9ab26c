"""ci/prove.py: a reference reused from a results file is green only when it covers the selection."""
from ci.prove import main, reference_verdict


def doc(*cells):
    return {"cells": [{"app": a, "event": e, "verdict": v, "reason": r} for a, e, v, r in cells]}


GREEN = doc(("bitcoin-knots", "fresh_install", "passed", ""), ("lnd", "fresh_install", "passed", ""),
            ("lnd", "tor_onion", "passed", ""), ("lnd", "soak", "not_run", "soak 0"),
            ("mempool", "fresh_install", "failed", "not selected"))


def test_green_when_every_selected_app_is_there_and_none_failed():
    ok, text = reference_verdict(GREEN, ["bitcoin-knots", "lnd"], None)
    assert ok, text
    assert "3 passed, 1 not run" in text


def test_a_failed_selected_cell_is_not_green():
    d = doc(("lnd", "fresh_install", "failed", "goss: service archy-lnd not running"))
    ok, text = reference_verdict(d, ["lnd"], None)
    assert not ok and "lnd-fresh_install: goss" in text


def test_missing_app_or_event_is_not_green():
    assert not reference_verdict(GREEN, ["bitcoin-knots", "fedimint"], None)[0]
    ok, text = reference_verdict(GREEN, ["lnd"], ["fresh_install", "uninstall_no_orphans"])
    assert not ok and "uninstall_no_orphans" in text


def test_only_not_run_cells_is_not_green():
    assert not reference_verdict(doc(("lnd", "soak", "not_run", "soak 0")), ["lnd"], None)[0]


def test_unreadable_reference_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "cells.json"
    bad.write_text("{not json")
    assert main(["--reference", str(bad), "--variants", "fm1-companions-not-recreated"]) == 2
    assert "not JSON" in capsys.readouterr().err


def test_red_reference_fails_before_any_variant_runs(tmp_path, capsys, monkeypatch):
    import ci.prove as prove
    ran = []
    monkeypatch.setattr(prove, "run_grid", lambda *a, **k: ran.append(a))
    f = tmp_path / "cells.json"
    f.write_text('{"cells": [{"app": "lnd", "event": "fresh_install", "verdict": "failed", "reason": "x"}]}')
    assert main(["--reference", str(f), "--apps", "lnd", "--variants", "stop-timeout-10s"]) == 1
    assert "prove: FAIL: reference" in capsys.readouterr().out


def _cells(*cells):
    return [{"app": a, "event": e, "verdict": v, "reason": r} for a, e, v, r in cells]


def _fake(monkeypatch, grid: dict, chaos_rows: list):
    """ci.prove with its runs replaced: `grid` maps a variant ("" = reference) to its cells."""
    import ci.prove as prove
    from ci.grid_run import ChaosRun, GridRun
    calls = {"grid": [], "chaos": []}

    def run_grid(out, args, env):
        calls["grid"].append((env["ARCHY_RECONCILER_VARIANT"], args))
        return GridRun(0, 61.0, grid[env["ARCHY_RECONCILER_VARIANT"]])

    def run_chaos(out, experiments, args, variants):
        calls["chaos"].append((experiments, variants))
        return ChaosRun(1, 120.0, chaos_rows)

    monkeypatch.setattr(prove, "run_grid", run_grid)
    monkeypatch.setattr(prove, "run_chaos", run_chaos)
    return calls


def test_report_names_each_catch_against_where_it_is_meant(monkeypatch, capsys, tmp_path):
    from chaos import summary

    def row(exp, kind, passed, variant=None, problems=()):
        return summary.row(exp, kind, variant, passed, node="vm0", stack=["bitcoin-knots", "lnd"], problems=problems,
                           duration=30)

    calls = _fake(monkeypatch, {
        "": _cells(("bitcoin-knots", "fresh_install", "passed", ""), ("bitcoin-knots", "stop_ports_released", "passed", "")),
        "stop-timeout-10s": _cells(("bitcoin-knots", "fresh_install", "passed", ""),
                                   ("bitcoin-knots", "stop_ports_released", "failed", "recovered from an unclean shutdown")),
        "uninstall-leaves-unit": _cells(("bitcoin-knots", "reinstall_idempotent", "failed", "install timed out")),
    }, [row("clock_jump", "reference", True), row("sigstop_reconciler", "reference", True),
        row("clock_jump", "variant", False, "chaos-wallclock-ticks", ["probe last_good_tick did not advance"]),
        row("sigstop_reconciler", "variant", True, "chaos-health-always-ok")])
    rc = main(["--variants", "stop-timeout-10s,uninstall-leaves-unit,chaos-wallclock-ticks,chaos-health-always-ok",
               "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 1
    assert [(v, a[:2]) for v, a in calls["grid"]] == [("", ["--apps", "bitcoin-knots"]),
                                                      ("stop-timeout-10s", ["--apps", "bitcoin-knots"]),
                                                      ("uninstall-leaves-unit", ["--apps", "bitcoin-knots"])]
    assert all("-x" in a for v, a in calls["grid"][1:]) and "-x" not in calls["grid"][0][1]
    assert calls["chaos"] == [(["clock_jump", "sigstop_reconciler"], True)]
    lines = [" ".join(line.split()) for line in out.splitlines()]     # the table's padding aside
    assert ("stop-timeout-10s 1m01s caught where expected: by bitcoin-knots-stop_ports_released: "
            "recovered from an unclean shutdown") in lines
    assert ("uninstall-leaves-unit 1m01s caught elsewhere: by bitcoin-knots-reinstall_idempotent: "
            "install timed out (meant for bitcoin-knots-uninstall_no_orphans)") in lines
    assert ("chaos-wallclock-ticks 0m30s caught where expected: by chaos:clock_jump: "
            "probe last_good_tick did not advance") in lines
    assert "chaos-health-always-ok 0m30s missed: chaos:sigstop_reconciler passed against it" in lines
    assert "prove: 2/4 caught where expected (1 caught elsewhere, 1 missed)" in lines
    assert lines[-1] == "prove: FAIL: uninstall-leaves-unit, chaos-health-always-ok"


def test_every_variant_caught_where_expected_passes(monkeypatch, capsys, tmp_path):
    _fake(monkeypatch, {"electrumx-without-dac-override": _cells(
        ("bitcoin-knots", "fresh_install", "passed", ""), ("electrumx", "fresh_install", "failed", "LOCK: Permission denied"))},
        [])
    rc = main(["--variants", "electrumx-without-dac-override", "--no-reference", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "prove: 1/1 caught where expected" in out
    assert out.splitlines()[-1] == "prove: PASS: every variant (1) was caught where expected"


def test_a_red_chaos_reference_leaves_its_variants_not_run(monkeypatch, capsys, tmp_path):
    from chaos import summary
    rows = [summary.row("kill9_tor", "reference", None, False, node="vm0", stack=[], problems=["tor never came up"]),
            summary.row("kill9_tor", "variant", "chaos-tor-not-supervised", False, node="vm0", stack=[],
                        problems=["onions down"])]
    _fake(monkeypatch, {}, rows)
    assert main(["--variants", "chaos-tor-not-supervised", "--out", str(tmp_path)]) == 1
    assert ("chaos-tor-not-supervised 0m00s not run: chaos:kill9_tor: the reference did not pass it "
            "(tor never came up)") in " ".join(capsys.readouterr().out.split())


def test_unknown_variant_is_one_line(capsys):
    assert main(["--variants", "fm9-nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("prove: unknown variant(s) fm9-nope; known: fm1-companions-not-recreated, ") and err.count("\n") == 1


def test_a_reused_reference_ignores_its_chaos_cells():
    d = doc(("lnd", "fresh_install", "passed", ""), ("lnd", "chaos:kill9_tor", "failed", "onions changed"))
    ok, text = reference_verdict(d, ["lnd"], None)
    assert ok and "1 passed, 0 not run" in text, text
