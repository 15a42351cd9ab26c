"""node.conformance: what a node lacks of its profile, named; container.list rows of either shape."""
from node import platform
from node.conformance import app_ids, mismatches

SEEDS = platform.load("archipelago")
REF = platform.load("reference")


def _facts(**kw):
    base = {"dirs": {"/var/lib/archipelago": True}, "daemon_unit": "loaded",
            "health": {"status": "ok", "crash_recovery_complete": True, "http_status": 200}, "apps": [], "units": {}}
    return {**base, **kw}


def test_a_node_that_has_every_name_has_no_mismatch():
    assert mismatches(SEEDS, _facts()) == []


def test_each_missing_name_is_said_once():
    found = mismatches(SEEDS, _facts(
        dirs={"/home/archipelago/.config/containers/systemd": False, "/var/lib/archipelago": True},
        health={"ok": True, "last_good_tick": 1.0, "interval": 5, "http_status": 200},
        units={"bitcoin-knots.service": "not-found"}))
    assert found == ["no directory /home/archipelago/.config/containers/systemd",
                     "http://127.0.0.1:5678/health has no field status, crash_recovery_complete "
                     "(it has interval, last_good_tick, ok)",
                     "no unit bitcoin-knots.service in the user scope of archipelago"]


def test_no_daemon_and_no_endpoint_are_named():
    found = mismatches(REF, _facts(daemon_unit="not-found", health_error="curl exited 7: refused"))
    assert found == ["no unit archipelago.service in the system scope (LoadState not-found)",
                     "no health endpoint at http://127.0.0.1:5678/health (curl exited 7: refused)"]


def test_container_list_rows_of_the_reference_and_of_a_node_naming_containers():
    assert app_ids([{"app": "lnd", "container": "archy-lnd"}], REF.names) == ["lnd"]
    assert app_ids([{"name": "btcpay-server"}, {"id": "bitcoin-knots"}, "junk"], SEEDS.names) == \
           ["bitcoin-knots", "btcpay"]
    assert app_ids({"not": "a list"}, SEEDS.names) == []
