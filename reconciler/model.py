"""The reconciler's values: app specs, desired and current state, and the steps of a tick.

Everything here is a frozen dataclass so the diff can be a pure function of its inputs.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
STARTED = "started"
USER_STOPPED = "user-stopped"


def frozen_map(d: Mapping | None = None) -> Mapping:
    return MappingProxyType(dict(d or {}))


def unit_stem(app_id: str) -> str:
    """archy-X for app X; companions already carry the prefix (the names without a node block)."""
    return app_id if app_id.startswith("archy-") else f"archy-{app_id}"


@dataclass(frozen=True)
class Port:
    name: str
    port: int
    ui: bool = False


@dataclass(frozen=True)
class Tor:
    onion_port: int
    target: str  # app id whose UI port the onion forwards to


@dataclass(frozen=True)
class AppSpec:
    id: str
    title: str
    profile: str
    image: str
    grace: int                      # stop grace seconds
    ports: tuple[Port, ...]
    provides: str | None = None
    conflicts: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()   # capabilities or app ids
    companions: tuple[str, ...] = ()
    companion_of: str | None = None
    ui: str | None = None           # app id whose UI page the dashboard shows
    tor: Tor | None = None
    data_dirs: tuple[str, ...] = ()
    status_url: str | None = None
    integrations: tuple[str, ...] = ()
    memory: str | None = None       # podman --memory (e.g. "256m"); None: no limit
    caps: tuple[str, ...] = ()      # capabilities added back after --cap-drop=all (e.g. DAC_OVERRIDE)
    data_owner: str | None = None   # "uid:gid" owning the data dir, as the container sees it; None: root
    name: str = ""                  # container and unit stem from the node's names (scope.Node); "": unit_stem

    @property
    def stem(self) -> str:
        return self.name or unit_stem(self.id)

    @property
    def unit(self) -> str:
        return f"{self.stem}.service"

    @property
    def container(self) -> str:
        return self.stem

    @property
    def is_companion(self) -> bool:
        return self.companion_of is not None

    def port(self, name: str) -> int | None:
        return next((p.port for p in self.ports if p.name == name), None)

    @property
    def ui_port(self) -> int | None:
        return next((p.port for p in self.ports if p.ui), None)


@dataclass(frozen=True)
class Catalog:
    apps: Mapping[str, AppSpec]     # top-level apps and companions
    image: str
    proxy_path: str = "/apps/{id}/"
    frame_ancestors: str = "'self'"
    x_frame_options: str = "SAMEORIGIN"

    @property
    def top_level(self) -> tuple[str, ...]:
        return tuple(a for a, s in self.apps.items() if not s.is_companion)


@dataclass(frozen=True)
class DesiredState:
    """What the user asked for: installed top-level apps -> started | user-stopped."""
    apps: Mapping[str, str] = field(default_factory=frozen_map)

    def with_app(self, app_id: str, state: str) -> "DesiredState":
        d = dict(self.apps)
        d[app_id] = state
        return DesiredState(frozen_map(d))

    def without(self, app_id: str) -> "DesiredState":
        d = dict(self.apps)
        d.pop(app_id, None)
        return DesiredState(frozen_map(d))


@dataclass(frozen=True)
class BitcoinRpcSecret:
    user: str
    password: str
    salt: str

    def __repr__(self) -> str:  # never print the password, even by accident
        return f"BitcoinRpcSecret(user={self.user!r}, password=***, salt={self.salt!r})"


@dataclass(frozen=True)
class Secrets:
    bitcoin_rpc: BitcoinRpcSecret
    lnd_macaroon: str

    def __repr__(self) -> str:
        return "Secrets(***)"


# ---- what one tick wants on disk and in systemd ----

@dataclass(frozen=True)
class FileSpec:
    path: str
    content: bytes
    mode: int
    app: str | None        # None: shared (archy.network)
    kind: str              # unit | network | config | nginx | tor

    def __repr__(self) -> str:  # content may hold credentials
        return f"FileSpec({self.path!r}, {len(self.content)} bytes, kind={self.kind})"


@dataclass(frozen=True)
class AppPlan:
    app: str
    unit: str
    container: str
    run: bool                     # should be active now
    deps: tuple[str, ...]         # app ids that must be active and healthy first
    missing: tuple[str, ...]      # required capabilities with no installed provider
    spec_hash: str
    image: str
    unit_file: str = ""
    managed_by_unit: bool = True  # False: created imperatively (broken variants)


@dataclass(frozen=True)
class DesiredNode:
    files: Mapping[str, FileSpec]
    dirs: Mapping[str, tuple[int, str]]      # path -> (mode, app)
    apps: Mapping[str, AppPlan]             # installed apps and their companions
    removals: Mapping[str, tuple[str, ...]]  # uninstalled app -> paths to remove (files and dirs)
    catalog_units: Mapping[str, str]         # every catalog app -> unit (to find leftovers)
    removal_after: Mapping[str, tuple[str, ...]] = field(default_factory=frozen_map)  # stop these first
    shared_stale: tuple[str, ...] = ()       # shared files no longer wanted (archy.network)
    tor_wanted: bool = False
    network: str = "archy"                   # the apps' podman network; its unit is <network>-network.service
    ipam_db: str = "/run/containers/networks/ipam.db"   # netavark's IPAM DB, as the node names it
    nginx_dir: str | None = None             # where removed snippets make nginx/tor reload (None: by name)
    torrc_dir: str | None = None
    user_scope: bool = False                 # rootless: hidden-service dirs are pruned by priv.py, not here

    @property
    def network_unit(self) -> str:
        return f"{self.network}-network.service"


@dataclass(frozen=True)
class UnitState:
    unit: str
    load: str = "not-found"
    active: str = "inactive"
    sub: str = "dead"
    result: str = "success"
    restarts: int = 0
    need_reload: bool = False
    changed: float = 0.0    # wall-clock seconds of its last state change (0: not known)

    @property
    def running(self) -> bool:
        return self.active in ("active", "activating", "reloading", "deactivating", "refreshing")


@dataclass(frozen=True)
class ContainerState:
    name: str
    state: str            # running, exited, created, storage, ...
    health: str           # healthy, unhealthy, starting, "" (none)
    app: str | None
    external: bool = False


@dataclass(frozen=True)
class CurrentState:
    files: Mapping[str, bytes | None]         # every path of interest -> content (None: absent)
    dirs: frozenset[str]                        # existing dirs among those of interest
    units: Mapping[str, UnitState]
    containers: Mapping[str, ContainerState]   # by name; only ours (label or prefix)
    images: frozenset[str]
    podman_error: str | None = None
    network_present: bool = True
    aux_units: Mapping[str, UnitState] = field(default_factory=frozen_map)  # tor, nginx
    system_stopping: bool = False             # the node is shutting down: systemd owns the units now
    podman_running: int = 0                   # running containers podman's DB knows, anyone's
    orphan_healthchecks: frozenset[str] = frozenset()  # IDs of failed healthcheck units podman does not know
    disk_free: Mapping[str, int | None] = field(default_factory=frozen_map)  # data path -> bytes available
    netns_ok: bool = True                     # rootless: the network namespace of running apps is intact


# ---- steps ----

@dataclass(frozen=True)
class Step:
    app: str | None = None

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class HealPodman(Step):
    reason: str = ""
    units: tuple[str, ...] = ()   # the apps' units (rootless: stopped before podman's runtime dirs go)

    def describe(self) -> str:
        return f"heal podman ({self.reason})"


@dataclass(frozen=True)
class EnsureDir(Step):
    path: str = ""
    mode: int = 0o755
    owner: str | None = None   # "uid:gid" (the catalog's data_owner); None: the daemon's own

    def describe(self) -> str:
        return f"mkdir {self.path}" + (f" (owner {self.owner})" if self.owner else "")


@dataclass(frozen=True)
class WriteFile(Step):
    spec: FileSpec | None = None
    drift: bool = False   # an existing file had other content

    def describe(self) -> str:
        what = "rewrite" if self.drift else "write"
        return f"{what} {self.spec.path}"


@dataclass(frozen=True)
class RemovePath(Step):
    path: str = ""

    def describe(self) -> str:
        return f"remove {self.path}"


@dataclass(frozen=True)
class DaemonReload(Step):
    def describe(self) -> str:
        return "daemon-reload"


@dataclass(frozen=True)
class ReloadService(Step):
    unit: str = ""

    def describe(self) -> str:
        return f"reload-or-restart {self.unit}"


@dataclass(frozen=True)
class StartAux(Step):
    unit: str = ""

    def describe(self) -> str:
        return f"start {self.unit}"


@dataclass(frozen=True)
class RecreateNetwork(Step):
    network: str = "archy"

    def describe(self) -> str:
        return f"recreate network {self.network}"

    @property
    def unit(self) -> str:
        return f"{self.network}-network.service"


@dataclass(frozen=True)
class RemoveNetwork(Step):
    network: str = "archy"

    def describe(self) -> str:
        return f"remove network {self.network}"


@dataclass(frozen=True)
class RemoveContainer(Step):
    name: str = ""
    storage: bool = False

    def describe(self) -> str:
        return f"rm -f {'--storage ' if self.storage else ''}{self.name}"


@dataclass(frozen=True)
class DropHealthcheck(Step):
    """podman's transient healthcheck timer outlived its container (the state DB was lost): it runs
    `podman healthcheck run <id>` for a container no one knows and leaves a failed unit each time."""
    container_id: str = ""

    def describe(self) -> str:
        return f"drop the orphaned healthcheck timer of container {self.container_id[:12]}"


@dataclass(frozen=True)
class ResetIpam(Step):
    """netavark's IPAM DB outlived podman's state DB: the fixed IPs of the lost containers stay
    allocated ("requested ip address ... is already allocated to container ID ...")."""
    path: str = ""

    def describe(self) -> str:
        return f"remove stale IPAM allocations {self.path}"


@dataclass(frozen=True)
class StopUnit(Step):
    unit: str = ""
    imperative: bool = False      # a `podman run` container, not a unit (broken variants)

    def describe(self) -> str:
        return f"stop {self.unit}"


@dataclass(frozen=True)
class RestartUnit(Step):
    unit: str = ""
    reason: str = ""

    def describe(self) -> str:
        return f"restart {self.unit} ({self.reason})"


@dataclass(frozen=True)
class StartUnit(Step):
    unit: str = ""
    after_failure: bool = False   # counts toward crash-loop backoff
    spec_hash: str = ""
    imperative: bool = False

    def describe(self) -> str:
        return f"start {self.unit}" + (" (after failure)" if self.after_failure else "")


@dataclass(frozen=True)
class ResetFailed(Step):
    unit: str = ""

    def describe(self) -> str:
        return f"reset-failed {self.unit}"


@dataclass(frozen=True)
class Wait(Step):
    reason: str = ""

    def describe(self) -> str:
        return f"wait {self.app}: {self.reason}" if self.app else f"wait: {self.reason}"


def spec_hash(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()[:16]
