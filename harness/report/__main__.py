"""`python -m harness.report [results/cells.json] [--out DIR] [--soak-results PATH]`: write grid.html and grid.md."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chaos import catalog
from matrix.model import MatrixError, load

from .. import levels, results, timings
from . import build, html_report, markdown_report


# the run's other reports, linked from the grid page when they are there (relative to it)
OTHER_REPORTS = (("Allure report", "allure-report/index.html"), ("soak report", "soak/latest/report.html"),
                 ("chaos suite", "chaos/junit.xml"), ("JUnit", "junit.xml"))


def links(out: Path) -> tuple[tuple[str, str], ...]:
    return tuple((label, href) for label, href in OTHER_REPORTS if (out / href).exists())


def _gate(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _time_spent(path: Path, doc: dict) -> tuple[tuple[str, str], ...]:
    """The breakdown of this very run (same commit and end time as the results), else none."""
    t = timings.read(path)
    if not t or t.get("commit") != doc.get("commit") or t.get("finished") != doc.get("finished"):
        return ()
    return tuple(timings.summary(t))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.report")
    ap.add_argument("results", nargs="?", default="results/cells.json")
    ap.add_argument("--out", help="output directory (default: next to the results file, so artifact links work)")
    ap.add_argument("--matrix-dir")
    ap.add_argument("--print", action="store_true", help="also print the Markdown grid")
    ap.add_argument("--soak-results", metavar="PATH",
                    help="the nightly soak's verdict.json (or its run directory) level 7 asks for")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else Path(args.results).parent
    try:
        doc = results.read(args.results)
        soak = levels.read_soak(args.soak_results) if args.soak_results else None
        grid = build(load(args.matrix_dir), doc, catalog.load(), soak,
                     gate=_gate(Path(args.results).parent / "gate.json"), links=links(out),
                     time_spent=_time_spent(Path(args.results).parent / "timings.json", doc))
    except (ValueError, MatrixError, catalog.CatalogError) as e:
        print(f"report: {e}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    md = markdown_report(grid)
    (out / "grid.html").write_text(html_report(grid))
    (out / "grid.md").write_text(md)
    if args.print:
        print(md)
    print(f"report: {out / 'grid.html'}, {out / 'grid.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
