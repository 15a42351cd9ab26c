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
