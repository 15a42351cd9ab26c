"""node.platform: the shipped profiles load, the two reference ones are exactly the built-in names
(rootless REFERENCE, ROOTFUL), the rootless one agrees with the seeds' profile but where it says
why not, the reconciler's node block, and a bad profile is refused with file:line and the field."""
import dataclasses

import pytest
import yaml

from matrix.model import load as load_matrix
from node import platform
from node.names import REFERENCE, ROOTFUL
from node.platform import PlatformError, reconciler_node_block

REF = platform.PLATFORM_DIR / "reference.yaml"
M = load_matrix()
IDS = tuple(sorted({*M.apps, *M.companions}))


def test_the_reference_profile_is_the_names_the_reference_node_has():
    p = platform.load("reference")
    assert platform.DEFAULT == "reference" and p.names == REFERENCE.with_apps(IDS)
    assert (p.login, p.become, p.scope, p.restart, p.rpc.method("tick"), p.rpc.install_params("lnd", "img")) == \
           ("archipelago", "sudo -n", "user", "systemd", "reconcile.tick", {"id": "lnd"})
    assert (p.rpc.purge, p.health.progress) == ("purge", "last_good_tick")


def test_the_rootful_profile_is_the_reference_before_it_became_rootless():
    p = platform.load("reference-rootful")
    assert p.names == ROOTFUL.with_apps(IDS)
    assert (p.login, p.become, p.scope, p.restart, p.rpc.method("tick"), p.rpc.install_params("lnd", "img")) == \
           ("archipelago", "sudo -n", "system", "systemd", "reconcile.tick", {"id": "lnd"})
    assert (p.subnet, p.gateway) == ("10.89.7.0/24", "10.89.7.1")


def test_the_rootful_profile_leaves_the_matrix_as_it_is_the_rootless_one_moves_data_dirs():
    assert platform.load("reference-rootful").apply(M) == M
    rootless = platform.load("reference").apply(M)
    assert rootless.app("lnd").data_dirs == ("/var/lib/archipelago/lnd/data",)
    assert dataclasses.replace(rootless.app("lnd"), data_dirs=M.app("lnd").data_dirs) == M.app("lnd")


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


# Where the rootless reference deliberately differs from what platforms/archipelago.yaml pins.
DIFFERENT = {
    "name": "another profile", "description": "another profile",
    "apps.restart": "a Quadlet podman run carries --rm, which podman refuses with unless-stopped: "
                    "Restart=on-failure on the unit (docs/architecture.md)",
    "paths.code": "the reference's code is the reconciler's dir inside /opt/archipelago",
    "daemon.slices": "the reference puts the apps into archipelago-apps.slice of the login's user manager",
    "credentials.lnd_macaroon_file": "the stand-in lnd has no chain dir: the reconciler keeps it with the secrets",
}
def test_the_rootless_reference_is_the_seeds_node_but_where_it_says_why():
    """Every field archipelago.yaml pins that the reference also has (names, paths, scope,
    network and its subnet, login, daemon, health, rpc) is equal, except the ones DIFFERENT names."""
    seeds = _flat(yaml.safe_load((platform.PLATFORM_DIR / "archipelago.yaml").read_text()))
    ref = _flat(yaml.safe_load(REF.read_text()))
    shared = (set(seeds) & set(ref)) - {"schema_version", "unverified"}
    assert {"units.scope", "units.quadlet_dir", "apps.container", "apps.names.btcpay", "apps.network",
            "apps.subnet", "apps.gateway", "paths.data", "paths.config", "paths.nginx_dir", "login.user",
            "daemon.unit", "daemon.health.ok.status", "daemon.health.ok.crash_recovery_complete"} <= shared
    differ = {k for k in shared if seeds[k] != ref[k]}
    assert differ == set(DIFFERENT), f"differ but not listed: {differ - set(DIFFERENT)}; " \
                                     f"listed but equal: {set(DIFFERENT) - differ}"
    s, r = platform.load("archipelago"), platform.load("reference")
    assert s.names == dataclasses.replace(r.names, code_dir=s.names.code_dir, daemon_slices=(),
                                          lnd_macaroon_file=s.names.lnd_macaroon_file)


def test_the_rootless_reference_publishes_the_seeds_ports():
    seeds, ref = platform.load("archipelago").apply(M), platform.load("reference").apply(M)
    differ = {(a, p.name) for a in (*M.apps, *M.companions) for p, q in zip(seeds.app(a).ports, ref.app(a).ports)
              if p.port != q.port}
    assert differ == set()     # matrix/apps.yaml carries the seeds' ports (8334, 8081, 50002)


def test_the_reconciler_node_block_of_each_reference_profile():
    assert reconciler_node_block(platform.load("reference")) == {
        "scope": "user", "user": "archipelago", "quadlet_dir": "/home/archipelago/.config/containers/systemd",
        "prefix": "archy-", "container": "{app}", "names": {"btcpay": "btcpay-server"},
        "data": "/var/lib/archipelago/{app}/data", "config": "/var/lib/archipelago/{app}/config",
        "nginx_dir": "/etc/nginx/archipelago.d", "torrc_dir": "/etc/tor/torrc.d", "tor_dir": "/var/lib/tor",
        "network": "archipelago", "subnet": "10.89.0.0/24", "gateway": "10.89.0.1"}
    assert reconciler_node_block(platform.load("reference-rootful")) == {
        "scope": "system", "user": "root", "quadlet_dir": "/etc/containers/systemd",
        "prefix": "archy-", "container": "{prefix}{app}", "names": {},
        "data": "/var/lib/archipelago/apps/{app}", "config": "/var/lib/archipelago/config/{app}",
        "nginx_dir": "/etc/nginx/archy.d", "torrc_dir": "/etc/tor/torrc.d", "tor_dir": "/var/lib/tor",
        "network": "archy", "subnet": "10.89.7.0/24", "gateway": "10.89.7.1"}


@pytest.mark.parametrize("name", ["reference", "reference-rootful"])
def test_the_node_block_names_things_as_the_profile_does(name):
    """What the reconciler makes of the block (container template, per-app names, data and config
    dirs) is what the harness's Names expect, for every app and companion."""
    p = platform.load(name)
    b = reconciler_node_block(p)
    for app in IDS:
        container = b["names"].get(app) or (app if app.startswith(b["prefix"]) else
                                            b["container"].format(prefix=b["prefix"], app=app))
        assert (container, f"{b['quadlet_dir']}/{container}.container") == (p.names.container(app), p.names.quadlet(app))
        assert (b["data"].format(app=app), b["config"].format(app=app)) == (p.names.data_dir(app), p.names.config_dir(app))
    assert (b["nginx_dir"], b["torrc_dir"], b["tor_dir"], b["network"]) == \
           (p.names.nginx_dir, p.names.torrc_dir, p.names.tor_dir, p.names.network)


def test_a_profile_without_a_subnet_has_no_node_block():
    with pytest.raises(PlatformError, match="apps.subnet and apps.gateway"):
        reconciler_node_block(dataclasses.replace(platform.load("reference"), subnet=None))


def test_loaded_names_know_the_matrix_s_apps():
    """Containers named by app id: only the known ids tell an app's unit from any other."""
    n = platform.load("reference").names
    assert n.is_app("lnd.service") and n.is_app("btcpay-server.container") and n.is_app("archy-lnd-ui")
    assert not n.is_app("dbus.service") and not n.is_app("podman.service") and not n.is_app(".service")
    assert not REFERENCE.is_app("lnd.service")       # without the ids it cannot know


def test_the_archipelago_profile_names_things_as_the_seeds_node_does():
    p = platform.load("archipelago")
    n = p.names
    assert (n.container("bitcoin-knots"), n.unit("lnd"), n.container("btcpay")) == \
           ("bitcoin-knots", "lnd.service", "btcpay-server")
    assert (n.container("archy-lnd-ui"), n.data_dir("electrumx")) == \
           ("archy-lnd-ui", "/var/lib/archipelago/electrumx/data")
    assert n.bitcoin_rpc_password == "/var/lib/archipelago/secrets/bitcoin-rpc-password"
    assert (p.login, p.become, p.scope, p.rpc.method("tick")) == ("archipelago", "sudo -n", "user", None)
    assert p.rpc.install_params("lnd", "docker.io/lightninglabs/lnd:v0.18") == \
           {"id": "lnd", "dockerImage": "docker.io/lightninglabs/lnd:v0.18"}
    assert n.is_app("btcpay-server.service") and n.app_of("btcpay-server.container") == "btcpay"
    assert "credentials.lnd_macaroon_file" in p.unverified


def test_the_archipelago_profile_moves_the_companions_ports_and_data_dirs():
    m = platform.load("archipelago").apply(load_matrix())
    assert [p.port for p in m.app("archy-lnd-ui").ports] == [8081]
    assert m.app("lnd").data_dirs == ("/var/lib/archipelago/lnd/data",)
    assert m.app("archy-lnd-ui").data_dirs == ()
    assert m.app("lnd").port("rest") == 8080


def test_health_is_read_as_the_profile_says():
    seeds = platform.load("archipelago").health
    assert seeds.is_ok({"status": "ok", "crash_recovery_complete": True, "version": "1.2.0-alpha"})
    assert not seeds.is_ok({"status": "ok", "crash_recovery_complete": False})
    ref = platform.load("reference-rootful").health
    assert ref.is_ok({"ok": True, "last_good_tick": 1.0, "http_status": 200})
    assert not ref.is_ok({"ok": False, "http_status": 503})
    rootless = platform.load("reference").health
    assert rootless.is_ok({"ok": True, "last_good_tick": 1.0, "status": "ok", "crash_recovery_complete": True,
                           "http_status": 200})
    assert not rootless.is_ok({"ok": True, "last_good_tick": 1.0, "http_status": 200})
    assert not rootless.is_ok({"status": "error", "error": "podman self-heal failed: x", "http_status": 503})


def _bad(tmp_path, old: str, new: str) -> str:
    text = REF.read_text()
    assert old in text
    f = tmp_path / "bad.yaml"
    f.write_text(text.replace(old, new, 1))
    with pytest.raises(PlatformError) as e:
        platform.load(str(f))
    return str(e.value)


def _line(old: str) -> int:
    return next(i for i, line in enumerate(REF.read_text().splitlines(), 1) if old in line)


@pytest.mark.parametrize("old,new,words", [
    ("scope: user", "scope: global", ["units.scope", "expected one of system, user"]),
    ("become: sudo -n", "become: su", ["login.become", "expected one of"]),
    ("api: http://127.0.0.1:5678", "api: http://lab-node.example:5678", ["daemon.api", "127.0.0.1"]),
    ('data: "{state_dir}/{app}/data"', 'data: "{stat_dir}/{app}/data"', ["paths.data", "unknown field 'stat_dir'"]),
    ("  unit: archipelago.service", "  unit: archipelago", ["daemon.unit", ".service"]),
    ("      stop: package.stop\n", "", ["daemon.rpc.methods", "missing method(s) stop"]),
    ("      stop: package.stop", "      stop: package.stop\n      halt: package.halt", ["unknown verb(s) halt"]),
    ("  prefix: archy-", "  prefix: archy-\n  colour: blue", ["apps.colour", "unknown field"]),
    ("  network: archipelago", "  network: [archipelago]", ["apps.network", "expected a string"]),
    ("  subnet: 10.89.0.0/24", "  subnet: 10.89.0.1/24", ["apps.subnet", "has host bits set"]),
    ("  subnet: 10.89.0.0/24", "  subnet: 10.89.0/24", ["apps.subnet", "an IPv4 network"]),
    ("  gateway: 10.89.0.1", "  gateway: 10.89.0.255", ["apps.gateway", "not a host of 10.89.0.0/24"]),
    ("  gateway: 10.89.0.1\n", "", ["apps.gateway", "give apps.subnet and apps.gateway together"]),
    ("  user: archipelago", "  user: root", ["login.user", "the apps are user units", "not root"]),
    ("  restart: systemd", "  restart: on-failure", ["apps.restart", "expected one of systemd, unless-stopped"]),
    ("  state: /var/lib/archipelago", "  state: /var/lib/../../etc", ["paths.state", "without '..'"]),
])
def test_a_bad_profile_names_file_line_and_field(tmp_path, old, new, words):
    msg = _bad(tmp_path, old, new)
    assert msg.startswith(f"{tmp_path / 'bad.yaml'}:"), msg
    assert all(w in msg for w in words), msg


def test_the_profile_says_what_restarts_a_container():
    """The reference's Quadlet units restart through systemd (a Quadlet podman run has --rm, which
    podman refuses with a restart policy); seed 003's node uses podman's unless-stopped."""
    assert platform.load("reference").restart == platform.load("reference-rootful").restart == "systemd"
    seeds = platform.load("archipelago")
    assert seeds.restart == "unless-stopped" and "apps.restart" in seeds.unverified


def test_the_line_is_the_line_of_the_bad_value(tmp_path):
    msg = _bad(tmp_path, "scope: user", "scope: global")
    assert msg.startswith(f"{tmp_path / 'bad.yaml'}:{_line('scope: user')}: "), msg


def test_broken_yaml_and_a_missing_profile_are_one_line(tmp_path):
    assert "invalid YAML" in _bad(tmp_path, "units:\n", "units: [\n")
    with pytest.raises(PlatformError, match=r"platform 'nosuch': no profile .*known: archipelago, reference, "
                                            r"reference-rootful\)"):
        platform.load("nosuch")
    with pytest.raises(PlatformError, match="not a profile name"):
        platform.load("Bad Name")


def test_an_unverified_entry_must_name_a_field(tmp_path):
    msg = _bad(tmp_path, "credentials:\n", "unverified: [paths.nope]\ncredentials:\n")
    assert "paths.nope: no such field" in msg


def test_a_non_root_login_needs_a_way_to_root(tmp_path):
    text = REF.read_text().replace("become: sudo -n", "become: none")
    (tmp_path / "p.yaml").write_text(text)
    with pytest.raises(PlatformError, match="login.become: a non-root login needs become: sudo -n"):
        platform.load(str(tmp_path / "p.yaml"))


def test_a_port_override_for_an_app_the_matrix_lacks_is_refused():
    p = dataclasses.replace(platform.load("reference"), ports=(("nosuch", (("ui", 1),)),))
    with pytest.raises(PlatformError, match="ports.*nosuch.*not an app of the matrix"):
        p.apply(load_matrix())


class _Node:
    def __init__(self, plat):
        self.platform, self.names = plat, plat.names


def test_the_driver_speaks_the_nodes_method_names_and_params():
    from node.driver import PlatformDriver, RpcError
    seeds = PlatformDriver(_Node(platform.load("archipelago")), images={"lnd": "lightninglabs/lnd:v0.18"})
    assert seeds.request("package.install", {"id": "lnd"}) == \
           ("package.install", {"id": "lnd", "dockerImage": "lightninglabs/lnd:v0.18"})
    with pytest.raises(RpcError, match="platform archipelago has no tick method"):
        seeds.request("reconcile.tick", {})
    with pytest.raises(RpcError, match="installs by image and none is known for mempool"):
        seeds.request("package.install", {"id": "mempool"})
    ref = PlatformDriver(_Node(platform.load("reference")))
    assert ref.request("package.uninstall", {"id": "lnd", "purge": True}) == \
           ("package.uninstall", {"id": "lnd", "purge": True})


def test_experiment_arguments_name_things_by_reference():
    seeds, ref = platform.load("archipelago").names, ROOTFUL
    assert ref.resolve("{config_dir:bitcoin-knots}/bitcoin.conf") == \
           "/var/lib/archipelago/config/bitcoin-knots/bitcoin.conf"
    assert REFERENCE.resolve("{config_dir:bitcoin-knots}/bitcoin.conf") == \
           "/var/lib/archipelago/bitcoin-knots/config/bitcoin.conf"
    assert seeds.resolve("{nginx_snippet:bitcoin-knots}") == "/etc/nginx/archipelago.d/bitcoin-knots.conf"
    assert ref.resolve("{state_dir}") == seeds.resolve("{state_dir}") == "/var/lib/archipelago"
    for bad in ("{nope}", "{unit}", "{state_dir:lnd}", "{_fields}"):
        with pytest.raises(ValueError, match="no name"):
            ref.resolve(bad)


def test_no_experiment_spells_a_node_path():
    import re
    for f in (platform.PLATFORM_DIR.parent / "chaos" / "experiments").glob("*.json"):
        text = f.read_text()
        assert not re.search(r'"(/etc/|/var/lib/archipelago|/opt/archipelago)', text), f.name
        for ref in re.findall(r"(?<!\$)\{[a-z_]+(?::[a-z0-9-]+)?\}", text):     # ${x}: chaostoolkit's own
            REFERENCE.resolve(ref)
