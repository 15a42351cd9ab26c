"""The variables a goss file is rendered with: every name on the node, from the platform's Names.

goss renders each goss/*.yaml as a Go template (`goss --vars VARS -g FILE validate`), so the files
say `{{ .Vars.app.unit }}` and never a unit, container, path or port by hand. Pure: the same
Names, app and companions always give the same vars (tests/unit/test_goss_vars.py).

    app          the app the file checks: id, unit (and unit_q), container (and container_q,
                 shell-quoted), quadlet, ports [{name, port, addr}], status_url, data_dir, config_dir,
                 nginx_snippet, proxy_url, tor_snippet, hs_dir
    companions   its UI companions, each with id, unit, unit_q, container, container_q, quadlet,
                 ports, status_url
    podman       the platform's podman as root runs it (goss runs as root): in a user scope,
                 through the login (node.cmd.root_podman), never root's own rootful podman
    systemctl    the apps' systemctl as root runs it (node.cmd.root_systemctl): goss's `service:`
                 only asks the system scope, so the files check units with `command:` and this
    daemon_unit_re  the platform daemon's unit as a regex (the cgroup check must not find it)
"""
from __future__ import annotations

import re
import shlex
from typing import Sequence

from matrix.model import App
from node.names import Names

LOOPBACK = "127.0.0.1"
NGINX_HOST = f"https://{LOOPBACK}"    # the node's HTTPS server, from the node itself


def _member(names: Names, a: App) -> dict:
    """What the app and a companion share: unit, container, Quadlet file, ports, status."""
    container = names.container(a.id)
    unit = names.unit(a.id)
    return {"id": a.id, "unit": unit, "unit_q": shlex.quote(unit), "container": container,
            "container_q": shlex.quote(container), "quadlet": names.quadlet(a.id),
            "ports": [{"name": p.name, "port": p.port, "addr": f"tcp://{LOOPBACK}:{p.port}"} for p in a.ports], "status_url": a.status_url}


def app_vars(names: Names, app: App, companions: Sequence[App], *, podman: str = "podman",
             systemctl: str = "systemctl") -> dict:
    """The vars for `app`'s goss file on a node whose platform calls things `names`; `podman` and
    `systemctl` are spelled as root runs them (node.cmd.root_podman, node.cmd.root_systemctl)."""
    main = _member(names, app) | {
        "data_dir": names.data_dir(app.id), "config_dir": names.config_dir(app.id),
        "nginx_snippet": names.nginx_snippet(app.id), "proxy_url": NGINX_HOST + app.proxy_path,
        "tor_snippet": names.tor_snippet(app.id), "hs_dir": names.hs_dir(app.id)}
    return {"app": main, "companions": [_member(names, c) for c in companions],
            "podman": podman, "systemctl": systemctl, "daemon_unit_re": re.escape(names.daemon_unit)}
