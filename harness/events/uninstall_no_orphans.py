"""Uninstall no orphans: after uninstalling, the node's inventory equals the one before the app
was installed (containers, storage containers, volumes, networks, images, Quadlet files, units,
ports, nginx snippets, HS dirs), and witness files in the other apps' data are untouched."""
from __future__ import annotations

from harness import inventory
from harness.checks import probes
from harness.grid.context import CellContext
from harness.grid.event import WITH_APP, GridEvent
from node.api import poll


def run(ctx: CellContext) -> None:
    """ctx.baseline: the inventory of the same node state before this app was installed."""
    node, app, m = ctx.node, ctx.app, ctx.matrix
    others = [d for a in ctx.installed if a != app.id for d in m.app(a).data_dirs]
    planted = inventory.plant_witnesses(node, others)
    probes.rpc(ctx.driver, "package.uninstall", ctx.options.install_timeout, id=app.id)
    problems = []      # judged by the inventory, not by the reply's shape
    # Stops are asynchronous for some units: wait for the ports, bounded by the grace.
    ports = {p.port for c in probes.members(m, app.id) for p in c.ports}
    poll(lambda: not (ports & probes.listening_ports(node)), app.stop_grace + 60, 1.0)
    after = inventory.snapshot(node)
    d = inventory.diff(ctx.baseline, after)
    if d:
        problems.append("inventory differs from before the install:\n" + inventory.format_diff(d))
    problems += inventory.verify_witnesses(node, planted)
    inventory.remove_witnesses(node, planted)
    if problems:
        raise AssertionError(f"{app.id}: " + "; ".join(problems))


EVENT = GridEvent("uninstall_no_orphans", run, starts_from=WITH_APP, needs_baseline=True)
