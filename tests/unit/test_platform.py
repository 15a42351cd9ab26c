"""node.platform: the two shipped profiles load, the reference one is exactly the built-in names,
and a bad profile is refused with file:line and the field."""
import dataclasses

import pytest

from matrix.model import load as load_matrix
from node import platform
from node.names import REFERENCE
from node.platform import PlatformError

REF = platform.PLATFORM_DIR / "reference.yaml"


def test_the_reference_profile_is_the_names_the_reference_node_has():
    p = platform.load("reference")
    assert p.names == REFERENCE
    assert (p.login, p.scope, p.rpc.method("tick"), p.rpc.install_params("lnd", "img")) == \
           ("root", "system", "reconcile.tick", {"id": "lnd"})


def test_the_reference_profile_leaves_the_matrix_as_it_is():
    m = load_matrix()
    assert platform.load("reference").apply(m) == m


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
    ref = platform.load("reference").health
    assert ref.is_ok({"ok": True, "last_good_tick": 1.0, "http_status": 200})
    assert not ref.is_ok({"ok": False, "http_status": 503})


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
    ("scope: system", "scope: global", ["units.scope", "expected one of system, user"]),
    ("become: sudo -n", "become: su", ["login.become", "expected one of"]),
    ("api: http://127.0.0.1:5678", "api: http://lab-node.example:5678", ["daemon.api", "127.0.0.1"]),
    ('data: "{state_dir}/apps/{app}"', 'data: "{stat_dir}/apps/{app}"', ["paths.data", "unknown field 'stat_dir'"]),
    ("  unit: archipelago.service", "  unit: archipelago", ["daemon.unit", ".service"]),
    ("      stop: package.stop\n", "", ["daemon.rpc.methods", "missing method(s) stop"]),
    ("      stop: package.stop", "      stop: package.stop\n      halt: package.halt", ["unknown verb(s) halt"]),
    ("  prefix: archy-", "  prefix: archy-\n  colour: blue", ["apps.colour", "unknown field"]),
    ("  network: archy", "  network: [archy]", ["apps.network", "expected a string"]),
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
    assert platform.load("reference").restart == "systemd"
    seeds = platform.load("archipelago")
    assert seeds.restart == "unless-stopped" and "apps.restart" in seeds.unverified


def test_the_line_is_the_line_of_the_bad_value(tmp_path):
    msg = _bad(tmp_path, "scope: system", "scope: global")
    assert msg.startswith(f"{tmp_path / 'bad.yaml'}:{_line('scope: system')}: "), msg


def test_broken_yaml_and_a_missing_profile_are_one_line(tmp_path):
    assert "invalid YAML" in _bad(tmp_path, "units:\n", "units: [\n")
    with pytest.raises(PlatformError, match=r"platform 'nosuch': no profile .*known: archipelago, reference"):
        platform.load("nosuch")
    with pytest.raises(PlatformError, match="not a profile name"):
        platform.load("Bad Name")


def test_an_unverified_entry_must_name_a_field(tmp_path):
    msg = _bad(tmp_path, "credentials:\n", "unverified: [paths.nope]\ncredentials:\n")
    assert "paths.nope: no such field" in msg


def test_a_non_root_login_needs_a_way_to_root(tmp_path):
    text = REF.read_text().replace("user: root", "user: archipelago").replace("become: sudo -n", "become: none")
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
    seeds, ref = platform.load("archipelago").names, REFERENCE
    assert ref.resolve("{config_dir:bitcoin-knots}/bitcoin.conf") == \
           "/var/lib/archipelago/config/bitcoin-knots/bitcoin.conf"
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
