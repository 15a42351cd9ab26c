"""Soak: hold the installed stack for --soak-duration, sampling periodically (goss per app,
container state, restarts, memory, journal errors, reconciler health). The verdict rules are
harness.soak.verdict's (shared with `make soak`); one soak of the stack serves every app's cell,
each judged on its own containers, goss runs and journal lines."""
from __future__ import annotations

import json
import time

from harness import goss, journal
from harness.events import probes
from harness.events.context import CellContext
from harness.soak import verdict as rules

UNIT_PROPS = "Id,ActiveState,SubState,NRestarts,InvocationID,MemoryCurrent"


def parse_units(systemctl_show: str) -> dict[str, dict]:
    """`systemctl show -p ...` of several units (blank-line separated) -> {unit: props}."""
    out = {}
    for block in systemctl_show.strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props.get("Id"):
            out[props["Id"]] = props
    return out


def containers_sample(units: dict[str, dict], ps: list[dict]) -> dict[str, dict]:
    """One soak sample's container records in harness.soak.verdict's shape."""
    by_name = {}
    for c in ps:
        names = c.get("Names") or []
        by_name[names[0] if names else c.get("Id", "?")[:12]] = c
    out = {}
    for unit, u in units.items():
        name = unit.removesuffix(".service")
        c = by_name.get(name, {})
        mem = u.get("MemoryCurrent", "")
        out[name] = {"state": c.get("State", "absent"), "active": u.get("ActiveState"),
                     "health": c.get("Status", "").split("(")[-1].rstrip(")") if "(" in c.get("Status", "") else
                     c.get("Health") or "", "nrestarts": int(u.get("NRestarts") or 0),
                     "invocation": u.get("InvocationID"), "id": c.get("Id"),
                     "started_at": c.get("StartedAt"), "mem_bytes": int(mem) if mem.isdigit() else None}
    return out


def _sample(ctx: CellContext, apps: tuple[str, ...], cursor: str, t0: float) -> tuple[dict, str]:
    node, m = ctx.node, ctx.matrix
    s: dict = {"t": time.time(), "errors": []}
    names = [probes.unit_name(x.id) for a in apps for x in probes.members(m, a)]
    try:
        units = parse_units(node.succeed(f"systemctl show -p {UNIT_PROPS} {' '.join(names)}", timeout=60))
        ps = json.loads(node.succeed("podman ps -a --format json", timeout=120) or "[]")
        s["containers"] = containers_sample(units, ps)
    except Exception as e:
        s["errors"].append(f"containers: {e}")
    s["goss"] = {}
    for a in apps:
        try:
            r = goss.validate(node, m.app(a).goss)
            s["goss"][a] = {"ok": r.ok, "failed": [str(f) for f in r.failures]}
        except Exception as e:
            s["goss"][a] = {"ok": False, "error": str(e)}
    try:
        h = ctx.driver.health()
        s["reconciler"] = {"health_ok": h.get("http_status") == 200}
    except Exception as e:
        s["reconciler"] = {"error": str(e)}
    try:
        new_cursor = node.journal_cursor()
        lines = journal.check(node, cursor)
        s["journal"] = {"errors": [{"t": s["t"], "id": ln.split(":", 1)[0], "message": ln.split(":", 1)[-1].strip()}
                                   for ln in lines]}
        cursor = new_cursor
    except Exception as e:
        s["errors"].append(f"journal: {e}")
    return s, cursor


def observe(ctx: CellContext) -> dict:
    apps = ctx.batch or (ctx.app.id,)
    for a in apps:
        probes.wait_healthy(ctx.node, ctx.matrix.app(a), ctx.options.healthy_timeout)
    duration, interval = ctx.options.soak_duration, ctx.options.soak_interval
    cursor = ctx.node.journal_cursor()
    t0 = time.monotonic()
    samples = []
    while True:
        s, cursor = _sample(ctx, apps, cursor, t0)
        samples.append(s)
        left = duration - (time.monotonic() - t0)
        if left <= 0:
            break
        # The sampling cadence (nothing is awaited here: the node is only watched).
        time.sleep(min(interval, left))
    return {"apps": apps, "duration": duration, "samples": samples}


def restrict(seen: dict, app_id: str, matrix) -> list[dict]:
    """The samples as this app sees them: its containers, its goss run, its journal lines."""
    mine = {probes.container_name(x.id) for x in probes.members(matrix, app_id)}
    out = []
    for s in seen["samples"]:
        r = dict(s)
        r["containers"] = {k: v for k, v in (s.get("containers") or {}).items() if k in mine}
        r["goss"] = {k: v for k, v in (s.get("goss") or {}).items() if k == app_id}
        errs = (s.get("journal") or {}).get("errors") or []
        r["journal"] = {"errors": [e for e in errs if e.get("id", "").removesuffix(".service") in mine
                                   or not e.get("id", "").startswith("archy-")]}
        out.append(r)
    return out


def run(ctx: CellContext) -> None:
    seen = ctx.observe_once(lambda: observe(ctx))
    if ctx.app.id not in seen["apps"]:
        raise AssertionError(f"{ctx.app.id}: not part of the soak batch {seen['apps']}")
    bounds = {"mem_growth_pct": ctx.options.soak_memory_growth * 100,
              "mem_growth_floor": ctx.options.soak_memory_slack}
    v = rules.judge({"duration": seen["duration"], "bounds": bounds}, restrict(seen, ctx.app.id, ctx.matrix))
    ctx.notes.append(f"soak {seen['duration']:.0f}s, {len(seen['samples'])} samples: {v.one_line()}")
    if not v.passed:
        raise AssertionError(f"{ctx.app.id}: soak {v.one_line()}")
