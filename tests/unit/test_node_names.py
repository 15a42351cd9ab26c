"""node.names: the reference node's names, as the reconciler writes them (docs/architecture.md):
N is the rootful reference (archy-<app>), REFERENCE the rootless default (containers by app id)."""
from dataclasses import replace

from node.names import HARNESS, REFERENCE, ROOTFUL as N

IDS = ("archy-bitcoin-ui", "archy-lnd-ui", "bitcoin-knots", "btcpay", "lnd")


def test_an_app_and_a_companion():
    assert (N.container("lnd"), N.unit("lnd"), N.quadlet("lnd")) == \
        ("archy-lnd", "archy-lnd.service", "/etc/containers/systemd/archy-lnd.container")
    assert N.container("archy-bitcoin-ui") == "archy-bitcoin-ui"          # companions carry the prefix
    assert (N.data_dir("lnd"), N.config_dir("lnd")) == ("/var/lib/archipelago/apps/lnd", "/var/lib/archipelago/config/lnd")
    assert (N.nginx_snippet("lnd"), N.tor_snippet("lnd"), N.hs_dir("lnd")) == \
        ("/etc/nginx/archy.d/lnd.conf", "/etc/tor/torrc.d/archy-lnd.conf", "/var/lib/tor/archy-lnd")
    assert N.label("lnd") == "io.archipelago.app=lnd"


def test_globs_and_reading_names_back():
    assert (N.container("*"), N.unit("*"), N.hs_dir("*")) == ("archy-*", "archy-*.service", "/var/lib/tor/archy-*")
    assert N.app_of("archy-lnd.container") == N.app_of("archy-lnd.service") == "lnd"
    assert N.app_of("archy-bitcoin-ui.container", {"archy-bitcoin-ui"}) == "archy-bitcoin-ui"
    assert N.is_platform("archy-lnd.service") and N.is_platform("archipelago") and N.is_platform("archipelago.service")
    assert not N.is_platform("nginx.service")


def test_rootless_names_come_from_the_app_id():
    R = REFERENCE
    assert (R.container("lnd"), R.unit("lnd"), R.quadlet("lnd")) == \
        ("lnd", "lnd.service", "/home/archipelago/.config/containers/systemd/lnd.container")
    assert (R.container("btcpay"), R.container("archy-lnd-ui"), R.network) == ("btcpay-server", "archy-lnd-ui", "archipelago")
    assert (R.data_dir("lnd"), R.config_dir("lnd"), R.nginx_snippet("lnd"), R.hs_dir("lnd")) == (
        "/var/lib/archipelago/lnd/data", "/var/lib/archipelago/lnd/config", "/etc/nginx/archipelago.d/lnd.conf",
        "/var/lib/tor/lnd")


def test_with_containers_named_by_app_id_a_glob_needs_the_app_ids():
    """container('*') is '*' there: every unit of the scope. with_apps names each app instead."""
    R = REFERENCE.with_apps(IDS)
    assert REFERENCE.container("*") == "*" and R.apps == tuple(sorted(IDS))
    assert R.globs("container") == ("archy-*", "bitcoin-knots", "btcpay-server", "lnd")
    assert R.globs("unit") == ("archy-*.service", "bitcoin-knots.service", "btcpay-server.service", "lnd.service")
    assert R.globs("hs_dir") == ("/var/lib/tor/archy-*", "/var/lib/tor/bitcoin-knots", "/var/lib/tor/btcpay-server",
                                 "/var/lib/tor/lnd")
    assert R.unit_globs() == ("archy-*", "bitcoin-knots.*", "btcpay-server.*", "lnd.*")
    assert REFERENCE.globs("unit") == ("archy-*.service", "btcpay-server.service")   # no ids: only what it names
    # archy-<app>: one glob, whatever the ids; a per-app name outside it is added
    assert N.with_apps(IDS).globs("unit") == N.globs("unit") == ("archy-*.service",)
    assert N.unit_globs() == ("archy-*",)
    odd = replace(N, containers=(("btcpay", "btcpay-server"),))
    assert odd.globs("container") == ("archy-*", "btcpay-server")


def test_reading_rootless_names_back():
    R = REFERENCE.with_apps(IDS)
    assert R.is_app("lnd.service") and R.is_app("btcpay-server.container") and R.is_app("archy-lnd-ui.service")
    assert R.is_platform("lnd") and R.is_platform("archipelago.service")
    for other in ("dbus.service", "podman.service", "lnd-x.service", "", "archipelago-network.service"):
        assert not R.is_app(other), other
    assert not REFERENCE.is_app("lnd.service")
    assert (R.app_of("lnd.service"), R.app_of("btcpay-server.container"), R.app_of("archy-lnd-ui", {"archy-lnd-ui"})) \
        == ("lnd", "btcpay", "archy-lnd-ui")


def test_the_daemon():
    assert (N.daemon_unit, N.settings, N.catalog) == \
        ("archipelago.service", "/etc/archipelago/reconciler.json", "/etc/archipelago/catalog.json")
    assert (N.desired_state, N.secrets_dir) == ("/var/lib/archipelago/desired.json", "/var/lib/archipelago/secrets")
    assert (N.rpc_url, N.health_url) == ("http://127.0.0.1:5678/rpc/v1", "http://127.0.0.1:5678/health")


def test_another_platform_is_another_instance():
    other = replace(N, prefix="", quadlet_dir="/root/.config/containers/systemd")
    assert (other.container("lnd"), other.quadlet("lnd")) == ("lnd", "/root/.config/containers/systemd/lnd.container")


def test_the_harness_marks():
    assert (HARNESS.scratch("chaos"), HARNESS.mark("provision"), HARNESS.run_root) == \
        ("/run/archy-chaos", "archy-provision", "/tmp/archy-lifecycle-runs")


def test_what_chaos_may_damage_lies_inside_the_platform_dirs():
    assert N.owned(N.config_dir("bitcoin-knots") + "/bitcoin.conf") and N.owned(N.nginx_snippet("lnd"))
    for outside in ("/etc/passwd", "/var/lib/archipelago", "/var/lib/archipelago/../../../etc/shadow",
                    "var/lib/archipelago/x", "/var/lib/archipelagox/y", "/etc/nginx/nginx.conf"):
        assert not N.owned(outside), outside
