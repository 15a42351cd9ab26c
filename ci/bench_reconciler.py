#!/usr/bin/env python3
"""Benchmark of the reference reconciler on the embedded VM (or an attached one):

  * tick duration with every app installed (reconcile.tick's own "duration", N samples)
  * deleted unit file -> file back and loaded, by the interval loop alone (no RPC tick)
  * deleted unit file + daemon-reload + unit stopped (systemd forgot it) -> app active and healthy again

    .venv/bin/python ci/bench_reconciler.py [--attach VM] [--samples 10] [--out results/bench_reconciler.json]

Every wait is bounded; the VM launched here is destroyed on exit (also on Ctrl-C).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import vm  # noqa: E402
from node.api import NodeError, poll  # noqa: E402
from node.driver import PlatformDriver, RpcError  # noqa: E402

APPS = ("bitcoin-knots", "lnd", "electrumx", "btcpay", "mempool", "fedimint")
VICTIM = "fedimint"


def active(node, unit: str) -> dict:
    out = node.succeed(f"{node.cmd.systemctl} show -p ActiveState,NeedDaemonReload,MainPID {unit}", timeout=60)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def healthy(driver, app: str) -> bool:
    try:
        return bool(driver.container_health(app, timeout=60)[app]["healthy"])
    except (RpcError, KeyError):
        return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attach", metavar="VM", help="use a running VM (python -m vm up NAME) instead of launching")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--out", default="results/bench_reconciler.json")
    args = ap.parse_args()

    node = vm.attach(args.attach) if args.attach else vm.launch("bench-rec", progress=print)
    try:
        return run(node, args)
    except (NodeError, RpcError) as e:
        print(f"bench_reconciler: {e}", file=sys.stderr)
        return 1
    finally:
        if not args.attach:
            node.destroy()


def run(node, args) -> int:
    driver = PlatformDriver(node)
    interval = float(driver.health()["interval"])
    figures: dict = {"tick_interval": interval, "apps": list(APPS)}
    t0 = time.monotonic()
    for app in APPS:
        t = time.monotonic()
        driver.install(app, timeout=1800)
        figures.setdefault("install_seconds", {})[app] = round(time.monotonic() - t, 1)
        print(f"installed {app} in {figures['install_seconds'][app]} s")
    figures["install_all_seconds"] = round(time.monotonic() - t0, 1)

    samples = []
    for _ in range(args.samples):
        r = driver.tick(timeout=300)
        if not r["converged"]:
            print(f"note: tick not converged: {r['steps'][:3]}")
        samples.append(r["duration"])
    figures["tick_seconds"] = {"median": round(statistics.median(samples), 3), "max": round(max(samples), 3),
                               "min": round(min(samples), 3), "n": len(samples)}
    print(f"tick duration with {len(APPS)} apps: {figures['tick_seconds']}")

    unit, path = node.names.unit(VICTIM), node.names.quadlet(VICTIM)
    # (a) the file alone: the loop notices within one interval and rewrites + reloads
    node.succeed(node.cmd.as_root(f"rm -f {path}"))
    t = time.monotonic()
    ok = poll(lambda: node.run(node.cmd.as_root(f"test -s {path}")).rc == 0 and active(node, unit)["NeedDaemonReload"] == "no"
              and active(node, unit)["ActiveState"] == "active", timeout=10 * interval + 120, interval=0.5)
    figures["deleted_file_back_seconds"] = round(time.monotonic() - t, 1) if ok else None
    # (b) systemd forgot the unit and it stopped: rewrite, reload, start, healthy
    c = node.cmd
    node.succeed(f"{c.as_root(f'rm -f {path}')} && {c.systemctl} daemon-reload && {c.systemctl} stop {unit}",
                 timeout=300)
    t = time.monotonic()
    ok = poll(lambda: active(node, unit)["ActiveState"] == "active" and healthy(driver, VICTIM),
              timeout=900, interval=1)
    figures["deleted_unit_to_healthy_seconds"] = round(time.monotonic() - t, 1) if ok else None
    print(json.dumps(figures, indent=1))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=1) + "\n")
    return 0 if figures["deleted_file_back_seconds"] and figures["deleted_unit_to_healthy_seconds"] else 1


if __name__ == "__main__":
    sys.exit(main())
