"""A fake node for the reconciler's unit tests: files are real (under a temp root), systemctl and
podman are simulated with just enough Quadlet semantics (generator on daemon-reload, --rm containers,
Notify=healthy). It records every command so tests can count reloads, restarts and removals.

With a user-scope node (scope.Node(scope="user")) it is a rootless node seen by its unprivileged
daemon: the apps' units, the network unit and healthcheck timers live in the user manager (only
`systemctl --user` finds them), nginx and tor in the system manager (readable, not changeable),
`nginx` itself is refused, and root is reached only through priv.py's exact sudoers lines. Podman
keeps a rootless network namespace (a pasta pid file and a mount) while any container runs."""
from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field

from pathlib import Path

import yaml

from reconciler import priv
from reconciler.current import NETNS_DIR, NETNS_PID
from reconciler.daemon import Reconciler, Settings
from reconciler.runner import Result
from reconciler.scope import SYSTEM, Node
from reconciler.store import Paths
from reconciler.variants import parse as parse_variant

REPO = Path(__file__).resolve().parents[2]


@dataclass
class FakeUnit:
    active: str = "inactive"
    sub: str = "dead"
    result: str = "success"
    restarts: int = 0
    changed: float = 0.0       # wall clock of its last state change (0: not shown)


@dataclass
class FakeContainer:
    state: str = "running"
    health: str = "healthy"
    app: str | None = None
    external: bool = False
    id: str = ""


@dataclass
class FakeSystem:
    root: str
    images: set = field(default_factory=lambda: {"localhost/archy-standin:1"})
    units: dict = field(default_factory=dict)          # unit -> FakeUnit
    loaded: dict = field(default_factory=dict)         # unit -> unit file content at the last daemon-reload
    containers: dict = field(default_factory=dict)     # name -> FakeContainer
    network: bool = False
    crashing: set = field(default_factory=set)         # units that fail when started
    crashing_images: set = field(default_factory=set)  # images whose units fail when started (a bad release)
    slow: set = field(default_factory=set)             # units that stay "activating" until advance()
    broken: set = field(default_factory=set)           # argv prefixes (joined) that fail
    podman_broken: str | None = None                   # error text while the DB is "corrupt"
    calls: list = field(default_factory=list)
    foreign_units: dict = field(default_factory=dict)
    system_state: str = "running"                      # `systemctl is-system-running`
    ipam_stale: set = field(default_factory=set)       # container names whose fixed IP the IPAM DB still holds
    disk_free: dict = field(default_factory=dict)      # node path -> bytes available (default: plenty)
    timing_out: set = field(default_factory=set)       # argv prefixes (joined) that time out (rc 124)
    node: Node = SYSTEM                                # a user-scope node: rootless podman, user units
    gives_up: bool = False                             # a crash is systemd giving up after its own restarts
    clock: object = None                               # the reconciler's wall clock (make() sets it)
    alive: set = field(default_factory=set)            # pids that exist (Runner.pid_alive)
    netns_mounted: bool = False                        # rootless: the network namespace's mount in podman's ns
    heal_fails: bool = False                           # `podman system migrate` does not repair the DB
    owners: dict = field(default_factory=dict)         # path -> owner set by `podman unshare chown`
    netns_up: bool = False                             # podman made the rootless netns (revoked or not)
    NETNS_PID_VALUE = 4242

    # ---- helpers for tests ----
    def count(self, *prefix: str) -> int:
        return sum(1 for c in self.calls if c[:len(prefix)] == prefix)

    def reset_calls(self) -> None:
        self.calls.clear()

    @property
    def paths(self) -> Paths:
        return Paths(self.root, self.node)

    def ipam_db(self) -> str:
        return self.paths.ipam_db

    def unit_dir(self) -> str:
        return self.paths.quadlet_dir

    @property
    def network_unit(self) -> str:
        return self.node.network_unit

    def netns_dir(self) -> str:
        return os.path.join(self.paths.runtime_dir, NETNS_DIR)

    def revoke_netns(self) -> None:
        """chaos revoke_network, rootless: pasta killed, the namespace unmounted; containers run on."""
        self.alive.discard(self.NETNS_PID_VALUE)
        self.netns_mounted = False

    def advance(self) -> None:
        """Finish pending starts (slow units become active and healthy)."""
        for name in list(self.slow):
            u = self.units.get(name)
            if u and u.active == "activating":
                self._became_active(name)
        self.slow.clear()

    def crash(self, unit: str) -> None:
        """The unit failed: at once, or with gives_up after its automatic restarts all failed until
        the start limit refused the next, as systemd 257 shows it: Result stays exit-code,
        NRestarts counts the refused restart too (5), dated on the reconciler's clock."""
        restarts = self.units.get(unit, FakeUnit()).restarts
        if self.gives_up:
            self.units[unit] = FakeUnit("failed", "failed", "exit-code", 5, self.clock() if self.clock else 0.0)
        else:
            self.units[unit] = FakeUnit("failed", "failed", "exit-code", restarts)
        self.containers.pop(unit.removesuffix(".service"), None)

    # ---- the runner interface ----
    def run(self, argv, timeout: float = 30.0) -> Result:
        argv = tuple(argv)
        self.calls.append(argv)
        joined = " ".join(argv)
        if any(joined.startswith(b) for b in self.broken):
            return Result(argv, 1, "", f"injected failure: {joined}", 0.0)
        if any(joined.startswith(b) for b in self.timing_out):
            return Result(argv, 124, "", f"timed out after {timeout:.0f} s", timeout)
        try:
            rc, out, err = self._dispatch(argv)
        except KeyError as e:
            rc, out, err = 1, "", f"unknown: {e}"
        if self.node.user_scope:
            self._netns_follow()
        return Result(argv, rc, out, err, 0.0)

    def _netns_follow(self) -> None:
        """podman makes the rootless netns for the first running container and drops it with the last."""
        running = any(c.state == "running" and not c.external for c in self.containers.values())
        if running and not self.netns_up:
            os.makedirs(self.netns_dir(), exist_ok=True)
            with open(os.path.join(self.netns_dir(), NETNS_PID), "w") as f:
                f.write(str(self.NETNS_PID_VALUE))
            self.alive.add(self.NETNS_PID_VALUE)
            self.netns_mounted = self.netns_up = True
        elif not running and self.netns_up:
            shutil.rmtree(self.netns_dir(), ignore_errors=True)
            self.alive.discard(self.NETNS_PID_VALUE)
            self.netns_mounted = self.netns_up = False

    def free_bytes(self, path: str) -> int | None:
        return self.disk_free.get("/" + os.path.relpath(path, self.root), 10 << 30)

    def pid_alive(self, pid: int) -> bool:
        return pid in self.alive

    def spawn(self, argv):
        """A `podman run` child of the daemon (fm3 variant): the container runs while the child lives."""
        self.calls.append(tuple(argv))
        self._podman_run(list(argv[1:]))
        fake = self

        class Child:
            def poll(self):
                return None if argv[argv.index("--name") + 1] in fake.containers else 1
        return Child()

    def _podman_run(self, args):
        name = args[args.index("--name") + 1]
        app = next(a.split("=", 1)[1] for a in args if a.startswith("io.archipelago.app="))
        self.containers[name] = FakeContainer("running", "healthy", app)
        return 0, "", ""

    def _dispatch(self, argv):
        if argv[0] == "systemctl":
            args = list(argv[1:])
            user = "--user" in args
            return self._systemctl([a for a in args if a != "--user"], user=user)
        if argv[0] == "podman":
            return self._podman(list(argv[1:]))
        if argv[0] == "nginx":
            if self.node.user_scope:   # the TLS key is root's
                return 1, "", "nginx: [emerg] cannot load certificate key \"/etc/archipelago/tls/node.key\": Permission denied"
            return 0, "", ""
        if argv[0] == "sudo":
            return self._sudo(argv)
        raise KeyError(argv[0])

    # ---- the scopes: which manager has a unit, and who may change it ----
    SYSTEM_UNITS = ("nginx.service", "tor@default.service")

    def _in_manager(self, unit: str, user: bool) -> bool:
        """nginx and tor are system units; the rest are the user manager's on a rootless node."""
        if unit in self.SYSTEM_UNITS:
            return not user
        return user == self.node.user_scope

    def _refused(self, cmd: str, user: bool):
        if user and not self.node.user_scope:
            return 1, "", "Failed to connect to bus: No medium found"   # root has no user manager here
        if not user and self.node.user_scope and cmd not in ("show", "is-system-running", "list-units"):
            return 1, "", "Failed to %s: Access denied" % cmd            # the daemon is not root
        return None

    def _sudo(self, argv):
        line = " ".join(argv[2:])
        if tuple(argv[:2]) != ("sudo", "-n") or line not in priv.SUDOERS_LINES:
            return 1, "", "sudo: a password is required"
        verb = argv[-1]
        if verb in ("nginx-reload", "tor-start", "tor-reload"):
            unit = "nginx.service" if verb == "nginx-reload" else "tor@default.service"
            self.units[unit] = FakeUnit("active", "running")
        if verb == "tor-reload":
            for hs in priv.stale_hidden_services(self.root, self.node, priv.load_app_ids(self.root)):
                priv.prune_one(hs, self.root)
        return 0, f"{verb} done\n", ""

    def _generate(self) -> dict:
        out = {}
        d = self.unit_dir()
        if os.path.isdir(d):
            for name in sorted(os.listdir(d)):
                path = os.path.join(d, name)
                if name.startswith("."):
                    continue
                with open(path, "rb") as f:
                    content = f.read()
                if name.endswith(".container"):
                    out[name.removesuffix(".container") + ".service"] = content
                elif name.endswith(".network"):
                    out[name.removesuffix(".network") + "-network.service"] = content
        return out

    def _systemctl(self, args, user: bool = False):
        args = [a for a in args if a != "--no-block"]
        cmd = args[0]
        refused = self._refused(cmd, user)
        if refused:
            return refused
        if cmd == "is-system-running":
            return (0 if self.system_state == "running" else 1), self.system_state + "\n", ""
        if cmd == "show":
            units = args[args.index("--") + 1:]
            disk = self._generate()
            blocks = []
            for u in units:
                if not self._in_manager(u, user):
                    st, loaded, need = FakeUnit(), False, False
                else:
                    st = self.foreign_units[u] if u in self.foreign_units else self.units.get(u, FakeUnit())
                    loaded = u in self.loaded or u in self.foreign_units or u in self.SYSTEM_UNITS
                    need = u in self.loaded and disk.get(u) != self.loaded[u]
                # systemd dates a change on the monotonic clock; current.py adds the wall offset back
                mono = int((st.changed - (time.time() - time.monotonic())) * 1e6) if st.changed else 0
                blocks.append("\n".join([
                    f"Id={u}", f"LoadState={'loaded' if loaded else 'not-found'}", f"ActiveState={st.active}",
                    f"SubState={st.sub}", f"Result={st.result}", f"NRestarts={st.restarts}",
                    f"NeedDaemonReload={'yes' if need else 'no'}", f"StateChangeTimestampMonotonic={mono}"]))
            return 0, "\n\n".join(blocks) + "\n", ""
        if cmd == "list-units":  # --state=failed --plain --no-legend --type=service
            return 0, "".join(f"{u} loaded failed failed fake\n" for u, st in sorted(self.units.items())
                              if st.active == "failed" and u.endswith(".service") and self._in_manager(u, user)), ""
        if cmd == "daemon-reload":
            self.loaded = self._generate()
            return 0, "", ""
        if cmd == "stop" and len(args) > 2:   # several units at once
            for unit in args[1:]:
                self._systemctl([cmd, unit], user=user)
            return 0, "", ""
        unit = args[1]
        if not self._in_manager(unit, user) and "*" not in unit:
            return 5, "", f"Unit {unit} not found."
        if cmd in ("start", "restart", "reload-or-restart"):
            if unit in self.SYSTEM_UNITS:
                self.units[unit] = FakeUnit("active", "running")
                return 0, "", ""
            if unit not in self.loaded:
                return 5, "", f"Unit {unit} not found."
            if unit == self.network_unit:
                self.network = True
                self.units[unit] = FakeUnit("active", "exited")
                return 0, "", ""
            stem = unit.removesuffix(".service")
            if self.containers.get(stem) and self.containers[stem].external:
                self.units[unit] = FakeUnit("failed", "failed", "exit-code")
                return 0, "", ""  # --no-block: the job fails later ("name already in use")
            if cmd != "start" or self.units.get(unit, FakeUnit()).active != "active":
                self._start(unit)
            return 0, "", ""
        if "*" in unit:  # a glob: systemctl matches it against the loaded units
            for u in fnmatch.filter([u for u in self.units if self._in_manager(u, user)], unit):
                self.units[u] = FakeUnit("inactive", "dead", "success")
            return 0, "", ""
        if cmd == "stop":
            if unit in self.units:
                self.units[unit] = FakeUnit("inactive", "dead", "success", self.units[unit].restarts)
            self.containers.pop(unit.removesuffix(".service"), None)
            return 0, "", ""
        if cmd == "reset-failed":
            u = self.units.get(unit)
            if u and u.active == "failed":
                self.units[unit] = FakeUnit("inactive", "dead", "success", u.restarts)
            return 0, "", ""
        raise KeyError(cmd)

    def _start(self, unit: str) -> None:
        self.network = True  # the container unit pulls in <network>-network.service
        self.units[self.network_unit] = FakeUnit("active", "exited")
        image = re.search(rb"^Image=(\S+)", self.loaded.get(unit, b""), re.M)
        if unit in self.crashing or (image and image.group(1).decode() in self.crashing_images):
            self.crash(unit)
            return
        if unit.removesuffix(".service") in self.ipam_stale and os.path.exists(self.ipam_db()):
            self.crash(unit)  # "IPAM error: requested ip address ... is already allocated"
            return
        if unit in self.slow:
            self.units[unit] = FakeUnit("activating", "start")
            return
        self._became_active(unit)

    def _became_active(self, unit: str) -> None:
        stem = unit.removesuffix(".service")
        m = re.search(rb"Label=io\.archipelago\.app=(\S+)", self.loaded.get(unit, b""))
        self.units[unit] = FakeUnit("active", "running", "success", self.units.get(unit, FakeUnit()).restarts)
        self.containers[stem] = FakeContainer("running", "healthy", m.group(1).decode() if m else None)

    def _podman(self, args):
        if args[:1] == ["unshare"]:
            return self._unshare(args[1:])
        if self.podman_broken and args[:1] != ["system"]:
            return 125, "", self.podman_broken
        if args[:1] == ["ps"]:
            rows = [{"Names": [n], "State": "storage" if c.external else c.state,
                     "Status": "storage" if c.external else c.health,
                     "Labels": {"io.archipelago.app": c.app} if c.app else {}, "IsExternal": c.external,
                     "Id": c.id}
                    for n, c in sorted(self.containers.items())]
            return 0, json.dumps(rows), ""
        if args[:2] == ["image", "exists"]:
            return (0 if args[2] in self.images else 1), "", ""
        if args[:2] == ["network", "exists"]:
            return (0 if self.network else 1), "", ""
        if args[:1] == ["run"]:
            return self._podman_run(args)
        if args[:1] == ["stop"]:
            self.containers.pop(args[-1], None)
            return 0, "", ""
        if args[:2] == ["network", "rm"]:
            self.network = False
            return 0, "", ""
        if args[:2] == ["network", "create"]:
            self.network = True
            return 0, "", ""
        if args[:1] == ["rm"]:
            name = args[-1]
            self.containers.pop(name, None)
            return 0, "", ""
        if args[:1] == ["info"]:
            return 0, "sqlite\n", ""
        if args[:2] == ["system", "migrate"]:
            if not self.heal_fails:
                self.podman_broken = None
            return 0, "", ""
        if args[:2] == ["system", "renumber"]:
            return 0, "", ""
        raise KeyError(" ".join(args))

    def _unshare(self, args):
        """`podman unshare CMD`: CMD as root of the rootless user namespace (rootless only)."""
        if not self.node.user_scope:
            return 125, "", "Error: please use unshare with rootless"
        if args[:1] == ["chown"]:
            self.owners[args[2]] = args[1]
            return 0, "", ""
        if args[:3] == ["rm", "-rf", "--one-file-system"]:
            shutil.rmtree(args[3], ignore_errors=True)
            return 0, "", ""
        if args[:1] == ["findmnt"]:
            return (0, "nsfs\n", "") if self.netns_mounted else (1, "", "")
        raise KeyError("unshare " + " ".join(args))




def catalog_data() -> dict:
    with open(REPO / "matrix" / "apps.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


# the rootless reference node's block (platforms/reference.yaml via node.platform, plus the uid)
USER_NODE = Node(scope="user", user="archipelago", uid=1000, home="/home/archipelago",
                 quadlet_dir="/home/archipelago/.config/containers/systemd", container="{app}",
                 names=(("btcpay", "btcpay-server"),), data="/var/lib/archipelago/{app}/data",
                 config="/var/lib/archipelago/{app}/config", nginx_dir="/etc/nginx/archipelago.d",
                 network="archipelago", subnet="10.89.0.0/24", gateway="10.89.0.1")


def make(root: Path, variant: str | None = None, interval: float = 5.0, clock=None, node: Node = SYSTEM):
    (root / "etc/archipelago").mkdir(parents=True, exist_ok=True)
    (root / "etc/archipelago/catalog.json").write_text(json.dumps(catalog_data()))
    fake = FakeSystem(str(root), node=node)
    rec = Reconciler(Paths(str(root), node), fake,
                     Settings(tick_interval=interval, variant=parse_variant(variant), node=node),
                     clock=clock or Clock())
    fake.clock = rec.clock
    rec.poll = 0.001
    return rec, fake



def converge(rec, fake, max_ticks: int = 10):
    """Tick until a tick plans nothing; returns the number of ticks that did something."""
    for n in range(max_ticks):
        report = rec.tick()
        fake.advance()
        if report.converged:
            return n
    raise AssertionError(f"not converged after {max_ticks} ticks: {report.steps}")
