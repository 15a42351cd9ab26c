#!/usr/bin/env python3
"""make prove: the matrix has teeth. Runs the grid against each deliberately broken variant of the
reference reconciler (one per historical failure in the seeds) and shows which cell caught it.
A variant that no cell catches fails `make prove`; so does a reference that is not green, and then
no variant runs (a catch would prove nothing).

    ci/prove.py [--variants a,b] [--apps ...] [--events ...] [--soak 60s]
                [--no-reference | --reference results/cells.json] [--node URL ...] [-- extra pytest args]
Each run stops at its first failing cell (-x): one catch is the proof, and it keeps the run short.
--reference reuses the verdicts of a grid run of the same commit (`make beta-matrix` just before)
instead of running the reference again: every selected cell must be in it, and none failed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ci.grid_run import ROOT, minutes, run_grid  # noqa: E402
from harness import results  # noqa: E402

# The six historical failures of the seeds (docs/architecture.md, "Broken variants").
VARIANTS = ("install-success-before-healthy", "fm3-apps-in-daemon-cgroup", "stop-timeout-10s",
            "fm1-companions-not-recreated", "fm2-rpcauth-not-rederived", "uninstall-leaves-unit")
DEFAULT_APPS = "bitcoin-knots,lnd"


def reference_verdict(doc: dict, apps: list[str], events: list[str] | None) -> tuple[bool, str]:
    """(green, text) of a reference taken from a results file: the selected cells all there, none failed."""
    chosen = [c for c in doc["cells"] if c["app"] in apps and (events is None or c["event"] in events)]
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ci/prove.py", description=__doc__.splitlines()[0])
    ap.add_argument("--variants", help=f"comma-separated (default: all six: {', '.join(VARIANTS)})")
    ap.add_argument("--apps", default=DEFAULT_APPS, help=f"grid apps to run (default {DEFAULT_APPS})")
    ap.add_argument("--events", help="grid events to run (default: all)")
    ap.add_argument("--soak", default="60s", help="soak duration per run (default 60s)")
    ref = ap.add_mutually_exclusive_group()
    ref.add_argument("--no-reference", action="store_true", help="skip the reference run")
    ref.add_argument("--reference", metavar="CELLS_JSON",
                     help="reuse the reference verdicts of this results file (same commit) instead of a run")
    ap.add_argument("--node", action="append", default=[], help="target (default: the embedded VM)")
    ap.add_argument("--allow-destructive", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "results" / "prove"))
    args, extra = ap.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    variants = [v.strip() for v in args.variants.split(",")] if args.variants else list(VARIANTS)
    if unknown := [v for v in variants if v not in VARIANTS]:
        print(f"prove: unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    sel = ["--apps", args.apps, "--soak-duration", args.soak]
    sel += ["--events", args.events] if args.events else []
    sel += [x for n in args.node for x in ("--node", n)] + (["--allow-destructive"] if args.allow_destructive else [])
    out = Path(args.out)
    rows, bad = [], []
    if args.reference:
        try:
            ok, verdict = reference_verdict(results.read(args.reference), args.apps.split(","),
                                            args.events.split(",") if args.events else None)
        except ValueError as e:
            print(f"prove: --reference: {e}", file=sys.stderr)
            return 2
        rows.append(("reference", f"{verdict} [{args.reference}]", 0.0))
        print(f"prove: reference: {verdict} [{args.reference}]", flush=True)
        if not ok:
            bad.append("reference")
    runs = ([None] if not (args.no_reference or args.reference) else []) + variants
    for v in runs:
        name = v or "reference"
        if "reference" in bad:      # a catch against a red reference would prove nothing
            print(f"prove: {name}: not run (the reference is not green)", flush=True)
            rows.append((name, "not run: the reference is not green", 0.0))
            continue
        print(f"prove: {name}: running the grid ({args.apps}) ...", flush=True)
        env = {"ARCHY_RECONCILER_VARIANT": v or ""}
        r = run_grid(out / name, sel + ([] if v is None else ["-x"]) + extra, env)
        failed = r.failed()
        if v is None:
            ok = r.rc == 0 and not failed and r.count("passed") > 0
            verdict = "green" if ok else "NOT GREEN: " + ("; ".join(
                f"{c['app']}-{c['event']}: {c['reason'][:120]}" for c in failed[:3]) or f"pytest rc {r.rc}")
            if not ok:
                bad.append(name)
        elif failed:
            c = failed[0]
            verdict = f"caught by {c['app']}-{c['event']}: {c['reason'][:160]}"
        else:
            verdict = f"NOT CAUGHT ({r.count('passed')} cells passed, pytest rc {r.rc})"
            bad.append(name)
        rows.append((name, verdict, r.seconds))
        print(f"prove: {name}: {verdict} [{minutes(r.seconds)}] (log {out / name / 'pytest.log'})", flush=True)
    print("\nprove: variant -> the cell that caught it")
    width = max(len(n) for n, _, _ in rows)
    for name, verdict, secs in rows:
        print(f"  {name:{width}}  {minutes(secs):>7}  {verdict}")
    if bad:
        print(f"prove: FAIL: {', '.join(bad)}")
        return 1
    print(f"prove: PASS: every variant ({len(variants)}) was caught by a cell")
    return 0


if __name__ == "__main__":
    sys.exit(main())
