"""chaos/catalog.py: the experiments by name with the apps each judges; chaos/summary.py: the
rows file tests/chaos appends and the results merge and make prove read."""
import json
from pathlib import Path

import pytest

from chaos import catalog, summary, verdict
from matrix.model import load as load_matrix

REPO = Path(__file__).resolve().parents[2]
CATALOG = catalog.load()


def test_every_experiment_file_is_in_the_catalog_with_its_apps():
    assert list(CATALOG) == sorted(p.stem for p in (REPO / "chaos" / "experiments").glob("*.json"))
    assert CATALOG["clock_jump"].apps == ("bitcoin-knots", "lnd")
    assert CATALOG["delete_nginx_snippet"].apps == ("bitcoin-knots",)
    assert CATALOG["power_cut_normal"].needs == ("destructive", "power_cut")
    assert CATALOG["kill9_tor"].broken_variant == "chaos-tor-not-supervised"


@pytest.mark.parametrize("name", list(CATALOG))
def test_apps_are_grid_apps_of_the_stack_it_runs_on(name):
    """A chaos cell for an app the suite never installs could never pass: every app an experiment
    judges is a grid app and in the stack its steady state expects (ARCHY_CHAOS_STACK's default)."""
    e = CATALOG[name]
    assert set(e.apps) <= set(load_matrix().apps)
    assert set(e.apps) <= set(e.stack), f"{name}: {e.apps} not within its stack {e.stack}"


def test_involving_an_app():
    assert catalog.involving(CATALOG, "bitcoin-knots") == [n for n in CATALOG if n != "crash_loop_daemon_restart"]
    assert "delete_nginx_snippet" not in catalog.involving(CATALOG, "lnd")
    assert len(catalog.involving(CATALOG, "lnd")) == 14
    assert catalog.involving(CATALOG, "mempool") == []


def test_select_in_catalog_order_and_unknown_names_in_one_line():
    assert catalog.select(CATALOG, "power_cut_normal, clock_jump") == ["clock_jump", "power_cut_normal"]
    assert catalog.select(CATALOG, "") == catalog.select(CATALOG, None) == list(CATALOG)
    with pytest.raises(catalog.CatalogError) as e:
        catalog.select(CATALOG, "clock_jump,clock_jmp,nope")
    assert str(e.value) == ("unknown experiment(s) 'clock_jmp', 'nope'; known: " + ", ".join(CATALOG))


def test_chaos_cell_event():
    assert catalog.event("clock_jump") == "chaos:clock_jump"
    assert catalog.experiment_of("chaos:clock_jump") == "clock_jump"
    assert catalog.experiment_of("reboot_survival") is None


def _file(tmp_path, ext: dict) -> Path:
    exp = json.loads((REPO / "chaos" / "experiments" / "kill9_tor.json").read_text())
    exp["extensions"] = [ext]
    (tmp_path / "kill9_tor.json").write_text(json.dumps(exp, indent=2))
    return tmp_path / "kill9_tor.json"


@pytest.mark.parametrize("ext, message", [
    ({"name": "archy", "broken_variant": "v", "apps": []}, r"extensions\[archy\]\.apps must be a non-empty list"),
    ({"name": "archy", "broken_variant": "v", "apps": "lnd"}, r"extensions\[archy\]\.apps must be a non-empty list"),
    ({"name": "archy", "broken_variant": "v"}, r"kill9_tor\.json: extensions\[archy\]\.apps must be"),
    ({"name": "archy", "apps": ["lnd"]}, r"extensions\[archy\]\.broken_variant must name"),
    ({"name": "other"}, r'no extensions\[\] entry named "archy"'),
], ids=["empty apps", "apps a string", "no apps", "no variant", "no archy entry"])
def test_a_bad_extension_is_one_line_naming_the_file(tmp_path, ext, message):
    f = _file(tmp_path, ext)
    with pytest.raises(catalog.CatalogError, match=message) as e:
        catalog.load(tmp_path)
    assert str(e.value).startswith(str(f)) and "\n" not in str(e.value)


def test_a_bad_field_is_named_at_its_line(tmp_path):
    f = _file(tmp_path, {"name": "archy", "broken_variant": "v", "apps": []})
    line = next(i for i, s in enumerate(f.read_text().splitlines(), 1) if '"apps"' in s)
    with pytest.raises(catalog.CatalogError, match=rf"^{f}:{line}: "):
        catalog.load(tmp_path)


def test_summary_rows_round_trip_and_a_bad_line_is_named(tmp_path):
    f = tmp_path / summary.FILE
    summary.append(f, summary.row("clock_jump", summary.REFERENCE, None, True, node="vm0", stack=["bitcoin-knots"],
                                  duration=12.34, journal={"status": "completed", "deviated": False}))
    summary.append(f, summary.row("power_cut_normal", summary.REFERENCE, None, None, node="vm0", stack=[],
                                  reason="node lacks capability 'power_cut'"))
    rows = summary.read(f)
    assert [(r["experiment"], r["passed"], r["duration_s"], r["status"]) for r in rows] == [
        ("clock_jump", True, 12.3, "completed"), ("power_cut_normal", None, 0.0, None)]
    assert rows[1]["reason"] == "node lacks capability 'power_cut'" and "reason" not in rows[0]
    assert summary.read(tmp_path / "none.jsonl") == []
    with open(f, "a") as fh:
        fh.write('{"experiment": "x", "kind": "other", "passed": true}\n')
    with pytest.raises(ValueError, match=rf"^{f}:3: not a chaos summary row"):
        summary.read(f)
    f.write_text("{oops\n")
    with pytest.raises(ValueError, match=rf"^{f}:1: not JSON"):
        summary.read(f)


def test_a_failure_that_tested_nothing_is_not_a_catch():
    assert verdict.wrong_reason(["steady state did not hold BEFORE the method: nothing was tested (trap 1)",
                                 "deviated: the steady state did not hold after the method",
                                 "interrupted: injection failed, nothing would be tested: no pid"]) == [
        "steady state did not hold BEFORE the method: nothing was tested (trap 1)",
        "interrupted: injection failed, nothing would be tested: no pid"]
    assert verdict.wrong_reason(["deviated: the steady state did not hold after the method"]) == []
