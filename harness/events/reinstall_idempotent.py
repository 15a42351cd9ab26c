"""Reinstall idempotent: install on an installed app changes nothing (same containers, no
restart); uninstall + install keeps the app's data."""
from __future__ import annotations

from functools import partial

from harness.checks import probes
from harness.grid.context import CellContext
from harness.grid.event import WITH_APP, GridEvent


def _identity(ctx: CellContext) -> dict[str, dict[str, str]]:
    return {m.id: probes.identity(ctx.node, m.id) for m in probes.members(ctx.matrix, ctx.app.id)}


def run(ctx: CellContext) -> None:
    node, app = ctx.node, ctx.app
    probes.wait_healthy(node, app, ctx.options.healthy_timeout)
    before = _identity(ctx)
    if not all(v["container"] for v in before.values()):
        raise AssertionError(f"{app.id}: no container before the reinstall: "
                             f"{sorted(m for m, v in before.items() if not v['container'])}")
    probes.rpc(ctx.driver, "package.install", ctx.options.install_timeout, id=app.id)
    probes.rpc(ctx.driver, "reconcile.tick", 120)      # a tick after it must not restart anything
    after = _identity(ctx)
    changed = [f"{m} ({', '.join(probes.changes(b, after[m]))})" for m, b in before.items()
               if probes.changes(b, after[m])]
    if changed:
        raise AssertionError(f"{app.id}: install on an installed app recreated or restarted: "
                             + "; ".join(changed))

    # Uninstall + install keeps the data: every data file still there, unchanged, the height not lower.
    a0 = probes.wait_healthy(node, app, ctx.options.healthy_timeout)
    files0 = probes.data_manifest(node, app)
    if app.data_dirs and not files0:
        raise AssertionError(f"{app.id}: no data files in {', '.join(app.data_dirs)} to compare")
    probes.rpc(ctx.driver, "package.uninstall", ctx.options.install_timeout, id=app.id)
    if probes.running_containers(node, app.id):
        raise AssertionError(f"{app.id}: container still running after uninstall")
    probes.rpc(ctx.driver, "package.install", ctx.options.install_timeout, id=app.id)
    a1 = probes.wait_healthy(node, app, ctx.options.healthy_timeout)
    problems = probes.manifest_problems(files0, probes.data_manifest(node, app),
                                        partial(probes.prefix_digest, node))
    problems += probes.height_problems(a0, a1)
    if problems:
        raise AssertionError(f"{app.id}: uninstall + install lost data: " + "; ".join(problems))


EVENT = GridEvent("reinstall_idempotent", run, starts_from=WITH_APP)
