"""Start order (seed 000: "dependents restarted before their dependencies"): after a graceful
reboot and after a power cut, no app starts before the apps it depends on are healthy (lnd and
electrumx after bitcoind, mempool after electrumx). The platform must hold this at boot, when
systemd starts the units on its own, not only when an install orders them.

Judged from the boot's journal: systemd's "Starting" of the dependent's unit must come after the
"Started" of its dependency's, which a unit that is ready only once healthy (Quadlet's
Notify=healthy) logs when its first health check passes; and from the units themselves: the
dependent's unit is ordered After= its dependency's. Times are the boot's monotonic clock, so a
wrong wall clock cannot reorder them. One reboot and one power cut serve every app of the batch."""
from __future__ import annotations

import shlex
import time

from harness.checks import boots, probes
from harness.grid.context import CellContext
from harness.grid.event import DEPENDENCY_DOWN, FULL_LINE, GridEvent
from matrix.model import Matrix
from node.journal import UNIT_STARTED, UNIT_STARTING, json_lines, unit_of



def dependencies(m: Matrix, app_id: str, installed: tuple[str, ...]) -> list[str]:
    """The installed apps `app_id` depends on (a capability's provider, or an app named by id); pure."""
    out = []
    for dep in m.apps[app_id].depends:
        out += [a for a in installed if a != app_id and (a == dep or m.app(a).provides == dep) and a not in out]
    return out


def first_times(entries: list[dict], boot_id: str) -> dict[tuple[str, str], float]:
    """{(message id, unit): seconds since boot} of the first Starting/Started per unit in that boot; pure."""
    out: dict[tuple[str, str], float] = {}
    boot_id = boot_id.replace("-", "")     # /proc's boot_id has dashes, the journal's _BOOT_ID none
    for e in entries:
        mid = e.get("MESSAGE_ID")
        if mid not in (UNIT_STARTING, UNIT_STARTED) or e.get("_BOOT_ID") != boot_id:
            continue
        try:
            t = int(e["__MONOTONIC_TIMESTAMP"]) / 1e6
        except (KeyError, ValueError, TypeError):
            continue
        key = (mid, unit_of(e))
        out[key] = min(t, out.get(key, t))
    return out


def order_problems(times: dict[tuple[str, str], float], unit: str, dep_unit: str, dep: str) -> list[str]:
    """The dependent's unit began starting only after its dependency's was ready; pure."""
    began, ready = times.get((UNIT_STARTING, unit)), times.get((UNIT_STARTED, dep_unit))
    if began is None:
        return [f"no start of {unit} logged in this boot"]
    if ready is None:
        return [f"{unit} started at +{began:.1f}s but {dep_unit} ({dep}) never became ready in this boot"]
    if began < ready:
        return [f"{unit} began starting at +{began:.1f}s, before {dep} ({dep_unit}) was healthy at +{ready:.1f}s"]
    return []


def _boot_journal(node) -> list[dict]:
    """This boot's Starting/Started messages (both managers: journalctl as root reads them all)."""
    cmd = (f"{node.cmd.journalctl} -b -q -o json --no-pager MESSAGE_ID={UNIT_STARTING} "
           f"MESSAGE_ID={UNIT_STARTED}")
    return json_lines(node.succeed(cmd, timeout=120))


def _after(node, unit: str) -> set[str]:
    out = node.run(f"{node.cmd.systemctl} show -p After --value {shlex.quote(unit)}", timeout=30).stdout
    return set(out.split())


def _round(ctx: CellContext, kind: str, batch: tuple[str, ...], problems: dict) -> None:
    node, m = ctx.node, ctx.matrix
    for a in batch:
        probes.wait_healthy(node, m.app(a), ctx.options.healthy_timeout)
    node.run("sync", timeout=60)
    t0 = time.monotonic()
    boots.reboot(ctx, kind)
    for a in batch:
        try:
            probes.wait_healthy(node, m.app(a), ctx.options.healthy_timeout)
        except AssertionError as e:
            problems[a].append(f"after {kind.replace('_', ' ')}: {e}")
    node.wait_settled(ctx.options.healthy_timeout)
    ctx.notes.append(f"{kind}: every app of the batch healthy {probes.elapsed(t0)} after it began")
    times = first_times(_boot_journal(node), node.boot_id())
    for a in batch:
        unit = node.names.unit(a)
        after = _after(node, unit)
        for dep in dependencies(m, a, ctx.installed):
            dep_unit = node.names.unit(dep)
            tag = f"after {kind.replace('_', ' ')}"
            problems[a] += [f"{tag}: {p}" for p in order_problems(times, unit, dep_unit, dep)]
            if dep_unit not in after:
                problems[a].append(f"{tag}: {unit} is not ordered After={dep_unit}")


def observe(ctx: CellContext) -> dict:
    problems, not_run = boots.both(ctx, ctx.batch or (ctx.app.id,), _round)
    return {"problems": problems, "not_run": not_run}


def run(ctx: CellContext) -> None:
    seen = ctx.observe_once(lambda: observe(ctx))
    ctx.not_run.extend(seen["not_run"])
    ctx.judge_own(seen["problems"], "start order")


EVENT = GridEvent("start_order", run, starts_from=FULL_LINE, observe=observe, journal_allow=(DEPENDENCY_DOWN,))
