"""Stop → ports released: every port of the app closes, no process of it is left, dependents
report the dependency down without crashing; started again it comes back after a clean stop."""
from __future__ import annotations

from harness.checks import probes, protocols
from harness.grid.context import CellContext
from harness.grid.event import DEPENDENCY_DOWN, FULL_LINE, GridEvent
from node.api import poll


def run(ctx: CellContext) -> None:
    node, app, m = ctx.node, ctx.app, ctx.matrix
    deps = probes.dependents(m, app.id, ctx.installed)
    ctr = probes.container(node, app.id)
    if ctr is None:
        raise AssertionError(f"{app.id}: no container {node.names.container(app.id)} before the stop")
    pids = [ctr.get("State", {}).get("Pid", 0), ctr.get("State", {}).get("ConmonPid", 0)]
    answer0 = protocols.probe(node, app)
    before = {d: probes.identity(node, d) for d in deps}
    probes.rpc(ctx.driver, "package.stop", 120, id=app.id)   # judged by what the node shows next
    problems = _stopped(ctx, pids)
    cap = app.provides
    for d in deps:
        try:
            seen, how = probes.wait_integration(node, m.app(d), cap, False, 60)
            if not seen:
                ctx.not_run.append(f"{d} reporting {cap} down while {app.id} was stopped: {how}")
        except AssertionError as e:
            problems.append(str(e))
        now = probes.identity(node, d)
        if probes.changes(before[d], now) or now["active"] != "active":
            problems.append(f"dependent {d} crashed or restarted while {app.id} was stopped "
                            f"({now['active'] or 'no unit'}; {', '.join(probes.changes(before[d], now)) or 'same process'})")
    if problems:
        raise AssertionError(f"{app.id}: " + "; ".join(problems))

    # Start again: the stop must have been clean (bitcoind flushes for seconds after SIGTERM).
    cursor = node.journal_cursor()
    probes.rpc(ctx.driver, "package.start", 120, id=app.id)
    seen_answers: list[protocols.Answer] = []
    answer = probes.wait_healthy(node, app, ctx.options.healthy_timeout, seen_answers)
    signs = probes.unclean_signs(node, app, answer0 if answer0.ready else None, seen_answers, cursor)
    signs += probes.height_problems(answer0 if answer0.ready else None, answer)
    if signs:
        raise AssertionError(f"{app.id}: restarted after the stop recovering from an unclean shutdown "
                             f"(killed before it finished flushing?): {'; '.join(signs)}")
    for d in deps:
        probes.wait_healthy(node, m.app(d), ctx.options.integration_window)


def _stopped(ctx: CellContext, pids: list[int]) -> list[str]:
    """Every port closed, no container or process left, the unit down: as the node shows it."""
    node, app = ctx.node, ctx.app
    ports = [p.port for p in app.ports]
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
    return problems


EVENT = GridEvent("stop_ports_released", run, starts_from=FULL_LINE,
                  journal_allow=(DEPENDENCY_DOWN,))
