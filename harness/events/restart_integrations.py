"""Restart → integrations: restart each dependency once; every dependent of the batch reports
that integration healthy again within the window. One restart serves every dependent's cell.

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
    path = f"{node.names.config_dir(app_id)}/bitcoin.conf"
    if node.run(node.cmd.as_root(f"grep -q '^rpcauth=' {path}"), timeout=30).rc != 0:
        return False
    expr = f"s/^rpcauth=.*/{stale_rpcauth()}/"
    node.succeed(node.cmd.as_root(f"sed -i {shlex.quote(expr)} {path}"), timeout=30)
    return True


def observe(ctx: CellContext) -> dict[str, list[str]]:
    node, m = ctx.node, ctx.matrix
    batch = ctx.batch or (ctx.app.id,)
    problems: dict[str, list[str]] = {a: [] for a in batch}
    provs = providers(m, batch, ctx.installed)
    for a in batch:
        for cap in m.apps[a].integrations:
            if cap not in provs:
                problems[a].append(f"no installed app provides {cap}")
    for a in batch:
        probes.wait_healthy(node, m.app(a), ctx.options.integration_window)
    for cap, prov in provs.items():
        p = m.app(prov)
        before = probes.status(node, p)
        if p.profile == "bitcoind" and make_config_stale(node, prov):
            ctx.notes.append(f"{prov}: bitcoin.conf rpcauth made stale before the restart")
        t0 = time.monotonic()
        res = node.run(f"{node.cmd.systemctl} restart {node.names.unit(prov)}", timeout=p.stop_grace + 120)
        users = [a for a in batch if cap in m.apps[a].integrations]
        if res.rc != 0:
            for a in users:
                problems[a].append(f"restarting {prov} failed: {res.stderr.strip()[-200:]}")
            continue
        try:
            probes.wait_status(node, p, lambda s: s.get("started_at") != before.get("started_at")
                               and s.get("healthy") is True, ctx.options.healthy_timeout,
                               "restarted and healthy")
        except AssertionError as e:
            for a in users:
                problems[a].append(f"dependency {prov} did not come back: {e}")
            continue
        for a in users:
            app = m.app(a)
            try:
                probes.wait_status(node, app, lambda s: (s.get("integrations", {}).get(cap) or {}).get("ok")
                                   is True, ctx.options.integration_window,
                                   f"integration {cap} healthy again after restarting {prov}")
                ctx.notes.append(f"{a}: {cap} integration back {probes.elapsed(t0)} after restart of {prov}")
            except AssertionError as e:
                problems[a].append(str(e))
            u = probes.unit(node, a)
            if u.get("ActiveState") != "active":
                problems[a].append(f"{a} is {u.get('ActiveState')} after {prov} restarted")
    return problems


def run(ctx: CellContext) -> None:
    problems = ctx.observe_once(lambda: observe(ctx))
    ctx.judge_own(problems, "restart")


EVENT = GridEvent("restart_integrations", run, starts_from=FULL_LINE, observe=observe,
                  journal_allow=(DEPENDENCY_DOWN,))
