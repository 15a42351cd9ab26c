"""harness/chaos_cells.py: the chaos suite's reference rows become MUST cells chaos:<experiment>
of every app each experiment judges, merged into the results with a chaos block."""
import json

from chaos import catalog, summary
from harness import chaos_cells, results
from helpers import recorded

CATALOG = catalog.load()
STACK = ["bitcoin-knots", "lnd"]


def row(exp, passed, node="vm0", stack=STACK, problems=(), reason="", kind=summary.REFERENCE, variant=None):
    return summary.row(exp, kind, variant, passed, node=node, stack=stack, problems=problems, reason=reason,
                       duration=42.0)


def chaos_of(doc):
    return {(c["node"], c["app"], c["event"]): (c["verdict"], c["reason"]) for c in doc["cells"]
            if c["event"].startswith("chaos:")}


def test_each_experiment_is_a_cell_of_every_app_it_judges():
    rows = [row("clock_jump", True), row("delete_nginx_snippet", False, problems=["route 404", "deviated"]),
            row("power_cut_normal", None, reason="node lacks capability 'power_cut'"),
            row("clock_jump", False, kind=summary.VARIANT, variant="chaos-wallclock-ticks")]   # not a cell
    doc = chaos_cells.merge(recorded(), CATALOG, ["clock_jump", "delete_nginx_snippet", "power_cut_normal",
                                                  "kill9_tor"], rows)
    assert chaos_of(doc) == {
        ("vm0", "bitcoin-knots", "chaos:clock_jump"): ("passed", ""),
        ("vm0", "lnd", "chaos:clock_jump"): ("passed", ""),
        ("vm0", "bitcoin-knots", "chaos:delete_nginx_snippet"): ("failed", "route 404; deviated"),
        ("vm0", "bitcoin-knots", "chaos:power_cut_normal"): ("not_run", "node lacks capability 'power_cut'"),
        ("vm0", "lnd", "chaos:power_cut_normal"): ("not_run", "node lacks capability 'power_cut'"),
        ("vm0", "bitcoin-knots", "chaos:kill9_tor"): ("not_run", "the chaos run recorded no result for it"),
        ("vm0", "lnd", "chaos:kill9_tor"): ("not_run", "the chaos run recorded no result for it")}
    assert doc["chaos"] == {"experiments": ["clock_jump", "delete_nginx_snippet", "power_cut_normal", "kill9_tor"],
                            "stack": STACK}
    rec = next(c for c in doc["cells"] if c["event"] == "chaos:clock_jump")
    assert rec["requirement"] == "MUST" and rec["artifacts"] == ["chaos/reference/clock_jump.journal.json"]
    assert rec["nodeid"] == "tests/chaos/test_experiments.py::test_experiment[clock_jump]" and rec["duration"] == 42.0
    assert results.malformed(doc) == ""
    assert len(doc["cells"]) == len(recorded()["cells"]) + 7        # the grid's records untouched


def test_an_app_outside_the_chaos_stack_is_not_run():
    doc = chaos_cells.merge(recorded(), CATALOG, ["clock_jump"], [row("clock_jump", True, stack=["bitcoin-knots"])])
    assert chaos_of(doc)[("vm0", "lnd", "chaos:clock_jump")] == (
        "not_run", "lnd was not in the chaos stack (bitcoin-knots)")
    assert chaos_of(doc)[("vm0", "bitcoin-knots", "chaos:clock_jump")] == ("passed", "")


def test_a_second_merge_replaces_the_first_and_every_node_gets_cells():
    a, b = recorded(node="vm0"), recorded(node="vm1")
    doc = {**a, "targets": a["targets"] + b["targets"], "cells": a["cells"] + b["cells"]}
    once = chaos_cells.merge(doc, CATALOG, ["clock_jump"], [row("clock_jump", False, problems=["x"])])
    twice = chaos_cells.merge(once, CATALOG, ["clock_jump"], [row("clock_jump", True), row("clock_jump", True, "vm1")])
    assert chaos_of(twice) == {(n, app, "chaos:clock_jump"): ("passed", "") for n in ("vm0", "vm1")
                               for app in STACK}
    assert sum(c["event"].startswith("chaos:") for c in twice["cells"]) == 4     # none left from the first


def test_the_command_merges_in_place_and_refuses_bad_input_in_one_line(tmp_path, capsys):
    f = tmp_path / "cells.json"
    f.write_text(json.dumps(recorded()))
    (tmp_path / "chaos").mkdir()
    rows = tmp_path / "chaos" / summary.FILE
    summary.append(rows, row("clock_jump", True))
    assert chaos_cells.main([str(f), "--experiments", "clock_jump"]) == 0
    assert "chaos_cells: 1 experiment(s) -> 2 chaos cell(s) (2 passed, 0 failed, 0 not run)" in capsys.readouterr().out
    assert results.read(f)["chaos"]["experiments"] == ["clock_jump"]
    assert chaos_cells.main([str(f), "--experiments", "clock_jmp"]) == 2
    assert capsys.readouterr().err.startswith("chaos_cells: unknown experiment(s) 'clock_jmp'; known: clock_jump, ")
    rows.write_text("not json\n")
    assert chaos_cells.main([str(f)]) == 2
    assert capsys.readouterr().err == f"chaos_cells: {rows}:1: not JSON: Expecting value: line 1 column 1 (char 0)\n"


def test_a_malformed_chaos_block_is_refused():
    assert results.malformed({"cells": [], "chaos": {"experiments": "clock_jump"}}) == (
        "'chaos' is dict {\"experiments\": \"clock_jump\"}: an object whose 'experiments' lists the chaos "
        "experiments the run selected")
