"""The reconciler as the unprivileged `archipelago` on a rootless node (a user-scope node block):
user units through `systemctl --user`, nginx and tor only through priv.py's sudoers lines, the
rootless podman heal, a revoked network namespace, and purge/chown inside podman's user namespace.
The fake refuses what the real node would refuse the daemon (recfake.py)."""
from __future__ import annotations

import configparser
import json
import os
import re
import stat

import pytest

from reconciler import current as cur
from reconciler import desired as des
from reconciler import priv
from reconciler.server import health_body
from recfake import USER_NODE, FakeContainer, converge, make

STACK = ("bitcoin-knots", "lnd", "electrumx", "btcpay", "mempool", "fedimint")


@pytest.fixture
def user_env(tmp_path, clock):
    return make(tmp_path, clock=clock, node=USER_NODE)


def install_all(rec, apps=STACK):
    for a in apps:
        rec.install(a, timeout=5)


def unit_text(rec, stem):
    return open(rec.paths.unit_file(stem)).read()


def parsed(text):
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read_string(text)
    return cp


def test_install_converges_with_user_units_and_no_privilege(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots", "lnd", "btcpay"))
    assert converge(rec, fake) == 0
    assert fake.units["btcpay-server.service"].active == "active" and "btcpay-server" in fake.containers
    assert fake.units["archy-lnd-ui.service"].active == "active"
    assert os.path.isfile(rec.paths.p("/home/archipelago/.config/containers/systemd/bitcoin-knots.container"))
    assert os.path.isfile(rec.paths.p("/home/archipelago/.config/containers/systemd/archipelago.network"))
    assert os.path.isdir(rec.paths.p("/var/lib/archipelago/lnd/data"))
    assert os.path.isfile(rec.paths.p("/var/lib/archipelago/lnd/config/lnd.conf"))
    assert os.path.isfile(rec.paths.p("/etc/nginx/archipelago.d/btcpay.conf"))
    assert os.path.isfile(rec.paths.p("/etc/tor/torrc.d/btcpay-server.conf"))
    # every systemctl call that changes something is the user manager's; nginx and tor only via sudo
    changes = [c for c in fake.calls if c[0] == "systemctl" and c[1] not in ("show", "is-system-running")]
    assert changes and all(c[1] == "--user" for c in changes), changes
    assert not any(c[0] == "nginx" for c in fake.calls)
    sudo = {c[-1] for c in fake.calls if c[0] == "sudo"}
    assert sudo == {"nginx-reload", "tor-start", "tor-reload"}   # tor starts with the first snippet
    assert fake.units["tor@default.service"].active == "active"


def test_lnd_reaches_bitcoind_by_the_rootless_container_name(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots", "lnd"))
    lnd_conf = open(os.path.join(rec.paths.config_dir("lnd"), "lnd.conf")).read()
    assert "bitcoind.rpchost=bitcoin-knots:8332" in lnd_conf


def test_user_scope_units(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots", "electrumx"))
    for stem in ("bitcoin-knots", "archy-bitcoin-ui", "electrumx", "archy-electrs-ui"):
        text = unit_text(rec, stem)
        cp = parsed(text)
        assert "network-online.target" not in text, stem        # the user manager has no such target
        # the D-Bus order on a line of its own (configparser keeps only the last After=: boot order)
        assert "\nAfter=dbus.socket dbus.service\n" in text and "Wants" not in cp["Unit"], stem
        assert cp["Install"]["WantedBy"] == "default.target", stem
        assert cp["Container"]["Network"] == "archipelago.network"
        assert cp["Container"]["ContainerName"] == stem
        assert re.search(r"(?m)^IP=10\.89\.0\.\d+$", text)
        assert "AddHost=host.archipelago:10.89.0.1\n" in text
        assert "DropCapability=all\n" in text and "PodmanArgs=--memory=" in text
        assert cp["Service"]["Slice"] == "archipelago-apps.slice"
    assert "Volume=/var/lib/archipelago/electrumx/data:/data\n" in unit_text(rec, "electrumx")
    assert "AddCapability=DAC_OVERRIDE\n" in unit_text(rec, "electrumx")
    assert ("\nAfter=bitcoin-knots.service bitcoin-core.service archy-bitcoin-ui.service lnd.service "
            "archy-lnd-ui.service\n") in unit_text(rec, "electrumx")
    assert re.search(r"(?m)^AddHost=bitcoin-knots:10\.89\.0\.\d+$", unit_text(rec, "electrumx"))
    net = open(rec.paths.network_file).read()
    assert "NetworkName=archipelago\n" in net and "Subnet=10.89.0.0/24\n" in net and "Gateway=10.89.0.1\n" in net


def test_the_snapshot_reads_user_units_with_user_and_tor_nginx_from_the_system(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots",))
    fake.reset_calls()
    rec.tick()
    shows = [c for c in fake.calls if "show" in c[:3]]
    assert len(shows) == 2
    user, system = shows
    assert user[:3] == ("systemctl", "--user", "show") and "archipelago-network.service" in user
    assert "tor@default.service" not in user and "bitcoin-knots.service" in user
    assert system[:2] == ("systemctl", "show") and system[-2:] == ("tor@default.service", "nginx.service")
    assert ("systemctl", "--user", "list-units", "--state=failed", "--plain", "--no-legend",
            "--type=service") in fake.calls


def test_the_fake_refuses_what_the_node_refuses_the_daemon(user_env):
    rec, fake = user_env
    assert fake.run(["systemctl", "start", "--no-block", "nginx.service"]).stderr.endswith("Access denied")
    assert not fake.run(["nginx", "-t", "-q"]).ok
    assert not fake.run(["sudo", "-n", "nginx", "-s", "reload"]).ok
    assert fake.run(["systemctl", "--user", "start", "tor@default.service"]).rc == 5


def test_uninstall_stops_user_units_and_priv_prunes_the_hidden_service(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots", "lnd"))
    gone, kept = rec.paths.hs_dir("lnd"), rec.paths.hs_dir("bitcoin-knots")
    for hs in (gone, kept):                          # tor made them (debian-tor's: the daemon cannot see them)
        os.makedirs(hs)
        open(os.path.join(hs, "hostname"), "w").close()
    fake.reset_calls()
    res = rec.uninstall("lnd")
    stops = [c[-1] for c in fake.calls if c[:3] == ("systemctl", "--user", "stop")]
    assert stops == ["archy-lnd-ui.service", "lnd.service"]
    assert fake.calls.count(tuple(priv.command("tor-reload"))) == 1
    assert not os.path.exists(gone) and os.path.isdir(kept)   # kept: bitcoin-knots' snippet is still there
    assert not any("/var/lib/tor" in s for s in rec.last_report.steps)   # the daemon never removes it itself
    assert "/home/archipelago/.config/containers/systemd/lnd.container" in res["removed"]
    assert os.path.isdir(rec.paths.data_dir("lnd"))           # data kept without purge
    fake.reset_calls()
    rec.uninstall("bitcoin-knots")
    stops = [c[-1] for c in fake.calls if c[:3] == ("systemctl", "--user", "stop")]
    assert stops == ["archy-bitcoin-ui.service", "bitcoin-knots.service", "archipelago-network.service"]
    assert ("podman", "network", "rm", "archipelago") in fake.calls and not os.path.exists(kept)
    assert rec.tick().converged


def test_purge_removes_the_subuid_owned_data_in_podmans_user_namespace(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots",))
    data = rec.paths.data_dir("bitcoin-knots")
    res = rec.uninstall("bitcoin-knots", purge=True)
    assert ("podman", "unshare", "rm", "-rf", "--one-file-system", data) in fake.calls
    assert not os.path.exists(data) and "/var/lib/archipelago/bitcoin-knots/data" in res["removed"]
    assert not os.path.exists(os.path.dirname(data))          # the app's own dir, once empty


def test_a_failed_purge_is_an_error(user_env):
    from reconciler.daemon import OpError
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots",))
    fake.broken = {"podman unshare rm"}
    with pytest.raises(OpError, match="purge of /var/lib/archipelago/bitcoin-knots/data failed"):
        rec.uninstall("bitcoin-knots", purge=True)


def test_the_electrumx_data_dir_is_chowned_inside_the_user_namespace(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots", "electrumx"))
    data = rec.paths.data_dir("electrumx")
    assert fake.owners == {data: "1:1"}
    assert ("podman", "unshare", "chown", "1:1", data) in fake.calls
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o750


def test_drifted_nginx_snippet_reloads_through_priv(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots",))
    os.unlink(rec.paths.nginx_file("bitcoin-knots"))
    fake.reset_calls()
    rec.tick()
    assert fake.calls.count(tuple(priv.command("nginx-reload"))) == 1
    assert fake.count("systemctl", "reload-or-restart") == 0


def test_a_refused_sudo_fails_the_step_and_says_why(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots",))
    fake.units["tor@default.service"].active = "inactive"
    fake.broken = {"sudo -n"}
    report = rec.tick()
    assert any(s.startswith("start tor@default.service FAILED: sudo -n /usr/bin/python3") for s in report.steps)


def test_every_privileged_argv_is_a_sudoers_line(user_env):
    """The daemon's privileged calls from a full lifecycle, and every `sudo` in reconciler/: each
    appears verbatim in the file provisioning installs, which has exactly those three rules."""
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots", "lnd"))
    os.unlink(rec.paths.nginx_file("lnd"))
    fake.units["tor@default.service"].active = "inactive"
    rec.tick()
    rec.uninstall("lnd")
    calls = [c for c in fake.calls if "sudo" in c]
    assert {c[-1] for c in calls} == set(priv.VERBS)
    text = priv.sudoers("archipelago")
    rules = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert rules == [f"archipelago ALL=(root) NOPASSWD: {line}" for line in priv.SUDOERS_LINES]
    assert "*" not in text and len(rules) == 3
    for c in calls:
        assert c[:2] == ("sudo", "-n") and f"NOPASSWD: {' '.join(c[2:])}\n" in text
    here = os.path.dirname(priv.__file__)
    for name in sorted(os.listdir(here)):
        if name.endswith(".py") and name not in ("priv.py", "provision.py"):
            assert '"sudo"' not in open(os.path.join(here, name)).read(), name


# ---- FM6: the rootless podman heal ----

def _runtime(rec, *parts):
    return os.path.join(rec.paths.runtime_dir, *parts)


def test_rootless_heal_stops_the_apps_clears_the_runtime_dirs_renumbers_and_migrates(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots",))
    for d in ("libpod/tmp", "containers/networks", "podman"):
        os.makedirs(_runtime(rec, d), exist_ok=True)
    open(_runtime(rec, "libpod/tmp/pause.pid"), "w").write("999")
    fake.podman_broken = "Error: invalid internal status, try resetting the pause process with \"podman system migrate\""
    fake.reset_calls()
    report = rec.tick()
    stop = ("systemctl", "--user", "stop", "podman.socket", "podman.service", "archy-bitcoin-ui.service",
            "bitcoin-knots.service")
    assert stop in fake.calls
    order = [c for c in fake.calls if c[:2] == ("podman", "system") or c == stop]
    assert order == [stop, ("podman", "system", "renumber"), ("podman", "system", "migrate")]
    for d in ("libpod", "containers", "podman"):
        assert not os.path.exists(_runtime(rec, d)), d
    assert any(s.startswith("heal podman") and "FAILED" not in s for s in report.steps)
    assert rec.heal_failed is None
    converge(rec, fake)
    assert fake.units["bitcoin-knots.service"].active == "active"
    assert health_body(rec)[0] == 200


def test_rootless_heal_moves_a_corrupt_db_aside_in_the_users_graphroot(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots",))
    db = os.path.join(rec.paths.graphroot, "db.sql")
    assert rec.paths.graphroot == rec.paths.p("/home/archipelago/.local/share/containers/storage")
    os.makedirs(os.path.dirname(db))
    open(db, "w").close()
    fake.podman_broken = "Error: database disk image is malformed"
    rec.tick()
    assert not os.path.exists(db) and any(n.startswith("db.sql.corrupt-") for n in os.listdir(rec.paths.graphroot))


def test_a_heal_that_leaves_podman_broken_makes_health_503_until_podman_answers(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots",))
    fake.podman_broken = "Error: invalid internal status"
    fake.heal_fails = True
    report = rec.tick()
    assert any(s.startswith("heal podman") and "FAILED" in s for s in report.steps)
    status, body = health_body(rec)
    assert status == 503 and body["status"] == "error" and body["ok"] is False
    assert body["error"].startswith("podman self-heal failed: podman info") and "invalid internal status" in body["error"]
    assert "last_good_tick" in body and "interval" in body and "crash_recovery_complete" not in body
    fake.podman_broken = None                        # someone repaired it (or the next heal did)
    rec.tick()
    status, body = health_body(rec)
    assert status == 200 and body["status"] == "ok" and body["crash_recovery_complete"] is True


def test_rootful_heal_is_unchanged_but_reports_a_failure_too(env, tmp_path):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    fake.podman_broken = "Error: database disk image is malformed"
    fake.heal_fails = True
    fake.reset_calls()
    rec.tick()
    heal = [c for c in fake.calls if c[:2] in (("podman", "info"), ("podman", "system")) or "stop" in c[:3]]
    assert heal == [("podman", "info", "--format", "{{.Host.DatabaseBackend}}"), ("podman", "system", "migrate"),
                    ("podman", "info", "--format", "{{.Host.DatabaseBackend}}")]
    assert health_body(rec)[0] == 503
    lying, fake = make(tmp_path / "lying", variant="chaos-health-always-ok")
    install_all(lying, ("bitcoin-knots",))
    fake.podman_broken, fake.heal_fails = "Error: database disk image is malformed", True
    lying.tick()
    assert lying.heal_failed and health_body(lying)[0] == 200


def test_db_wipe_resets_the_rootless_ipam_db(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots",))
    ipam = fake.ipam_db()
    assert ipam == _runtime(rec, "containers/networks/ipam.db")
    for name in list(fake.containers):
        fake.units[f"{name}.service"].active = "failed"
        fake.containers[name] = FakeContainer("storage", "", None, external=True)
    fake.ipam_stale.add("bitcoin-knots")
    os.makedirs(os.path.dirname(ipam), exist_ok=True)
    open(ipam, "wb").close()
    converge(rec, fake)
    assert not os.path.exists(ipam) and fake.units["bitcoin-knots.service"].active == "active"


# ---- a revoked rootless network namespace ----

def test_a_revoked_netns_stops_every_app_then_starts_them_on_a_new_one(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots", "lnd"))
    assert fake.netns_mounted and fake.NETNS_PID_VALUE in fake.alive
    fake.revoke_netns()
    fake.reset_calls()
    report = rec.tick()
    stops = [c[-1] for c in fake.calls if c[:3] == ("systemctl", "--user", "stop")]
    assert sorted(stops) == ["archy-bitcoin-ui.service", "archy-lnd-ui.service", "bitcoin-knots.service",
                             "lnd.service"]
    for dependent, dependency in (("archy-lnd-ui", "lnd"), ("lnd", "bitcoin-knots"),
                                  ("archy-bitcoin-ui", "bitcoin-knots")):
        assert stops.index(f"{dependent}.service") < stops.index(f"{dependency}.service")
    assert not any(c[:3] in (("systemctl", "--user", "start"), ("systemctl", "--user", "restart"))
                   for c in fake.calls), report.steps
    converge(rec, fake)
    assert fake.units["lnd.service"].active == "active" and fake.netns_mounted
    assert fake.NETNS_PID_VALUE in fake.alive


def test_the_netns_check_needs_a_clear_no(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots",))
    fake.netns_mounted = False
    fake.timing_out.add("podman unshare findmnt")      # a slow podman says nothing
    assert rec.tick().converged
    fake.timing_out.clear()
    os.unlink(os.path.join(fake.netns_dir(), "rootless-netns-conn.pid"))   # no pid file: the mount decides
    assert not rec.tick().converged


def test_a_namespace_gone_under_an_app_still_starting_is_no_revocation(user_env):
    """A release that exits at once: its container is the namespace's only user, so podman tears the
    namespace down as it dies. The unit is still activating: no stop (whose start would reset
    systemd's start limit and keep the crash loop from ending)."""
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots",))
    starting = [u for u in ("bitcoin-knots.service", "archy-bitcoin-ui.service") if u in fake.units]
    for u in starting:                                             # starts in progress, containers up
        fake.units[u].active = "activating"
    fake.netns_mounted = False
    fake.reset_calls()
    rec.tick()
    assert fake.count("systemctl", "--user", "stop") == 0
    fake.units[starting[0]].active = "active"                      # the same, once an app is up: revoked
    fake.reset_calls()
    rec.tick()
    assert fake.count("systemctl", "--user", "stop") >= 1


def test_the_netns_is_only_checked_while_an_app_runs(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots",))
    rec.set_run("bitcoin-knots", False)
    converge(rec, fake)
    fake.reset_calls()
    rec.tick()
    assert fake.count("podman", "unshare") == 0


def test_network_not_recreated_variant_leaves_a_revoked_netns(tmp_path, clock):
    rec, fake = make(tmp_path, variant="chaos-network-not-recreated", clock=clock, node=USER_NODE)
    install_all(rec, ("bitcoin-knots",))
    fake.revoke_netns()
    fake.reset_calls()
    for _ in range(2):
        rec.tick()
    assert fake.count("systemctl", "--user", "stop") == 0


def test_rootful_never_looks_at_a_rootless_netns(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    node = des.build(rec.catalog(), rec.desired, rec.store.load_secrets(), rec.paths, rec.variant)
    fake.reset_calls()
    assert cur.snapshot(fake, node, paths=rec.paths).netns_ok
    assert fake.count("podman", "unshare") == 0 and not any("--user" in c for c in fake.calls)


def test_the_vanished_rootless_network_is_recreated_with_its_user_unit(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots",))
    fake.network = False
    fake.reset_calls()
    steps = rec.tick().steps
    assert "recreate network archipelago" in steps
    assert fake.count("systemctl", "--user", "restart", "archipelago-network.service") == 1
    assert ("podman", "network", "exists", "archipelago") in fake.calls


def test_the_imperative_variants_use_the_nodes_network(tmp_path, clock):
    rec, fake = make(tmp_path, variant="fm3-apps-in-daemon-cgroup", clock=clock, node=USER_NODE)
    install_all(rec, ("bitcoin-knots",))
    create = next(c for c in fake.calls if c[:3] == ("podman", "network", "create"))
    assert create[-3:] == ("--subnet", "10.89.0.0/24", "archipelago")
    run = next(c for c in fake.calls if c[:2] == ("podman", "run"))
    assert run[run.index("--network") + 1] == "archipelago" and "host.archipelago:10.89.0.1" in run


def test_healthcheck_orphans_are_dropped_in_the_user_manager(user_env):
    rec, fake = user_env
    from recfake import FakeUnit
    install_all(rec, ("bitcoin-knots",))
    cid = "dd" * 32
    fake.units[f"{cid}-24e23f8e.service"] = FakeUnit("failed", "failed", "exit-code")
    converge(rec, fake)
    assert fake.count("systemctl", "--user", "stop", f"{cid}-*.timer") == 1
    assert fake.units[f"{cid}-24e23f8e.service"].active == "inactive"


def test_settings_file_drives_the_daemon(tmp_path):
    """reconciler.json with the block -> the Reconciler's paths (Paths(root) alone is overridden)."""
    from reconciler.daemon import Reconciler, load_settings
    from reconciler.store import Paths
    from test_reconciler_settings import BLOCK
    (tmp_path / "etc/archipelago").mkdir(parents=True)
    (tmp_path / "etc/archipelago/reconciler.json").write_text(json.dumps({"node": BLOCK}))
    settings = load_settings(str(tmp_path / "etc/archipelago/reconciler.json"))
    rec = Reconciler(Paths(str(tmp_path)), None, settings)
    assert rec.paths.node == settings.node and rec.applier.node.user_scope
    assert rec.paths.unit_file("lnd") == str(tmp_path / "home/archipelago/.config/containers/systemd/lnd.container")


def test_a_failed_chown_leaves_no_dir_so_the_next_tick_tries_again(user_env):
    rec, fake = user_env
    install_all(rec, ("bitcoin-knots",))
    rec.desired = rec.desired.with_app("electrumx", "started")
    fake.broken = {"podman unshare chown"}
    report = rec.tick()
    data = rec.paths.data_dir("electrumx")
    assert any(s.startswith(f"mkdir {data} (owner 1:1) FAILED") for s in report.steps)
    assert not os.path.exists(data)
    fake.broken = set()
    converge(rec, fake)
    assert fake.owners == {data: "1:1"} and fake.units["electrumx.service"].active == "active"
