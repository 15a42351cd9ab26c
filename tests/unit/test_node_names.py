"""node.names: the reference node's names, as the reconciler writes them (docs/architecture.md)."""
from dataclasses import replace

from node.names import HARNESS, REFERENCE as N


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
