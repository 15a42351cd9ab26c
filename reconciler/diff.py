"""The pure diff: desired node x current snapshot x backoff x now -> the next batch of steps.

Level-triggered like balena's supervisor: only the next batch is returned; the next tick recomputes
from a fresh snapshot. No I/O here. An empty plan means converged.

`plan` is a short pipeline of phases: podman self-heal, files, shared network, removals, service
reloads, network recreation, podman cleanup, then one decision per installed app. Each phase is a pure
function that returns a `Batch`: its steps, by their place in the tick, and a `Decided` record of
what later phases act on (a daemon-reload is due, an app's unit drifted, a container was cleared).
Order inside a batch: heal podman, dirs, file writes/removals, one daemon-reload, nginx/tor reloads,
network, stale containers, stops (dependents first), restarts, starts (dependencies healthy first).
The broken variants only change which phases `plan` runs or what it passes them.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Callable, Iterable, Mapping

from . import backoff as bo
from .model import (AppPlan, CurrentState, DaemonReload, DesiredNode, DropHealthcheck, EnsureDir, FileSpec,
                    HealPodman, RecreateNetwork, ReloadService, RemoveContainer, RemoveNetwork, RemovePath,
                    ResetFailed, ResetIpam, RestartUnit, StartAux, StartUnit, Step, StopUnit, UnitState, Wait,
                    WriteFile)
from .podman_heal import CORRUPT_HINTS
from .variants import REFERENCE, Variant

TOR_UNIT = "tor@default.service"
NGINX_UNIT = "nginx.service"
NETWORK_UNIT = "archy-network.service"   # without a node block (DesiredNode.network_unit)
RUNNING = ("active", "activating", "reloading", "deactivating", "refreshing")  # as UnitState.running


# bitcoind stops below 50 MiB free; starting apps on a fuller disk only churns it (each start
# writes logs and container layers) and fails again
DISK_PRESSURE_BYTES = 64 * 1024 * 1024


def disk_pressure(current: CurrentState, variant: Variant = REFERENCE) -> dict[str, int]:
    """Data paths under pressure -> MiB still available (none in the chaos-no-disk-pressure variant)."""
    if variant.off("disk-pressure"):
        return {}
    return {path: free >> 20 for path, free in sorted(current.disk_free.items())
            if free is not None and free < DISK_PRESSURE_BYTES}


def corrupt_db(error: str) -> bool:
    e = error.lower()
    return "timed out" not in e and any(h in e for h in CORRUPT_HINTS)


def app_status(plan: AppPlan, current: CurrentState) -> tuple[str, str]:
    """(active state, health) of an app: systemd for units, podman for imperative containers."""
    c = current.containers.get(plan.container)
    health = c.health if c else ""
    if plan.managed_by_unit:
        return current.units.get(plan.unit, UnitState(plan.unit)).active, health
    if c is None or c.external:
        return "inactive", ""
    return ("active" if c.state == "running" else "failed" if c.state == "exited" else "inactive"), health


def is_healthy(plan: AppPlan, current: CurrentState) -> bool:
    # Notify=healthy: a Quadlet unit only turns active after its first passing health check
    active, health = app_status(plan, current)
    return active == "active" and health not in ("unhealthy", "starting")


def _unit(current: CurrentState, unit: str) -> UnitState:
    return current.units.get(unit, UnitState(unit))


# ---- what flows between phases ----

@dataclass(frozen=True)
class Decided:
    """What a phase decided that a later phase acts on; phases merge theirs with `|`."""
    reload: bool = False                          # a unit or network file changed: one daemon-reload
    nginx: bool = False                           # an nginx snippet changed: reload nginx
    tor: bool = False                             # a torrc snippet changed: reload tor
    unit_drift: frozenset[str] = frozenset()      # apps whose existing unit file was rewritten
    config_drift: frozenset[str] = frozenset()    # apps whose config was written
    network_recreated: bool = False               # running apps restart onto the new network
    cleared: frozenset[str] = frozenset()         # apps whose storage-only container goes this tick

    def __or__(self, other: Decided) -> Decided:
        return Decided(*(getattr(self, f.name) | getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class Batch:
    """A phase's steps by their place in the tick's batch (the field order is the step order)."""
    heal: tuple[Step, ...] = ()
    dirs: tuple[Step, ...] = ()
    writes: tuple[Step, ...] = ()
    reloads: tuple[Step, ...] = ()
    containers: tuple[Step, ...] = ()
    stops: tuple[Step, ...] = ()
    restarts: tuple[Step, ...] = ()
    starts: tuple[Step, ...] = ()
    waits: tuple[Step, ...] = ()
    decided: Decided = Decided()

    def __add__(self, later: Batch) -> Batch:
        return Batch(*(getattr(self, g) + getattr(later, g) for g in _GROUPS),
                     decided=self.decided | later.decided)

    def steps(self) -> tuple[Step, ...]:
        return tuple(s for g in _GROUPS for s in getattr(self, g))


_GROUPS = tuple(f.name for f in fields(Batch) if f.name != "decided")
NOTHING = Batch()


# ---- the pipeline ----

def plan(desired: DesiredNode, current: CurrentState, backoff: Mapping[str, bo.Entry], now: float,
         variant: Variant = REFERENCE, requested: frozenset[str] = frozenset()) -> tuple[Step, ...]:
    """requested: apps an install or start is asking for right now (only a broken variant reads it)."""
    if current.system_stopping:
        # a tick racing the shutdown would start units systemd is stopping (refused, logged as
        # errors) or restart an app mid-flush; after the boot the next tick converges again
        return ()
    selfheal = not variant.off("podman-selfheal")
    wanted, held = held_while_starting(desired, current, _rerendered(desired, current, variant))
    done = ((podman_self_heal(desired, current) if selfheal else podman_wait(current))
            + held + file_writes(desired.dirs, wanted, current)
            + shared_network_teardown(desired, current)
            + removals(desired, current, _removed_paths(desired, variant)))
    done += service_reloads(desired, current, done.decided,
                            tor_wanted=desired.tor_wanted and not variant.off("tor-supervised"))
    if not variant.off("network-recreate"):
        done += recreate_network(desired, current)
        revoked = revoked_netns(desired, current)
        if revoked.steps():   # every app stops this tick; the next tick starts them on a new namespace
            return (done + revoked).steps()
    if selfheal:
        done += podman_cleanup(desired, current)
    starter = Starter(desired.apps, current, backoff, now, disk_pressure(current, variant), done.decided.cleared)
    start = _start_for(variant, starter, requested)
    return (done + app_decisions(desired, current, done.decided, start)).steps()


def held_while_starting(desired: DesiredNode, current: CurrentState,
                        wanted: Mapping[str, FileSpec]) -> tuple[Mapping[str, FileSpec], Batch]:
    """The configs of an app whose unit is starting right now wait for the start to end. Written
    now they would restart the unit mid-start: systemd stops the activation, podman kills the
    container before it ran and the unit fails (seen in the rehearsal: a config drift met a restart
    in flight). Left on disk, the drift is written, and the app restarted, by the first tick after."""
    starting = {a for a, p in desired.apps.items()
                if p.managed_by_unit and (u := _unit(current, p.unit)).active == "activating" and u.sub == "start"}
    held = {path for path, spec in wanted.items() if spec.kind == "config" and spec.app in starting
            and current.files.get(path) != spec.content}
    waits = tuple(Wait(app=a, reason="config changed; rewritten once its start ends")
                  for a in sorted({wanted[p].app for p in held}))
    return {p: s for p, s in wanted.items() if p not in held}, Batch(waits=waits)


def podman_self_heal(desired: DesiredNode, current: CurrentState) -> Batch:
    # only a corrupt state DB is healed: `podman system migrate` stops running containers, so a
    # podman that is merely slow (timeout) must never trigger it
    if current.podman_error is not None and corrupt_db(current.podman_error):
        units = tuple(sorted(p.unit for p in desired.apps.values() if p.managed_by_unit))
        return Batch(heal=(HealPodman(reason=current.podman_error[:200], units=units),))
    return podman_wait(current)


def podman_wait(current: CurrentState) -> Batch:
    if current.podman_error is None:
        return NOTHING
    return Batch(waits=(Wait(reason=f"podman unavailable: {current.podman_error[:120]}"),))


def file_writes(dirs: Mapping[str, tuple[int, str, str | None]], wanted: Mapping[str, FileSpec],
                current: CurrentState) -> Batch:
    """Missing dirs, and every file whose content is not the desired one."""
    made = tuple(EnsureDir(app=app, path=path, mode=mode, owner=owner)
                 for path, (mode, app, owner) in sorted(dirs.items()) if path not in current.dirs)
    writes = tuple(WriteFile(app=spec.app, spec=spec, drift=runs_differently(current.files.get(path), spec.content))
                   for path, spec in sorted(wanted.items()) if current.files.get(path) != spec.content)
    kinds = {w.spec.kind for w in writes}
    return Batch(dirs=made, writes=writes, decided=Decided(
        reload=bool(kinds & {"unit", "network"}), nginx="nginx" in kinds, tor="tor" in kinds,
        unit_drift=frozenset(w.app for w in writes if w.spec.kind in ("unit", "network") and w.drift and w.app),
        config_drift=frozenset(w.app for w in writes if w.spec.kind == "config")))


# Unit keys systemd applies at daemon-reload without a restart: when to start it (WantedBy=),
# after which units when they start together (After=, boot.py) and whether to start it again
# after it exits (Restart=, RestartSec=). A change to them alone does not touch the running
# container, so it is no drift: a variant switch or a new boot order must not restart the stack.
RELOAD_ONLY_KEYS = (b"WantedBy=", b"After=", b"Restart=", b"RestartSec=")


def runs_differently(old: bytes | None, new: bytes) -> bool:
    """An existing file whose rewrite changes what runs (any line but RELOAD_ONLY_KEYS differs)."""
    if old is None:
        return False
    def running(text: bytes) -> list[bytes]:
        return [line for line in text.splitlines() if not line.strip().startswith(RELOAD_ONLY_KEYS)]
    return running(old) != running(new)


def shared_network_teardown(desired: DesiredNode, current: CurrentState) -> Batch:
    """Nothing installed any more: the shared network goes too, once every app unit is down."""
    if not desired.shared_stale or any(_unit(current, u).running for u in desired.catalog_units.values()):
        return NOTHING
    unit = desired.network_unit
    net = current.aux_units.get(unit, UnitState(unit))
    steps: list[Step] = []
    if net.running:
        steps.append(StopUnit(unit=unit))
    elif net.active == "failed":
        steps.append(ResetFailed(unit=unit))
    if current.network_present and current.podman_error is None:
        steps.append(RemoveNetwork(network=desired.network))
    gone = tuple(RemovePath(path=p) for p in desired.shared_stale if current.files.get(p) is not None)
    return Batch(writes=gone, containers=tuple(steps), decided=Decided(reload=bool(gone)))


def removals(desired: DesiredNode, current: CurrentState, paths: Mapping[str, tuple[str, ...]]) -> Batch:
    """Uninstalled apps (-> the paths they left): stop them (dependents first), then remove the rest."""
    return sum((_removal(app, paths[app], desired, current) for app in sorted(paths)), NOTHING)


def _removal(app: str, paths: tuple[str, ...], desired: DesiredNode, current: CurrentState) -> Batch:
    unit = desired.catalog_units[app]
    us = _unit(current, unit)
    if us.running:
        if us.active == "deactivating":
            return Batch(waits=(Wait(app=app, reason="stopping"),))
        if any(current.units.get(desired.catalog_units[o], UnitState("")).running
               for o in desired.removal_after.get(app, ())):
            return Batch(waits=(Wait(app=app, reason="dependents still stopping"),))
        return Batch(stops=(StopUnit(app=app, unit=unit),))
    left = [p for p in paths if current.files.get(p) is not None or p in current.dirs]
    cleanup: list[Step] = []
    if us.active == "failed" or (us.load == "not-found" and us.result not in ("success", "")):
        cleanup.append(ResetFailed(app=app, unit=unit))
    c = current.containers.get(unit.removesuffix(".service"))
    if c is not None:
        cleanup.append(RemoveContainer(app=app, name=c.name, storage=c.external))
    return Batch(writes=tuple(RemovePath(app=app, path=p) for p in left), containers=tuple(cleanup),
                 decided=Decided(reload=any(p.endswith(".container") for p in left),
                                 nginx=any(_inside(p, desired.nginx_dir, "/nginx/") for p in left),
                                 tor=any(_inside(p, desired.torrc_dir, "/torrc.d/") for p in left)))


def _inside(path: str, directory: str | None, fallback: str) -> bool:
    if directory is None:
        return fallback in path
    return path.startswith(directory.rstrip("/") + "/")


def service_reloads(desired: DesiredNode, current: CurrentState, decided: Decided, tor_wanted: bool) -> Batch:
    """One daemon-reload after all writes; nginx and tor pick up changed snippets; tor runs if wanted."""
    steps: list[Step] = []
    if decided.reload or any(
            p.managed_by_unit and (_unit(current, p.unit).need_reload or (
                _unit(current, p.unit).load == "not-found" and current.files.get(p.unit_file) is not None))
            for p in desired.apps.values()):
        steps.append(DaemonReload())
    if decided.nginx:
        steps.append(ReloadService(unit=NGINX_UNIT))
    tor = current.aux_units.get(TOR_UNIT, UnitState(TOR_UNIT))
    if tor_wanted and not tor.running:
        steps.append(StartAux(unit=TOR_UNIT))
    elif decided.tor and tor.running:
        steps.append(ReloadService(unit=TOR_UNIT))
    return Batch(reloads=tuple(steps))


def recreate_network(desired: DesiredNode, current: CurrentState) -> Batch:
    """The shared network vanished under installed apps: recreate it, and running apps restart onto it."""
    network_file = next((f.path for f in desired.files.values() if f.kind == "network"), None)
    if (desired.apps and not current.network_present and current.podman_error is None
            and network_file and current.files.get(network_file) is not None):
        return Batch(reloads=(RecreateNetwork(network=desired.network),), decided=Decided(network_recreated=True))
    return NOTHING


def revoked_netns(desired: DesiredNode, current: CurrentState) -> Batch:
    """Rootless: the network namespace the running apps share was revoked (its pasta died, its
    mount went). A restart joins the broken namespace again; podman makes a new one only once no
    container uses it, so every running app stops this tick and starts on the next."""
    if current.netns_ok or current.podman_error is not None:
        return NOTHING
    steps: list[Step] = []
    depth = _depths(desired.apps)
    for app, p in sorted(desired.apps.items(), key=lambda kv: (-depth[kv[0]], kv[0])):
        active, _ = app_status(p, current)
        if active == "deactivating":
            steps.append(Wait(app=app, reason="stopping: the apps' network namespace was revoked"))
        elif active in RUNNING:
            steps.append(StopUnit(app=app, unit=p.unit, imperative=not p.managed_by_unit))
    return Batch(stops=tuple(s for s in steps if isinstance(s, StopUnit)),
                 waits=tuple(s for s in steps if isinstance(s, Wait)))


def _depths(apps: Mapping[str, AppPlan]) -> dict[str, int]:
    """How many dependencies deep each app sits (dependents stop first)."""
    depth: dict[str, int] = {}

    def of(app: str, seen: frozenset[str]) -> int:
        if app not in depth:
            deps = [d for d in apps[app].deps if d in apps and d not in seen]
            depth[app] = 1 + max((of(d, seen | {app}) for d in deps), default=-1)
        return depth[app]
    for app in apps:
        of(app, frozenset())
    return depth


def podman_cleanup(desired: DesiredNode, current: CurrentState) -> Batch:
    """What a lost podman state DB leaves behind: storage-only containers, orphaned healthcheck
    timers and the lost containers' IP allocations."""
    # storage-only leftover (the DB lost it): "name already in use" until removed. Only while the
    # unit is down: a container being created shows up in storage before podman's DB has it.
    steps: list[Step] = [RemoveContainer(app=app, name=c.name, storage=True) for app, p in sorted(desired.apps.items())
                         if (c := current.containers.get(p.container)) is not None and c.external
                         and not _unit(current, p.unit).running]
    cleared = frozenset(s.app for s in steps)
    if current.podman_error is None:
        steps.extend(DropHealthcheck(container_id=i) for i in sorted(current.orphan_healthchecks))
        # After a lost state DB netavark's IPAM DB (in /run, so it outlives podman's) still holds the
        # lost containers' fixed IPs: "requested ip address ... is already allocated". Only running
        # containers hold allocations, so while podman runs none a fresh IPAM DB loses nothing.
        failed = any(p.run and _unit(current, p.unit).active == "failed" for p in desired.apps.values())
        if (cleared or failed) and current.podman_running == 0:
            steps.append(ResetIpam(path=desired.ipam_db))
    return Batch(containers=tuple(steps), decided=Decided(cleared=cleared))


# ---- one decision per installed app ----

StartFn = Callable[[str, AppPlan, bool], Step | None]


def app_decisions(desired: DesiredNode, current: CurrentState, decided: Decided, start: StartFn) -> Batch:
    """Per installed app: stop it, restart it, start it, or say what it waits for."""
    dependents: dict[str, list[str]] = {a: [] for a in desired.apps}
    for app, p in desired.apps.items():
        for d in p.deps:
            dependents.setdefault(d, []).append(app)
    steps = []
    for app, p in sorted(desired.apps.items()):
        active, _ = app_status(p, current)
        if not p.run:
            step = _stop(app, p, active, desired, current, dependents.get(app, ()))
        elif active in RUNNING:
            step = _keep(app, p, active, current, decided)
        else:
            step = start(app, p, active == "failed")
        if step is not None:
            steps.append(step)
    return Batch(**{group: tuple(s for s in steps if isinstance(s, kind)) for group, kind in
                    (("stops", StopUnit), ("restarts", RestartUnit), ("starts", StartUnit), ("waits", Wait))})


def _stop(app: str, p: AppPlan, active: str, desired: DesiredNode, current: CurrentState,
          dependents: Iterable[str]) -> Step | None:
    """A user-stopped app that still runs stops once its dependents are down."""
    if active not in RUNNING:
        return None
    if active == "deactivating":
        return Wait(app=app, reason="stopping")
    if any(not desired.apps[d].run and app_status(desired.apps[d], current)[0] not in ("inactive", "failed")
           for d in dependents):
        return Wait(app=app, reason="dependents still stopping")
    return StopUnit(app=app, unit=p.unit, imperative=not p.managed_by_unit)


def _keep(app: str, p: AppPlan, active: str, current: CurrentState, decided: Decided) -> Step | None:
    """A running app restarts when its unit, config or network changed (onto an image it has)."""
    reason = ("unit changed" if app in decided.unit_drift else "config changed" if app in decided.config_drift
              else "network recreated" if decided.network_recreated and active == "active" else "")
    if reason and p.managed_by_unit and active != "deactivating":
        if p.image not in current.images:
            return Wait(app=app, reason=f"image {p.image} missing; not restarting onto it")
        return RestartUnit(app=app, unit=p.unit, reason=reason)
    if active != "active":
        return Wait(app=app, reason=active)
    return None


def _requirements(s: Starter, app: str, p: AppPlan, failed: bool) -> str:
    return f"requires {', '.join(p.missing)}" if p.missing else ""


def _dependencies(s: Starter, app: str, p: AppPlan, failed: bool) -> str:
    unready = [d for d in p.deps if d not in s.apps or not is_healthy(s.apps[d], s.current)]
    return f"waiting for {', '.join(unready)} to be healthy" if unready else ""


def _image(s: Starter, app: str, p: AppPlan, failed: bool) -> str:
    return f"image {p.image} missing" if p.image not in s.current.images else ""


def _disk(s: Starter, app: str, p: AppPlan, failed: bool) -> str:
    free = ", ".join(f"{path} {mib} MiB free" for path, mib in s.pressure.items())
    return f"disk pressure ({free}): not starting" if free else ""


def _crash_loop(s: Starter, app: str, p: AppPlan, failed: bool) -> str:
    if not failed or app in s.cleared:
        return ""
    # a failed unit's last state change is its failure: the delay runs from there
    left = bo.remaining(s.backoff.get(app), p.spec_hash, s.now, _unit(s.current, p.unit).changed)
    return f"crash-loop backoff, {left:.0f} s left" if left > 0 else ""


def _never_retried(s: Starter, app: str, p: AppPlan, failed: bool) -> str:
    return "failed; not retried" if failed else ""


START_GATES = (_requirements, _dependencies, _image, _disk, _crash_loop)


@dataclass(frozen=True)
class Starter:
    """Starts an app that should run but does not, unless a gate holds it: the first gate's reason wins."""
    apps: Mapping[str, AppPlan]
    current: CurrentState
    backoff: Mapping[str, bo.Entry]
    now: float
    pressure: Mapping[str, int]
    cleared: frozenset[str]
    gates: tuple[Callable[[Starter, str, AppPlan, bool], str], ...] = START_GATES

    def __call__(self, app: str, p: AppPlan, failed: bool) -> Step:
        for gate in self.gates:
            reason = gate(self, app, p, failed)
            if reason:
                return Wait(app=app, reason=reason)
        after_failure = failed and app not in self.cleared
        return StartUnit(app=app, unit=p.unit, after_failure=after_failure, spec_hash=p.spec_hash,
                         imperative=not p.managed_by_unit)


# ---- what the broken variants change ----

def _start_for(variant: Variant, starter: Starter, requested: frozenset[str]) -> StartFn:
    if variant.off("retry-failed"):
        return replace(starter, gates=START_GATES[:-1] + (_never_retried,))
    if variant.off("restart-stopped"):
        # no monitor: an app that stopped cleanly behind the reconciler's back (podman stop) stays
        # down; only an install or start asking for it starts it (failed units are still retried)
        return lambda app, p, failed: starter(app, p, failed) if failed or app in requested else None
    if variant.off("companion-units"):
        # fm1: companions were created once at install, nobody looks again
        return lambda app, p, failed: starter(app, p, failed) if p.managed_by_unit else None
    return starter


def _removed_paths(desired: DesiredNode, variant: Variant) -> Mapping[str, tuple[str, ...]]:
    """What uninstalled apps leave to remove: uninstall-leaves-unit keeps their Quadlet file."""
    if not variant.off("uninstall-removes-unit"):
        return desired.removals
    return {app: tuple(p for p in paths if not p.endswith(".container")) for app, paths in desired.removals.items()}


def _rerendered(desired: DesiredNode, current: CurrentState, variant: Variant) -> Mapping[str, FileSpec]:
    """The desired files the tick keeps in shape: broken variants write some only on the install tick."""
    return {path: spec for path, spec in desired.files.items()
            if not _written_at_install_only(spec, desired, current, variant)}


def _written_at_install_only(spec, desired: DesiredNode, current: CurrentState, variant: Variant) -> bool:
    if spec.app is None or spec.app not in desired.apps:
        return False
    repair = {"nginx": "nginx-rerender"}.get(spec.kind)
    if spec.kind == "config":
        repair = "bitcoin-conf-rederive" if spec.path.endswith("/bitcoin.conf") else "configs-rederive"
    if repair is None or not variant.off(repair):
        return False
    return _unit(current, desired.apps[spec.app].unit).load == "loaded"
