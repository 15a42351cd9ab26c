#!/usr/bin/env python3
"""make prove: the matrix has teeth. Runs the grid and the chaos suite against each deliberately
broken variant of the reference reconciler and names where each was caught, against where
reconciler/variants.py CAUGHT_BY says it is meant to be: caught where expected, caught elsewhere
(not a pass unless that place is listed), missed (ci/catches.py). `make prove` fails unless every
variant is caught where expected; a reference that is not green fails it too, and then no grid
variant runs (a catch would prove nothing).

    ci/prove.py [--variants a,b] [--apps ...] [--events ...] [--soak 60s]
                [--no-reference | --reference results/cells.json] [--node URL ...] [-- extra pytest args]
A variant caught by grid cells runs the grid (the apps of its listed cells unless --apps), which
stops at its first failing cell (-x): one catch is the proof, and it keeps the run short. A variant
caught by chaos experiments runs those experiments (tests/chaos with ARCHY_CHAOS_VARIANTS=1: each
against the reference first, then against the variant its file names), all in one chaos run.
--reference reuses the verdicts of a grid run of the same commit (`make beta-matrix` just before)
instead of running the grid reference again: every selected cell must be in it, and none failed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ci import catches  # noqa: E402
from ci.grid_run import ROOT, minutes, run_chaos, run_grid  # noqa: E402
from harness import results  # noqa: E402
from matrix.model import load  # noqa: E402
from reconciler.variants import CAUGHT_BY  # noqa: E402


def reference_verdict(doc: dict, apps: list[str], events: list[str] | None) -> tuple[bool, str]:
    """(green, text) of a reference taken from a results file: the selected grid cells all there, none
    failed (its chaos cells are no grid reference: the chaos run has its own)."""
    chosen = [c for c in doc["cells"] if c["app"] in apps and (events is None or c["event"] in events)
              and not catches.is_chaos(c["event"])]
    failed = [c for c in chosen if c["verdict"] == "failed"]
    have = {c["app"] for c in chosen}
    if missing := [a for a in apps if a not in have]:
        return False, f"NOT GREEN: no cells of {', '.join(missing)} in the reference file"
    if events and (gone := sorted({e for e in events} - {c["event"] for c in chosen})):
        return False, f"NOT GREEN: no cells of event(s) {', '.join(gone)} in the reference file"
    if failed:
        return False, "NOT GREEN: " + "; ".join(f"{c['app']}-{c['event']}: {str(c.get('reason', ''))[:120]}"
                                               for c in failed[:3])
    passed = sum(c["verdict"] == "passed" for c in chosen)
    if not passed:
        return False, "NOT GREEN: no passed cell in the reference file"
    return True, f"green (reused: {passed} passed, {len(chosen) - passed} not run)"


def grid_apps(variants: list[str], chosen: str | None, order: list[str]) -> dict[str, list[str]]:
    """The apps each grid-caught variant runs: --apps, else those of its listed cells (in the
    matrix's `order`; the grid installs their dependencies itself)."""
    out = {}
    for v in variants:
        cells = catches.grid_cells(CAUGHT_BY[v])
        if cells:
            mine = chosen.split(",") if chosen else {catches.cell_app(c) for c in cells}
            out[v] = [a for a in order if a in mine]
    return out


def _reference(args, apps: list[str], sel: list[str], extra: list[str], out: Path) -> tuple[bool, str]:
    """The grid reference: reused from --reference, or run (all the variants' apps, no -x)."""
    events = args.events.split(",") if args.events else None
    if args.reference:
        ok, text = reference_verdict(results.read(args.reference), apps, events)
        return ok, f"{text} [{args.reference}]"
    print(f"prove: reference: running the grid ({','.join(apps)}) ...", flush=True)
    r = run_grid(out / "reference", ["--apps", ",".join(apps), *sel, *extra], {"ARCHY_RECONCILER_VARIANT": ""})
    failed = r.failed()
    ok = r.rc == 0 and not failed and r.count("passed") > 0
    text = "green" if ok else "NOT GREEN: " + ("; ".join(
        f"{c['app']}-{c['event']}: {c['reason'][:120]}" for c in failed[:3]) or f"pytest rc {r.rc}")
    return ok, f"{text} [{minutes(r.seconds)}]"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ci/prove.py", description=__doc__.splitlines()[0])
    ap.add_argument("--variants", help=f"comma-separated (default: all {len(CAUGHT_BY)})")
    ap.add_argument("--apps", help="grid apps to run (default: the apps of each variant's listed cells)")
    ap.add_argument("--events", help="grid events to run (default: all)")
    ap.add_argument("--soak", default="60s", help="soak duration per run (default 60s)")
    ref = ap.add_mutually_exclusive_group()
    ref.add_argument("--no-reference", action="store_true", help="skip the grid reference run")
    ref.add_argument("--reference", metavar="CELLS_JSON",
                     help="reuse the reference verdicts of this results file (same commit) instead of a run")
    ap.add_argument("--node", action="append", default=[], help="target (default: the embedded VM)")
    ap.add_argument("--allow-destructive", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "results" / "prove"))
    args, extra = ap.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else list(CAUGHT_BY)
    if unknown := [v for v in variants if v not in CAUGHT_BY]:
        print(f"prove: unknown variant(s) {', '.join(unknown)}; known: {', '.join(CAUGHT_BY)}", file=sys.stderr)
        return 2
    target = [x for n in args.node for x in ("--node", n)] + (["--allow-destructive"] if args.allow_destructive else [])
    sel = ["--soak-duration", args.soak, *(["--events", args.events] if args.events else []), *target]
    out = Path(args.out)
    order = list(load().apps)
    apps = grid_apps(variants, args.apps, order)
    seen: dict[str, dict] = {v: {} for v in variants}
    seconds: dict[str, float] = {v: 0.0 for v in variants}
    void: dict[str, str] = {}
    green = True
    if apps:
        union = [a for a in order if any(a in x for x in apps.values())]
        try:
            green, text = (True, "skipped (--no-reference)") if args.no_reference else _reference(
                args, union, sel, extra, out)
        except ValueError as e:
            print(f"prove: --reference: {e}", file=sys.stderr)
            return 2
        print(f"prove: reference: {text}", flush=True)
    for v, mine in apps.items():
        if not green:            # a catch against a red reference would prove nothing
            void[v] = "the grid reference is not green"
            continue
        print(f"prove: {v}: running the grid ({','.join(mine)}) ...", flush=True)
        r = run_grid(out / v, ["--apps", ",".join(mine), *sel, "-x", *extra], {"ARCHY_RECONCILER_VARIANT": v})
        seen[v].update(catches.grid_seen(r.cells))
        seconds[v] += r.seconds
        first = next((f"{c['app']}-{c['event']}" for c in r.failed()), None)
        print(f"prove: {v}: {'failed at ' + first if first else 'nothing failed'} [{minutes(r.seconds)}] "
              f"(log {out / v / 'pytest.log'})", flush=True)
    by_chaos = [v for v in variants if catches.experiments(CAUGHT_BY[v])]
    if by_chaos:
        wanted = sorted({e for v in by_chaos for e in catches.experiments(CAUGHT_BY[v])})
        print(f"prove: chaos: {len(wanted)} experiment(s), each against the reference and its variant ...", flush=True)
        c = run_chaos(out / "chaos", wanted, [*target, *extra], variants=True)
        print(f"prove: chaos: {len(c.rows)} row(s) [{minutes(c.seconds)}] (log {out / 'chaos' / 'pytest.log'})"
              + (f": {c.problem}" if c.problem else ""), flush=True)
        for v in by_chaos:
            seen[v].update(catches.chaos_seen(c.rows, v))
            seconds[v] += sum(r.get("duration_s") or 0 for r in c.rows if r.get("variant") == v)
    judged = [catches.judge(v, CAUGHT_BY[v], seen[v], void.get(v, ""), seconds[v]) for v in variants]
    print()
    for line in catches.render(judged):
        print(line)
    bad = ([] if green else ["reference"]) + [j.variant for j in judged if not j.ok]
    if bad:
        print(f"prove: FAIL: {', '.join(bad)}")
        return 1
    print(f"prove: PASS: every variant ({len(variants)}) was caught where expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
