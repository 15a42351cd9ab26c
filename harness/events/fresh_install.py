"""Fresh install: the RPC succeeds only once the app is healthy, it stays up, goss passes."""
from __future__ import annotations

import time

from harness import goss
from harness.checks import probes
from harness.grid.context import CellContext
from harness.grid.event import BEFORE_APP, GridEvent
from node.api import poll


def run(ctx: CellContext) -> None:
    node, app = ctx.node, ctx.app
    if probes.running_containers(node, app.id):
        raise AssertionError(f"{app.id}: already running before the install (the cell needs a clean state)")
    t0 = time.monotonic()
    result = probes.rpc(ctx.driver, "package.install", ctx.options.install_timeout, id=app.id)
    took = probes.elapsed(t0)
    # Right after the RPC returned: it must not have answered before the app was healthy.
    problems = []
    if not isinstance(result, dict) or result.get("state") != "running" or result.get("healthy") is not True:
        problems.append(f"package.install answered {result!r}, expected state running and healthy true")
    for m in probes.members(ctx.matrix, app.id):
        s = probes.try_status(node, m)
        if s is None:
            problems.append(f"{m.id}: status endpoint not answering right after install returned")
        elif s.get("healthy") is not True:
            problems.append(f"{m.id}: install returned success ({took}) but the app reports "
                            f"healthy={s.get('healthy')} state={s.get('state')}")
    if problems:
        raise AssertionError("; ".join(problems))
    ctx.notes.append(f"package.install returned healthy after {took}")
    _stays_up(ctx)
    report = goss.validate(node, ctx.matrix, app, retry_timeout=60)
    if not report.ok:
        raise AssertionError(f"{app.id}: {report.summary()}")


def _stays_up(ctx: CellContext) -> None:
    """A container that crashes right after start must not pass: watch it for a short window."""
    node, app = ctx.node, ctx.app
    first = {m.id: probes.status(node, m) for m in probes.members(ctx.matrix, app.id)}
    units = {m.id: probes.unit(node, m.id) for m in probes.members(ctx.matrix, app.id)}
    problems: list[str] = []

    def changed() -> bool:
        for m in probes.members(ctx.matrix, app.id):
            s = probes.try_status(node, m)
            u = probes.unit(node, m.id)
            if s is None or s.get("pid") != first[m.id].get("pid") \
                    or s.get("started_at") != first[m.id].get("started_at"):
                problems.append(f"{m.id} stopped or restarted within {ctx.options.settle_window:.0f}s "
                                f"after install reported success")
            elif u.get("NRestarts") != units[m.id].get("NRestarts") or u.get("ActiveState") != "active":
                problems.append(f"{m.id}: unit {node.names.unit(m.id)} restarted or left active "
                                f"({u.get('ActiveState')}, NRestarts {u.get('NRestarts')})")
        return bool(problems)

    poll(changed, ctx.options.settle_window, 3.0)   # an observation window, not a readiness wait
    if problems:
        raise AssertionError("; ".join(problems))


EVENT = GridEvent("fresh_install", run, starts_from=BEFORE_APP)
