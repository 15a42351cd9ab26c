"""The seeds' node checks (harness/checks/node_checks.py): each verdict passes what a good node
prints and fails what a broken one prints, naming the container and what is wrong."""
from harness.checks import node_checks as nc
from harness.grid.event import DEPENDENCY_DOWN
from node import platform

NETWORK = """[{"name": "archy", "driver": "bridge", "subnets": [{"subnet": "10.89.7.0/24",
  "gateway": "10.89.7.1"}], "dns_enabled": false}]"""


def test_memory_limit_must_be_set():
    assert nc.memory_problems("archy-lnd", "268435456\n") == []
    assert nc.memory_problems("archy-lnd", "0\n") == ["archy-lnd: no memory limit (HostConfig.Memory is 0)"]
    assert "unreadable" in nc.memory_problems("archy-lnd", "")[0]


def test_restart_through_systemd_or_a_podman_policy():
    assert nc.restart_problems("archy-lnd (unit archy-lnd.service)", "systemd", "always\n") == []
    assert nc.restart_problems("u", "systemd", "on-failure") == []
    [no] = nc.restart_problems("archy-lnd (unit archy-lnd.service)", "systemd", "no\n")
    assert no.startswith("archy-lnd (unit archy-lnd.service): Restart=no") and "always or on-failure" in no
    assert nc.restart_problems("lnd", "unless-stopped", "unless-stopped") == []
    assert nc.restart_problems("lnd", "unless-stopped", "always") == []   # seed 003 takes either
    assert nc.restart_problems("lnd", "unless-stopped", "") == [
        "lnd: restart policy 'none' (want unless-stopped or always)"]
    assert nc.restart_problems("lnd", "always", "on-failure") == [
        "lnd: restart policy 'on-failure' (want unless-stopped or always)"]


def test_the_log_tail_must_hold_no_error_panic_or_fatal_line():
    clean = "standin: lnd lnd running\nchecked 12 blocks, errors=0\nsync done with 0 errors\nerror_count: 0\n"
    assert nc.log_problems("archy-lnd", clean) == []
    [p] = nc.log_problems("archy-lnd", clean + "standin: FATAL: cannot open /data/LOCK\npanic: nil map\n")
    assert p.startswith("archy-lnd: 2 error line(s) in its last 30 log lines: ")
    assert "FATAL: cannot open /data/LOCK" in p and "panic: nil map" in p
    assert nc.log_problems("c", "Error: bad\n") and nc.log_problems("c", "level=error msg=x\n")


def test_only_the_last_30_lines_count():
    old = "standin: error: old trouble\n" + "standin: fine\n" * 30
    assert nc.log_problems("c", old) == []
    assert nc.log_problems("c", old + "standin: error: new trouble\n")


def test_an_events_expected_lines_are_allowed():
    down = "standin: integration bitcoin: DOWN (bitcoin: RPC error -28: Loading block index)\n"
    assert nc.log_problems("archy-lnd", down)
    assert nc.log_problems("archy-lnd", down, allow=(DEPENDENCY_DOWN,)) == []


def test_health_must_answer_a_json_object_whose_ok_fields_hold():
    ref = platform.load("reference-rootful").health
    assert nc.health_problems({"ok": True, "last_good_tick": 1.0, "http_status": 200}, ref) == []
    assert nc.health_problems({"ok": True, "http_status": 503}, ref) == [
        "/health is not ok: http_status is 503, not 200"]
    rootless = platform.load("reference").health
    assert nc.health_problems({"ok": True, "last_good_tick": 1.0, "status": "ok", "crash_recovery_complete": True,
                               "http_status": 200}, rootless) == []
    assert nc.health_problems({"status": "error", "error": "podman self-heal failed: x", "http_status": 503},
                              rootless) == ["/health is not ok: http_status is 503, not 200, status is 'error', "
                                            "not 'ok', crash_recovery_complete is None, not True"]
    [p] = nc.health_problems({"body": "<html>502 Bad Gateway</html>", "http_status": 502}, ref)
    assert p.startswith("/health answered no JSON object (HTTP 502)")
    seeds = platform.load("archipelago").health
    assert nc.health_problems({"status": "ok", "crash_recovery_complete": True, "http_status": 200}, seeds) == []
    assert nc.health_problems({"status": "ok", "crash_recovery_complete": False}, seeds) == [
        "/health is not ok: crash_recovery_complete is False, not True"]


def test_host_archipelago_must_resolve_to_the_network_gateway():
    gateways = nc.network_gateways(NETWORK)
    assert gateways == ["10.89.7.1"]
    lan = nc.default_gateway("default via lan-gw.example dev eth0 proto dhcp metric 100\n")
    assert lan == "lan-gw.example"
    good = nc.hosts_address("10.89.7.1       host.archipelago\n", "host.archipelago")
    assert nc.alias_problems("archy-lnd", good, gateways, lan, "archy") == []
    # FM4: the name points at the LAN gateway
    [fm4] = nc.alias_problems("archy-lnd", "lan-gw.example", gateways, lan, "archy")
    assert fm4 == ("archy-lnd: host.archipelago resolves to lan-gw.example (the LAN gateway: FM4), "
                   "not the archy network's gateway 10.89.7.1")
    # a unit without the AddHost entry: getent finds nothing, the hosts file has no such line
    hosts = "127.0.0.1 localhost\n10.89.7.10 archy-bitcoin-knots  # podman\n10.0.2.2 host.containers.internal\n"
    missing = nc.hosts_address(hosts, "host.archipelago")
    assert missing is None
    assert nc.alias_problems("archy-lnd", missing, gateways, lan, "archy") == [
        "archy-lnd: host.archipelago does not resolve (no host entry in the container)"]


def test_unparsable_network_inspect_has_no_gateway():
    assert nc.network_gateways("Error: unable to find network with name or ID archy") == []
    assert nc.network_gateways('[{"name": "x", "subnets": null}]') == []
    assert nc.default_gateway("") is None
