"""The reference reconciler's acceptance on a real node (the embedded VM: real systemd, podman,
Quadlet, stand-ins). Runs in file order on one node; each test leaves the node converged.

    pytest tests/reconciler_vm --vm
"""
from __future__ import annotations

import json
import time

import pytest

from node.api import poll
from node.driver import RpcError

pytestmark = [pytest.mark.vm, pytest.mark.usefixtures("from_golden")]

BTC, LND = "bitcoin-knots", "lnd"
UNIT_DIR = "/etc/containers/systemd"
CONF = f"/var/lib/archipelago/config/{BTC}/bitcoin.conf"


def show(node, unit: str, *props: str) -> dict:
    out = node.succeed(f"systemctl show -p {','.join(props)} {unit}", timeout=60)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def status(node, port: int) -> dict:
    # a just-restarted stand-in on a busy TCG node can take more than one 10 s try to answer
    cmd = f"curl -fsS -m 10 http://127.0.0.1:{port}/status"
    node.wait_until_succeeds(cmd, timeout=120)
    return json.loads(node.succeed(cmd, timeout=30))


def interval(driver) -> float:
    return float(driver.health()["interval"])


def journal_count(node, cursor: str, unit: str, text: str) -> int:
    return sum(1 for e in node.journal_since(cursor, timeout=120)
               if e.get("UNIT") == unit and text in str(e.get("MESSAGE", "")))


@pytest.fixture(scope="module")
def stack(node, driver):
    """bitcoin-knots + lnd installed; the install of lnd alone is refused first."""
    with pytest.raises(RpcError) as e:
        driver.install(LND, timeout=120)
    assert e.value.code == -32001 and "bitcoin" in e.value.message
    assert driver.install(BTC, timeout=1200)["healthy"] is True
    assert driver.install(LND, timeout=1200)["healthy"] is True
    return driver


def test_lnd_requires_bitcoin_and_syncs_to_chain(node, stack):
    assert poll(lambda: status(node, 9080).get("synced_to_chain") is True, timeout=300, interval=5), \
        f"lnd not synced_to_chain: {status(node, 9080)}"
    health = stack.container_health(LND)
    assert health[LND]["healthy"] is True


def test_deleted_unit_back_within_one_tick(node, stack):
    path = f"{UNIT_DIR}/archy-{LND}.container"
    before = node.get_file(path)
    pid = show(node, f"archy-{LND}.service", "MainPID")["MainPID"]
    node.succeed(f"rm -f {path}")
    t0 = time.monotonic()
    stack.tick(timeout=300)                    # one tick
    assert node.get_file(path) == before
    assert show(node, f"archy-{LND}.service", "ActiveState", "NeedDaemonReload") == {
        "ActiveState": "active", "NeedDaemonReload": "no"}
    assert show(node, f"archy-{LND}.service", "MainPID")["MainPID"] == pid   # no needless restart
    print(f"unit file back and loaded {time.monotonic() - t0:.1f} s after deletion")


def test_sigkill_reconciler_keeps_apps_up(node, stack):
    units = [f"archy-{BTC}.service", "archy-bitcoin-ui.service", f"archy-{LND}.service", "archy-lnd-ui.service"]
    pids = {u: show(node, u, "MainPID")["MainPID"] for u in units}
    old = show(node, "archipelago.service", "MainPID")["MainPID"]
    node.succeed("systemctl kill -s KILL archipelago.service")

    def restarted() -> bool:
        now = show(node, "archipelago.service", "MainPID", "ActiveState")
        return now["ActiveState"] == "active" and now["MainPID"] not in (old, "0")
    assert poll(restarted, timeout=300, interval=2), "archipelago.service not restarted"
    assert poll(lambda: stack.health().get("http_status") == 200, timeout=300, interval=2)
    for u in units:
        assert show(node, u, "ActiveState", "MainPID") == {"ActiveState": "active", "MainPID": pids[u]}, u


def test_corrupt_bitcoin_conf_rewritten_and_restarted_once(node, stack):
    good = node.get_file(CONF)
    unit = f"archy-{BTC}.service"
    cursor = node.journal_cursor()
    node.succeed(f"printf 'rpcauth=broken\\n' > {CONF}")
    stack.tick(timeout=300)
    assert node.get_file(CONF) == good
    node.wait_for_unit(unit, timeout=900)
    for _ in range(3):                         # later ticks must not restart it again
        stack.tick(timeout=300)
    assert journal_count(node, cursor, unit, "Stopping") == 1
    node.wait_for_unit(f"archy-{LND}.service", timeout=600)
    assert poll(lambda: status(node, 9080).get("integrations", {}).get("bitcoin", {}).get("ok") is True,
                timeout=300, interval=5), "lnd did not reconnect with the derived credentials"


def test_bitcoind_stop_uses_600s_grace_and_restarts_clean(node, stack):
    unit = f"archy-{BTC}.service"
    assert show(node, unit, "TimeoutStopUSec")["TimeoutStopUSec"] == "10min 30s"
    cid = node.succeed(f"podman inspect --format '{{{{.Config.StopTimeout}}}}' archy-{BTC}").strip()
    assert cid == "600"
    before = status(node, 9332)
    assert before["unclean_shutdown"] is False
    t0 = time.monotonic()
    assert stack.stop(BTC)["desired"] == "user-stopped"
    assert poll(lambda: show(node, unit, "ActiveState")["ActiveState"] == "inactive", timeout=700, interval=2)
    took = time.monotonic() - t0
    assert show(node, unit, "Result")["Result"] == "success"     # not timeout / SIGKILL
    assert stack.start(BTC)["desired"] == "started"
    node.wait_for_unit(unit, timeout=900)
    after = status(node, 9332)
    assert after["unclean_shutdown"] is False and after["chain_height"] >= before["chain_height"]
    print(f"bitcoind stopped cleanly in {took:.1f} s")
    node.wait_for_unit(f"archy-{LND}.service", timeout=900)
