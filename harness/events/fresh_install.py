"""Fresh install: the RPC succeeds only once the app answers through its own protocol (and its
companions theirs), it stays up, goss passes, and the seeds' node checks hold (memory limit,
restart, clean log tail, host.archipelago, /health: harness/checks/node_checks.py)."""
from __future__ import annotations

import time

from harness import goss
from harness.checks import node_checks, probes
from harness.grid.context import CellContext
from harness.grid import reset
from harness.grid.event import BEFORE_APP, GridEvent
from harness.grid.ladder import StateUnavailable
from node.api import poll


def run(ctx: CellContext) -> None:
    node, app = ctx.node, ctx.app
    if probes.running_containers(node, app.id):
        raise AssertionError(f"{app.id}: already running before the install (the cell needs a clean state)")
    t0 = time.monotonic()
    probes.rpc(ctx.driver, "package.install", ctx.options.install_timeout, id=app.id)
    took = probes.elapsed(t0)
    # Right after the RPC returned (whatever its reply says): it must not have answered before the
    # app and its companions answer through their own protocols, units active, containers running.
    problems, answers = [], []
    for m in probes.members(ctx.matrix, app.id):
        answer, found = probes.health_now(node, m)
        answers.append(f"{m.id}: {answer.detail}")
        problems += [f"install returned success ({took}) but {p}" for p in found]
    if problems:
        raise AssertionError("; ".join(problems))
    ctx.notes.append(f"package.install returned after {took}; then {'; '.join(answers)}")
    _stays_up(ctx)
    _steady(ctx, retry_timeout=60)


def in_place(ctx: CellContext) -> None:
    """A node the run may not change: the app as installed there answers through its own
    protocol (and its companions theirs) and goss passes; the install itself is not run."""
    node, app = ctx.node, ctx.app
    if app.id not in reset.installed(ctx.driver, ctx.matrix):
        raise StateUnavailable(f"{app.id} is not installed on {node.name}, which is not disposable: "
                               "the run never installs there")
    problems = [p for m in probes.members(ctx.matrix, app.id) for p in probes.health_now(node, m)[1]]
    if problems:
        raise AssertionError("; ".join(problems))
    _steady(ctx, retry_timeout=0)
    ctx.not_run.append(f"the install itself: {node.name} is not disposable, {app.id} was already installed")


def _steady(ctx: CellContext, retry_timeout: float) -> None:
    report = goss.validate(ctx.node, ctx.matrix, ctx.app, retry_timeout=retry_timeout)
    problems = [] if report.ok else [report.summary()]
    problems += node_checks.problems(ctx.node, ctx.driver, ctx.matrix, ctx.app.id)
    if problems:
        raise AssertionError(f"{ctx.app.id}: " + "; ".join(problems))


def _stays_up(ctx: CellContext) -> None:
    """A container that crashes right after start must not pass: watch it for a short window
    (systemd's invocation and restart count, podman's container id and start time)."""
    node, ids = ctx.node, [m.id for m in probes.members(ctx.matrix, ctx.app.id)]
    first = {a: probes.identity(node, a) for a in ids}
    problems: list[str] = []

    def changed() -> bool:
        for a in ids:
            now = probes.identity(node, a)
            if probes.changes(first[a], now) or now["active"] != "active":
                problems.append(f"{a} stopped or restarted within {ctx.options.settle_window:.0f}s after "
                                f"install reported success (unit {node.names.unit(a)} {now['active'] or 'gone'}; "
                                f"{', '.join(probes.changes(first[a], now)) or 'same process'})")
        return bool(problems)

    poll(changed, ctx.options.settle_window, 3.0)   # an observation window, not a readiness wait
    if problems:
        raise AssertionError("; ".join(problems))


EVENT = GridEvent("fresh_install", run, starts_from=BEFORE_APP, in_place=in_place)
