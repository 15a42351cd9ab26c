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
    assert g.counts() == {"passed": 70, "failed": 1, "not_run": 1, "missing": 1}


def test_html_colours_links_and_levels():
    doc = recorded({("lnd", "ui_iframe"): ("failed", "X-Frame-Options <missing>")})
    page = html_report(build(M, doc, CATALOG))
    assert '<td class=failed title="lnd / ui_iframe — failed — MUST — X-Frame-Options &lt;missing&gt;">' \
           '<a href="artifacts/vm0/lnd-ui_iframe/">✗</a></td>' in page
    assert page.count("<td class=passed") == 72
    assert page.count("<td class=na") == 4
    assert "<td class=level" in page and ">L1</td>" in page and ">L4</td>" in page
    assert "<th>node</th>" not in page  # one node: no node column


def test_several_nodes_get_a_node_column():
    a = recorded(node="vm0")
    b = recorded({("lnd", "fresh_install"): ("failed", "unreachable")}, node="vm1")
    doc = {**a, "targets": a["targets"] + b["targets"], "cells": a["cells"] + b["cells"]}
    g = build(M, doc, CATALOG)
    assert g.nodes == ["vm0", "vm1"] and g.levels["vm1"]["lnd"] == 0 and g.levels["vm0"]["lnd"] == 4
    page, md = html_report(g), markdown_report(g)
    assert "<th>node</th>" in page and "rowspan=12>vm1</th>" in page
    assert md.splitlines()[4].startswith("| node | event \\ app |")
    assert "- ❌ vm1: `lnd-fresh_install` (MUST, failed): unreachable" in md


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
