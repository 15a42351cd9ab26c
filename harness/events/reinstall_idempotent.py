"""Reinstall idempotent: install on an installed app changes nothing (same containers, no
restart); uninstall + install keeps the app's data."""
from __future__ import annotations

from functools import partial

from harness.checks import probes
from harness.grid.context import CellContext
from harness.grid.event import WITH_APP, GridEvent


def _identity(ctx: CellContext) -> dict[str, tuple]:
    out = {}
    for m in probes.members(ctx.matrix, ctx.app.id):
        c = probes.container(ctx.node, m.id)
        s = probes.status(ctx.node, m)
        u = probes.unit(ctx.node, m.id)
        out[m.id] = (c.get("Id") if c else None, (c or {}).get("State", {}).get("StartedAt"),
                     s.get("pid"), s.get("started_at"), u.get("NRestarts"), u.get("ActiveEnterTimestampMonotonic"))
    return out


def run(ctx: CellContext) -> None:
    node, app = ctx.node, ctx.app
    probes.wait_healthy(node, app, ctx.options.healthy_timeout)
    before = _identity(ctx)
    if any(v[0] is None for v in before.values()):
        raise AssertionError(f"{app.id}: no container before the reinstall: {before}")
    probes.rpc(ctx.driver, "package.install", ctx.options.install_timeout, id=app.id)
    probes.rpc(ctx.driver, "reconcile.tick", 120)      # a tick after it must not restart anything
    after = _identity(ctx)
    changed = [f"{m} (container {b[0][:12]} -> {(a[0] or 'none')[:12]}, started {b[3]} -> {a[3]}, "
               f"unit restarts {b[4]} -> {a[4]})"
               for m, b in before.items() if (a := after[m]) != b]
    if changed:
        raise AssertionError(f"{app.id}: install on an installed app recreated or restarted: "
                             + "; ".join(changed))

    # Uninstall + install keeps the data: every data file still there, unchanged.
    s0 = probes.status(node, app)
    files0 = probes.data_manifest(node, app)
    if app.data_dirs and not files0:
        raise AssertionError(f"{app.id}: no data files in {', '.join(app.data_dirs)} to compare")
    probes.rpc(ctx.driver, "package.uninstall", ctx.options.install_timeout, id=app.id)
    if probes.running_containers(node, app.id):
        raise AssertionError(f"{app.id}: container still running after uninstall")
    probes.rpc(ctx.driver, "package.install", ctx.options.install_timeout, id=app.id)
    s1 = probes.wait_healthy(node, app, ctx.options.healthy_timeout)
    problems = probes.manifest_problems(files0, probes.data_manifest(node, app),
                                        partial(probes.prefix_digest, node))
    if "chain_height" in s0:
        if (s1.get("chain_height") or 0) < s0["chain_height"]:
            problems.append(f"chain height {s0['chain_height']} -> {s1.get('chain_height')}")
    elif s0.get("data_checksum") != s1.get("data_checksum"):
        problems.append("data checksum changed")
    if problems:
        raise AssertionError(f"{app.id}: uninstall + install lost data: " + "; ".join(problems))


EVENT = GridEvent("reinstall_idempotent", run, starts_from=WITH_APP)
