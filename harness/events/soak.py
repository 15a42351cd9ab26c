"""Soak: hold the installed stack for --soak-duration, sampling periodically (goss per app,
container state, restarts, memory, journal errors, reconciler health). Sampling and verdict
rules are harness.soak's (shared with `make soak`); one soak of the stack serves every app's
cell, each judged on its own containers, goss runs and journal lines."""
from __future__ import annotations

import time

from harness.checks import probes
from harness.grid.context import CellContext
from harness.grid.event import FULL_LINE, GridEvent
from harness.soak import verdict as rules
from harness.soak.sampler import Sampler
from node.names import Names


def observe(ctx: CellContext) -> dict:
    apps = ctx.batch or (ctx.app.id,)
    for a in apps:
        probes.wait_healthy(ctx.node, ctx.matrix.app(a), ctx.options.healthy_timeout)
    duration, interval = ctx.options.soak_duration, ctx.options.soak_interval
    sampler = Sampler(ctx.node, ctx.driver, ctx.matrix, list(apps))
    sampler.prepare()
    t0 = time.monotonic()
    samples = []
    while True:
        samples.append(sampler.sample(len(samples)))
        left = duration - (time.monotonic() - t0)
        if left <= 0:
            break
        # The sampling cadence (nothing is awaited here: the node is only watched).
        time.sleep(min(interval, left))
    return {"apps": apps, "duration": duration, "samples": samples}


def restrict(seen: dict, app_id: str, matrix, names: Names) -> list[dict]:
    """The samples as this app sees them: its containers, its goss run, its journal lines."""
    mine = {names.container(x.id) for x in probes.members(matrix, app_id)}
    out = []
    for s in seen["samples"]:
        r = dict(s)
        r["containers"] = {k: v for k, v in (s.get("containers") or {}).items()
                           if k in mine or v.get("app") == app_id}
        r["goss"] = {k: v for k, v in (s.get("goss") or {}).items() if k == app_id}
        errs = (s.get("journal") or {}).get("errors") or []
        r["journal"] = {"errors": [e for e in errs if e.get("id", "").removesuffix(".service") in mine
                                   or not names.is_app(e.get("id", ""))]}
        out.append(r)
    return out


def run(ctx: CellContext) -> None:
    seen = ctx.observe_once(lambda: observe(ctx))
    if ctx.app.id not in seen["apps"]:
        raise AssertionError(f"{ctx.app.id}: not part of the soak batch {seen['apps']}")
    bounds = {"mem_growth_pct": ctx.options.soak_memory_growth * 100,
              "mem_growth_floor": ctx.options.soak_memory_slack}
    v = rules.judge({"duration": seen["duration"], "bounds": bounds}, restrict(seen, ctx.app.id, ctx.matrix, ctx.node.names))
    ctx.notes.append(f"soak {seen['duration']:.0f}s, {len(seen['samples'])} samples: {v.one_line()}")
    if not v.passed:
        raise AssertionError(f"{ctx.app.id}: soak {v.one_line()}")


EVENT = GridEvent("soak", run, starts_from=FULL_LINE, observe=observe)
