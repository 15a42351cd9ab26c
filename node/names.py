"""Every name on the node, in one place: units, containers, paths, snippets, the daemon, the RPC.

`Names` is what a platform calls things. `REFERENCE` is the bundled reference node as
platforms/reference.yaml describes it (rootless: containers named by app id, the login's user
units); `ROOTFUL` is platforms/reference-rootful.yaml (the dataclass defaults: `archy-<app>`
containers, system units), which is also what the reference reconciler does without a "node"
block in its settings. Callers take names from an instance (`node.names`, `target.names`, or passed
in), never from literals, so another platform's names can be loaded as a second instance.

An app id may be "*": the method then returns the shell glob (`ROOTFUL.unit("*")` is
`archy-*.service`). When containers are named by app id alone, "*" would match every unit of the
scope: `with_apps(ids)` tells the names which app ids exist (node/platform.py does it from the
matrix), and `globs`, `is_app` and the journal's attribution use them.

`HARNESS` holds the harness's own marks: scratch dirs and transient units it creates on a node,
and the project name its local cache and run dirs carry. They are the harness's, not the platform's.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, replace
from typing import Callable


def _per_app(field: str, doc: str) -> Callable[["Names", str], str]:
    """A method app -> name: the template in `field`, filled from the instance's fields, {app} and
    {container} (a platform profile sets the templates; node/platform.py)."""
    def name(self: Names, app: str) -> str:
        return self.fill(getattr(self, field), app)
    name.__doc__ = doc
    return name


@dataclass(frozen=True)
class Names:
    prefix: str = "archy-"                         # an app's unit and container: prefix + app id
    daemon: str = "archipelago"                    # the platform daemon's unit stem and syslog identifier
    daemon_slices: tuple[str, ...] = ("archipelago.slice", "archipelago-apps.slice")
    etc_dir: str = "/etc/archipelago"              # reconciler.json, catalog.json
    code_dir: str = "/opt/archipelago/reconciler"  # the daemon's code
    state_dir: str = "/var/lib/archipelago"        # desired/backoff state, secrets, app data, derived config
    secrets_dir: str = "/var/lib/archipelago/secrets"
    quadlet_dir: str = "/etc/containers/systemd"
    nginx_dir: str = "/etc/nginx/archy.d"
    torrc_dir: str = "/etc/tor/torrc.d"
    tor_dir: str = "/var/lib/tor"
    tor_unit: str = "tor@default.service"
    network: str = "archy"                         # the apps' podman network
    app_label: str = "io.archipelago.app"          # every container carries <label>=<app id>
    api: str = "http://127.0.0.1:5678"             # the daemon's HTTP API, called on the node itself
    rpc_path: str = "/rpc/v1"
    health_path: str = "/health"
    # per-app templates over the fields above, {app} and {container}
    container_template: str = "{prefix}{app}"      # an id that already starts with prefix is kept
    unit_template: str = "{container}.service"
    quadlet_template: str = "{quadlet_dir}/{container}.container"
    data_template: str = "{state_dir}/apps/{app}"
    config_template: str = "{state_dir}/config/{app}"
    nginx_template: str = "{nginx_dir}/{app}.conf"
    tor_snippet_template: str = "{torrc_dir}/{container}.conf"
    hs_template: str = "{tor_dir}/{container}"
    containers: tuple[tuple[str, str], ...] = ()   # (app id, container) where the template does not fit
    apps: tuple[str, ...] = ()                     # the app and companion ids there are (with_apps)
    # (app id, file names in its config_dir) the platform derives from the secrets and the installed
    # apps and must keep so (seed 004 FM2: bitcoin.conf, "the same pattern" for lnd.conf)
    configs: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # credentials the apps' own protocols need (read on the node, never copied off it)
    bitcoin_rpc_user: str = "archipelago"
    bitcoin_rpc_password_file: str = "{secrets_dir}/bitcoin-rpc-password"   # the password, one line
    lnd_macaroon_file: str = "{secrets_dir}/lnd-macaroon"   # admin macaroon: binary, or hex text

    def fill(self, template: str, app: str = "") -> str:
        fields = {k: v for k, v in self.__dict__.items() if isinstance(v, str)}
        return template.format(**fields, app=app, container=self.container(app) if app else "")

    # -- an app ------------------------------------------------------------------------
    def container(self, app: str) -> str:
        """Companion ids already carry the prefix (archy-bitcoin-ui)."""
        if app in dict(self.containers):
            return dict(self.containers)[app]
        if app.startswith(self.prefix):
            return app
        return self.container_template.format(prefix=self.prefix, app=app)

    unit = _per_app("unit_template", "The systemd unit Quadlet generates from the .container file.")
    quadlet = _per_app("quadlet_template", "The app's Quadlet file.")
    data_dir = _per_app("data_template", "Bind-mounted at /data; kept by an uninstall without purge.")
    config_dir = _per_app("config_template", "Derived config (bitcoin.conf, lnd.conf, integrations.json), "
                                             "mounted read-only at /config.")
    def derived_configs(self, app: str) -> tuple[str, ...]:
        """The paths of the app's derived config files (none when the profile lists none)."""
        return tuple(f"{self.config_dir(app)}/{f}" for f in dict(self.configs).get(app, ()))

    nginx_snippet = _per_app("nginx_template", "The app's HTTPS route (/apps/<id>/ on 443).")
    tor_snippet = _per_app("tor_snippet_template", "The torrc fragment of the app's hidden service.")
    hs_dir = _per_app("hs_template", "The hidden service's dir (hostname, keys).")

    def with_apps(self, ids) -> "Names":
        """These names, knowing which app (and companion) ids exist: with a container template
        that is the app id alone, only they tell an app's unit from any other unit; pure."""
        return replace(self, apps=tuple(sorted(set(ids))))

    def globs(self, per_app: str = "container") -> tuple[str, ...]:
        """Shell globs that together match `per_app` (container, unit, quadlet, tor_snippet,
        hs_dir, ...) of every app: ("archy-*.service",) for `archy-<app>` containers; with
        containers named by app id, the prefix's glob (companions) and each known app's own name.
        A name an earlier glob already matches is left out; pure."""
        name = getattr(self, per_app)
        if self.container("*") != "*":
            ids = ["*", *(a for a, _ in self.containers)]
        else:
            ids = [f"{self.prefix}*", *(a for a in self.apps if not a.startswith(self.prefix)),
                   *(a for a, _ in self.containers)]
        out: list[str] = []
        for value in (name(a) for a in ids):
            if not any(fnmatch.fnmatchcase(value, g) for g in out):
                out.append(value)
        return tuple(out)

    def unit_globs(self) -> tuple[str, ...]:
        """Globs of every unit named after an app's container, of any type (its .service, a
        slice of its own): `archy-*`, or `lnd.*` where containers are named by app id; pure."""
        return tuple(g if "*" in g else f"{g}.*" for g in self.globs("container"))

    def label(self, app: str) -> str:
        """The label every container of the app carries (podman --filter form)."""
        return f"{self.app_label}={app}"

    @property
    def bitcoin_rpc_password(self) -> str:
        return self.fill(self.bitcoin_rpc_password_file)

    @property
    def lnd_macaroon(self) -> str:
        return self.fill(self.lnd_macaroon_file, "lnd")

    def resolve(self, text: str) -> str:
        """Data that names things on the node by reference (experiment arguments):
        "{config_dir:bitcoin-knots}/bitcoin.conf", "{nginx_snippet:lnd}", "{state_dir}" become
        this platform's paths. ValueError (one line) for a name this class does not have."""
        def one(m: re.Match) -> str:
            name, app = m.group(1), m.group(2)
            value = getattr(self, name, None) if not name.startswith("_") else None
            if value is None or callable(value) != bool(app):
                raise ValueError(f"{text!r}: no name {m.group(0)} (e.g. {{state_dir}}, {{config_dir:APP}})")
            return value(app) if app else str(value)
        return re.sub(r"\{([a-z_]+)(?::([a-z0-9-]+))?\}", one, text)

    # -- what the harness may damage -----------------------------------------------------
    @property
    def owned_roots(self) -> tuple[str, ...]:
        """The platform's own dirs: the only places a chaos action may garble or delete a file."""
        return (self.state_dir, self.etc_dir, self.quadlet_dir, self.nginx_dir, self.torrc_dir, self.tor_dir)

    def owned(self, path: str) -> bool:
        """`path` is absolute, has no `..`, and lies strictly inside one of `owned_roots`."""
        if not path.startswith("/") or ".." in path.split("/"):
            return False
        return any(path.startswith(root.rstrip("/") + "/") and len(path) > len(root.rstrip("/")) + 1
                   for root in self.owned_roots)

    # -- reading names back ------------------------------------------------------------
    def is_app(self, name: str) -> bool:
        """A unit, container or file name of an app (its own or a companion's): the prefix, a
        per-app container name, or the container of an app id `with_apps` gave."""
        base = name.removesuffix(".container").removesuffix(".service")
        if base.startswith(self.prefix) or base in dict(self.containers).values():
            return True
        return bool(base) and base in {self.container(a) for a in self.apps}

    def is_platform(self, name: str) -> bool:
        """An app's unit/container, or the daemon's unit or syslog identifier."""
        return self.is_app(name) or name in (self.daemon_unit, self.daemon)

    def app_of(self, name: str, known: set[str] | frozenset[str] = frozenset()) -> str:
        """archy-lnd.container / archy-lnd.service / archy-lnd -> lnd; an id in `known` (a companion,
        which carries the prefix in its id) is kept as it is."""
        base = name.removesuffix(".container").removesuffix(".service")
        if base in known:
            return base
        by_container = {c: a for a, c in self.containers}
        return by_container.get(base) or base.removeprefix(self.prefix)

    # -- the daemon ------------------------------------------------------------------------
    daemon_unit = property(lambda self: f"{self.daemon}.service")
    settings = property(lambda self: f"{self.etc_dir}/reconciler.json")
    catalog = property(lambda self: f"{self.etc_dir}/catalog.json")
    desired_state = property(lambda self: f"{self.state_dir}/desired.json")
    backoff_state = property(lambda self: f"{self.state_dir}/backoff.json")
    rpc_url = property(lambda self: f"{self.api}{self.rpc_path}")
    health_url = property(lambda self: f"{self.api}{self.health_path}")


# The reference reconciler's derived files (reconciler/desired.py), on either scope.
REFERENCE_CONFIGS = (("bitcoin-knots", ("bitcoin.conf",)), ("bitcoin-core", ("bitcoin.conf",)),
                     ("lnd", ("lnd.conf", "integrations.json")), ("electrumx", ("electrumx.env", "integrations.json")),
                     ("btcpay", ("integrations.json",)), ("mempool", ("integrations.json",)),
                     ("fedimint", ("integrations.json",)))
ROOTFUL = Names(configs=REFERENCE_CONFIGS)
REFERENCE = Names(configs=REFERENCE_CONFIGS,
    container_template="{app}", containers=(("btcpay", "btcpay-server"),), network="archipelago",
    daemon_slices=("archipelago.slice", "archipelago-apps.slice"),
    quadlet_dir="/home/archipelago/.config/containers/systemd",
    data_template="{state_dir}/{app}/data", config_template="{state_dir}/{app}/config",
    nginx_dir="/etc/nginx/archipelago.d")


@dataclass(frozen=True)
class Harness:
    tag: str = "archy"
    project: str = "archy-lifecycle"

    def mark(self, what: str) -> str:
        """A name the harness gives something it creates: transient units, files, the VM's hostname."""
        return f"{self.tag}-{what}"

    def scratch(self, what: str) -> str:
        """A scratch dir on the node (tmpfs: gone at the next boot)."""
        return f"/run/{self.mark(what)}"

    @property
    def login(self) -> str:
        """The non-root login of the embedded VM (passwordless sudo): the rehearsal of the real-node
        path addresses the VM as ssh://<login>@127.0.0.1:<port>, as a user addresses a lab node."""
        return "archipelago"          # the seeds' login (platforms/archipelago.yaml), also the reference's

    @property
    def run_root(self) -> str:
        """The default local dir of running VMs (ARCHY_RUN overrides it)."""
        return f"/tmp/{self.project}-runs"


HARNESS = Harness()
