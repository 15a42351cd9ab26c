"""Reboot survival: a graceful reboot and a power cut with the batch running, then a reboot with
the batch user-stopped. Installed apps come back healthy (their own protocols, goss), user-stopped
apps stay stopped, data never goes backwards (files unchanged, the chain height they answer not
lower), a graceful reboot leaves no sign of a crash recovery in their answers or journal, and after
each reboot the seeds' node checks hold (harness/checks/node_checks.py).
One set of reboots serves every app of the batch; the verdict stays per app."""
from __future__ import annotations

import time
from functools import partial

from harness import goss
from harness.checks import boots, node_checks, probes, protocols
from harness.grid.context import CellContext
from harness.grid.event import DEPENDENCY_DOWN, FULL_LINE, GridEvent
from node.api import poll

ROUNDS = ("graceful", "power_cut", "stopped")


def _record(ctx: CellContext, apps: tuple[str, ...]) -> dict[str, dict]:
    out = {}
    for a in apps:
        app = ctx.matrix.app(a)
        answer = probes.wait_healthy(ctx.node, app, ctx.options.healthy_timeout)
        out[a] = {"answer": answer, "files": probes.data_manifest(ctx.node, app)}
    return out


def _data_problems(node, app, before: dict, after: protocols.Answer, after_files: dict) -> list[str]:
    """Files unchanged (block files may grow) and the chain height the app answers not lower."""
    return (probes.manifest_problems(before["files"], after_files, partial(probes.prefix_digest, node))
            + probes.height_problems(before["answer"], after))


def _reboot(ctx: CellContext, kind: str) -> float:
    t0 = time.monotonic()
    boots.reboot(ctx, kind)
    return time.monotonic() - t0


def _running_round(ctx: CellContext, kind: str, batch: tuple[str, ...], problems: dict) -> None:
    node, m = ctx.node, ctx.matrix
    before = _record(ctx, batch)
    node.run("sync", timeout=60)
    took = _reboot(ctx, kind)
    ctx.notes.append(f"{kind}: node back after {took:.0f}s")
    for a in batch:
        app = m.app(a)
        tag = f"after {kind.replace('_', ' ')}"
        seen: list[protocols.Answer] = []
        try:
            answer = probes.wait_healthy(node, app, ctx.options.healthy_timeout, seen)
        except AssertionError as e:
            problems[a].append(f"{tag}: {e}")
            continue
        report = goss.validate(node, m, app, retry_timeout=120)
        if not report.ok:
            problems[a].append(f"{tag}: {report.summary()}")
        # a dependent's "integration ...: DOWN" while its dependency booted is expected (journal_allow)
        problems[a] += [f"{tag}: {p}" for p in node_checks.problems(node, ctx.driver, m, a, allow=(DEPENDENCY_DOWN,))]
        for p in _data_problems(node, app, before[a], answer, probes.data_manifest(node, app)):
            problems[a].append(f"{tag}: {p}")
        # A crash recovery (a replay, a reindex, initial block download again) is what a power cut
        # may cause; after a graceful reboot it means the app was killed before its stop finished.
        signs = probes.unclean_signs(node, app, before[a]["answer"], seen, None)
        if signs and kind == "graceful":
            problems[a].append(f"{tag}: recovered from an unclean shutdown (killed before its stop "
                               f"finished?): {'; '.join(signs)}")
        elif signs:
            ctx.notes.append(f"{a} {tag}: crash recovery seen ({'; '.join(signs)})")


def _stopped_round(ctx: CellContext, batch: tuple[str, ...], problems: dict) -> None:
    node, m = ctx.node, ctx.matrix
    for a in reversed(batch):               # dependents first, as a user would
        try:
            probes.rpc(ctx.driver, "package.stop", 120, id=a)
        except AssertionError as e:
            problems[a].append(f"before the stopped reboot: {e}")
    for a in batch:
        poll(lambda: not probes.running_containers(node, a), m.app(a).stop_grace + 60, 2.0)
    _reboot(ctx, "graceful")
    # Let the reconciler tick at least twice after boot: a wrong start would happen by then.
    node.wait_until_succeeds(f"curl -sf --max-time 5 {node.names.health_url}", timeout=300, interval=2)
    for _ in range(2):
        try:
            probes.rpc(ctx.driver, "reconcile.tick", 120)
        except AssertionError as e:
            ctx.notes.append(f"reconcile.tick after boot: {e}")
    listening = probes.listening_ports(node)
    for a in batch:
        app = m.app(a)
        tag = "user-stopped across a reboot"
        if probes.running_containers(node, a):
            problems[a].append(f"{tag}: container running again")
        u = probes.unit(node, a)
        if u.get("ActiveState") in ("active", "activating"):
            problems[a].append(f"{tag}: unit {node.names.unit(a)} is {u.get('ActiveState')}")
        if open_ports := sorted({p.port for p in app.ports} & listening):
            problems[a].append(f"{tag}: ports listening {open_ports}")


def observe(ctx: CellContext) -> dict:
    batch = ctx.batch or (ctx.app.id,)
    problems, not_run = boots.both(ctx, batch, _running_round)
    _stopped_round(ctx, batch, problems)
    return {"problems": problems, "not_run": not_run}


def run(ctx: CellContext) -> None:
    seen = ctx.observe_once(lambda: observe(ctx))
    ctx.not_run.extend(seen["not_run"])
    problems = seen["problems"]
    ctx.judge_own(problems, "reboot")


EVENT = GridEvent("reboot_survival", run, starts_from=FULL_LINE, observe=observe,
                  journal_allow=(DEPENDENCY_DOWN,))
