"""provision_user's texts and choices (pure); the VM's golden build runs the I/O."""
from __future__ import annotations

import pytest

from reconciler import provision_user as pu

BLOCK = {"scope": "user", "user": "root", "quadlet_dir": "/home/a/.config/containers/systemd",
         "nginx_dir": "/etc/nginx/archipelago.d", "torrc_dir": "/etc/tor/torrc.d", "gateway": "10.89.0.1"}
NODE = pu.UserNode(user="archipelago", uid=1000, gid=1000, home="/home/archipelago",
                   state_dir="/var/lib/archipelago", snippet_dirs=("/etc/nginx/archipelago.d", "/etc/tor/torrc.d"),
                   quadlet_dir="/home/archipelago/.config/containers/systemd", gateway="10.89.0.1")


@pytest.mark.parametrize("block", [None, {}, {"scope": "system", "user": "root"}])
def test_no_user_node_for_a_rootful_block(block):
    assert pu.user_node(block, "/var/lib/archipelago") is None


def test_user_node_from_the_block():
    node = pu.user_node(BLOCK, "/var/lib/archipelago")       # root: a user every machine has
    assert (node.uid, node.runtime_dir, node.gateway) == (0, "/run/user/0", "10.89.0.1")


def test_a_missing_user_is_a_key_error_provision_reports():
    with pytest.raises(KeyError):
        pu.user_node({**BLOCK, "user": "no-such-user-here"}, "/var/lib/archipelago")


def test_daemon_dropin_runs_it_as_the_user_next_to_its_manager():
    text = pu.daemon_dropin(NODE)
    assert "User=archipelago\nGroup=archipelago\n" in text
    assert "After=user@1000.service" in text and "XDG_RUNTIME_DIR=/run/user/1000" in text
    assert "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus" in text
    assert "%U" not in text


def test_user_manager_allows_bitcoinds_stop_grace():
    assert "TimeoutStopSec=660" in pu.user_manager_dropin()


def test_the_rootless_netns_scope_outlives_the_apps_slice():
    """A prefix drop-in (rootless-netns-.scope.d) ordering every pasta scope before the apps'
    slice, so shutdown stops it after them; the slice is the one the units run in."""
    from reconciler.render import APPS_SLICE
    assert pu.NETNS_SCOPE_DROPIN == "/etc/systemd/user/rootless-netns-.scope.d/archipelago.conf"
    assert pu.APPS_SLICE == APPS_SLICE
    assert f"[Unit]\nBefore={APPS_SLICE}\n" in pu.netns_scope_dropin()


def test_containers_conf_points_host_containers_internal_at_the_gateway():
    assert 'host_containers_internal_ip = "10.89.0.1"' in pu.containers_conf(NODE)


def test_as_user_keeps_the_argv_whole():
    argv = pu.UserNode.as_user(NODE, ["podman", "run", "a b"])
    assert argv[:4] == ["runuser", "-u", "archipelago", "--"] and argv[-3:] == ["podman", "run", "a b"]


@pytest.mark.parametrize("text, ok", [
    ("archipelago:100000:65536\n", True),
    ("other:100000:65536\narchipelago:165536:70000\n", True),
    ("archipelago:100000:1000\n", False),
    ("archipelagox:100000:65536\n", False),
    ("", False),
])
def test_subid_range(text, ok):
    assert pu.subid_ok(text, "archipelago") is ok


def test_snippet_dirs_are_root_owned_group_writable():
    owned = {p: (uid, gid, mode) for p, uid, gid, mode in pu.dirs_to_own(NODE)}
    assert owned["/etc/nginx/archipelago.d"] == (0, 1000, 0o2775)
    assert owned["/var/lib/archipelago"][:2] == (1000, 1000)


def test_every_published_port_is_kept_out_of_the_ephemeral_range():
    """An outgoing connection given local port 50002 at boot failed the UI companion's bind (the
    rootless grid's electrumx reboot cell, bcba210): provisioning reserves every published port."""
    from reconciler.provision_ports import reserved_ports_conf
    from recfake import catalog_data
    text = reserved_ports_conf(catalog_data())
    line = [x for x in text.splitlines() if not x.startswith("#")]
    assert len(line) == 1 and line[0].startswith("net.ipv4.ip_local_reserved_ports = ")
    ports = [int(p) for p in line[0].split("= ")[1].split(",")]
    assert ports == sorted(set(ports)) and {50001, 50002, 8334, 8081, 8332}.issubset(ports)
