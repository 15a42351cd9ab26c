#!/usr/bin/env python3
"""Measure issue 20's "no orphan VMs": SIGKILL pytest mid-cell N times, count QEMUs a minute later.

Each round starts one grid cell on its own embedded VM (ARCHY_VM_NAME=orphan<i>), waits until
the VM is up and the cell has been running `--into` seconds, SIGKILLs the pytest process (no
handler, no atexit: only the kernel's parent-death signal and the run-dir lock are left), then
after `--after` seconds counts QEMU processes of that VM. No later run is started in between.

    .venv/bin/python ci/orphan_check.py --rounds 5
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from node.names import HARNESS  # noqa: E402  (the one owner of the VM's process name)


def qemus(name: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", f"qemu-system-x86_64 -name {HARNESS.mark(name)} "], capture_output=True,
                         text=True, timeout=10).stdout
    return [int(p) for p in out.split()]


def one_round(i: int, into: float, after: float, log_dir: Path) -> dict:
    name = f"orphan{i}"
    log = log_dir / f"{name}.log"
    env = {**os.environ, "ARCHY_VM_NAME": name}
    with open(log, "w") as out:
        p = subprocess.Popen([sys.executable, "-m", "pytest", "tests/grid", "--apps", "bitcoin-knots",
                              "--events", "fresh_install", "-p", "no:cacheprovider",
                              "--results-dir", str(log_dir / name)], cwd=ROOT, env=env, stdout=out,
                             stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and p.poll() is None and "ready, ssh" not in log.read_text():
        time.sleep(1)
    if p.poll() is not None or time.monotonic() >= deadline:
        p.kill()
        return {"round": i, "error": f"the VM never came up (see {log})"}
    time.sleep(into)                       # inside the cell: the install RPC is running
    before = qemus(name)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    time.sleep(after)
    return {"round": i, "qemu_before": len(before), "qemu_left": len(qemus(name))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--into", type=float, default=30, help="seconds into the cell before the SIGKILL")
    ap.add_argument("--after", type=float, default=60, help="seconds to wait before counting QEMUs")
    ap.add_argument("--log-dir", type=Path, default=ROOT / "results" / "orphan-check")
    a = ap.parse_args()
    if not 1 <= a.rounds <= 50:
        print("orphan_check: --rounds must be 1..50", file=sys.stderr)
        return 2
    a.log_dir.mkdir(parents=True, exist_ok=True)
    left = 0
    for i in range(a.rounds):
        r = one_round(i, a.into, a.after, a.log_dir)
        print(r, flush=True)
        if "error" in r:
            return 1
        left += r["qemu_left"]
    print(f"orphan_check: {a.rounds} pytest runs SIGKILLed mid-cell; QEMU processes left "
          f"{a.after:.0f} s later: {left}")
    return 0 if left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
