"""Grid reports rendered from recorded results."""
from chaos import catalog
from harness.report import build, html_report, markdown_report
from matrix.model import load
from helpers import recorded

M = load()
CATALOG = catalog.load()


def test_grid_verdicts_levels_and_gaps():
    doc = recorded({("lnd", "ui_iframe"): ("failed", "X-Frame-Options missing"),
                    ("btcpay", "soak"): ("not_run", "soak disabled (--soak-duration 0)")},
                   drop={("mempool", "reboot_survival")})
    g = build(M, doc, CATALOG)
    assert g.nodes == ["vm0"]
    assert g.cells[("vm0", "lnd", "ui_iframe")].verdict == "failed"
    assert g.cells[("vm0", "electrumx", "tor_onion")].verdict == "na"
    assert g.cells[("vm0", "mempool", "reboot_survival")].verdict == "missing"
    # no chaos suite in this run: level 5 (and above) is earned by nobody
    assert g.levels["vm0"] == {"bitcoin-knots": 4, "bitcoin-core": 4, "lnd": 1, "electrumx": 4,
                               "btcpay": 4, "mempool": 3, "fedimint": 4}
    assert g.counts() == {"passed": 96, "failed": 1, "not_run": 1, "missing": 1}


def test_html_colours_links_and_levels():
    doc = recorded({("lnd", "ui_iframe"): ("failed", "X-Frame-Options <missing>")})
    page = html_report(build(M, doc, CATALOG))
    assert '<td class=failed title="lnd / ui_iframe — failed — MUST — X-Frame-Options &lt;missing&gt;">' \
           '<a href="artifacts/vm0/lnd-ui_iframe/">✗</a><br><small>2 s</small></td>' in page
    assert page.count("<td class=passed") == 98
    assert page.count("<td class=na") == 6
    assert "<td class=level" in page and ">L1</td>" in page and ">L4</td>" in page
    assert "<th>node</th>" not in page  # one node: no node column


def test_several_nodes_get_a_node_column():
    a = recorded(node="vm0")
    b = recorded({("lnd", "fresh_install"): ("failed", "unreachable")}, node="vm1")
    doc = {**a, "targets": a["targets"] + b["targets"], "cells": a["cells"] + b["cells"]}
    g = build(M, doc, CATALOG)
    assert g.nodes == ["vm0", "vm1"] and g.levels["vm1"]["lnd"] == 0 and g.levels["vm0"]["lnd"] == 4
    page, md = html_report(g), markdown_report(g)
    assert "<th>node</th>" in page and "rowspan=16>vm1</th>" in page
    assert md.splitlines()[8].startswith("| node | event \\ app |")
    assert "- ❌ vm1: `lnd-fresh_install` (MUST, failed, 2 s): unreachable" in md


def test_markdown_grid():
    doc = recorded({("lnd", "ui_iframe"): ("failed", "a|b")}, drop={("fedimint", "soak")})
    md = markdown_report(build(M, doc, CATALOG))
    assert "| UI iframe | ✅ | ✅ | [❌](artifacts/vm0/lnd-ui_iframe/) | ✅ | ✅ | ✅ | ✅ |" in md
    assert "| Tor .onion reachable | ✅ | ✅ | ✅ | — | ✅ | ✅ | ✅ |" in md
    assert "| **level** | **L4** | **L4** | **L1** | **L4** | **L4** | **L4** | **L4** |" in md
    assert "- ❔ `fedimint-soak` (MUST, no result): —" in md
    assert "a\\|b" in md


def test_part_not_run_marked_in_both_reports():
    doc = recorded()
    rec = next(r for r in doc["cells"] if (r["app"], r["event"]) == ("btcpay", "tor_onion"))
    rec["parts_not_run"] = ["onion round trip: no Tor network"]
    g = build(M, doc, CATALOG)
    assert g.cells[("vm0", "btcpay", "tor_onion")].parts_not_run == ("onion round trip: no Tor network",)
    page, md = html_report(g), markdown_report(g)
    assert "✓*" in page and "part not run: onion round trip: no Tor network" in page
    assert "Passed, with a part not run here" in page
    assert "✅*" in md and "- `btcpay-tor_onion`: onion round trip: no Tor network" in md


def test_a_cell_run_again_after_a_guest_crash_is_marked():
    doc = recorded({("lnd", "reboot_survival"): ("failed", "vm0: the guest kernel crashed: Oops: int3")})
    again = next(r for r in doc["cells"] if (r["app"], r["event"]) == ("btcpay", "fresh_install"))
    again["retried"] = "guest kernel crashed: Oops: int3"
    broken = next(r for r in doc["cells"] if (r["app"], r["event"]) == ("lnd", "reboot_survival"))
    broken.update(retried="guest kernel crashed: Oops: int3", broken="guest kernel crashed again: Oops: int3")
    page, md = html_report(build(M, doc, CATALOG)), markdown_report(build(M, doc, CATALOG))
    assert "✓↻" in page and "retried: guest kernel crashed: Oops: int3" in page
    assert "✗↻⚡" in page and "broken infrastructure: guest kernel crashed again" in page
    assert "✅↻" in md and "## Run again after a guest kernel crash" in md
    assert "- `lnd-reboot_survival` (failed): guest kernel crashed: Oops: int3; guest kernel crashed again" in md


def merged(passed=True, overrides=None):
    """A whole run with the whole chaos suite merged in, as make beta-matrix CHAOS=1 leaves it."""
    from chaos import summary
    from harness import chaos_cells
    rows = [summary.row(n, summary.REFERENCE, None, passed or n != "kill9_tor", node="vm0",
                        stack=["bitcoin-knots", "lnd"], problems=[] if passed else ["onions changed"])
            for n in CATALOG]
    return chaos_cells.merge(recorded(overrides), CATALOG, list(CATALOG), rows)


def test_chaos_experiments_are_rows_of_the_grid():
    g = build(M, merged(passed=False), CATALOG)
    assert g.rows[-16:] == [f"chaos:{n}" for n in CATALOG] and g.events == list(M.events)
    assert g.cells[("vm0", "lnd", "chaos:kill9_tor")].verdict == "failed"
    assert g.cells[("vm0", "lnd", "chaos:delete_nginx_snippet")].verdict == "na"     # judges bitcoin-knots only
    assert g.counts() == {"passed": 99 + 27, "failed": 2}
    md, page = markdown_report(g), html_report(g)
    assert ("| chaos: kill9_tor | [❌](chaos/reference/) | — | [❌](chaos/reference/) | — | — | — | — |" in md)
    assert "| chaos: delete_nginx_snippet | [✅](chaos/reference/) | — | — | — | — | — | — |" in md
    assert "- ❌ `lnd-chaos:kill9_tor` (MUST, failed): onions changed" in md
    assert '<td class=failed title="lnd / chaos:kill9_tor — failed — MUST — onions changed">' in page


def test_the_evidence_each_level_rests_on():
    md = markdown_report(build(M, merged(overrides={("lnd", "soak"): ("failed", "journal: 3 error lines")}), CATALOG))
    lines = md.splitlines()
    at = lines.index("## What the levels rest on")
    assert lines[at + 1] == "- **bitcoin-knots L7**: every level earned"
    assert lines[at + 2] == "  - L1 Installs: ✅ `bitcoin-knots-fresh_install`; ✅ `bitcoin-knots-broken_install`"
    assert lines[at + 6] == ("  - L5 Survives crash and power cut: " + "; ".join(
        f"✅ `chaos:{n}`" for n in catalog.involving(CATALOG, "bitcoin-knots")))
    assert lines[at + 8] == ("  - L7 Soak with a clean journal: ✅ `bitcoin-knots-soak`; no nightly soak results given "
                             "(SOAK_RESULTS): rests on the grid's soak cell alone")
    assert "- **electrumx L4**: not L5 Survives crash and power cut: no chaos experiment judges electrumx" in lines
    assert ("  - L5 Survives crash and power cut (not earned): no chaos experiment judges electrumx") in lines
    assert "- **lnd L6**: not L7 Soak with a clean journal: lnd-soak: failed: journal: 3 error lines" in lines
    # an app's evidence stops at the first level it lacks: btcpay lists no L6 or L7
    btcpay = lines.index("- **btcpay L4**: not L5 Survives crash and power cut: no chaos experiment judges btcpay")
    assert [x[:6] for x in lines[btcpay + 1:btcpay + 7]] == ["  - L1", "  - L2", "  - L3", "  - L4", "  - L5", "- **me"]


def test_a_part_not_run_caps_the_level_and_says_why_in_both_reports():
    doc = merged()
    rec = next(r for r in doc["cells"] if (r["app"], r["event"]) == ("lnd", "tor_onion"))
    rec["parts_not_run"] = ["onion round trip through the Tor network: no Tor network"]
    g = build(M, doc, CATALOG)
    assert g.levels["vm0"]["lnd"] == 1
    md, page = markdown_report(g), html_report(g)
    assert ("- **lnd L1**: not L2 UI on every path: lnd-tor_onion: part not run: onion round trip through the Tor "
            "network: no Tor network") in md.splitlines()
    assert ("  - L2 UI on every path (not earned): ✅ `lnd-ui_direct_port`; ✅ `lnd-ui_https_proxy`; ✅ `lnd-ui_iframe`; "
            "✅* `lnd-tor_onion` (onion round trip through the Tor network: no Tor network)") in md.splitlines()
    assert "| **level** | **L7** | **L4** | **L1** |" in md
    assert "<h2>What the levels rest on</h2>" in page
    assert ("<span class=partial>✓* lnd-tor_onion</span> (onion round trip through the Tor network: no Tor network)"
            in page)
    assert ('title="Installs — not L2 UI on every path: lnd-tor_onion: part not run: onion round trip through the Tor '
            'network: no Tor network">L1</td>') in page


def test_the_evidence_names_each_node_when_there_are_several():
    a = recorded(node="vm0")
    b = recorded({("lnd", "fresh_install"): ("failed", "unreachable")}, node="vm1")
    md = markdown_report(build(M, {**a, "targets": a["targets"] + b["targets"], "cells": a["cells"] + b["cells"]},
                               CATALOG))
    lines = md.splitlines()
    assert "### vm1" in lines and "- **lnd L0**: not L1 Installs: lnd-fresh_install: failed: unreachable" in \
        lines[lines.index("### vm1"):]


def test_what_is_said_of_a_level_is_escaped_in_html():
    from matrix.standing import Soak
    soak = Soak(True, "b" * 40, ("bitcoin-knots",), "PASS", "results/soak/<x>&y/verdict.json")
    page = html_report(build(M, {**merged(), "commit": "a" * 40}, CATALOG, soak))
    assert "the nightly soak (results/soak/&lt;x&gt;&amp;y/verdict.json) is of commit bbbbbbbbbbbb" in page
    assert "<x>&y" not in page


def test_the_page_heads_with_the_gates_verdict_of_this_run_its_commit_times_and_links():
    doc = {**recorded(), "commit": "1f1c651abcdef0123", "started": 1764770000.0, "finished": 1764773600.0}
    gate = {"verdict": "FAIL", "summary": "FAIL (1 problem(s); 99 MUST cells per node required)",
            "commit": doc["commit"], "results_finished": doc["finished"]}
    g = build(M, doc, CATALOG, gate=gate, links=(("Allure report", "allure-report/index.html"),))
    page, md = html_report(g), markdown_report(g)
    assert '<p class=gate><span class=failed>Gate: FAIL (1 problem(s)' in page
    assert "Commit 1f1c651abcde, run 2025-12-03 13:53 UTC to 2025-12-03 14:53 UTC (60 min)" in page
    assert '<a href="allure-report/index.html">Allure report</a>' in page
    assert md.splitlines()[2] == "**Gate: FAIL (1 problem(s); 99 MUST cells per node required)**"
    assert "[Allure report](allure-report/index.html)" in md.splitlines()[4]


def test_a_gate_verdict_of_another_run_is_not_shown():
    doc = {**recorded(), "commit": "abc", "finished": 2.0}
    stale = {"verdict": "PASS", "summary": "PASS (every MUST cell passed on 1 node(s))", "commit": "abc",
             "results_finished": 1.0}
    page = html_report(build(M, doc, CATALOG, gate=stale))
    assert "Gate: not judged yet" in page and "PASS (every" not in page


def test_an_app_outside_the_selection_has_no_level_rather_than_l0():
    doc = {**recorded(), "selection": {"apps": ["lnd"], "events": None}}
    doc["cells"] = [c for c in doc["cells"] if c["app"] == "lnd"]
    g = build(M, doc, CATALOG)
    page, md = html_report(g), markdown_report(g)
    level_row = next(ln for ln in md.splitlines() if "**level**" in ln)
    assert level_row.count("·") == 6 and "**L4**" in level_row
    assert page.count('title="not selected in this run: no level">·</td>') == 6
    assert "**lnd L4**" in md and "**mempool L" not in md and "<b>mempool L" not in page   # evidence: lnd's only
