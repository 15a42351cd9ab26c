"""Soak: sample a node for a duration into an append-only timeline, judge it, render a report.

    from harness.soak.runner import run_soak      # install + sample loop (make soak)
    from harness.soak.verdict import judge        # pure rules, shared with the grid's soak cell
    from harness.soak.report import render        # timeline file -> report.html, summary.md, verdict.json
CLI: python -m harness.soak run|render
"""
