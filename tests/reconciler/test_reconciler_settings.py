"""reconciler.json's optional "node" block: parsed into scope.Node with one-line errors; without it
the reconciler names and places everything exactly as before."""
from __future__ import annotations

import json
import re

import pytest

from reconciler import catalog as cat
from reconciler import daemon
from reconciler.daemon import SettingsError, load_settings
from reconciler.scope import SYSTEM, Node
from reconciler.store import Paths
from recfake import USER_NODE, catalog_data

# the contract's block (scratch/rootless-contract.md), uid filled in by provisioning
BLOCK = {"scope": "user", "user": "archipelago", "uid": 1000,
         "quadlet_dir": "/home/archipelago/.config/containers/systemd", "prefix": "archy-", "container": "{app}",
         "names": {"btcpay": "btcpay-server"}, "data": "/var/lib/archipelago/{app}/data",
         "config": "/var/lib/archipelago/{app}/config", "nginx_dir": "/etc/nginx/archipelago.d",
         "torrc_dir": "/etc/tor/torrc.d", "tor_dir": "/var/lib/tor", "network": "archipelago",
         "subnet": "10.89.0.0/24", "gateway": "10.89.0.1"}


def settings_with(tmp_path, **data):
    path = tmp_path / "reconciler.json"
    path.write_text(json.dumps(data))
    return load_settings(str(path))


def test_without_a_node_block_the_names_and_paths_are_todays(tmp_path):
    s = settings_with(tmp_path, tick_interval=5, variant=None)
    assert s.node == SYSTEM and not s.node.user_scope
    p = Paths("/", s.node)
    assert (p.quadlet_dir, p.network_file, p.unit_file("archy-lnd"), p.data_dir("lnd"), p.config_dir("lnd"),
            p.nginx_file("lnd"), p.tor_file("archy-lnd"), p.hs_dir("archy-lnd"), p.ipam_db, p.graphroot) == (
        "/etc/containers/systemd", "/etc/containers/systemd/archy.network",
        "/etc/containers/systemd/archy-lnd.container", "/var/lib/archipelago/apps/lnd",
        "/var/lib/archipelago/config/lnd", "/etc/nginx/archy.d/lnd.conf", "/etc/tor/torrc.d/archy-lnd.conf",
        "/var/lib/tor/archy-lnd", "/run/containers/networks/ipam.db", "/var/lib/containers/storage")
    assert p.disk_paths == {"/var/lib/archipelago": "/var/lib/archipelago", "/var/lib/containers": "/var/lib/containers"}
    assert SYSTEM.network_unit == "archy-network.service" and SYSTEM.systemctl("start", "x") == ["systemctl", "start", "x"]
    names = {a: s.container for a, s in cat.parse(catalog_data()).apps.items()}
    assert names["lnd"] == "archy-lnd" and names["archy-lnd-ui"] == "archy-lnd-ui" and names["btcpay"] == "archy-btcpay"


def test_the_contracts_block(tmp_path):
    s = settings_with(tmp_path, tick_interval=5, node=BLOCK)
    node = s.node
    assert node.user_scope and node.user == "archipelago" and node.uid == 1000
    assert node.systemctl("start", "lnd.service") == ["systemctl", "--user", "start", "lnd.service"]
    assert node.network_unit == "archipelago-network.service"
    p = Paths("/", node)
    assert (p.quadlet_dir, p.network_file, p.unit_file("lnd"), p.data_dir("lnd"), p.config_dir("lnd"),
            p.nginx_file("lnd"), p.tor_file("lnd"), p.hs_dir("lnd"), p.runtime_dir, p.ipam_db) == (
        "/home/archipelago/.config/containers/systemd", "/home/archipelago/.config/containers/systemd/archipelago.network",
        "/home/archipelago/.config/containers/systemd/lnd.container", "/var/lib/archipelago/lnd/data",
        "/var/lib/archipelago/lnd/config", "/etc/nginx/archipelago.d/lnd.conf", "/etc/tor/torrc.d/lnd.conf",
        "/var/lib/tor/lnd", "/run/user/1000", "/run/user/1000/containers/networks/ipam.db")
    catalog = cat.parse(catalog_data(), node=node)
    assert {a: (s.container, s.unit) for a, s in catalog.apps.items() if a in ("lnd", "btcpay", "archy-lnd-ui")} == {
        "lnd": ("lnd", "lnd.service"), "btcpay": ("btcpay-server", "btcpay-server.service"),
        "archy-lnd-ui": ("archy-lnd-ui", "archy-lnd-ui.service")}


def test_the_fakes_user_node_is_the_contracts_block():
    assert daemon.sc.parse(BLOCK) == daemon.sc.Node(**{**USER_NODE.__dict__, "home": None})


def test_rootless_storage_lives_in_the_users_home(tmp_path, monkeypatch):
    class Entry:
        pw_dir = "/srv/archipelago"
    monkeypatch.setattr(daemon.pwd, "getpwnam", lambda user: Entry)
    node = settings_with(tmp_path, node=BLOCK).node
    assert Paths("/", node).graphroot == "/srv/archipelago/.local/share/containers/storage"
    assert Paths("/", node).disk_paths == {"/var/lib/archipelago": "/var/lib/archipelago",
                                           "/srv/archipelago/.local/share/containers/storage":
                                               "/srv/archipelago/.local/share/containers/storage"}
    assert settings_with(tmp_path, node={**BLOCK, "home": "/home/x"}).node.home == "/home/x"


def test_a_system_block_with_todays_values_changes_nothing(tmp_path):
    assert settings_with(tmp_path, node={"scope": "system"}).node == SYSTEM


def test_names_that_would_clash_are_a_catalog_error():
    node = Node(scope="user", user="archipelago", quadlet_dir="/q", container="{app}", names=(("lnd", "mempool"),))
    with pytest.raises(cat.CatalogError, match="would both be container 'mempool'"):
        cat.parse(catalog_data(), node=node)


@pytest.mark.parametrize("change,message", [
    ("[]", "node: expected an object"),
    ({"color": 1}, "node: unknown key 'color'"),
    ({"scope": "global"}, "node.scope: must be 'user' or 'system', got 'global'"),
    ({"user": None}, "node.user: must be a user name"),
    ({"quadlet_dir": None}, "node.quadlet_dir: must be an absolute"),
    ({"user": "root"}, "node.user: user scope runs rootless podman as a user other than root"),
    ({"uid": 0}, "node.user: user scope runs rootless podman as a user other than root"),
    ({"uid": True}, "node.uid: must be a numeric uid, got True"),
    ({"uid": "1000"}, "node.uid: must be a numeric uid"),
    ({"quadlet_dir": "home/archipelago"}, "node.quadlet_dir: must be an absolute, normalised path"),
    ({"nginx_dir": "/etc/nginx/../x"}, "node.nginx_dir: must be an absolute, normalised path"),
    ({"tor_dir": "/var/lib/tor dirs"}, "node.tor_dir: must be an absolute"),
    ({"torrc_dir": "/"}, "node.torrc_dir: must be an absolute"),
    ({"home": "/home/a:b"}, "node.home: must be an absolute"),
    ({"prefix": "Archy-"}, "node.prefix: must be lowercase letters"),
    ({"container": "{name}"}, "node.container: bad template '{name}': the fields are {app}, {prefix}"),
    ({"container": "{app!r}"}, "node.container: bad template"),
    ({"container": "{app"}, "node.container: bad template '{app'"),
    ({"container": "web"}, "node.container: template 'web' must contain {app}"),
    ({"container": "x/{app}"}, "node.container: 'x/{app}' makes the invalid container name 'x/bitcoin-knots'"),
    ({"names": ["btcpay"]}, "node.names: must map app ids to container names"),
    ({"names": {"BTCPay": "b"}}, "node.names: 'BTCPay' is not an app id"),
    ({"names": {"btcpay": "a b"}}, "node.names.btcpay: must be a container/network name"),
    ({"names": {"btcpay": "x", "lnd": "x"}}, "node.names: two apps share a container name"),
    ({"data": "data/{app}"}, "node.data: 'data/{app}' must fill in to an absolute"),
    ({"data": "/var/lib/archipelago/data"}, "node.data: template '/var/lib/archipelago/data' must contain {app}"),
    ({"config": "/var/lib/archipelago/{app}/data"}, "node.config: must differ from node.data"),
    ({"network": "arch ipelago"}, "node.network: must be a container/network name"),
    ({"subnet": "10.89.0.0/25"}, "node.subnet: must be an IPv4 network of /24 or larger"),
    ({"subnet": "10.89.0.1/24"}, "node.subnet: 10.89.0.1/24 has host bits set"),
    ({"subnet": 24}, "node.subnet: must be an IPv4 network"),
    ({"gateway": "gateway"}, "node.gateway: must be an IPv4 address such as 10.89.0.1, got 'gateway'"),
    ({"gateway": "10.89.7.1"}, "node.gateway: must be one of 10.89.0.0/24's first 9 host addresses"),
    ({"gateway": "10.89.0.10"}, "node.gateway: must be one of"),
])
def test_a_bad_block_is_a_one_line_settings_error(tmp_path, change, message):
    block = json.loads(change) if isinstance(change, str) else {**BLOCK, **change}
    with pytest.raises(SettingsError, match=re.escape(message)) as e:
        settings_with(tmp_path, node=block)
    assert "\n" not in str(e.value) and str(e.value).startswith(str(tmp_path / "reconciler.json") + ": ")


@pytest.mark.parametrize("block,message", [
    ({"scope": "user", "user": "archipelago"}, "node.quadlet_dir: required in user scope"),
    ({"scope": "user", "quadlet_dir": "/q"}, "node.user: required in user scope"),
    ({"user": "root"}, "node.scope: must be 'user' or 'system', got None"),
    ({"scope": "system", "user": "archipelago"}, "node.user: system scope runs as root"),
    ({"scope": "system", "uid": 1000}, "node.user: system scope runs as root"),
])
def test_scope_and_user_go_together(tmp_path, block, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        settings_with(tmp_path, node=block)


@pytest.mark.parametrize("data,message", [
    ([], "expected a JSON object"),
    ({"listen_port": "5678"}, "listen_port must be a TCP port number"),
    ({"listen_port": 70000}, "listen_port must be a TCP port number"),
    ({"tick_interval": True}, "tick_interval must be a number"),
])
def test_other_bad_settings(tmp_path, data, message):
    path = tmp_path / "reconciler.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(str(path))


def _profiles():
    from node import platform
    return [n for n in platform.known() if n.startswith("reference") or n == "archipelago"]


@pytest.mark.parametrize("profile", _profiles())
def test_the_node_block_names_everything_as_the_platform_profile_does(profile):
    """The block provisioning writes (node.platform.reconciler_node_block) makes the reconciler call every
    unit, container and file what the profile says; a system-scope profile without it, today's names."""
    from node import platform
    p = platform.load(profile)
    make_block = getattr(platform, "reconciler_node_block", None)
    if make_block is not None:
        node = daemon.sc.parse({**make_block(p), **({"uid": 1000} if p.scope == "user" else {})})
    elif p.scope == "system":
        node = SYSTEM
    else:
        pytest.skip("node.platform.reconciler_node_block (stream B) is not here yet")
    n, paths = p.names, Paths("/", node)
    assert (node.scope, node.network, node.quadlet_dir) == (p.scope, n.network, n.quadlet_dir)
    for app, spec in cat.parse(catalog_data(), node=node).apps.items():
        c = spec.container
        assert (c, spec.unit, paths.unit_file(c), paths.data_dir(app), paths.config_dir(app), paths.nginx_file(app),
                paths.tor_file(c), paths.hs_dir(c)) == (
            n.container(app), n.unit(app), n.quadlet(app), n.data_dir(app), n.config_dir(app), n.nginx_snippet(app),
            n.tor_snippet(app), n.hs_dir(app)), app
