#!/usr/bin/env python3
"""ci/fleet.py: the lifecycle grid on several nodes at once, merged into one grid with a node column.

    .venv/bin/python ci/fleet.py --node ssh://a... --node ssh://b... [--apps lnd] [--events ...]
    .venv/bin/python ci/fleet.py --vms 2 --apps bitcoin-knots --events fresh_install

One pytest process per node (its own results dir, JUnit and Allure under results/fleet/<node>/),
all in parallel. A watchdog per node checks that it is still there (the VM's QEMU process; an SSH
node's port); a node that is unreachable at the start is not run, a node lost mid-run has its pytest
stopped (SIGINT, then SIGTERM, SIGKILL) and is reported as failed — the other nodes go on. Every
selected cell a failed node did not finish is recorded as failed with the reason, so the merged
results/fleet/cells.json, grid.html/grid.md and ci/gate all see it. Exit: ci/gate's status on the
merged results (1 when any node failed), 2 on bad input.

(The plain `pytest --node A --node B` also runs one xdist worker per node; this runner adds the
isolation and the watchdog, so a hung or dead node cannot hold up the others.)
"""
from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import vm  # noqa: E402
from harness import results  # noqa: E402
from matrix.model import MatrixError, load, plan  # noqa: E402
from node.proc import stop_group  # noqa: E402
from node.target import TargetError, check_files, of_node, parse, to_url  # noqa: E402


@dataclass
class Member:
    url: str
    name: str
    results_dir: Path
    vm: object = None                          # the VMNode when this runner booted it
    proc: subprocess.Popen | None = None
    status: str = "pending"                    # pending | running | done | failed | unreachable | lost
    detail: str = ""
    started: float = 0.0
    finished: float = 0.0
    log: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def say(msg: str) -> None:
    print(f"fleet: {msg}", flush=True)


# ------------------------------------------------------------------ pure: merging
def merge(members: list[Member], docs: dict[str, dict | None], wanted: list, now: float) -> dict:
    """One results document: every node's cells (artifact paths prefixed with the node's dir),
    plus a failed record for each selected cell a failed/lost/unreachable node left without one."""
    cells, targets = [], []
    for m in members:
        targets.append({"name": m.name, "url": m.url.split("?")[0], "kind": "vm" if m.vm else "ssh"})
        doc = docs.get(m.name) or {"cells": []}
        seen = set()
        for r in doc["cells"]:
            r = {**r, "node": m.name, "artifacts": [f"{m.name}/{a}" for a in r.get("artifacts") or []]}
            if m.status in ("lost", "failed") and r["verdict"] == "not_run" and "interrupted" in r.get("reason", ""):
                r = {**r, "verdict": "failed", "reason": f"node {m.name} {m.status}: {m.detail}"}
            cells.append(r)
            seen.add((r["app"], r["event"]))
        if m.status != "done":
            for c in wanted:
                if (c.app, c.event) not in seen:
                    cells.append({"app": c.app, "event": c.event, "requirement": c.requirement, "node": m.name,
                                  "verdict": "failed", "reason": f"node {m.name} {m.status}: {m.detail}",
                                  "artifacts": [], "duration": 0.0, "nodeid": ""})
    return {"version": results.RESULTS_VERSION, "finished": now, "targets": targets,
            "nodes": {m.name: {"status": m.status, "detail": m.detail,
                               "seconds": round((m.finished or now) - m.started, 1) if m.started else 0}
                      for m in members},
            "selection": {}, "cells": sorted(cells, key=lambda r: (r["node"], r["app"], r["event"]))}


# ------------------------------------------------------------------ I/O
def tcp_open(host: str, port: int, timeout: float = 5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def alive(m: Member) -> tuple[bool, str]:
    if m.vm is not None:
        return (True, "") if m.vm.vm.alive() else (False, "its QEMU process exited")
    t = parse(m.url)
    host, port = t.url.removeprefix("ssh://").split("@")[-1].rsplit(":", 1)
    return (True, "") if tcp_open(host, int(port)) else (False, f"{host}:{port} does not answer")


def stop(m: Member) -> None:
    if m.proc is None or m.proc.poll() is not None:
        return
    stop_group(m.proc, interrupt=60, terminate=20)


def watch(m: Member, grace: float, deadline: float) -> None:
    """Until the node's pytest ends: lost for longer than `grace`, or past the deadline -> stop it."""
    lost_since = None
    while m.proc.poll() is None:
        ok, why = alive(m)
        if ok:
            lost_since = None
        else:
            lost_since = lost_since or time.monotonic()
            if time.monotonic() - lost_since >= grace:
                with m.lock:
                    m.status, m.detail = "lost", why
                say(f"{m.name}: lost ({why}); stopping its run, the other nodes go on")
                stop(m)
                break
        if time.monotonic() > deadline:
            with m.lock:
                m.status, m.detail = "failed", "ran past the fleet's time limit"
            say(f"{m.name}: past the time limit; stopping its run")
            stop(m)
            break
        time.sleep(2)
    m.proc.wait()
    m.finished = time.time()
    # a node that died can fail its cells and end its pytest before the grace runs out: a run that
    # ended by itself counts as done only if the node is still there
    ok, why = alive(m) if m.status == "running" else (True, "")
    with m.lock:
        if m.status == "running" and not ok:
            m.status, m.detail = "lost", why
        elif m.status == "running":
            rc = m.proc.returncode
            m.status = "done" if rc in (0, 1) else "failed"
            m.detail = "" if rc in (0, 1) else f"pytest exited {rc} (see {m.log})"
    say(f"{m.name}: {m.status}" + (f" ({m.detail})" if m.detail else "") + f" in {m.finished - m.started:.0f}s")


def start(m: Member, args, extra: list[str]) -> None:
    m.results_dir.mkdir(parents=True, exist_ok=True)
    (m.results_dir / "cells.json").unlink(missing_ok=True)
    m.log = m.results_dir / "pytest.log"
    cmd = [sys.executable, "-m", "pytest", "tests/grid", "-q", "--node", m.url, "--results-dir", str(m.results_dir),
           "-p", "no:cacheprovider"]
    for opt in ("apps", "events"):
        if getattr(args, opt):
            cmd += [f"--{opt}", getattr(args, opt)]
    if args.allow_destructive or m.vm is not None:
        cmd.append("--allow-destructive")
    cmd += ["--soak-duration", args.soak_duration, *extra]
    with open(m.log, "wb") as out:
        m.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  start_new_session=True)
    m.status, m.started = "running", time.time()
    say(f"{m.name}: pytest started (pid {m.proc.pid}, log {m.log})")


def _checked(args) -> tuple[list, list]:
    """The cells and nodes the arguments name; ValueError (one line) for anything unusable."""
    try:
        matrix = load()
        wanted = plan(matrix, *[[x for x in v.split(",") if x] if v else None for v in (args.apps, args.events)])
        targets = [parse(u) for u in args.node]
        for t in targets:
            check_files(t)
    except (MatrixError, TargetError) as e:
        raise ValueError(str(e)) from None
    if not wanted:
        raise ValueError(f"--apps {args.apps!r} --events {args.events!r} selects no cell; "
                         "give comma-separated ids, e.g. --apps lnd,mempool")
    if any(t.is_vm for t in targets):
        raise ValueError("use --vms N for embedded VMs (vm:// URLs are booted by each pytest otherwise)")
    if not targets and not args.vms:
        raise ValueError("no nodes: give --node URL (repeatable) and/or --vms N")
    return wanted, targets


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="ci/fleet.py", description="the grid on several nodes, one merged grid")
    ap.add_argument("--node", action="append", default=[], help="ssh://... target, repeatable")
    ap.add_argument("--vms", type=int, default=0, help="also boot this many embedded VMs (fleet0, fleet1, ...)")
    ap.add_argument("--apps")
    ap.add_argument("--events")
    ap.add_argument("--allow-destructive", action="store_true")
    ap.add_argument("--soak-duration", default="0")
    ap.add_argument("--results-dir", default=str(ROOT / "results" / "fleet"))
    ap.add_argument("--grace", type=float, default=20, help="seconds a node may be unreachable before it is lost")
    ap.add_argument("--timeout", type=float, default=6 * 3600, help="the whole fleet's time limit (seconds)")
    args, extra = ap.parse_known_args(argv)
    try:
        wanted, targets = _checked(args)
    except ValueError as e:
        print(f"fleet: {e}", file=sys.stderr)
        return 2
    rdir = Path(args.results_dir)
    members = [Member(u, t.name, rdir / t.name) for u, t in zip(args.node, targets)]
    vms = []
    try:
        if args.vms:
            for i in range(args.vms):     # one at a time: booting several at once starves TCG
                n = vm.launch(name=f"fleet{i}", progress=lambda *p: say(" ".join(map(str, p))))
                vms.append(n)
                members.append(Member(to_url(of_node(n)), n.name, rdir / n.name, vm=n))
                say(f"{n.name}: VM up (QEMU pid {n.vm.pid})")
        deadline = time.monotonic() + args.timeout
        threads = []
        for m in members:
            ok, why = alive(m)
            if not ok:
                m.status, m.detail = "unreachable", why
                say(f"{m.name}: unreachable at the start ({why}); not run")
                continue
            start(m, args, extra)
            th = threading.Thread(target=watch, args=(m, args.grace, deadline), daemon=True)
            th.start()
            threads.append(th)
        for th in threads:
            th.join()
    except KeyboardInterrupt:
        say("interrupted: stopping every node's run")
        for m in members:
            stop(m)
            if m.status == "running":
                m.status, m.detail = "failed", "interrupted"
    finally:
        for n in vms:
            n.destroy()
    docs = {}
    for m in members:
        try:
            docs[m.name] = results.read(m.results_dir / "cells.json")
        except ValueError:
            docs[m.name] = None
            if m.status == "done":
                m.status, m.detail = "failed", f"no results written (see {m.log})"
    merged = merge(members, docs, wanted, time.time())
    merged["selection"] = {"apps": [x for x in args.apps.split(",")] if args.apps else None,
                           "events": [x for x in args.events.split(",")] if args.events else None}
    results.write(rdir / "cells.json", merged)
    subprocess.run([sys.executable, "-m", "harness.report", str(rdir / "cells.json"), "--print"], cwd=ROOT,
                   timeout=120)
    say("nodes: " + ", ".join(f"{m.name}={m.status}" + (f" ({m.detail})" if m.detail else "") for m in members))
    gate = subprocess.run([sys.executable, str(ROOT / "ci" / "gate"), str(rdir / "cells.json"), "--selection"],
                          cwd=ROOT, timeout=120)
    bad = any(m.status != "done" for m in members)
    return 1 if bad else gate.returncode


if __name__ == "__main__":
    sys.exit(main())
