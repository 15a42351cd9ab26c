"""Pure parsers of the event probes: listening ports, data manifests, torrc, systemd, journal owners."""
from harness.events import probes
from harness.events.grid import journal_owner
from harness.events.soak import containers_sample, parse_units
from harness.events.tor_onion import hs_ports
from matrix.model import load


def test_parse_listening():
    ss = ("LISTEN 0 4096 0.0.0.0:8332 0.0.0.0:*\nLISTEN 0 128 [::]:22 [::]:*\n"
          "LISTEN 0 511 127.0.0.1:5678 0.0.0.0:*\n")
    assert probes.parse_listening(ss) == {8332, 22, 5678}


def test_manifest_skips_runtime_files_and_finds_losses():
    out = ("aa  /d/blocks/000001.blk\nbb  /d/LOCK\ncc  /d/.clean_shutdown\ndd  /d/x.tmp\nee  /d/wallet\n")
    m = probes.parse_manifest(out)
    assert m == {"/d/blocks/000001.blk": "aa", "/d/wallet": "ee"}
    assert probes.manifest_problems(m, {**m, "/d/blocks/000002.blk": "ff"}) == []   # growth is fine
    assert "gone" in probes.manifest_problems(m, {"/d/wallet": "ee"})[0]
    assert "changed" in probes.manifest_problems(m, {**m, "/d/wallet": "00"})[0]


def test_health_problems_name_integrations():
    app = load().apps["lnd"]
    s = {"healthy": True, "integrations": {"bitcoin": {"ok": False, "detail": "connection refused"}}}
    assert probes.health_problems(s, app) == ["lnd: integration bitcoin down (connection refused)"]
    assert probes.health_problems({"healthy": True, "integrations": {"bitcoin": {"ok": True}}}, app) == []


def test_dependents_and_ui_target():
    m = load()
    installed = ("bitcoin-knots", "lnd", "electrumx", "mempool")
    assert probes.dependents(m, "bitcoin-knots", installed) == ["lnd", "electrumx", "mempool"]
    assert probes.dependents(m, "electrumx", installed) == ["mempool"]
    ui, port = probes.ui_target(m, m.apps["lnd"])
    assert (ui.id, port) == ("archy-lnd-ui", 3002)


def test_hs_ports_only_for_the_apps_dir():
    torrc = ("HiddenServiceDir /var/lib/tor/archy-lnd/\nHiddenServicePort 80 127.0.0.1:3002\n"
             "HiddenServiceDir /var/lib/tor/archy-btcpay\nHiddenServicePort 80 127.0.0.1:23000 # x\n")
    assert hs_ports(torrc, "/var/lib/tor/archy-lnd") == {80: "127.0.0.1:3002"}
    assert hs_ports(torrc, "/var/lib/tor/archy-mempool") == {}


def test_soak_sample_shapes():
    show = ("Id=archy-lnd.service\nActiveState=active\nNRestarts=0\nInvocationID=ab\nMemoryCurrent=1048576\n\n"
            "Id=archy-lnd-ui.service\nActiveState=inactive\nNRestarts=2\nInvocationID=\nMemoryCurrent=[not set]\n")
    units = parse_units(show)
    assert set(units) == {"archy-lnd.service", "archy-lnd-ui.service"}
    ps = [{"Names": ["archy-lnd"], "Id": "c1", "State": "running", "Status": "Up 3 minutes (healthy)",
           "StartedAt": 1}]
    c = containers_sample(units, ps)
    assert c["archy-lnd"]["health"] == "healthy" and c["archy-lnd"]["mem_bytes"] == 1048576
    assert c["archy-lnd-ui"]["state"] == "absent" and c["archy-lnd-ui"]["mem_bytes"] is None


def test_journal_lines_go_to_their_app():
    m = load()
    members = ("bitcoin-knots", "lnd")
    assert journal_owner(m, "archy-lnd.service", members) == ["lnd"]
    assert journal_owner(m, "archy-bitcoin-ui", members) == ["bitcoin-knots"]
    assert journal_owner(m, "archipelago", members) == ["bitcoin-knots", "lnd"]


def test_stale_rpcauth_is_well_formed_and_never_repeats():
    import re
    from harness.events.restart_integrations import stale_rpcauth
    a, b = stale_rpcauth(), stale_rpcauth()
    assert re.fullmatch(r"rpcauth=archipelago:[0-9a-f]{32}\$[0-9a-f]{64}", a)
    assert a != b
