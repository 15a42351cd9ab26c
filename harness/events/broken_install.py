"""Broken install (seed 000: "install of an image that never starts must fail, not report
success"): the app's catalog entry names a release whose image exits at once. package.install
must answer an error within its deadline, the node must be as before the install (the inventory
unchanged: no unit, container, Quadlet file, route or onion left), and the installed apps untouched
(same process, no restart). Then the good release installs cleanly over what is left, so the
cell ends on the state a fresh install leaves.

The broken image is built on the node FROM the app's own (an ENTRYPOINT that exits 1;
harness/checks/releases.py); the catalog is put back byte for byte and the image removed, on
failure too."""
from __future__ import annotations

import time

from harness import inventory
from harness.checks import probes, releases
from harness.grid.context import CellContext
from harness.grid.event import BEFORE_APP, GridEvent


def run(ctx: CellContext) -> None:
    node, app = ctx.node, ctx.app
    original, catalog, base = releases.catalog(node, app.id)
    others = {a: probes.identity(node, a) for a in ctx.installed}
    releases.build(node, releases.BROKEN_IMAGE, releases.broken_containerfile(base))
    try:
        node.wait_settled(ctx.options.healthy_timeout)
        before = inventory.snapshot(node)
        releases.name_release(node, catalog, app.id, releases.BROKEN_IMAGE)
        try:
            _install_fails(ctx)
        finally:
            releases.put_catalog(node, original)
        node.wait_settled(ctx.options.healthy_timeout)
        problems = _left_behind(ctx, before) + _touched(ctx, others)
    finally:
        releases.remove(node, releases.BROKEN_IMAGE)
    if problems:
        raise AssertionError(f"{app.id}: " + "; ".join(problems))
    t0 = time.monotonic()
    probes.rpc(ctx.driver, "package.install", ctx.options.install_timeout, id=app.id)
    probes.wait_healthy(node, app, ctx.options.healthy_timeout)
    ctx.notes.append(f"{app.id}: the good release installed {probes.elapsed(t0)} after the rollback")


def _install_fails(ctx: CellContext) -> None:
    t0 = time.monotonic()
    try:
        ctx.driver.call("package.install", timeout=ctx.options.install_timeout, id=ctx.app.id)
    except AssertionError:
        raise
    except Exception as e:   # RpcError: what the cell wants; a transport error too, within the deadline
        ctx.notes.append(f"package.install of the broken release failed after {probes.elapsed(t0)}: "
                         f"{str(e)[:300]}")
        return
    raise AssertionError(f"package.install of a release that exits at once answered success "
                         f"after {probes.elapsed(t0)}")


def _left_behind(ctx: CellContext, before) -> list[str]:
    d = inventory.diff(before, inventory.snapshot(ctx.node))
    return [f"the failed install left the node changed: {inventory.format_diff(d)}"] if d else []


def _touched(ctx: CellContext, others: dict) -> list[str]:
    out = []
    for a, first in others.items():
        if changed := probes.changes(first, probes.identity(ctx.node, a)):
            out.append(f"{a} was touched by the failed install ({', '.join(changed)})")
    return out


EVENT = GridEvent("broken_install", run, starts_from=BEFORE_APP, journal_allow=releases.JOURNAL_ALLOW)
