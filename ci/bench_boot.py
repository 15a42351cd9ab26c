#!/usr/bin/env python3
"""Benchmark a full-line node's boot (not a timed test): after a graceful reboot, how long until
every app unit is active again, with the reference's boot order (reconciler/boot.py) and without.

Two VMs side by side, one per child process, from the same golden state: `base` runs the
reconciler of --base (git ref; default HEAD~1), `head` the working tree's. Each installs the line
through the RPC one app at a time, waits until the node settles, reboots gracefully and polls the
apps' units until all are active (bounded by --timeout). Prints both figures and the ratio.

usage: .venv/bin/python ci/bench_boot.py [--base REF] [--apps bitcoin-knots,lnd,...] [--timeout 1800]
                                         [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import vm                                     # noqa: E402
from matrix.model import load as load_matrix  # noqa: E402
from node.api import poll                     # noqa: E402
from node.driver import PlatformDriver        # noqa: E402
from vm.golden import put_reconciler          # noqa: E402

LINE = "bitcoin-knots,lnd,electrumx,btcpay,mempool,fedimint"   # the full line: six apps, three companions


def say(who: str, msg: str) -> None:
    print(f"[bench-boot {time.strftime('%H:%M:%S')} {who}] {msg}", file=sys.stderr, flush=True)


def units(node, apps: list[str]) -> list[str]:
    matrix = load_matrix()
    ids = [*apps, *(c for a in apps for c in matrix.apps[a].companions)]
    return [node.names.unit(i) for i in ids]


def states(node, names: list[str]) -> dict[str, str]:
    out = node.run(f"{node.cmd.systemctl} is-active {' '.join(map(shlex.quote, names))}", timeout=60).stdout
    return dict(zip(names, out.split()))


def load_average(node) -> float:
    return float(node.run("cut -d' ' -f1 /proc/loadavg", timeout=60).stdout.strip() or "nan")


def use_reconciler_of(node, ref: str) -> None:
    """The reconciler code of `ref` in the node's code dir, the daemon restarted on it."""
    put_reconciler(node, subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar.gz", f"{ref}:reconciler"],
                                        capture_output=True, check=True, timeout=60).stdout)
    node.succeed(node.cmd.as_root(f"systemctl restart {shlex.quote(node.names.daemon_unit)}"), timeout=300)


def one(role: str, ref: str | None, apps: list[str], timeout: float) -> dict:
    node = vm.launch(f"bench-boot-{role}", progress=lambda m: say(role, m))
    driver = PlatformDriver(node)
    if ref:
        use_reconciler_of(node, ref)
        say(role, f"reconciler of {ref} in place")
    if not poll(lambda: driver.healthy(timeout=30), 300, 5):
        raise SystemExit(f"{role}: the daemon is not healthy")
    t0 = time.monotonic()
    for app in apps:
        t = time.monotonic()
        driver.install(app)
        say(role, f"installed {app} in {time.monotonic() - t:.0f} s")
    node.wait_settled(timeout=900)
    names = units(node, apps)
    result = {"role": role, "ref": ref or "working tree", "apps": apps, "install_s": round(time.monotonic() - t0),
              "idle_load": load_average(node)}
    say(role, f"line installed in {result['install_s']} s; idle load {result['idle_load']}")
    t = time.monotonic()
    node.reboot(timeout=1200)
    result["reboot_to_ssh_s"] = round(time.monotonic() - t)
    became: dict[str, float] = {}
    last: dict[str, str] = {}

    def all_active() -> bool:
        nonlocal last
        last = states(node, names)
        for u, s in last.items():
            if s == "active" and u not in became:
                became[u] = round(time.monotonic() - t)
        return all(s == "active" for s in last.values())

    done = poll(all_active, timeout, 10)
    result.update(reboot_to_all_active_s=round(time.monotonic() - t) if done else None, unit_active_s=became,
                  states=last, load_after=load_average(node))
    say(role, f"all active: {result['reboot_to_all_active_s']} s after the reboot (load {result['load_after']})")
    node.destroy()
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ci/bench_boot.py", description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="HEAD~1", help="git ref whose reconciler is the baseline")
    ap.add_argument("--apps", default=LINE)
    ap.add_argument("--timeout", type=float, default=1800, help="seconds to wait for every unit after the reboot")
    ap.add_argument("--json", help="write both results here")
    ap.add_argument("--one", choices=("base", "head"), help=argparse.SUPPRESS)   # a child: one VM
    args = ap.parse_args(argv)
    apps = [a.strip() for a in args.apps.split(",") if a.strip()]
    unknown = sorted(set(apps) - set(load_matrix().apps))
    if unknown:
        ap.error(f"unknown app(s): {', '.join(unknown)}")
    if args.one:
        print(json.dumps(one(args.one, args.base if args.one == "base" else None, apps, args.timeout)), flush=True)
        return 0
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "-q", args.base + "^{commit}"],
                      capture_output=True, timeout=30).returncode != 0:
        ap.error(f"--base {args.base}: no such commit")
    budget = 900 * len(apps) + args.timeout + 1800
    kids = {role: subprocess.Popen([sys.executable, __file__, "--one", role, "--base", args.base, "--apps",
                                    ",".join(apps), "--timeout", str(args.timeout)], stdout=subprocess.PIPE, text=True)
            for role in ("base", "head")}
    results = {}
    for role, p in kids.items():
        try:
            out, _ = p.communicate(timeout=budget)
        except subprocess.TimeoutExpired:
            p.terminate()
            out, _ = p.communicate(timeout=120)
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        results[role] = json.loads(lines[-1]) if p.returncode == 0 and lines else {"error": f"exit {p.returncode}"}
    b, h = (results[r].get("reboot_to_all_active_s") for r in ("base", "head"))
    ratio = (b / h) if b and h else None
    print(json.dumps(results, indent=1))
    print(f"bench-boot: reboot to every app active: base ({args.base}) "
          f"{b if b is not None else '>' + str(int(args.timeout))} s, head {h if h is not None else 'not reached'} s"
          + (f", {ratio:.2f}x" if ratio else ""))
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "ratio": ratio}, indent=1) + "\n")
    return 0 if h else 1


if __name__ == "__main__":
    sys.exit(main())
