"""Chaos Toolkit probes: the steady state and the checks that a fault was really in effect.

Probes return {"status": 0 | 1, "problems": [...], ...} (tolerance: 0) so the journal shows
why a check failed; they never return secret material (only states, hashes, heights).
Waiting probes raise when their deadline passes: a method activity that fails is caught by
chaos/verdict.py even though Chaos Toolkit itself would still say "completed".
"""
from __future__ import annotations

import json
import shlex
import time
from collections.abc import Mapping

from node.api import NodeError, poll

from . import history, memo, observe, ops, target


def _stack(stack: str | list | None) -> list[str]:
    if isinstance(stack, list):
        return [s for s in stack if s]
    return [s.strip() for s in (stack or "").split(",") if s.strip()]


def _health(configuration: Mapping) -> dict:
    try:
        return target.driver(configuration).health(timeout=10)
    except NodeError as e:
        return {"http_status": 0, "error": str(e)[:200]}


def _app_states(configuration: Mapping) -> tuple[dict[str, str], dict]:
    node = target.node(configuration)
    d = target.driver(configuration)
    entries = d.containers(timeout=60)
    health = d.container_health(timeout=120)
    states = observe.classify(observe.catalog(), entries, observe.unit_files(node),
                              observe.podman_containers(node), health, names=node.names)
    return states, health


def steady(configuration: Mapping, stack: str = "", tick: bool = True) -> dict:
    """desired = actual, nothing failed, every installed app healthy with its integrations.

    tick: confirm the fixpoint with a reconcile.tick (a tick with no step = desired is actual).
    """
    problems: list[str] = []
    states: dict = {}
    try:
        h = _health(configuration)
        d = target.driver(configuration)
        if not d.platform.health.is_ok(h):
            problems.append(f"reconciler /health: HTTP {h.get('http_status')} {h.get('error', '')}".strip())
        if h.get("disk_pressure"):
            problems.append(f"reconciler reports disk pressure: {h['disk_pressure']}")
        if tick and d.platform.rpc.method("tick"):   # a platform without reconcile.tick: no fixpoint check
            t = target.driver(configuration).tick(timeout=300)
            if not t.get("converged") or t.get("steps"):
                problems.append(f"reconcile.tick not at a fixpoint: converged={t.get('converged')} "
                                f"steps={list(t.get('steps') or [])[:8]}")
        failed = observe.failed_units(target.node(configuration))
        if failed:
            problems.append(f"failed units: {', '.join(failed)}")
        problems += observe.service_problems(target.node(configuration))
        states, health = _app_states(configuration)
        for app in _stack(stack):
            if states.get(app) != "running":
                problems.append(f"stack app {app} is {states.get(app, 'unknown')}, not running")
        problems += [f"{a}: {s}" for a, s in sorted(states.items()) if s.startswith("half")]
        problems += observe.integration_problems(health)
        running = [a for a, s in sorted(states.items()) if s == "running"]
        problems += observe.reach_problems(target.node(configuration), running)
    except NodeError as e:
        problems.append(f"node: {str(e)[:300]}")
    return {"status": int(bool(problems)), "problems": problems, "states": states}


def nothing_lost(configuration: Mapping, stack: str = "") -> dict:
    """The history check: records a baseline the first time, checks every time.

    Data (chain heights, checksums) never go backwards; every acknowledged operation is in
    effect; no app is half-applied.
    """
    path = ops.history_path(configuration)
    try:
        states, health = _app_states(configuration)
    except NodeError as e:
        return {"status": 1, "problems": [f"node: {str(e)[:300]}"]}
    recs = history.load(path)
    if not any(r.get("type") == "baseline" for r in recs):
        history.append(path, {"type": "baseline", "states": states})
    for rec in observe.data_records(health):
        history.append(path, rec)
    recs = history.load(path)
    try:
        problems = history.check(recs, states)
    except history.HistoryError as e:
        problems = [f"history: {e}"]
    problems += [f"{r['app']}: chain_ok is false" for r in observe.data_records(health)
                 if r.get("chain_ok") is False]
    n_ops = sum(1 for r in recs if r.get("type") == "invoke")
    return {"status": int(bool(problems)), "problems": problems, "states": states,
            "operations": n_ops, "observations": sum(1 for r in recs if r.get("type") == "observe")}


def wait_converged(configuration: Mapping, stack: str = "", timeout: float = 300,
                   interval: float = 3.0, loop_ticks: int = 2) -> dict:
    """Until the steady state holds AND the reconciler's loop completed ticks after the fault.

    Fresh ticks (last_good_tick moved) prove the loop is alive, not just that the apps happen
    to be up. One is not enough: a tick already running when the fault landed ends by itself,
    and only the next one shows the loop went on waiting and ticking (under TCG a tick outlasts
    the interval, so the loop is nearly always mid-tick). Raises when the deadline passes.
    """
    t0 = time.monotonic()
    # The health field that moves with each completed tick; a platform whose health has none
    # cannot show its loop ticking, and converges on the steady state alone.
    progress = target.driver(configuration).platform.health.progress
    first = _health(configuration).get(progress) if progress else None
    seen: set = set()
    last: dict = {}

    def ok() -> bool:
        nonlocal last
        if progress and len(seen) < loop_ticks:
            # Only the daemon's own loop may prove liveness: no reconcile.tick RPC until it ticked.
            now = _health(configuration).get(progress)
            if now is not None and now != first:
                seen.add(now)
            if len(seen) < loop_ticks:
                last = {"status": 1, "problems": [f"the daemon's loop completed {len(seen)} of {loop_ticks} "
                                                  f"ticks since the fault ({progress} {first})"]}
                return False
        last = steady(configuration, stack, tick=False)
        if last["status"] == 0:
            last = steady(configuration, stack, tick=True)
        return last["status"] == 0

    if not poll(ok, timeout, interval):
        raise AssertionError(f"not converged within {timeout:.0f}s: {'; '.join(last.get('problems', []))[:800]}")
    return {**last, "waited": round(time.monotonic() - t0, 1)}


def followers_caught_up(configuration: Mapping, timeout: float = 120, interval: float = 3.0) -> dict:
    """The apps that follow bitcoind's chain (lnd, electrumx) talk to it now: each reports a height
    bitcoind reached only after this probe started (a block found since: the stand-in finds one
    every few seconds), and lnd says synced_to_chain. A view kept from before a fault cannot pass."""
    d = target.driver(configuration)
    seen: dict = {}

    def caught_up() -> bool:
        try:
            health = d.container_health(timeout=120)
        except NodeError as e:
            seen["problems"] = [f"node: {str(e)[:200]}"]
            return False
        tip = observe.chain_tip(health)
        if tip is None:
            seen["problems"] = ["no app reports a chain height"]
            return False
        seen.setdefault("floor", tip + 1)
        seen["tip"] = tip
        seen["problems"] = observe.followers_behind(health, seen["floor"]) if tip >= seen["floor"] else \
            [f"bitcoind at {tip}: no block found yet since {seen['floor'] - 1}"]
        return not seen["problems"]

    ok = poll(caught_up, timeout, interval)
    return {"status": int(not ok), "problems": seen.get("problems", [])[:10],
            "tip": seen.get("tip"), "floor": seen.get("floor")}


def disk_pressure_reported(configuration: Mapping, path: str = "", timeout: float = 180) -> dict:
    """While the disk is full the reconciler reports it (/health disk_pressure names the path, by
    default the platform's state dir): the seeds' "graceful degradation, disk-pressure report".
    Raises when it never does."""
    path = target.path(configuration, path or "{state_dir}")
    seen: dict = {}

    def reported() -> bool:
        seen.update(_health(configuration))
        return path in (seen.get("disk_pressure") or {})

    if not poll(reported, timeout, 3.0):
        raise AssertionError(f"no disk-pressure report for {path} within {timeout:.0f}s of filling it "
                             f"(/health: {({k: v for k, v in seen.items() if k != 'last_good_tick'})})"[:600])
    return {"path": path, "free_mib": seen["disk_pressure"][path]}


# -- "unchanged by the fault" probes: the first call (before-hypothesis) records, later calls compare
def _first_or_compare(key: str, now) -> dict:
    was = memo.get(key)
    if was is None:
        memo.put(key, now)
        return {"status": 0, "recorded": True}
    return {"status": int(now != was), "recorded": False}


def files_stable(configuration: Mapping, paths: str) -> dict:
    """Each derived file is byte-identical to what it was before the fault (re-rendered)."""
    node = target.node(configuration)
    out = {}
    for p in [target.path(configuration, x.strip()) for x in paths.split(",") if x.strip()]:
        out[p] = node.run(node.cmd.as_root(f"sha256sum {shlex.quote(p)}") + " 2>/dev/null | cut -d' ' -f1",
                          timeout=30).stdout.strip() or "missing"
    res = _first_or_compare(f"files:{paths}", out)
    missing = [p for p, s in out.items() if s == "missing"]
    if missing:
        res["status"] = 1
    return {**res, "missing": missing, "sha256": {p: s[:16] for p, s in out.items()}}


def onions_stable(configuration: Mapping, unit: str = "") -> dict:
    """tor active and every onion hostname and key (hash) unchanged."""
    node = target.node(configuration)
    unit = unit or node.names.tor_unit
    now = observe.onions(node)
    active = node.run(node.cmd.as_root(f"systemctl is-active {unit}"), timeout=30).stdout.strip()
    res = _first_or_compare("onions", now)
    if active != "active" or not now:
        res["status"] = 1
    return {**res, "tor": active, "onion_services": len(now)}


def route_ok(configuration: Mapping, url: str) -> dict:
    """nginx config valid and the proxied route answers 200."""
    node = target.node(configuration)
    syntax = node.run(node.cmd.as_root("nginx -t"), timeout=30)
    code = node.run(f"curl -k -s -o /dev/null -w '%{{http_code}}' --max-time 10 '{url}'", timeout=30).stdout.strip()
    return {"status": int(syntax.rc != 0 or code != "200"), "nginx_t": syntax.rc, "http_code": code}


def image_consistent(configuration: Mapping, app: str) -> dict:
    """Fully old or fully new: the unit, the running container and the catalog name one image."""
    node = target.node(configuration)
    unit = node.run(node.cmd.as_root(f"sed -n 's/^Image=//p' {node.names.quadlet(app)}"), timeout=30).stdout.strip()
    ctr = node.run(f"{node.cmd.podman} inspect -f '{{{{.ImageName}}}}' {node.names.container(app)}",
                   timeout=60).stdout.strip()
    try:
        cat = json.loads(node.get_file(node.names.catalog))
        apps = cat.get("apps", cat)
        want = apps.get(app, {}).get("image") or cat.get("image")
    except (NodeError, ValueError):
        want = None
    ok = bool(unit) and unit == ctr and (want is None or want == unit)
    return {"status": int(not ok), "unit": unit, "container": ctr, "catalog": want}
