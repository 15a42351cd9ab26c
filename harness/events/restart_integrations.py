"""Restart → integrations: restart each dependency once; every dependent of the batch reports
that integration healthy again within the window. One restart serves every dependent's cell.
The provider is back when it answers through its own protocol on a new unit invocation; a
dependent's view comes from its own protocol where that shows one (lnd's synced_to_chain,
electrumx's chain tip), else from the stand-in's status as extra evidence, else that part is
reported not run.

A bitcoind restart happens with its derived bitcoin.conf as an older release left it (a valid
but stale `rpcauth`, the seeds' FM2 drift): the platform must restart it on credentials derived
from the canonical secret, or every integration with it stays down."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import shlex
import time

from harness.checks import probes
from harness.grid.context import CellContext
from harness.grid.event import DEPENDENCY_DOWN, FULL_LINE, GridEvent
from matrix.model import Matrix


def providers(m: Matrix, apps: tuple[str, ...], installed: tuple[str, ...]) -> dict[str, str]:
    """{capability: installed app providing it} for every integration of `apps`."""
    out = {}
    for a in apps:
        for cap in m.apps[a].integrations:
            found = [i for i in installed if m.app(i).provides == cap]
            if found:
                out[cap] = found[0]
    return out


def stale_rpcauth(user: str = "archipelago") -> str:
    """A well-formed rpcauth line for a password nobody has (Bitcoin Core's rpcauth.py scheme)."""
    salt, password = secrets.token_hex(16), secrets.token_urlsafe(24)
    digest = hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()
    return f"rpcauth={user}:{salt}${digest}"


def make_config_stale(node, app_id: str) -> bool:
    """Replace the rpcauth line(s) of the app's bitcoin.conf in place; False when it has none."""
    path = shlex.quote(f"{node.names.config_dir(app_id)}/bitcoin.conf")
    if node.run(node.cmd.as_root(f"grep -q '^rpcauth=' {path}"), timeout=30).rc != 0:
        return False
    expr = f"s/^rpcauth=.*/{stale_rpcauth()}/"
    node.succeed(node.cmd.as_root(f"sed -i {shlex.quote(expr)} {path}"), timeout=30)
    return True


def observe(ctx: CellContext) -> dict:
    node, m = ctx.node, ctx.matrix
    batch = ctx.batch or (ctx.app.id,)
    problems: dict[str, list[str]] = {a: [] for a in batch}
    not_run: dict[str, list[str]] = {a: [] for a in batch}
    provs = providers(m, batch, ctx.installed)
    for a in batch:
        for cap in m.apps[a].integrations:
            if cap not in provs:
                problems[a].append(f"no installed app provides {cap}")
    for a in batch:
        probes.wait_healthy(node, m.app(a), ctx.options.integration_window)
    for cap, prov in provs.items():
        users = [a for a in batch if cap in m.apps[a].integrations]
        why = _restart(ctx, prov)
        if why:
            for a in users:
                problems[a].append(why)
            continue
        t0 = time.monotonic()
        for a in users:
            try:
                seen, how = probes.wait_integration(node, m.app(a), cap, True, ctx.options.integration_window)
            except AssertionError as e:
                problems[a].append(f"{e} after restarting {prov}")
                continue
            if seen:
                ctx.notes.append(f"{a}: {cap} integration back {probes.elapsed(t0)} after the restart of "
                                 f"{prov} ({how})")
            else:
                not_run[a].append(f"{a}'s own view of {cap} after the restart of {prov}: {how}")
            u = probes.unit(node, a)
            if u.get("ActiveState") != "active":
                problems[a].append(f"{a} is {u.get('ActiveState')} after {prov} restarted")
    return {"problems": problems, "not_run": not_run}


def _restart(ctx: CellContext, prov: str) -> str | None:
    """Restart the provider's unit (bitcoind on a stale config) and wait until it answers ready
    through its own protocol on a new invocation; what went wrong, or None."""
    node, p = ctx.node, ctx.matrix.app(prov)
    before = probes.identity(node, prov)
    if p.profile == "bitcoind" and make_config_stale(node, prov):
        ctx.notes.append(f"{prov}: bitcoin.conf rpcauth made stale before the restart")
    res = node.run(f"{node.cmd.systemctl} restart {shlex.quote(node.names.unit(prov))}",
                   timeout=p.stop_grace + 120)
    if res.rc != 0:
        return f"restarting {prov} failed: {res.stderr.strip()[-200:]}"
    try:
        probes.wait_healthy(node, p, ctx.options.healthy_timeout)
    except AssertionError as e:
        return f"dependency {prov} did not come back: {e}"
    if probes.identity(node, prov)["invocation"] == before["invocation"]:
        return f"dependency {prov}: unit {node.names.unit(prov)} still on the invocation before the restart"
    return None


def run(ctx: CellContext) -> None:
    seen = ctx.observe_once(lambda: observe(ctx))
    ctx.not_run.extend(seen["not_run"].get(ctx.app.id, []))
    ctx.judge_own(seen["problems"], "restart")


EVENT = GridEvent("restart_integrations", run, starts_from=FULL_LINE, observe=observe,
                  journal_allow=(DEPENDENCY_DOWN,))
