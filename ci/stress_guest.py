#!/usr/bin/env python3
"""Guest kernel crash rate under TCG (not a test): golden restores, each followed by a workload.

Each round restores the golden state into a fresh QEMU, runs the workload, then reads the guest's
serial log for a kernel crash (vm.machine.CRASH_MARKS). The figures go into the closing note and
docs/performance.md; run it once per accelerator setting side by side:

  ARCHY_VM_TCG=multi  .venv/bin/python ci/stress_guest.py --rounds 100 --name s-multi --json results/stress-multi.json
  ARCHY_VM_TCG=single .venv/bin/python ci/stress_guest.py --rounds 100 --name s-single --json results/stress-single.json

Workloads:
  install          package.install of APP through the node's JSON-RPC (the grid's install)
  install-churn    the same install while CHURN runs (below)
  churn            CHURN alone for --churn-seconds (no app start: the cheapest round)
  container-churn  for --churn-seconds: containers of the stand-in image started and removed in a
                   loop (podman, conmon, cgroups, netavark: an install's kernel paths without the
                   app's own start-up time) while CHURN runs; the cheap round for 100+ restores
CHURN toggles the cpuset controller at the cgroup root while another process allocates pages:
every toggle live-patches the kernel's static-key sites (get_page_from_freelist among them, where
the Oops struck), which is what a container start does when it creates the first cpuset.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import vm                                   # noqa: E402
from node.driver import PlatformDriver      # noqa: E402
from node.api import NodeError             # noqa: E402
from matrix.model import load               # noqa: E402
from vm.machine import guest_crash          # noqa: E402

# bounded: the loop stops by its own deadline; the allocator stops with it
CHURN = r"""
end=$(( $(date +%s) + {seconds} ))
python3 -c 'import time
end = time.time() + {seconds}
while time.time() < end:
    b = bytearray(32 << 20); del b' &
n=0
while [ "$(date +%s)" -lt "$end" ]; do
  echo +cpuset > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
  echo -cpuset > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
  n=$((n + 1))
done
wait
echo "$n"
"""

CONTAINERS = """
end=$(( $(date +%s) + {seconds} ))
n=0
while [ "$(date +%s)" -lt "$end" ]; do
  {podman} run -d --name stress-$n --network none {image} sleep 60 >/dev/null && {podman} rm -f -t 0 stress-$n >/dev/null
  n=$((n + 1))
done
echo "$n"
"""


def say(msg: str) -> None:
    print(f"[stress {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def workload(node, kind: str, app: str, churn_s: int) -> dict:
    out = {}
    if kind.endswith("churn"):
        node.put_file("/run/churn.sh", CHURN.format(seconds=churn_s).encode())
        node.succeed(node.cmd.as_root("rm -f /run/churn.out; nohup sh /run/churn.sh >/run/churn.out 2>&1 </dev/null &"),
                     timeout=30)
    t = time.monotonic()
    if kind == "churn":
        pass
    elif kind.startswith("install"):
        PlatformDriver(node).call("package.install", id=app, timeout=600)
        out["install_s"] = round(time.monotonic() - t, 1)
    else:
        node.put_file("/run/containers.sh", CONTAINERS.format(seconds=churn_s, image=load().apps[app].image, podman=node.cmd.podman).encode())
        out["containers"] = int(node.succeed("sh /run/containers.sh", timeout=churn_s + 180).strip().splitlines()[-1])
    if kind.endswith("churn"):
        last = node.wait_until_succeeds("tail -n 1 /run/churn.out | grep -x '[0-9][0-9]*'", timeout=churn_s + 120)
        out["toggles"] = int(last.strip())
    return out


def one_round(node, i: int, a) -> dict:
    rec = {"round": i}
    t = time.monotonic()
    try:
        node.restore()
        rec.update(workload(node, a.workload, a.app, a.churn_seconds))
    except NodeError as e:
        rec["error"] = str(e)[:300]
    rec["crash"] = guest_crash(node.vm.serial_log, node._serial_mark)
    rec["seconds"] = round(time.monotonic() - t, 1)
    return rec


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--workload", choices=("install", "install-churn", "churn", "container-churn"), default="container-churn")
    ap.add_argument("--app", default="bitcoin-knots")
    ap.add_argument("--churn-seconds", type=int, default=20)
    ap.add_argument("--name", default="stress", help="VM name (two loops side by side need two)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    if a.rounds < 1 or a.churn_seconds < 1:
        ap.error("--rounds and --churn-seconds must be at least 1")
    node = vm.launch(a.name, progress=say)
    rounds = []
    try:
        say(node.vm.accel.describe())
        for i in range(1, a.rounds + 1):
            rec = one_round(node, i, a)
            rounds.append(rec)
            crashes = sum(1 for r in rounds if r["crash"])
            say(f"round {i}/{a.rounds}: {rec['seconds']} s, crashes so far {crashes}"
                + (f" — {rec['crash']}" if rec["crash"] else "") + (f" (error: {rec['error'][:120]})"
                                                                    if rec.get("error") and not rec["crash"] else ""))
    except KeyboardInterrupt:
        say("interrupted: figures cover the rounds done")
    finally:
        node.destroy()
    summary = summarize(rounds, " ".join(node.vm.accel.args), a)
    print(json.dumps({k: v for k, v in summary.items() if k != "per_round"}))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(summary, indent=1) + "\n")
    return 0


def summarize(rounds: list[dict], accel: str, a) -> dict:
    crashed = [r for r in rounds if r["crash"]]
    return {"accel": accel, "workload": a.workload, "app": a.app, "rounds": len(rounds), "crashes": len(crashed),
            "errors_without_crash": sum(1 for r in rounds if r.get("error") and not r["crash"]),
            "seconds": round(sum(r["seconds"] for r in rounds), 1), "per_round": rounds}


if __name__ == "__main__":
    try:
        sys.exit(main())
    except NodeError as e:              # VMError, a refused delete: one line                 # one line, no traceback
        sys.exit(f"error: {e}")
