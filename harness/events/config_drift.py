"""Derived-config drift (seed 004 FM2, and its fix's "the same pattern" for lnd.conf): every file
the platform derives for the app (the profile's apps.configs: bitcoin.conf, lnd.conf,
electrumx.env, integrations.json on the reference), corrupted on the node, is written back within
one tick; the app restarts exactly once onto it, and its own integrations and its dependents' come
back healthy.

"Within one tick": one `reconcile.tick` where the platform has that method, else the tick window.
"Exactly once" is counted from systemd's own "Started" messages for the app's unit in the journal
since the edit, after the node settled (job queue empty, the reconciler's next tick done), so a
second restart that was still coming is not missed."""
from __future__ import annotations

import shlex
import time

from harness import journal
from harness.checks import probes
from harness.grid.context import CellContext
from harness.grid.event import DEPENDENCY_DOWN, FULL_LINE, GridEvent
from node.api import poll

MARK = "# archy-lifecycle config_drift: this file was cut in half"
TICK_WINDOW = 60.0    # a platform without reconcile.tick: how long "one tick" may take


def digest(node, path: str) -> str:
    """sha256 of the file on the node, '' when it is missing."""
    res = node.run(node.cmd.as_root(f"sha256sum {shlex.quote(path)}"), timeout=30)
    return res.stdout.split(" ", 1)[0] if res.rc == 0 else ""


def corrupt(node, path: str) -> None:
    """Cut the file in half in place (same inode, owner and mode) and append a marker line:
    broken for any parser, and different from anything the platform would write."""
    q = shlex.quote(path)
    node.succeed(node.cmd.as_root(f"sh -c {shlex.quote(f'truncate -s $(( $(stat -c %s {q}) / 2 )) {q} && '
                                                       f'echo {shlex.quote(MARK)} >> {q}')}"), timeout=30)


def restart_problems(starts: int, unit: str, path: str) -> list[str]:
    """The drift of one file restarts its app exactly once; pure."""
    if starts == 1:
        return []
    what = "never restarted" if starts == 0 else f"restarted {starts} times"
    return [f"{unit} {what} after {path} was rewritten (want exactly one restart onto it)"]


def _tick_once(ctx: CellContext) -> bool:
    """One reconciler tick through the platform's method; False where it has none."""
    if ctx.driver.platform.rpc.method("tick") is None:
        return False
    probes.rpc(ctx.driver, "reconcile.tick", 120)
    return True


def _rewritten(ctx: CellContext, path: str, want: str) -> str | None:
    """Wait one tick for the file's original content; what went wrong, or None."""
    node = ctx.node
    if _tick_once(ctx):
        got = digest(node, path)
        return None if got == want else (f"{path} not rewritten by the next tick "
                                         f"({'gone' if not got else 'still the edited content'})")
    if poll(lambda: digest(node, path) == want, TICK_WINDOW, 2.0):
        return None
    return f"{path} not rewritten within {TICK_WINDOW:.0f} s"


def drift_one(ctx: CellContext, path: str) -> list[str]:
    node, app = ctx.node, ctx.app
    unit = node.names.unit(app.id)
    want = digest(node, path)
    if not want:
        return [f"{path}: not on the node (the profile's apps.configs lists it for {app.id})"]
    node.wait_settled(ctx.options.healthy_timeout)
    before = probes.identity(node, app.id)
    cursor = node.journal_cursor()
    t0 = time.monotonic()
    corrupt(node, path)
    if digest(node, path) == want:
        return [f"{path}: the edit did not change it"]
    if why := _rewritten(ctx, path, want):
        return [why]
    ctx.notes.append(f"{app.id}: {path} rewritten {probes.elapsed(t0)} after the edit")
    if not poll(lambda: probes.identity(node, app.id)["invocation"] not in ("", before["invocation"]),
                ctx.options.healthy_timeout, 2.0):
        return [f"{unit} not restarted within {ctx.options.healthy_timeout:.0f} s after {path} was rewritten"]
    probes.wait_healthy(node, app, ctx.options.healthy_timeout)
    problems = _integrations_back(ctx, path)
    node.wait_settled(ctx.options.healthy_timeout)
    _tick_once(ctx)                      # the reconciler has looked again: a pending restart is queued
    node.wait_settled(ctx.options.healthy_timeout)
    starts = journal.unit_starts(node.journal_since(cursor), unit)
    return problems + restart_problems(starts, unit, path)


def _integrations_back(ctx: CellContext, path: str) -> list[str]:
    """The app's own integrations and its installed dependents' with it report healthy again."""
    pairs = probes.touched_integrations(ctx.matrix, ctx.app.id, ctx.installed)
    problems, unseen = probes.integrations_back(ctx.node, ctx.matrix, pairs, ctx.options.integration_window)
    ctx.not_run.extend(f"{u} (after the drift of {path})" for u in unseen)
    return [f"{p} after {path} was rewritten" for p in problems]


def run(ctx: CellContext) -> None:
    node, app = ctx.node, ctx.app
    paths = node.names.derived_configs(app.id)
    if not paths:
        raise AssertionError(f"{app.id}: the platform profile lists no derived config for it (apps.configs)")
    probes.wait_healthy(node, app, ctx.options.healthy_timeout)
    problems = [p for path in paths for p in drift_one(ctx, path)]
    if problems:
        raise AssertionError(f"{app.id}: " + "; ".join(problems))


EVENT = GridEvent("config_drift", run, starts_from=FULL_LINE, journal_allow=(DEPENDENCY_DOWN,))
