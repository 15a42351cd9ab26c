#!/usr/bin/env python3
"""Benchmark: the same grid subset run the naive way (every cell from golden, its stack
reinstalled, batches of one) and the fast way (snapshot ladder + batched reboots/restarts/soak).
Prints both wall times, the ratio, and whether the verdicts agree.

    ci/bench_matrix.py [--apps lnd,fedimint] [--events ...] [--soak 60s]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ci.grid_run import ROOT, minutes, run_grid  # noqa: E402

DEFAULT_APPS = "lnd,fedimint"
DEFAULT_EVENTS = "fresh_install,ui_direct_port,ui_iframe,stop_ports_released,reboot_survival,reinstall_idempotent"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ci/bench_matrix.py", description=__doc__.splitlines()[0])
    ap.add_argument("--apps", default=DEFAULT_APPS)
    ap.add_argument("--events", default=DEFAULT_EVENTS)
    ap.add_argument("--soak", default="60s")
    ap.add_argument("--out", default=str(ROOT / "results" / "bench"))
    args = ap.parse_args(argv)
    sel = ["--apps", args.apps, "--events", args.events, "--soak-duration", args.soak]
    out = Path(args.out)
    runs = {}
    for mode in ("ladder", "naive"):
        print(f"bench: {mode}: {args.apps} x {args.events} ...", flush=True)
        runs[mode] = r = run_grid(out / mode, sel, {"ARCHY_GRID_MODE": mode})
        print(f"bench: {mode}: {minutes(r.seconds)} ({r.count('passed')} passed, {r.count('failed')} failed, "
              f"{r.count('not_run')} not run)", flush=True)
    fast, naive = runs["ladder"], runs["naive"]
    same = {(c["app"], c["event"]): c["verdict"] for c in fast.cells} == \
           {(c["app"], c["event"]): c["verdict"] for c in naive.cells}
    ratio = naive.seconds / fast.seconds if fast.seconds else float("inf")
    print(f"bench: {len(fast.cells)} cells; naive {minutes(naive.seconds)}, ladder+batches {minutes(fast.seconds)}: "
          f"{ratio:.1f}x faster; verdicts {'agree' if same else 'DIFFER'}")
    return 0 if same and fast.cells else 1


if __name__ == "__main__":
    sys.exit(main())
