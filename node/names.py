"""Every name on the node, in one place: units, containers, paths, snippets, the daemon, the RPC.

`Names` is what a platform calls things; `REFERENCE` is the bundled reference node (the reference
reconciler owns the same names on its side, in reconciler/). Callers take names from an instance
(`node.names`, `target.names`, or passed in), never from literals, so another platform's names can
be loaded as a second instance. An app id may be "*": the method then returns the shell glob
(`REFERENCE.unit("*")` is `archy-*.service`).

`HARNESS` holds the harness's own marks: scratch dirs and transient units it creates on a node,
and the project name its local cache and run dirs carry. They are the harness's, not the platform's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


def _per_app(template: str, doc: str) -> Callable[["Names", str], str]:
    """A method app -> name, filled from the instance's fields, {app} and {container}."""
    def name(self: Names, app: str) -> str:
        return template.format(**self.__dict__, app=app, container=self.container(app))
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
    quadlet_dir: str = "/etc/containers/systemd"
    nginx_dir: str = "/etc/nginx/archy.d"
    torrc_dir: str = "/etc/tor/torrc.d"
    tor_dir: str = "/var/lib/tor"
    tor_unit: str = "tor@default.service"
    network: str = "archy"                         # the apps' podman network
    app_label: str = "io.archipelago.app"          # every container carries <label>=<app id>
    api: str = "http://127.0.0.1:5678"             # the daemon's HTTP API, called on the node itself

    # -- an app ------------------------------------------------------------------------
    def container(self, app: str) -> str:
        """Companion ids already carry the prefix (archy-bitcoin-ui)."""
        return app if app.startswith(self.prefix) else self.prefix + app

    # the app's other names, as templates over the fields, {app} and {container}
    unit = _per_app("{container}.service", "The systemd unit Quadlet generates from the .container file.")
    quadlet = _per_app("{quadlet_dir}/{container}.container", "The app's Quadlet file.")
    data_dir = _per_app("{state_dir}/apps/{app}", "Bind-mounted at /data; kept by an uninstall without purge.")
    config_dir = _per_app("{state_dir}/config/{app}", "Derived config (bitcoin.conf, lnd.conf, integrations.json), "
                                                       "mounted read-only at /config.")
    nginx_snippet = _per_app("{nginx_dir}/{app}.conf", "The app's HTTPS route (/apps/<id>/ on 443).")
    tor_snippet = _per_app("{torrc_dir}/{container}.conf", "The torrc fragment of the app's hidden service.")
    hs_dir = _per_app("{tor_dir}/{container}", "The hidden service's dir (hostname, keys).")
    label = _per_app("{app_label}={app}", "The label every container of the app carries (podman --filter form).")

    # -- reading names back ------------------------------------------------------------
    def is_app(self, name: str) -> bool:
        """A unit, container or file name of an app (its own or a companion's)."""
        return name.startswith(self.prefix)

    def is_platform(self, name: str) -> bool:
        """An app's unit/container, or the daemon's unit or syslog identifier."""
        return self.is_app(name) or name in (self.daemon_unit, self.daemon)

    def app_of(self, name: str, known: set[str] | frozenset[str] = frozenset()) -> str:
        """archy-lnd.container / archy-lnd.service / archy-lnd -> lnd; an id in `known` (a companion,
        which carries the prefix in its id) is kept as it is."""
        base = name.removesuffix(".container").removesuffix(".service")
        if base in known:
            return base
        return base.removeprefix(self.prefix)

    # -- the daemon ------------------------------------------------------------------------
    daemon_unit = property(lambda self: f"{self.daemon}.service")
    settings = property(lambda self: f"{self.etc_dir}/reconciler.json")
    catalog = property(lambda self: f"{self.etc_dir}/catalog.json")
    desired_state = property(lambda self: f"{self.state_dir}/desired.json")
    backoff_state = property(lambda self: f"{self.state_dir}/backoff.json")
    secrets_dir = property(lambda self: f"{self.state_dir}/secrets")
    rpc_url = property(lambda self: f"{self.api}/rpc/v1")
    health_url = property(lambda self: f"{self.api}/health")


REFERENCE = Names()


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
    def run_root(self) -> str:
        """The default local dir of running VMs (ARCHY_RUN overrides it)."""
        return f"/tmp/{self.project}-runs"


HARNESS = Harness()
