"""The harness pieces against the real thing: the session's embedded VM (the plugin's `node`,
shared with tests/vm, tests/chaos, ...): systemd waits, the journal check, the inventory with
podman/Quadlet, artifacts with the serial log, the platform driver against the reconciler."""
import pytest

from harness import artifacts, inventory, journal
from node.api import CommandTimeout, NodeError
from node.driver import PlatformDriver, RpcError

pytestmark = [pytest.mark.vm, pytest.mark.usefixtures("from_golden")]


def test_wait_for_unit(node):
    node.wait_for_unit("archipelago.service", timeout=300, system=True)
    # oneshot: "activating" until the shell exits, then "failed" (a simple unit is briefly "active",
    # and a busy VM let wait_for_unit see that first)
    node.succeed(node.cmd.as_root("systemd-run --no-block --unit=archy-foundation-fails --property=Type=oneshot "
                                  "--property=Restart=no sh -c 'exit 3'"), timeout=60)
    try:
        with pytest.raises(NodeError, match="unit archy-foundation-fails.service failed"):
            node.wait_for_unit("archy-foundation-fails.service", timeout=120, system=True)  # fails fast, no 120 s wait
        with pytest.raises(CommandTimeout, match="not active within 2s"):
            node.wait_for_unit("archy-foundation-absent.service", timeout=2, system=True)
    finally:
        node.run(node.cmd.as_root("systemctl reset-failed archy-foundation-fails.service"), timeout=60)


def test_journal_check_catches_our_errors_only(node):
    cursor = node.journal_cursor()
    node.succeed("logger -t archipelago 'ERROR: foundation check line'; logger -t nginx 'error: not ours'; "
                 "logger -t archipelago 'tick done'", timeout=60)
    lines = []
    for _ in range(2):  # journald may lag a moment behind logger
        lines = journal.check(node, cursor)
        if lines:
            break
        node.wait_until_succeeds("journalctl -q -t archipelago -n 20 | grep -q 'foundation check'", timeout=30)
    assert lines == ["archipelago: ERROR: foundation check line"]
    assert journal.check(node, cursor, allow=["foundation check"]) == []


def test_inventory_sees_podman_quadlet_and_ports(node):
    inv = inventory.snapshot(node, timeout=300)
    assert node.names.network in inv["networks"] or "podman" in inv["networks"]
    assert any(i.startswith("localhost/archy-standin:1 ") for i in inv["images"])
    assert node.names.daemon_unit in inv["units"]
    assert any(p.startswith("127.0.0.1:5678 ") for p in inv["ports"])
    # a leftover appears in the diff
    node.succeed(f"{node.cmd.podman} create --name archy-foundation-leak localhost/archy-standin:1 true", timeout=300)
    try:
        d = inventory.diff(inv, inventory.snapshot(node, timeout=300))
        assert d["containers"] == {"added": ["archy-foundation-leak"], "removed": []}
    finally:
        node.run(f"{node.cmd.podman} rm -f archy-foundation-leak", timeout=300)


def test_artifacts_include_the_serial_log(node, tmp_path):
    if getattr(getattr(node, "vm", None), "serial_log", None) is None:
        pytest.skip("not a VM node")
    paths = artifacts.collect(node, tmp_path, app="lnd", attach=False)
    names = {p.name for p in paths}
    assert {"journal.txt", "podman-ps.txt", "units.txt", "serial.log"} <= names
    assert "archipelago.service" in (tmp_path / "units.txt").read_text()


def test_driver_against_the_reconciler(node):
    d = PlatformDriver(node)
    h = d.health()
    assert h["http_status"] in (200, 503) and "last_good_tick" in h
    assert isinstance(d.containers(), list)
    with pytest.raises(RpcError) as e:
        d.install("../etc")
    assert e.value.code == -32602
