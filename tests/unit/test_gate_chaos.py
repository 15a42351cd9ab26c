"""ci/gate and the chaos suite, on hand-made results (tests/unit/data/cells-*.json): a chaos cell
failed, missing or not run fails the gate like a MUST cell when the results carry a chaos block or
the gate is given --chaos; level 5 rests on the chaos cells, level 7 on the nightly soak given."""
import importlib.machinery
import importlib.util
import json
from pathlib import Path

import pytest

from chaos import catalog, summary
from harness import chaos_cells
from helpers import recorded

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
_loader = importlib.machinery.SourceFileLoader("ci_gate", str(ROOT / "ci" / "gate"))
_spec = importlib.util.spec_from_loader("ci_gate", _loader)
gate = importlib.util.module_from_spec(_spec)
_loader.exec_module(gate)


def run(capsys, *args):
    rc = gate.main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_all_green_passes(capsys):
    rc, out, _ = run(capsys, DATA / "cells-chaos-green.json", "--selection")
    assert rc == 0, out
    assert out.splitlines()[-1] == "gate: PASS (every MUST cell passed on 1 node(s))"


def test_a_failed_chaos_cell_fails_the_gate(capsys):
    rc, out, _ = run(capsys, DATA / "cells-chaos-failed.json", "--selection")
    assert rc == 1
    assert ("FAILED    vm0: lnd-chaos:clock_jump: steady state did not hold after the method: /health "
            "last_good_tick did not advance after the clock stepped back") in out.splitlines()
    assert "gate: FAIL (1 problem(s); 5 MUST cells per node required)" in out


def test_a_missing_chaos_cell_fails_the_gate(capsys):
    rc, out, _ = run(capsys, DATA / "cells-chaos-missing.json", "--selection")
    assert rc == 1 and "NO RESULT vm0: lnd-chaos:clock_jump: never ran" in out.splitlines()


def test_a_chaos_cell_not_run_fails_the_gate(capsys):
    """An SSH node cannot cut its power: its power-cut experiments are not run, which is no pass."""
    rc, out, _ = run(capsys, DATA / "cells-chaos-not-run.json", "--selection")
    assert rc == 1
    assert "NO RESULT vm0: bitcoin-knots-chaos:power_cut_normal: not run: node lacks capability 'power_cut'" in out
    assert "NO RESULT vm0: lnd-chaos:power_cut_normal: not run: node lacks capability 'power_cut'" in out


def test_without_a_chaos_block_chaos_is_required_only_with_the_flag(capsys):
    rc, out, _ = run(capsys, DATA / "cells-no-chaos.json", "--selection")
    assert rc == 0, out
    rc, out, _ = run(capsys, DATA / "cells-no-chaos.json", "--selection", "--chaos")
    assert rc == 1
    missing = [line for line in out.splitlines() if line.startswith("NO RESULT")]
    # every experiment, for each selected app it judges: 15 for bitcoin-knots, 14 for lnd
    assert len(missing) == 29 and "NO RESULT vm0: lnd-chaos:power_cut_normal: never ran" in missing
    rc, out, _ = run(capsys, DATA / "cells-chaos-green.json", "--selection", "--chaos")
    assert rc == 0, out        # the block's own selection of experiments, as --selection asks


def test_an_unknown_experiment_in_the_block_is_refused_in_one_line(capsys):
    rc, out, err = run(capsys, DATA / "cells-chaos-unknown.json", "--selection")
    assert (rc, out) == (2, "")
    assert err.startswith("gate: chaos.experiments: unknown experiment(s) 'clock_jmp'; known: clock_jump, ")
    assert err.count("\n") == 1


def whole_run(passed=True):
    """A whole matrix run with the whole chaos suite merged in (as make beta-matrix CHAOS=1 leaves it)."""
    cat = catalog.load()
    rows = [summary.row(n, summary.REFERENCE, None, passed or n != "kill9_bitcoind", node="vm0",
                        stack=["bitcoin-knots", "lnd"], problems=[] if passed else ["bitcoind stayed failed"])
            for n in cat]
    doc = chaos_cells.merge(recorded(), cat, list(cat), rows)
    return {**doc, "commit": "0123456789abcdef0123456789abcdef01234567"}


def test_level_5_needs_the_chaos_cells_and_level_7_the_nightly_soak(capsys, tmp_path):
    f = tmp_path / "cells.json"
    f.write_text(json.dumps(whole_run()))
    rc, out, _ = run(capsys, f)
    assert rc == 0, out
    assert out.splitlines()[0] == ("levels vm0: bitcoin-knots L7, bitcoin-core L4, lnd L7, electrumx L4, btcpay L4, "
                                   "mempool L4, fedimint L4")
    assert ("  bitcoin-knots L7: no nightly soak results given (SOAK_RESULTS): rests on the grid's soak cell alone"
            in out.splitlines())
    rc, out, _ = run(capsys, f, "--soak-results", DATA / "soak-verdict-failed.json", "--previous", f)
    assert rc == 1
    assert ("  lnd L6, not L7 (Soak with a clean journal): nightly soak: failed: FAIL: memory: archy-lnd grew 41.0 MiB "
            f"(bound 16.0 MiB) ({DATA / 'soak-verdict-failed.json'})") in out.splitlines()
    assert "LEVEL DOWN vm0: lnd L7 -> L6" in out
    f.write_text(json.dumps(whole_run(passed=False)))
    rc, out, _ = run(capsys, f)
    assert rc == 1
    assert "FAILED    vm0: lnd-chaos:kill9_bitcoind: bitcoind stayed failed" in out
    assert "  lnd L4, not L5 (Survives crash and power cut): chaos:kill9_bitcoind: failed: bitcoind stayed failed" in out


@pytest.mark.parametrize("content, message", [
    ("{", "not JSON"), ('{"rules": []}', "not a soak verdict (no 'passed' true/false"),
])
def test_a_bad_soak_verdict_is_one_line(capsys, tmp_path, content, message):
    (tmp_path / "verdict.json").write_text(content)
    rc, out, err = run(capsys, DATA / "cells-chaos-green.json", "--selection", "--soak-results", tmp_path)
    assert (rc, out) == (2, "") and err.startswith(f"gate: {tmp_path / 'verdict.json'}: {message}")
    assert err.count("\n") == 1


def test_with_selection_only_the_selected_apps_chaos_cells_are_required(capsys, tmp_path):
    doc = json.loads((DATA / "cells-no-chaos.json").read_text())
    doc["selection"]["apps"] = ["bitcoin-knots"]
    doc["cells"] = [c for c in doc["cells"] if c["app"] == "bitcoin-knots"]
    (tmp_path / "cells.json").write_text(json.dumps(doc))
    rc, out, _ = run(capsys, tmp_path / "cells.json", "--selection", "--chaos")
    missing = [line for line in out.splitlines() if line.startswith("NO RESULT")]
    assert rc == 1 and len(missing) == 15 and all(" bitcoin-knots-chaos:" in m for m in missing)


def test_a_part_not_run_shows_in_the_levels(capsys, tmp_path):
    doc = whole_run()
    rec = next(r for r in doc["cells"] if (r["app"], r["event"]) == ("lnd", "tor_onion"))
    rec["parts_not_run"] = ["onion round trip through the Tor network: no Tor network"]
    (tmp_path / "cells.json").write_text(json.dumps(doc))
    rc, out, _ = run(capsys, tmp_path / "cells.json")
    assert rc == 0, out
    assert ("  lnd L1, not L2 (UI on every path): lnd-tor_onion: part not run: onion round trip through the Tor "
            "network: no Tor network") in out.splitlines()
