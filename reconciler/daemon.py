"""The reconciler: single-flight ticks and the package operations the RPC server exposes."""
from __future__ import annotations

import json
import logging
import os
import pwd
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from . import backoff as bo
from . import catalog as cat
from . import current as cur
from . import desired as des
from . import diff, releases as rel, render
from . import scope as sc
from .apply import Applier
from .model import STARTED, USER_STOPPED, Catalog, DesiredState, UnitState, frozen_map
from .runner import Stopping
from .store import Paths, Store, StoreError, owned, read_bytes, remove_path, atomic_write
from .variants import REFERENCE, Variant, parse as parse_variant

log = logging.getLogger("archipelago")

INSTALL_TIMEOUT = 840.0   # under the driver's 900 s client deadline
POLL = 2.0   # seconds between ticks while an install/uninstall waits
TICK_STALL = 120.0   # a tick running longer than this makes /health unhealthy
PURGE_TIMEOUT = 600.0   # a rootless purge (podman unshare rm) of a big data dir


def rollback_reserve(timeout: float) -> float:
    """What an install keeps of its deadline to roll a failed fresh install back."""
    return min(120.0, timeout / 4)


@dataclass(frozen=True)
class Settings:
    tick_interval: float = 5.0
    variant: Variant = REFERENCE
    listen_host: str = "127.0.0.1"
    listen_port: int = 5678
    node: sc.Node = sc.SYSTEM        # the "node" block: scope and names (absent: rootful, archy- names)


def load_settings(path: str) -> Settings:
    raw = read_bytes(path)
    if raw is None:
        return Settings()
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise SettingsError(f"{path}: invalid JSON: {e}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a JSON object")
    interval = data.get("tick_interval", 5)
    if not isinstance(interval, (int, float)) or isinstance(interval, bool) or not 0.2 <= interval <= 3600:
        raise SettingsError(f"{path}: tick_interval must be a number of seconds in [0.2, 3600]")
    port = data.get("listen_port", 5678)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise SettingsError(f"{path}: listen_port must be a TCP port number, got {port!r}")
    try:
        variant = parse_variant(data.get("variant"))
        node = _with_home(sc.parse(data.get("node")))
    except ValueError as e:
        raise SettingsError(f"{path}: {e}") from None
    return Settings(tick_interval=float(interval), variant=variant, listen_port=port, node=node)


def _with_home(node: sc.Node) -> sc.Node:
    """Rootless podman keeps its storage in the user's home: the passwd entry's, unless the block names it."""
    if not node.user_scope or node.home is not None:
        return node
    try:
        return replace(node, home=pwd.getpwnam(node.user).pw_dir)
    except KeyError:
        return node   # no such user here (tests, a node being provisioned): /home/<user>


class SettingsError(ValueError):
    pass


class OpError(Exception):
    """An operation failed: becomes a JSON-RPC error (code, message, data) without secrets."""

    def __init__(self, code: int, message: str, data: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


INVALID, FAILED, DEPENDENCY, CONFLICT = -32602, -32000, -32001, -32002


@dataclass
class TickReport:
    steps: list[str] = field(default_factory=list)
    duration: float = 0.0
    converged: bool = False
    failed: dict[str, str] = field(default_factory=dict)   # app -> first failure
    disk_pressure: dict[str, int] = field(default_factory=dict)   # data path -> MiB free, when too full

    def as_dict(self) -> dict:
        return {"steps": self.steps, "duration": round(self.duration, 3), "converged": self.converged}


class Reconciler:
    def __init__(self, paths: Paths, runner, settings: Settings, clock=time.time):
        if paths.node != settings.node:   # the settings' node block names the paths
            paths = replace(paths, node=settings.node)
        self.paths, self.runner, self.settings, self.clock = paths, runner, settings, clock
        self.variant = settings.variant
        self.poll = POLL
        self.store = Store(paths)
        self._tick_lock = threading.Lock()
        self._state_lock = threading.RLock()
        self.last_good_tick: float | None = None     # wall clock, for the /health body
        self.last_good_mono: float | None = None     # monotonic, for the age check
        self.tick_started_mono: float | None = None  # set while a tick runs
        self.pause = settings.tick_interval          # the loop's wait after the latest tick, >= the interval (__main__.pause_after)
        self.last_report = TickReport()
        self.last_view = None   # (catalog, desired, node, current) seen by the latest tick
        self.loops: dict[str, tuple[str, float]] = {}   # app -> (spec hash, when) a tick last saw it crash-loop
        self.abandoned: frozenset[str] = frozenset()
        self.requested: frozenset[str] = frozenset()   # apps an install or start asks for right now
        self.children: dict = {}
        self.applier = Applier(runner, paths=paths, imperative_start=self._run_imperative,
                               imperative_stop=self._stop_imperative)
        self.desired = self.store.load_desired()
        # kubelet-style: a restarted daemon continues each crash loop's backoff, not from zero (000)
        self.backoff = frozen_map() if self.variant.off("backoff-persisted") else bo.load(paths.backoff)
        self.releases = rel.load(paths.releases)
        if self.variant.off("install-resumed"):
            self._drop_in_flight()

    # ---- desired state ----
    def _set_desired(self, desired: DesiredState) -> None:
        with self._state_lock:
            self.desired = desired
            if not self.variant.off("desired-written-at-once"):
                self.store.save_desired(desired)

    def flush(self) -> None:
        """On graceful exit (only matters for the chaos-state-flushed-on-exit variant)."""
        self.store.save_desired(self.desired)

    def _in_flight_path(self) -> str:
        return self.paths.p("/var/lib/archipelago/installing.json")

    def _mark_in_flight(self, app: str, on: bool) -> None:
        raw = read_bytes(self._in_flight_path())
        apps = set(json.loads(raw)) if raw else set()
        apps = apps | {app} if on else apps - {app}
        atomic_write(self._in_flight_path(), json.dumps(sorted(apps)).encode())

    def _drop_in_flight(self) -> None:
        raw = read_bytes(self._in_flight_path())
        dropped = set(json.loads(raw)) if raw else set()
        if dropped:
            d = self.desired
            for a in dropped:
                d = d.without(a)
            self.abandoned = frozenset(dropped)
            self._set_desired(d)
            remove_path(self._in_flight_path(), self.paths.owned_roots)

    def catalog(self) -> Catalog:
        return cat.load(self.paths.catalog, self.paths.node)   # re-read every time: a changed image is an OTA

    # ---- the tick ----
    def tick(self) -> TickReport:
        with self._tick_lock:
            t0 = self.tick_started_mono = time.monotonic()
            try:
                return self._tick(t0)
            finally:
                self.tick_started_mono = None

    def _tick(self, t0: float) -> TickReport:
        listed = self.catalog()
        catalog = rel.pinned(listed, self.releases)   # a release rolled back runs its last good one
        with self._state_lock:
            desired = self.desired
        secrets = self.store.load_secrets()
        node = des.build(catalog, desired, secrets, self.paths, self.variant)
        if self.abandoned:
            node = _without_removals(node, self.abandoned)
        current = cur.snapshot(self.runner, node, disk=self._disk_paths(), paths=self.paths)
        if current.podman_error is None:
            self.applier.heal_failed = None   # podman answers again, healed or not by us
        self.last_view = (catalog, desired, node, current)
        now = self.clock()
        self._note_loops(node, current, now)
        steps = diff.plan(node, current, self.backoff, now, self.variant, self.requested)
        outcomes, entries = self.applier.apply(steps, self.backoff, now)
        if entries != dict(self.backoff):
            self.backoff = frozen_map(entries)
            bo.save(self.paths.backoff, self.backoff)
        if not self.variant.off("release-rollback"):
            self._releases(listed, node, current)
        pressure = diff.disk_pressure(current, self.variant)
        if pressure != self.last_report.disk_pressure:   # the node's report: once per change, in the journal
            if pressure:
                log.warning("disk pressure: %s; app starts wait until space is freed",
                            ", ".join(f"{p} has {mib} MiB free" for p, mib in pressure.items()))
            else:
                log.info("disk pressure cleared")
        report = TickReport(steps=[o.describe() for o in outcomes], duration=time.monotonic() - t0,
                            converged=not steps, disk_pressure=pressure)
        for o in outcomes:
            if not o.ok and o.step.app and o.step.app not in report.failed:
                report.failed[o.step.app] = o.detail
        self.last_good_tick, self.last_good_mono = self.clock(), time.monotonic()
        self.last_report = report
        return report

    def _releases(self, listed: Catalog, node, current) -> None:
        """Note each app's good release and roll back a new one that crash-loops (releases.py)."""
        seen = rel.observe(self.releases, listed, node, current, self.backoff, diff.is_healthy)
        if seen == self.releases:
            return
        for app, r in seen.items():
            if r.failed and r.failed != self.releases.get(app, rel.Release()).failed:
                log.error("release %s of %s crash-loops: rolling back to %s", r.failed, app, r.good)
        self.releases = seen
        rel.save(self.paths.releases, seen)

    def _disk_paths(self) -> dict[str, str]:
        return self.paths.disk_paths

    @property
    def heal_failed(self) -> str | None:
        """Why podman still failed after the latest self-heal (None: no heal failed, or podman answers again)."""
        return self.applier.heal_failed

    def healthy(self) -> bool:
        """The last good tick ended within 2 x the loop's current pause (at least the interval), or
        the tick running now began within that window (a slow node is progress, not a stall) and
        has run for less than TICK_STALL."""
        if self.variant.off("health-honest"):
            return True
        last, started, now = self.last_good_mono, self.tick_started_mono, time.monotonic()
        limit = 2 * self.pause
        if last is None:
            return False
        if now - last <= limit:
            return True
        return started is not None and started - last <= limit and now - started <= TICK_STALL

    # ---- observation ----
    def observe(self):
        catalog = self.catalog()
        with self._state_lock:
            desired = self.desired
        node = des.build(catalog, desired, self.store.load_secrets(), self.paths, self.variant)
        return catalog, desired, node, cur.snapshot(self.runner, node, disk=self._disk_paths(), paths=self.paths)

    def container_list(self) -> list[dict]:
        catalog, desired, node, current = self.observe()
        rows = []
        for app, p in sorted(node.apps.items()):
            active, health = diff.app_status(p, current)
            c = current.containers.get(p.container)
            us = current.units.get(p.unit, UnitState(p.unit))
            rows.append({"app": app, "unit": p.unit, "container": p.container,
                         "desired": STARTED if p.run else USER_STOPPED, "active": active,
                         "state": c.state if c else "absent", "health": health, "restarts": us.restarts})
        return rows

    def container_health(self, app_id: str | None) -> dict:
        catalog, desired, node, current = self.observe()
        if app_id is not None:
            self._check_id(catalog, app_id, top_level=False)
            if app_id not in node.apps:
                raise OpError(INVALID, f"{app_id} is not installed")
        apps = [a for a in sorted(node.apps) if app_id is None or a == app_id]
        # status endpoints fetched side by side: one slow app must not push the reply past the client's deadline
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(apps)))) as pool:
            statuses = dict(zip(apps, pool.map(lambda a: _status(catalog.apps[a].status_url), apps)))
        out = {}
        for app in apps:
            p = node.apps[app]
            active, health = diff.app_status(p, current)
            out[app] = {"healthy": diff.is_healthy(p, current), "active": active, "health": health,
                        "status": statuses[app]}
        return out

    # ---- operations ----
    @staticmethod
    def _check_id(catalog: Catalog, app_id, top_level: bool = True) -> None:
        if not isinstance(app_id, str):
            raise OpError(INVALID, "id must be a string")
        if app_id not in catalog.apps or (top_level and catalog.apps[app_id].is_companion):
            raise OpError(INVALID, f"unknown app {app_id[:64]!r}")

    def install(self, app_id, timeout: float = INSTALL_TIMEOUT, docker_image: str | None = None) -> dict:
        """docker_image: the image the caller expects (the seeds' install names it); must be the catalog's."""
        catalog = self.catalog()
        self._check_id(catalog, app_id)
        spec = catalog.apps[app_id]
        if docker_image is not None and docker_image != spec.image:
            raise OpError(INVALID, f"dockerImage {docker_image[:200]!r} is not {app_id}'s image: the catalog "
                                   f"installs {spec.image}")
        with self._state_lock:
            installed = tuple(self.desired.apps)
            clash = [a for a in installed if a != app_id and (a in spec.conflicts or app_id in catalog.apps[a].conflicts)]
            if clash:
                raise OpError(CONFLICT, f"{app_id} conflicts with installed {', '.join(clash)}")
            missing = [c for c in spec.depends if not cat.providers(catalog, c, installed)]
            if missing:
                options = {c: [a for a in catalog.top_level if a == c or catalog.apps[a].provides == c]
                           for c in missing}
                hint = "; ".join(f"{c}: install one of {', '.join(o)}" for c, o in options.items())
                raise OpError(DEPENDENCY, f"{app_id} requires {', '.join(missing)} first ({hint})",
                              {"missing": missing})
            fresh = app_id not in self.desired.apps
            had_data = _exists(self.paths.data_dir(app_id))
            self._mark_in_flight(app_id, True)
            self._ask((app_id, *spec.companions), True)
            self._set_desired(self.desired.with_app(app_id, STARTED))
        log.info("install %s", app_id)
        started, t0 = self.clock(), time.monotonic()
        try:
            if self.variant.off("install-waits-healthy"):
                self._safe_tick()
                return self._install_result(app_id, spec)
            try:
                self._wait(lambda: self._is_up(app_id), timeout - rollback_reserve(timeout),
                           f"{app_id} did not become healthy", give_up=lambda: self._crash_looping(app_id, started))
            except OpError as e:
                if not fresh or self.variant.off("install-rollback"):
                    raise
                raise self._roll_back(app_id, spec, e, had_data, timeout - (time.monotonic() - t0)) from None
            if self.variant.off("companion-units"):
                for comp in spec.companions:
                    self._run_imperative(comp, detach=True)
            return self._install_result(app_id, spec)
        finally:
            self._mark_in_flight(app_id, False)
            self._ask((app_id, *spec.companions), False)

    def _note_loops(self, node, current, now: float) -> None:
        """Remember when a tick saw each app crash-loop (backoff.crash_looping). The loop's tick and
        an install's wait take turns: the one that sees the failure also starts the app again, so
        the install's own next look may find it starting and miss the loop it waits for."""
        for app, p in node.apps.items():
            unit, entry = current.units.get(p.unit), self.backoff.get(app)
            if bo.crash_looping(entry, p.spec_hash, unit):
                when = max(unit.changed if bo.gave_up(unit) and unit.changed else 0.0,
                           entry.last if bo.doubled(entry, p.spec_hash) else 0.0) or now
                self.loops[app] = (p.spec_hash, when)

    def _crash_looping(self, app_id: str, since: float) -> str:
        """Why an install stops waiting early: a tick saw its app crash-loop since the install began
        (backoff.crash_looping: systemd gave up on it after its automatic restarts, or it failed
        again after the reconciler restarted it twice); '' otherwise. One failure is not enough:
        a first start may lose a race (a name still in use) and then come up."""
        if self.last_view is None:
            return ""
        plan = self.last_view[2].apps.get(app_id)
        seen = self.loops.get(app_id)
        if plan is None or seen is None or seen[0] != plan.spec_hash or seen[1] < since:
            return ""
        return f"{app_id} failed again after a restart (crash loop)"

    def _roll_back(self, app_id: str, spec, failure: OpError, had_data: bool, budget: float) -> OpError:
        """A fresh install that failed leaves the node as before it (seed 000: a broken release must
        not stay half-installed): the app and its companions removed as an uninstall would, its
        new data dir purged, its backoff forgotten. Returns the error the install answers."""
        log.error("install %s failed (%s): rolling back", app_id, failure.message)
        data = self.paths.data_dir(app_id)
        try:
            with self._state_lock:
                self._set_desired(self.desired.without(app_id))
            self._removed(app_id, spec, max(30.0, budget - 5))
            if not had_data and _exists(data):
                self._purge(data)
        except OpError as e:
            return OpError(FAILED, f"{failure.message}; rolling back failed: {e.message}",
                           {**(failure.data or {}), "rolled_back": False})
        with self._state_lock:
            if app_id in self.backoff:
                self.backoff = frozen_map({k: v for k, v in self.backoff.items() if k != app_id})
                bo.save(self.paths.backoff, self.backoff)
        return OpError(FAILED, f"{failure.message}; rolled back: {app_id} is not installed",
                       {**(failure.data or {}), "rolled_back": True})

    def _ask(self, apps, on: bool) -> None:
        """Mark apps as asked for by an install or start (chaos-stopped-app-not-restarted starts only these)."""
        with self._state_lock:
            self.requested = self.requested | set(apps) if on else self.requested - set(apps)

    def _install_result(self, app_id: str, spec) -> dict:
        catalog = self.catalog()
        units = [catalog.apps[a].unit for a in (app_id, *spec.companions)]
        return {"id": app_id, "state": "running", "healthy": True, "units": units}

    def _is_up(self, app_id: str) -> bool:
        # the snapshot the last tick planned from: waiting costs no extra podman/systemctl calls
        _, _, node, current = self.last_view or self.observe()
        members = [app_id] + [c for c in node.apps if node.apps[c].deps == (app_id,)
                              and node.apps[c].managed_by_unit]
        return all(m in node.apps and diff.is_healthy(node.apps[m], current) for m in members)

    def _wait(self, done, timeout: float, message: str, give_up=lambda: "") -> None:
        """Tick and poll until done() or the deadline (or give_up() says why not); the error names
        the last blocking steps."""
        deadline = time.monotonic() + max(1.0, float(timeout))
        while True:
            report = self._safe_tick()
            if done():
                return
            why = give_up()
            if why or time.monotonic() >= deadline:
                pending = [s for s in (report.steps if report else []) if "wait" in s or "FAILED" in s][:8]
                raise OpError(FAILED, f"{message}: {why}" if why else f"{message} within {timeout:.0f} s",
                              {"pending": pending})
            time.sleep(min(self.poll, max(0.01, deadline - time.monotonic())))

    def _safe_tick(self) -> TickReport | None:
        try:
            return self.tick()
        except Stopping:
            raise OpError(FAILED, "the reconciler is stopping") from None
        except Exception as e:  # a broken tick is logged by the loop too; the caller keeps polling
            log.error("tick failed: %s", e)
            return None

    def uninstall(self, app_id, purge: bool = False, timeout: float | None = None) -> dict:
        catalog = self.catalog()
        self._check_id(catalog, app_id)
        if not isinstance(purge, bool):
            raise OpError(INVALID, "purge must be a boolean")
        spec = catalog.apps[app_id]
        with self._state_lock:
            installed = tuple(self.desired.apps)
            users = cat.dependents(catalog, app_id, installed)
            if users:
                raise OpError(DEPENDENCY, f"cannot uninstall {app_id}: {', '.join(users)} depend(s) on it; "
                                          "uninstall those first", {"dependents": list(users)})
            self._set_desired(self.desired.without(app_id))
        log.info("uninstall %s%s", app_id, " (purge data)" if purge else "")
        removed = self._removed(app_id, spec, timeout if timeout is not None else max(spec.grace, 30) + 120)
        if purge:
            d = self.paths.data_dir(app_id)
            if _exists(d):
                self._purge(d)
                removed.append(self.paths.host(d))
        return {"id": app_id, "removed": removed}

    def _removed(self, app_id: str, spec, limit: float) -> list[str]:
        """Wait until the app no longer desired and its companions no other app keeps are gone
        (unit, container, files); what went, or OpError naming what is left."""
        catalog = self.catalog()
        installed = tuple(self.desired.apps)
        members = [app_id] + [c for c in spec.companions
                              if not any(c in catalog.apps[o].companions for o in installed if o != app_id)]
        # the seed's failure: uninstall answered success with the unit still there (nobody looked)
        units = not self.variant.off("uninstall-removes-unit")
        before = self._leftovers(members, fresh=True)
        try:
            self._wait(lambda: not self._leftovers(members, units=units), limit, f"{app_id} was not fully removed")
        except OpError as e:
            left = self._leftovers(members, fresh=True)
            raise OpError(FAILED, str(e.message), {"left": left, "removed": [x for x in before if x not in left]})
        return list(before)

    def _purge(self, path: str) -> None:
        """Rootless, the data holds files of the containers' subuids: only podman's user namespace may
        remove them. Rootful: the daemon itself."""
        if not owned(path, self.paths.owned_roots):
            raise OpError(FAILED, f"refusing to purge {self.paths.host(path)}: not inside the node's own dirs")
        if not self.paths.node.user_scope:
            remove_path(path, self.paths.owned_roots)
            return
        res = self.runner.run(["podman", "unshare", "rm", "-rf", "--one-file-system", path], timeout=PURGE_TIMEOUT)
        if not res.ok:
            raise OpError(FAILED, f"purge of {self.paths.host(path)} failed: {res.brief()}")
        parent = os.path.dirname(path)   # the app's own dir (/var/lib/archipelago/<app>) once it is empty
        if "{app}" in os.path.dirname(self.paths.node.data) and os.path.isdir(parent) and not os.listdir(parent):
            os.rmdir(parent)

    def _leftovers(self, members: list[str], fresh: bool = False, units: bool = True) -> list[str]:
        catalog, desired, node, current = (self.observe() if fresh or self.last_view is None
                                           else self.last_view)
        left = []
        for app in members:
            unit = catalog.apps[app].unit
            us = current.units.get(unit, UnitState(unit))
            if units and (us.load != "not-found" or us.running):
                left.append(unit)
            c = current.containers.get(catalog.apps[app].container)
            if c is not None:
                left.append(f"container {c.name}")
            for p in node.removals.get(app, ()):
                if not units and p.endswith(".container"):
                    continue
                if current.files.get(p) is not None or p in current.dirs:
                    left.append(self.paths.host(p))
        return sorted(set(left))

    def set_run(self, app_id, run: bool) -> dict:
        catalog = self.catalog()
        self._check_id(catalog, app_id)
        state = STARTED if run else USER_STOPPED
        with self._state_lock:
            if app_id not in self.desired.apps:
                raise OpError(INVALID, f"{app_id} is not installed")
            self._set_desired(self.desired.with_app(app_id, state))
        log.info("%s %s", "start" if run else "stop", app_id)
        members = (app_id, *catalog.apps[app_id].companions) if run else ()
        self._ask(members, True)
        try:
            self._safe_tick()
        finally:
            self._ask(members, False)
        return {"id": app_id, "desired": state}

    # ---- broken variants: containers created with `podman run`, not units ----
    def _run_imperative(self, app_id: str, detach: bool = False) -> str:
        catalog = self.catalog()
        spec = catalog.apps[app_id]
        top = not spec.is_companion
        node = self.paths.node
        argv = render.podman_run_argv(
            spec, data_dir=self.paths.data_dir(app_id) if top else None,
            config_dir=self.paths.config_dir(app_id) if top else None,
            stop_timeout=10 if self.variant.off("stop-grace") else spec.grace, detach=detach,
            hosts=render.addresses((s.container for s in catalog.apps.values()), node), node=node)
        self.runner.run(["podman", "network", "create", "--ignore", "--disable-dns", "--subnet", node.subnet,
                         node.network], timeout=60)
        if detach:
            res = self.runner.run(argv, timeout=120)
            return res.brief()
        old = self.children.get(app_id)
        if old is not None and old.poll() is None:
            return "already running"
        self.children[app_id] = self.runner.spawn(argv)
        return "spawned as a child of the daemon"

    def _stop_imperative(self, app_id: str) -> str:
        spec = self.catalog().apps[app_id]
        res = self.runner.run(["podman", "stop", "-t", str(spec.grace), spec.container], timeout=spec.grace + 30)
        return res.brief()


def _without_removals(node, apps: frozenset[str]):
    return replace(node, removals=frozen_map({a: p for a, p in node.removals.items() if a not in apps}))


def _exists(path: str) -> bool:
    return os.path.lexists(path)


def _status(url: str | None) -> dict:
    if not url:
        return {}
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            body = r.read(256 * 1024)
        data = json.loads(body)
        return data if isinstance(data, dict) else {"error": "status is not an object"}
    except Exception as e:  # unreachable app: report, don't fail the RPC
        return {"error": f"{type(e).__name__}: {str(e)[:200]}"}
