"""A fake node for the reconciler's unit tests: files are real (under a temp root), systemctl and
podman are simulated with just enough Quadlet semantics (generator on daemon-reload, --rm containers,
Notify=healthy). It records every command so tests can count reloads, restarts and removals."""
from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass, field

from pathlib import Path

import yaml

from reconciler.daemon import Reconciler, Settings
from reconciler.runner import Result
from reconciler.store import Paths
from reconciler.variants import parse as parse_variant

REPO = Path(__file__).resolve().parents[2]


@dataclass
class FakeUnit:
    active: str = "inactive"
    sub: str = "dead"
    result: str = "success"
    restarts: int = 0


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
    slow: set = field(default_factory=set)             # units that stay "activating" until advance()
    broken: set = field(default_factory=set)           # argv prefixes (joined) that fail
    podman_broken: str | None = None                   # error text while the DB is "corrupt"
    calls: list = field(default_factory=list)
    foreign_units: dict = field(default_factory=dict)
    system_state: str = "running"                      # `systemctl is-system-running`
    ipam_stale: set = field(default_factory=set)       # container names whose fixed IP the IPAM DB still holds
    disk_free: dict = field(default_factory=dict)      # node path -> bytes available (default: plenty)
    timing_out: set = field(default_factory=set)       # argv prefixes (joined) that time out (rc 124)

    # ---- helpers for tests ----
    def count(self, *prefix: str) -> int:
        return sum(1 for c in self.calls if c[:len(prefix)] == prefix)

    def reset_calls(self) -> None:
        self.calls.clear()

    def ipam_db(self) -> str:
        return os.path.join(self.root, "run/containers/networks/ipam.db")

    def unit_dir(self) -> str:
        return os.path.join(self.root, "etc/containers/systemd")

    def advance(self) -> None:
        """Finish pending starts (slow units become active and healthy)."""
        for name in list(self.slow):
            u = self.units.get(name)
            if u and u.active == "activating":
                self._became_active(name)
        self.slow.clear()

    def crash(self, unit: str) -> None:
        self.units[unit] = FakeUnit("failed", "failed", "exit-code", self.units.get(unit, FakeUnit()).restarts)
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
        return Result(argv, rc, out, err, 0.0)

    def free_bytes(self, path: str) -> int | None:
        return self.disk_free.get("/" + os.path.relpath(path, self.root), 10 << 30)

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
            return self._systemctl(list(argv[1:]))
        if argv[0] == "podman":
            return self._podman(list(argv[1:]))
        if argv[0] == "nginx":
            return 0, "", ""
        raise KeyError(argv[0])

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

    def _systemctl(self, args):
        args = [a for a in args if a != "--no-block"]
        cmd = args[0]
        if cmd == "is-system-running":
            return (0 if self.system_state == "running" else 1), self.system_state + "\n", ""
        if cmd == "show":
            units = args[args.index("--") + 1:]
            disk = self._generate()
            blocks = []
            for u in units:
                if u in self.foreign_units:
                    st = self.foreign_units[u]
                else:
                    st = self.units.get(u, FakeUnit())
                loaded = u in self.loaded or u in self.foreign_units or u in ("nginx.service", "tor@default.service")
                need = u in self.loaded and disk.get(u) != self.loaded[u]
                blocks.append("\n".join([
                    f"Id={u}", f"LoadState={'loaded' if loaded else 'not-found'}", f"ActiveState={st.active}",
                    f"SubState={st.sub}", f"Result={st.result}", f"NRestarts={st.restarts}",
                    f"NeedDaemonReload={'yes' if need else 'no'}"]))
            return 0, "\n\n".join(blocks) + "\n", ""
        if cmd == "list-units":  # --state=failed --plain --no-legend --type=service
            return 0, "".join(f"{u} loaded failed failed fake\n" for u, st in sorted(self.units.items())
                              if st.active == "failed" and u.endswith(".service")), ""
        if cmd == "daemon-reload":
            self.loaded = self._generate()
            return 0, "", ""
        unit = args[1]
        if cmd in ("start", "restart", "reload-or-restart"):
            if unit in ("nginx.service", "tor@default.service"):
                self.units[unit] = FakeUnit("active", "running")
                return 0, "", ""
            if unit not in self.loaded:
                return 5, "", f"Unit {unit} not found."
            if unit == "archy-network.service":
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
            for u in fnmatch.filter(list(self.units), unit):
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
        self.network = True  # the container unit pulls in archy-network.service
        self.units["archy-network.service"] = FakeUnit("active", "exited")
        if unit in self.crashing:
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
        if self.podman_broken and args[:2] != ["system", "migrate"]:
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
            self.podman_broken = None
            return 0, "", ""
        raise KeyError(" ".join(args))




def catalog_data() -> dict:
    with open(REPO / "matrix" / "apps.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def make(root: Path, variant: str | None = None, interval: float = 5.0, clock=None):
    (root / "etc/archipelago").mkdir(parents=True, exist_ok=True)
    (root / "etc/archipelago/catalog.json").write_text(json.dumps(catalog_data()))
    fake = FakeSystem(str(root))
    rec = Reconciler(Paths(str(root)), fake,
                     Settings(tick_interval=interval, variant=parse_variant(variant)),
                     clock=clock or Clock())
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
