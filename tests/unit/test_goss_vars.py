"""The vars goss files are rendered with (harness/goss_vars.py), and the goss files that use them."""
import re
from pathlib import Path

import pytest

from harness.goss import GOSS_DIR
from harness.goss_session import OURS, parse_probe
from harness.goss_binary import GossUnavailable
from harness.goss_vars import app_vars
from matrix.model import load
from node import platform
from node.names import ROOTFUL, Names

M = load()
FILES = sorted(GOSS_DIR.glob("*.yaml"))
# the seeds' node: main containers named by app id, rootless Quadlet, data under <state>/<app>/data
ROOTLESS = Names(container_template="{app}", quadlet_dir="/home/archipelago/.config/containers/systemd",
                 data_template="{state_dir}/{app}/data")


def lnd_vars(names: Names, **kw) -> dict:
    app = M.app("lnd")
    return app_vars(names, app, [M.app(c) for c in app.companions], **kw)


def test_rootful_reference_names():
    v = lnd_vars(ROOTFUL)
    assert {k: v["app"][k] for k in ("id", "unit", "unit_q", "container", "container_q", "quadlet", "data_dir",
                                     "config_dir", "nginx_snippet", "tor_snippet", "hs_dir", "proxy_url",
                                     "status_url")} == {
        "id": "lnd", "unit": "archy-lnd.service", "unit_q": "archy-lnd.service", "container": "archy-lnd",
        "container_q": "archy-lnd",
        "quadlet": "/etc/containers/systemd/archy-lnd.container", "data_dir": "/var/lib/archipelago/apps/lnd",
        "config_dir": "/var/lib/archipelago/config/lnd", "nginx_snippet": "/etc/nginx/archy.d/lnd.conf",
        "tor_snippet": "/etc/tor/torrc.d/archy-lnd.conf", "hs_dir": "/var/lib/tor/archy-lnd",
        "proxy_url": "https://127.0.0.1/apps/lnd/", "status_url": "http://127.0.0.1:9080/status"}
    assert [(p["name"], p["port"], p["addr"]) for p in v["app"]["ports"]] == [
        ("rest", 8080, "tcp://127.0.0.1:8080"), ("p2p", 9735, "tcp://127.0.0.1:9735"),
        ("grpc", 10009, "tcp://127.0.0.1:10009"), ("status", 9080, "tcp://127.0.0.1:9080")]
    [ui] = v["companions"]
    assert (ui["unit"], ui["container"], ui["quadlet"], ui["ports"]) == (
        "archy-lnd-ui.service", "archy-lnd-ui", "/etc/containers/systemd/archy-lnd-ui.container",
        [{"name": "ui", "port": 8081, "addr": "tcp://127.0.0.1:8081"}])
    assert (v["podman"], v["systemctl"], v["daemon_unit_re"]) == ("podman", "systemctl", r"archipelago\.service")


def test_goss_runs_as_root_and_reaches_the_apps_through_the_login():
    """The rootless reference: goss (root) asks the login's user manager and rootless podman."""
    p = platform.load("reference")
    c = p.commands(p.login)
    v = lnd_vars(p.names, podman=c.root_podman, systemctl=c.root_systemctl)
    runuser = "runuser -u archipelago -- env XDG_RUNTIME_DIR=/run/user/$(id -u archipelago) "
    assert (v["podman"], v["systemctl"]) == (f"{runuser}podman", f"{runuser}systemctl --user")
    assert (v["app"]["unit"], v["app"]["container"], v["companions"][0]["unit"]) == \
           ("lnd.service", "lnd", "archy-lnd-ui.service")
    assert v["app"]["data_dir"] == "/var/lib/archipelago/lnd/data"
    rootful = platform.load("reference-rootful")
    c = rootful.commands(rootful.login)
    assert (c.root_podman, c.root_systemctl) == ("podman", "systemctl")


def test_other_templates_change_the_vars():
    ref, other = lnd_vars(ROOTFUL), lnd_vars(ROOTLESS, podman="sudo -n podman")
    assert (other["app"]["unit"], other["app"]["container"]) == ("lnd.service", "lnd")
    assert other["app"]["quadlet"] == "/home/archipelago/.config/containers/systemd/lnd.container"
    assert other["app"]["data_dir"] == "/var/lib/archipelago/lnd/data"
    assert other["app"]["tor_snippet"] == "/etc/tor/torrc.d/lnd.conf" and other["app"]["hs_dir"] == "/var/lib/tor/lnd"
    assert other["companions"][0]["quadlet"] == "/home/archipelago/.config/containers/systemd/archy-lnd-ui.container"
    assert other["podman"] == "sudo -n podman"
    changed = {k for k in ref["app"] if ref["app"][k] != other["app"][k]}
    assert changed == {"unit", "unit_q", "container", "container_q", "quadlet", "data_dir", "tor_snippet", "hs_dir"}


def test_a_container_name_reaches_the_shell_quoted():
    v = lnd_vars(Names(containers=(("lnd", "my lnd"),)))
    assert (v["app"]["container"], v["app"]["container_q"]) == ("my lnd", "'my lnd'")
    assert (v["app"]["unit"], v["app"]["unit_q"]) == ("my lnd.service", "'my lnd.service'")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_goss_files_check_units_in_the_apps_scope(path: Path):
    """goss's `service:` asks the system scope only (goss 0.4.9 runs a bare systemctl): every unit
    is checked by a command through .Vars.systemctl, the app's and each companion's."""
    text = path.read_text()
    assert not re.search(r"^service:", text, re.M), f"{path.name}: service: checks the system scope only"
    assert 'exec: "{{ .Vars.systemctl }} is-active {{ .Vars.app.unit_q }}"' in text
    app = next(a for a in M.apps.values() if a.goss == path.name)
    assert ('exec: "{{ $.Vars.systemctl }} is-active {{ .unit_q }}"' in text) == bool(app.companions)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_goss_files_name_nothing_by_hand(path: Path):
    """Units, containers, paths and ports come from the vars; a file names none of them itself."""
    text = path.read_text()
    by_hand = [m.group(0) for m in re.finditer(
        r"archy-|(?<![\w.}])/(?:etc|var|opt|run|home|srv)/|127\.0\.0\.1|tcp:\d|:\d{2,5}/|\.service\b", text)]
    assert by_hand == [], f"{path.name} names {by_hand} by hand"


def _references(text: str) -> tuple[set[str], set[str], set[str]]:
    """(.Vars.app.X, .Vars.X and $.Vars.X, bare .X inside a range) named in a goss template."""
    actions = re.findall(r"\{\{-?(.*?)-?\}\}", text)
    app = {m for a in actions for m in re.findall(r"\.Vars\.app\.(\w+)", a)}
    top = {m for a in actions for m in re.findall(r"\.Vars\.(\w+)", a)}
    bare = {m for a in actions for m in re.findall(r"(?<![\w$])\.(\w+)", a)} - {"Vars"}
    return app, top, bare


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_goss_files_name_only_vars_that_exist(path: Path):
    """A misspelt var fails here, before goss on a node says `map has no entry for key`."""
    app = next(a for a in M.apps.values() if a.goss == path.name)
    v = app_vars(ROOTFUL, app, [M.app(c) for c in app.companions])
    used_app, used_top, bare = _references(path.read_text())
    assert used_app <= set(v["app"]), f"unknown .Vars.app fields: {used_app - set(v['app'])}"
    assert used_top <= set(v), f"unknown .Vars fields: {used_top - set(v)}"
    in_range = set(v["app"]) | {"name", "port", "addr"} | ({k for c in v["companions"] for k in c})
    assert bare - set(v["app"]) - set(v) <= in_range, f"unknown fields: {bare - in_range}"
    if app.companions:
        assert "range .Vars.companions" in path.read_text(), f"{path.name} does not check {app.companions}"


def test_every_goss_file_belongs_to_an_app():
    assert {p.name for p in FILES} == {a.goss for a in M.apps.values() if a.goss}


def test_probe_output():
    out = "dir=/run/user/1000/archy-goss.AbC12345\ngoss=\nmachine=x86_64\n"
    assert parse_probe(out) == {"dir": "/run/user/1000/archy-goss.AbC12345", "goss": "", "machine": "x86_64"}
    assert parse_probe(out.replace("goss=", "goss=/usr/bin/goss"))["goss"] == "/usr/bin/goss"
    assert OURS.match("/tmp/archy-goss.ZZZZ9999") and not OURS.match("/tmp") and not OURS.match("/tmp/archy-goss.x")
    with pytest.raises(GossUnavailable, match="not a dir of ours"):
        parse_probe("dir=/\ngoss=\n")
