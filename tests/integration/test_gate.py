"""ci/gate on recorded results: MUST failed / no result / not run, and level drops."""
import json
import subprocess
from pathlib import Path

import pytest

from helpers import edit, recorded

ROOT = Path(__file__).resolve().parents[2]


def gate(tmp_path, doc, *args, previous=None):
    (tmp_path / "cells.json").write_text(json.dumps(doc))
    if previous is not None:
        (tmp_path / "prev.json").write_text(json.dumps(previous))
        args = (*args, "--previous", str(tmp_path / "prev.json"))
    r = subprocess.run([str(ROOT / "ci" / "gate"), str(tmp_path / "cells.json"), *args],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def test_all_must_passed(tmp_path):
    rc, out = gate(tmp_path, recorded())
    assert rc == 0, out
    # without the chaos suite no app earns level 5 (matrix/standing.py), and the gate says why
    assert "gate: PASS" in out and "levels vm0: bitcoin-knots L4" in out
    assert "  mempool L4, not L5 (Survives crash and power cut): no chaos experiment judges mempool" in out


def test_failed_must_is_named(tmp_path):
    rc, out = gate(tmp_path, recorded({("lnd", "reboot_survival"): ("failed", "lnd not healthy after reboot")}))
    assert rc == 1
    assert "FAILED    vm0: lnd-reboot_survival: lnd not healthy after reboot" in out
    assert "gate: FAIL (1 problem(s)" in out


def test_missing_and_not_run_count_as_no_result(tmp_path):
    rc, out = gate(tmp_path, recorded({("btcpay", "soak"): ("not_run", "soak disabled (--soak-duration 0)")},
                                      drop={("mempool", "tor_onion")}))
    assert rc == 1
    assert "NO RESULT vm0: mempool-tor_onion: never ran" in out
    assert "NO RESULT vm0: btcpay-soak: not run: soak disabled (--soak-duration 0)" in out


def test_partial_run_fails_unless_selection_requested(tmp_path):
    from matrix.model import load, plan
    doc = recorded(cells=plan(load(), apps=["lnd"]))
    doc["selection"] = {"apps": ["lnd"], "events": None}
    rc, out = gate(tmp_path, doc)
    assert rc == 1 and "NO RESULT vm0: bitcoin-knots-fresh_install: never ran" in out
    rc, out = gate(tmp_path, doc, "--selection")
    assert rc == 0, out


def test_level_drop_against_previous(tmp_path):
    before = recorded()
    rc, out = gate(tmp_path, recorded(), previous=before)
    assert rc == 0 and "LEVEL DOWN" not in out, out
    now = recorded({("electrumx", "reboot_survival"): ("failed", "gone after reboot")})
    rc, out = gate(tmp_path, now, previous=before)
    assert rc == 1
    assert "LEVEL DOWN vm0: electrumx L4 -> L3" in out


def test_unreadable_results(tmp_path):
    r = subprocess.run([str(ROOT / "ci" / "gate"), str(tmp_path / "nope.json")], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == f"gate: {tmp_path / 'nope.json'}: cannot read: No such file or directory"


def test_part_not_run_is_listed_but_the_cell_passes(tmp_path):
    doc = recorded()
    rec = next(r for r in doc["cells"] if (r["app"], r["event"]) == ("lnd", "tor_onion"))
    rec["parts_not_run"] = ["onion round trip through the Tor network: no Tor network"]
    rc, out = gate(tmp_path, doc)
    assert rc == 0, out
    assert "PART NOT RUN vm0: lnd-tor_onion: onion round trip through the Tor network: no Tor network" in out
    rec["verdict"], rec["reason"] = "failed", "hidden service has no hostname"   # a failed cell stays failed
    rc, out = gate(tmp_path, doc)
    assert rc == 1 and "PART NOT RUN" not in out and "FAILED    vm0: lnd-tor_onion" in out


def _mangled(change):
    doc = recorded()
    change(doc)
    return doc


def _select(doc, apps, events=None):
    doc["selection"] = {"apps": apps, "events": events}


# id -> (change to a recorded all-passed run, gate arguments, the one line on stderr after the path)
REFUSED = {
    "empty selection": (lambda d: (_select(d, []), d.update(cells=d["cells"][:1])), ["--selection"],
                        "--selection: the run selected no apps (selection.apps is empty); gate the whole "
                        "matrix without --selection"),
    "empty event selection": (lambda d: _select(d, ["lnd"], []), ["--selection"],
                              "--selection: the run selected no events (selection.events is empty); gate the "
                              "whole matrix without --selection"),
    "unknown app selected": (lambda d: _select(d, ["lnd", "nginx"]), ["--selection"],
                             "--selection: unknown app 'nginx'; valid apps: bitcoin-knots, bitcoin-core, lnd, "
                             "electrumx, btcpay, mempool, fedimint"),
    "unknown event selected": (lambda d: _select(d, None, ["boot"]), ["--selection"],
                               "--selection: unknown event 'boot'; valid events: fresh_install, ui_direct_port, "
                               "ui_https_proxy, ui_iframe, tor_onion, stop_ports_released, restart_integrations, "
                               "config_drift, reboot_survival, start_order, broken_install, upgrade_rollback, "
                               "reinstall_idempotent, "
                               "uninstall_no_orphans, soak"),
    "version 99": (lambda d: d.update(version=99), [],
                   "unknown format version 99: this harness reads version 1 (use the harness that wrote the file)"),
    "no version": (lambda d: d.pop("version"), [],
                   "no format version: this harness reads version 1, as its pytest plugin writes it"),
    "a cell that is a number": (lambda d: d["cells"].__setitem__(4, 5), [],
                                "cells[4] is int 5: a record is an object with app, event and verdict"),
    "a target with no name": (lambda d: d["targets"][0].pop("name"), [],
                              "targets[0] has no name: a target is an object with a 'name' string"),
    "an unknown verdict": (lambda d: d["cells"][9].update(verdict="ok"), [],
                           "cells[9] verdict 'ok' is none of passed, failed, not_run"),
    "a selection that is a string": (lambda d: d.update(selection="lnd"), ["--selection"],
                                     "'selection' is str \"lnd\", not an object"),
}


@pytest.mark.parametrize("change, args, message", REFUSED.values(), ids=REFUSED.keys())
def test_refused_in_one_line(tmp_path, change, args, message):
    f = tmp_path / "cells.json"
    f.write_text(json.dumps(_mangled(change)))
    r = subprocess.run([str(ROOT / "ci" / "gate"), str(f), *args], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"gate: {f}: {message}\n"


def test_previous_run_is_checked_too(tmp_path):
    rc, out = gate(tmp_path, recorded(), previous=_mangled(lambda d: d.update(version=2)))
    assert rc == 2 and out == f"gate: {tmp_path / 'prev.json'}: unknown format version 2: this harness reads " \
                              "version 1 (use the harness that wrote the file)\n"


def test_a_selection_requiring_no_must_cell_is_refused(tmp_path, matrix_copy):
    from matrix.model import load, plan
    edit(matrix_copy / "cells.yaml", "  soak:                 [MUST, MUST, MUST, MUST, MUST, MUST, MUST]",
         "  soak:                 [SHOULD, SHOULD, SHOULD, SHOULD, SHOULD, SHOULD, SHOULD]")
    doc = recorded(cells=plan(load(matrix_copy), events=["soak"]))
    doc["selection"] = {"apps": None, "events": ["soak"]}
    rc, out = gate(tmp_path, doc, "--selection", "--matrix-dir", str(matrix_copy))
    assert (rc, out) == (2, f"gate: {tmp_path / 'cells.json'}: --selection: the run's selection requires no MUST "
                            "cell; gate the whole matrix without --selection\n")


def test_the_verdict_is_written_for_the_grid_page(tmp_path):
    doc = {**recorded({("lnd", "reboot_survival"): ("failed", "down")}), "commit": "c0ffee", "finished": 7.0}
    rc, out = gate(tmp_path, doc, "--write", str(tmp_path / "gate.json"))
    written = json.loads((tmp_path / "gate.json").read_text())
    assert rc == 1 and written["verdict"] == "FAIL" and written["summary"].startswith("FAIL (1 problem(s)")
    assert written["commit"] == "c0ffee" and written["results_finished"] == 7.0
    assert any("lnd-reboot_survival" in p for p in written["problems"])
