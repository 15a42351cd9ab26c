"""Stop → ports released: every port of the app closes, no process of it is left, dependents
report the dependency down without crashing; started again it comes back after a clean stop."""
from __future__ import annotations

from harness.checks import probes
from harness.grid.context import CellContext
from harness.grid.event import DEPENDENCY_DOWN, FULL_LINE, GridEvent
from node.api import poll


def run(ctx: CellContext) -> None:
    node, app, m = ctx.node, ctx.app, ctx.matrix
    ports = [p.port for p in app.ports]
    deps = probes.dependents(m, app.id, ctx.installed)
    ctr = probes.container(node, app.id)
    if ctr is None:
        raise AssertionError(f"{app.id}: no container {node.names.container(app.id)} before the stop")
    pids = [ctr.get("State", {}).get("Pid", 0), ctr.get("State", {}).get("ConmonPid", 0)]
    before = {d: probes.status(node, m.app(d)) for d in deps}
    dep_units = {d: probes.unit(node, d) for d in deps}

    res = probes.rpc(ctx.driver, "package.stop", 120, id=app.id)
    if not isinstance(res, dict) or res.get("desired") != "user-stopped":
        raise AssertionError(f"{app.id}: package.stop answered {res!r}, expected desired user-stopped")
    problems = []
    window = app.stop_grace + 60
    if not poll(lambda: not (set(ports) & probes.listening_ports(node)), window, 1.0):
        still = sorted(set(ports) & probes.listening_ports(node))
        problems.append(f"ports still listening {window:.0f}s after stop: {still}")

    def unit_down() -> bool:   # the unit stays "deactivating" while ExecStopPost removes the container
        u = probes.unit(node, app.id)
        return u.get("ActiveState") in ("inactive", "failed") or u.get("LoadState") == "not-found"
    poll(lambda: unit_down() and not probes.running_containers(node, app.id), 120, 1.0)
    left = probes.running_containers(node, app.id)
    if left:
        problems.append(f"container(s) still running: {left}")
    alive = probes.alive_pids(node, pids)
    if alive:
        problems.append(f"process(es) of the stopped container still alive: pids {alive}")
    if not unit_down():
        problems.append(f"unit {node.names.unit(app.id)} is {probes.unit(node, app.id).get('ActiveState')} "
                        f"120 s after its ports closed")
    cap = app.provides
    for d in deps:
        dep = m.app(d)
        try:
            s = probes.wait_status(node, dep, lambda s: (s.get("integrations", {}).get(cap) or {}).get("ok")
                                   is False, 60, f"integration {cap} reported down")
        except AssertionError as e:
            problems.append(str(e))
            continue
        du = probes.unit(node, d)
        if s.get("started_at") != before[d].get("started_at") or du.get("NRestarts") != dep_units[d].get("NRestarts") \
                or du.get("ActiveState") != "active":
            problems.append(f"dependent {d} crashed or restarted while {app.id} was stopped "
                            f"({du.get('ActiveState')}, NRestarts {du.get('NRestarts')})")
    if problems:
        raise AssertionError(f"{app.id}: " + "; ".join(problems))

    # Start again: the stop must have been clean (bitcoind flushes for seconds after SIGTERM).
    res = probes.rpc(ctx.driver, "package.start", 120, id=app.id)
    s = probes.wait_healthy(node, app, ctx.options.healthy_timeout)
    if s.get("unclean_shutdown"):
        raise AssertionError(f"{app.id}: restarted after the stop reporting an unclean shutdown "
                             f"(killed before it finished flushing?)")
    for d in deps:
        probes.wait_healthy(node, m.app(d), ctx.options.integration_window)


EVENT = GridEvent("stop_ports_released", run, starts_from=FULL_LINE,
                  journal_allow=(DEPENDENCY_DOWN,))
