"""`python -m harness.soak run|render`: the soak report (docs/architecture.md, harness/soak).

  run     install the stack on the target, sample every INTERVAL for DURATION into
          OUT/<stamp>-<node>/timeline.jsonl, render report.html + summary.md + verdict.json
          (--resume TIMELINE continues a soak whose harness died)
  render  judge and render an existing timeline file again
Exit status: 0 the verdict passed, 1 it failed, 2 bad input or the node could not be used.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import vm
from harness import goss_session
from harness.duration import DurationError, parse_duration
from harness.soak.report import render
from harness.soak.runner import full_stack, run_soak
from harness.soak.timeline import TimelineError
from matrix.model import MatrixError, load
from node.api import NodeError
from node.driver import PlatformDriver
from node.target import connect, parse


def _args(argv):
    ap = argparse.ArgumentParser(prog="python -m harness.soak")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="install the stack, soak it, render the report")
    r.add_argument("--node", help="ssh://user@host[:port]?known_hosts=...&key=... or vm://NAME (default vm://vm0)")
    r.add_argument("--vm", action="store_true", help="the embedded VM (the default)")
    r.add_argument("--apps", help="comma-separated apps (default: the full stack)")
    r.add_argument("--duration", default="10m", help="e.g. 10m, 6h (default 10m)")
    r.add_argument("--interval", default=None, help="between samples (default: duration/20, 15s..5m)")
    r.add_argument("--out", default="results/soak", help="output directory (default results/soak)")
    r.add_argument("--resume", metavar="TIMELINE", help="continue this timeline (same node, apps, duration)")
    r.add_argument("--no-install", action="store_true", help="soak what is installed (no package.install)")
    r.add_argument("--mem-growth-pct", type=float, default=20.0)
    r.add_argument("--mem-growth-floor-mib", type=float, default=16.0)
    r.add_argument("--install-timeout", default="15m", help="per app install (default 15m)")
    r.add_argument("--keep", action="store_true", help="leave the embedded VM running afterwards")
    d = sub.add_parser("render", help="re-render a timeline file (report.html, summary.md, verdict.json)")
    d.add_argument("timeline")
    d.add_argument("--out", help="output directory (default: next to the timeline)")
    return ap.parse_args(argv)


def default_interval(duration: float) -> float:
    return min(300.0, max(15.0, duration / 20))


def main(argv=None) -> int:
    a = _args(argv)
    try:
        if a.cmd == "render":
            verdict, paths = render(Path(a.timeline), Path(a.out) if a.out else None)
            print(f"soak: {verdict.one_line()}\nsoak: {paths['html']}")
            return 0 if verdict.passed else 1
        return _run(a)
    except (DurationError, TimelineError, NodeError, ValueError) as e:
        print(f"soak: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("soak: interrupted; the timeline is kept: resume with --resume or render it", file=sys.stderr)
        return 130


def _run(a) -> int:
    duration = parse_duration(a.duration)
    interval = parse_duration(a.interval) if a.interval else default_interval(duration)
    try:
        matrix = load(os.environ.get("ARCHY_MATRIX_DIR") or None)
    except MatrixError as e:
        raise ValueError(f"matrix: {e}") from None
    apps = full_stack(matrix, [x.strip() for x in a.apps.split(",") if x.strip()] if a.apps else None)
    target = parse(a.node or "vm://vm0")
    print(f"soak: {target.url}: {', '.join(apps)} for {a.duration}, a sample every {interval:.0f}s", flush=True)
    node = connect(target, vm=vm.launcher(lambda *p: print(*p, flush=True), detached=a.keep))
    try:
        if a.resume:
            timeline = Path(a.resume)
        else:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
            timeline = Path(a.out) / f"{stamp}-{node.name}" / "timeline.jsonl"
            latest = Path(a.out) / "latest"
            timeline.parent.mkdir(parents=True, exist_ok=True)
            if latest.is_symlink() or not latest.exists():
                latest.unlink(missing_ok=True)
                latest.symlink_to(timeline.parent.name)
        verdict = run_soak(node, PlatformDriver(node), matrix, apps=apps, duration=duration, interval=interval,
                           timeline=timeline, resume=bool(a.resume), do_install=not a.no_install,
                           bounds={"mem_growth_pct": a.mem_growth_pct,
                                   "mem_growth_floor": a.mem_growth_floor_mib * 1048576},
                           progress=lambda *p: print(*p, flush=True),
                           install_timeout=parse_duration(a.install_timeout))
    finally:
        goss_session.release(node)
        if a.keep or not target.is_vm:
            node.close()
        else:
            node.destroy()
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
