"""Pure renderers and the desired node: rpcauth vector, stable output, grace periods, frame headers."""
from __future__ import annotations

import configparser
import json
import os
import re

import pytest

from reconciler import catalog as cat
from reconciler import desired as des
from reconciler import render
from reconciler.model import STARTED, USER_STOPPED, DesiredState, frozen_map
from reconciler.store import Paths, Store
from reconciler.variants import parse as parse_variant
from recfake import catalog_data

CATALOG = cat.parse(catalog_data())


def test_rpcauth_matches_bitcoin_core_vector():
    line = render.rpcauth("rt", "93648e835a54c573682c2eb19f882535",
                          "cA773lm788buwYe4g4WT+05pKyNruVKjQ25x3n0DQcM=")
    assert line == ("rpcauth=rt:93648e835a54c573682c2eb19f882535$"
                    "7681e9c5b74bdd85e78166031d2058e1069b3ed7ed967c93fc63abba06f31144")


def test_rpcauth_differs_for_another_password():
    a = render.rpcauth("rt", "93648e835a54c573682c2eb19f882535", "x")
    assert not a.endswith("7681e9c5b74bdd85e78166031d2058e1069b3ed7ed967c93fc63abba06f31144")


def _node(tmp_path, apps, variant=None):
    store = Store(Paths(str(tmp_path)))
    return des.build(CATALOG, DesiredState(frozen_map(apps)), store.load_secrets(), Paths(str(tmp_path)),
                     parse_variant(variant)), store


def test_salt_is_stored_so_bitcoin_conf_is_stable(tmp_path):
    n1, store = _node(tmp_path, {"bitcoin-knots": STARTED})
    n2, _ = _node(tmp_path, {"bitcoin-knots": STARTED})
    path = str(tmp_path / "var/lib/archipelago/config/bitcoin-knots/bitcoin.conf")
    assert n1.files[path].content == n2.files[path].content
    rpc = store.load_secrets().bitcoin_rpc
    assert render.rpcauth(rpc.user, rpc.salt, rpc.password).encode() in n1.files[path].content


def test_the_rpc_password_is_also_kept_where_the_seeds_node_keeps_it(tmp_path):
    """secrets/bitcoin-rpc-password: the password alone, one line, 0600; rewritten when it drifts."""
    store = Store(Paths(str(tmp_path)))
    rpc = store.load_secrets().bitcoin_rpc
    plain = tmp_path / "var/lib/archipelago/secrets/bitcoin-rpc-password"
    assert plain.read_text() == rpc.password + "\n"
    assert os.stat(plain).st_mode & 0o777 == 0o600
    plain.write_text("stale\n")
    assert store.load_secrets().bitcoin_rpc == rpc and plain.read_text() == rpc.password + "\n"
    assert (tmp_path / "var/lib/archipelago/secrets/lnd-macaroon").read_text().strip() == store.load_secrets().lnd_macaroon


def test_desired_node_is_pure(tmp_path):
    n1, _ = _node(tmp_path, {"bitcoin-knots": STARTED, "lnd": STARTED, "btcpay": USER_STOPPED})
    n2, _ = _node(tmp_path, {"bitcoin-knots": STARTED, "lnd": STARTED, "btcpay": USER_STOPPED})
    assert n1 == n2


def _unit(node, stem):
    spec = next(f for p, f in node.files.items() if p.endswith(f"/{stem}.container"))
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read_string(spec.content.decode())
    return cp, spec.content.decode()


@pytest.mark.parametrize("app,grace", [("bitcoin-knots", 600), ("lnd", 330), ("electrumx", 300),
                                        ("mempool", 120), ("btcpay", 60), ("fedimint", 30)])
def test_stop_grace_from_the_matrix(tmp_path, app, grace):
    apps = {"bitcoin-knots": STARTED, "lnd": STARTED, "electrumx": STARTED, app: STARTED}
    node, _ = _node(tmp_path, apps)
    cp, _ = _unit(node, f"archy-{app}")
    assert cp["Container"]["StopTimeout"] == str(grace)
    assert cp["Service"]["TimeoutStopSec"] == str(grace + 30)


def test_stop_timeout_10s_variant_breaks_the_grace(tmp_path):
    node, _ = _node(tmp_path, {"bitcoin-knots": STARTED}, "stop-timeout-10s")
    cp, _ = _unit(node, "archy-bitcoin-knots")
    assert cp["Container"]["StopTimeout"] == "10"


def test_quadlet_unit_shape(tmp_path):
    node, _ = _node(tmp_path, {"bitcoin-knots": STARTED})
    cp, text = _unit(node, "archy-bitcoin-knots")
    c = cp["Container"]
    assert c["ContainerName"] == "archy-bitcoin-knots"
    assert c["Label"] == "io.archipelago.app=bitcoin-knots"
    assert c["Network"] == "archy.network"
    assert c["HealthCmd"] == "/usr/local/bin/healthcheck"
    assert c["Notify"] == "healthy" and c["RunInit"] == "yes"
    assert "PublishPort=8332:8332" in text and "PublishPort=28333:28333" in text
    assert "Volume=/var/lib/archipelago/apps/bitcoin-knots:/data\n" in text
    assert "Volume=/var/lib/archipelago/config/bitcoin-knots:/config:ro\n" in text
    assert "STANDIN_PROFILE=bitcoind" in c["Environment"] and "STANDIN_APP=bitcoin-knots" in c["Environment"]
    assert cp["Service"]["Slice"] == "archipelago-apps.slice"
    assert cp["Service"]["Restart"] == "on-failure"  # crashes: systemd; a clean stop behind its back: the tick
    assert cp["Install"]["WantedBy"] == "multi-user.target"


def test_fixed_addresses_and_hosts_instead_of_network_dns(tmp_path):
    node, _ = _node(tmp_path, {"bitcoin-knots": STARTED, "lnd": STARTED})
    net = next(f for p, f in node.files.items() if p.endswith("/archy.network")).content.decode()
    assert "DisableDNS=true" in net and f"Subnet={render.SUBNET}.0/24" in net
    _, btc = _unit(node, "archy-bitcoin-knots")
    _, lnd = _unit(node, "archy-lnd")
    ip = next(line.split("=", 1)[1] for line in btc.splitlines() if line.startswith("IP="))
    assert ip.startswith(render.SUBNET + ".")
    assert f"AddHost=archy-bitcoin-knots:{ip}\n" in lnd      # lnd reaches bitcoind by name
    assert "AddHost=archy-bitcoin-knots:" not in btc           # not itself
    # every container of the catalog its own address, stable across calls
    again, _ = _node(tmp_path, {"bitcoin-knots": STARTED})
    assert _unit(again, "archy-bitcoin-knots")[1] == btc


def test_user_stopped_unit_has_no_install_section(tmp_path):
    node, _ = _node(tmp_path, {"bitcoin-knots": USER_STOPPED})
    cp, _ = _unit(node, "archy-bitcoin-knots")
    assert not cp.has_section("Install")
    # the companion follows its parent
    cp, _ = _unit(node, "archy-bitcoin-ui")
    assert not cp.has_section("Install")


def test_nginx_snippet_routes_ui_with_frame_headers(tmp_path):
    node, _ = _node(tmp_path, {"bitcoin-knots": STARTED})
    text = node.files[str(tmp_path / "etc/nginx/archy.d/bitcoin-knots.conf")].content.decode()
    assert "location /apps/bitcoin-knots/ {" in text
    assert "proxy_pass http://127.0.0.1:8334/;" in text   # the bitcoin UI companion's page
    assert "add_header Content-Security-Policy \"frame-ancestors 'self'\" always;" in text
    assert "add_header X-Frame-Options SAMEORIGIN always;" in text


def test_tor_only_for_apps_with_a_tor_target(tmp_path):
    node, _ = _node(tmp_path, {"bitcoin-knots": STARTED, "electrumx": STARTED})
    tor = {p for p, f in node.files.items() if f.kind == "tor"}
    assert tor == {str(tmp_path / "etc/tor/torrc.d/archy-bitcoin-knots.conf")}
    text = node.files[tor.pop()].content.decode()
    assert "HiddenServiceDir /var/lib/tor/archy-bitcoin-knots/\n" in text
    assert "HiddenServicePort 80 127.0.0.1:8334\n" in text


def test_consumers_get_the_derived_credentials(tmp_path):
    node, store = _node(tmp_path, {"bitcoin-core": STARTED, "lnd": STARTED, "electrumx": STARTED,
                                   "btcpay": STARTED, "mempool": STARTED})
    rpc = store.load_secrets().bitcoin_rpc
    cfg = lambda app, name: node.files[str(tmp_path / f"var/lib/archipelago/config/{app}/{name}")].content.decode()
    assert f"bitcoind.rpcpass={rpc.password}" in cfg("lnd", "lnd.conf")
    assert "bitcoind.rpchost=archy-bitcoin-core:8332" in cfg("lnd", "lnd.conf")
    assert f"DAEMON_URL=http://{rpc.user}:{rpc.password}@archy-bitcoin-core:8332/" in cfg("electrumx", "electrumx.env")
    links = json.loads(cfg("btcpay", "integrations.json"))
    assert set(links) == {"bitcoin", "lnd"} and links["lnd"]["macaroon"] == store.load_secrets().lnd_macaroon
    assert set(json.loads(cfg("mempool", "integrations.json"))) == {"electrum", "bitcoin"}
    # credentials are 0600; units never hold them
    for f in node.files.values():
        if f.kind == "config":
            assert f.mode == 0o600
        else:
            assert rpc.password.encode() not in f.content


def test_catalog_errors_are_one_line(tmp_path):
    bad = tmp_path / "catalog.json"
    bad.write_text('{"apps": {\n  "x": 1,\n}')
    with pytest.raises(cat.CatalogError, match=r"catalog.json:3: invalid JSON"):
        cat.load(str(bad))


def test_every_unit_maps_host_archipelago_to_the_network_gateway(tmp_path):
    """Seed 004 FM4: `--add-host=host.archipelago:<gateway>` in every unit, companions too."""
    node, _ = _node(tmp_path, {"bitcoin-knots": STARTED, "lnd": STARTED})
    net = next(f for p, f in node.files.items() if p.endswith("/archy.network")).content.decode()
    assert f"Gateway={render.GATEWAY}\n" in net
    for stem in ("archy-bitcoin-knots", "archy-bitcoin-ui", "archy-lnd", "archy-lnd-ui"):
        assert f"AddHost=host.archipelago:{render.GATEWAY}\n" in _unit(node, stem)[1], stem
    broken, _ = _node(tmp_path, {"bitcoin-knots": STARTED}, "unit-without-host-alias")
    assert "host.archipelago" not in _unit(broken, "archy-bitcoin-knots")[1]


def test_every_container_gets_its_memory_limit_from_the_catalog(tmp_path):
    """Seed 003 C4: every container has a non-zero memory limit (PodmanArgs: podman 5.4 has no Memory=)."""
    node, _ = _node(tmp_path, {"bitcoin-knots": STARTED, "lnd": STARTED})
    for app in ("bitcoin-knots", "archy-bitcoin-ui", "lnd", "archy-lnd-ui"):
        cp, _ = _unit(node, CATALOG.apps[app].stem)
        assert cp["Container"]["PodmanArgs"] == f"--memory={CATALOG.apps[app].memory}", app
    assert CATALOG.apps["bitcoin-knots"].memory == "512m"
    broken, _ = _node(tmp_path, {"bitcoin-knots": STARTED}, "container-without-memory-limit")
    cp, text = _unit(broken, "archy-bitcoin-knots")
    assert "PodmanArgs" not in cp["Container"] and "--memory" not in text


def test_the_imperative_variants_carry_the_limit_and_the_alias_too():
    argv = render.podman_run_argv(CATALOG.apps["lnd"], data_dir=None, config_dir=None, stop_timeout=30, detach=True)
    assert argv[argv.index("--memory") + 1] == "256m"
    assert f"host.archipelago:{render.GATEWAY}" in argv


def test_every_container_drops_every_capability_and_gets_back_only_the_catalogs(tmp_path):
    """Seed 003 C2: --cap-drop=ALL everywhere; electrumx alone needs DAC_OVERRIDE back."""
    node, _ = _node(tmp_path, {"bitcoin-knots": STARTED, "electrumx": STARTED})
    for stem in ("archy-bitcoin-knots", "archy-bitcoin-ui", "archy-electrumx", "archy-electrs-ui"):
        assert "DropCapability=all\n" in _unit(node, stem)[1], stem
    assert re.findall(r"(?m)^AddCapability=.*", _unit(node, "archy-electrumx")[1]) == ["AddCapability=DAC_OVERRIDE"]
    assert "AddCapability" not in _unit(node, "archy-bitcoin-knots")[1]
    broken, _ = _node(tmp_path, {"bitcoin-knots": STARTED, "electrumx": STARTED}, "electrumx-without-dac-override")
    text = _unit(broken, "archy-electrumx")[1]
    assert "DropCapability=all\n" in text and "AddCapability" not in text


def test_the_imperative_argv_drops_capabilities_too():
    argv = render.podman_run_argv(CATALOG.apps["electrumx"], data_dir=None, config_dir=None, stop_timeout=30,
                                  detach=True)
    assert argv[argv.index("--cap-drop") + 1] == "all" and argv[argv.index("--cap-add") + 1] == "DAC_OVERRIDE"


def test_electrumx_data_dir_is_made_for_container_uid_1(tmp_path):
    """Seed 003: the volume belongs to container uid 1; the config dir stays the daemon's."""
    node, _ = _node(tmp_path, {"bitcoin-knots": STARTED, "electrumx": STARTED})
    paths = Paths(str(tmp_path))
    assert node.dirs[paths.data_dir("electrumx")][2] == "1:1"
    assert node.dirs[paths.config_dir("electrumx")][2] is None
    assert node.dirs[paths.data_dir("bitcoin-knots")][2] is None


@pytest.mark.parametrize("field,value,message", [
    ("profile", "../x", "'profile' must be a simple name"),
    ("memory", "lots", "'memory' must be a size such as 256m, got 'lots'"),
    ("caps", ["CAP_DAC_OVERRIDE"], "'caps' must be capability names such as DAC_OVERRIDE"),
    ("caps", ["dac_override"], "'caps' must be capability names"),
    ("data_owner", "electrumx", "'data_owner' must be uid:gid such as 1:1, got 'electrumx'"),
    ("data_owner", 1, "'data_owner' must be uid:gid"),
])
def test_bad_fields_are_one_line_catalog_errors(field, value, message):
    data = catalog_data()
    data["apps"]["electrumx"][field] = value
    with pytest.raises(cat.CatalogError, match=re.escape(f"electrumx: {message}")):
        cat.parse(data)



@pytest.mark.parametrize("variant,restart", [(None, "on-failure"), ("chaos-no-retry-after-failure", "no")])
def test_a_crashed_app_stays_down_only_under_the_no_retry_variant(tmp_path, variant, restart):
    node, _ = _node(tmp_path, {"bitcoin-knots": STARTED}, variant)
    cp, _ = _unit(node, "archy-bitcoin-knots")
    assert cp["Service"]["Restart"] == restart
