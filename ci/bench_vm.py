#!/usr/bin/env python3
"""Benchmark the embedded VM (not a timed test): figures for the closing note.

  1. golden restore vs cold boot of the same provisioned disk, each until an SSH command answers
     (goal: restore >= 6x faster);
  2. remote command round trip: the persistent paramiko connection vs one `ssh` process per
     command (goal: >= 5x faster).

usage: .venv/bin/python ci/bench_vm.py [--restores 3] [--boots 1] [--commands 30] [--json out.json]
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import vm                                   # noqa: E402
from node.api import NodeError             # noqa: E402
from vm.machine import VM                   # noqa: E402
from vm.node import VMNode                  # noqa: E402

GOALS = {"restore_vs_cold_boot": 6.0, "paramiko_vs_ssh_process": 5.0}


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def time_restores(node: VMNode, n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.monotonic()
        node.restore()
        node.succeed("true")
        out.append(time.monotonic() - t)
        say(f"restore {i + 1}/{n}: {out[-1]:.1f} s")
    return out


def time_cold_boots(base, golden, n: int) -> list[float]:
    out = []
    for i in range(n):
        cold = VM("bench-cold", base)
        try:
            t = time.monotonic()
            cold.start(golden.disk, progress=lambda m: None)     # same provisioned disk, no memory state
            node = VMNode(cold, golden=None, ssh_timeout=900)
            node.succeed("true")
            out.append(time.monotonic() - t)
            node.close()
        finally:
            cold.destroy()
        say(f"cold boot {i + 1}/{n}: {out[-1]:.1f} s")
    return out


def time_paramiko(node: VMNode, n: int) -> list[float]:
    node.succeed("true")                     # connection already open: measure steady state
    out = []
    for _ in range(n):
        t = time.monotonic()
        node.succeed("true")
        out.append(time.monotonic() - t)
    return out


def time_ssh_process(node: VMNode, n: int) -> list[float]:
    argv = node.vm.ssh_argv(node.user, "true", connect_timeout=30)
    out = []
    for _ in range(n):
        t = time.monotonic()
        subprocess.run(argv, check=True, timeout=120, capture_output=True)
        out.append(time.monotonic() - t)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--restores", type=int, default=3)
    ap.add_argument("--boots", type=int, default=1)
    ap.add_argument("--commands", type=int, default=30)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    node = vm.launch("bench", progress=say)
    try:
        say(f"{node.vm.accel.describe()}")
        para = time_paramiko(node, a.commands)
        sshp = time_ssh_process(node, max(5, a.commands // 3))
        restores = time_restores(node, a.restores)
    finally:
        node.destroy()
    boots = time_cold_boots(node.vm.image, node.golden, a.boots)
    med = statistics.median
    figures = {
        "accel": node.vm.accel.name,
        "restore_s": round(med(restores), 2), "cold_boot_s": round(med(boots), 2),
        "restore_vs_cold_boot": round(med(boots) / med(restores), 1),
        "paramiko_ms": round(med(para) * 1000, 1), "ssh_process_ms": round(med(sshp) * 1000, 1),
        "paramiko_vs_ssh_process": round(med(sshp) / med(para), 1),
        "samples": {"restores": restores, "boots": boots, "paramiko": len(para), "ssh_process": len(sshp)},
    }
    print()
    print(f"{'':28}{'median':>10}")
    print(f"{'golden restore -> SSH':28}{figures['restore_s']:>9.1f}s")
    print(f"{'cold boot -> SSH':28}{figures['cold_boot_s']:>9.1f}s")
    print(f"{'paramiko command':28}{figures['paramiko_ms']:>8.1f}ms")
    print(f"{'ssh process per command':28}{figures['ssh_process_ms']:>8.1f}ms")
    ok = True
    for key, goal in GOALS.items():
        met = figures[key] >= goal
        ok &= met
        print(f"{key}: {figures[key]}x (goal >= {goal:g}x) {'MET' if met else 'MISSED'}")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except NodeError as e:              # VMError, a refused delete: one line
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
