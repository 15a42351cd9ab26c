"""The reference reconciler's acceptance on a real node (the embedded VM: real systemd, podman,
Quadlet, stand-ins). Runs in file order on one node; each test leaves the node converged. Every
name and the apps' scope come from the node's profile (rootless by default, or reference-rootful).

    pytest tests/reconciler_vm --vm
"""
from __future__ import annotations

import json
import shlex
import time

import pytest

from node.api import poll
from node.driver import RpcError

pytestmark = [pytest.mark.vm, pytest.mark.usefixtures("from_golden")]

BTC, LND = "bitcoin-knots", "lnd"


def show(node, unit: str, *props: str, system: bool = False) -> dict:
    """An app's unit in the apps' scope; `system` for the daemon."""
    systemctl = "systemctl" if system else node.cmd.systemctl
    out = node.succeed(f"{systemctl} show -p {','.join(props)} {unit}", timeout=60)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def unit(node, app: str) -> str:
    return node.names.unit(app)


def status(node, port: int) -> dict:
    # a just-restarted stand-in on a busy TCG node can take more than one 10 s try to answer
    cmd = f"curl -fsS -m 10 http://127.0.0.1:{port}/status"
    node.wait_until_succeeds(cmd, timeout=120)
    return json.loads(node.succeed(cmd, timeout=30))


def interval(driver) -> float:
    return float(driver.health()["interval"])


def journal_count(node, cursor: str, unit: str, text: str) -> int:
    """systemd's own lines about `unit`: UNIT= from the system manager, USER_UNIT= from a user's."""
    return sum(1 for e in node.journal_since(cursor, timeout=120)
               if unit in (e.get("UNIT"), e.get("USER_UNIT")) and text in str(e.get("MESSAGE", "")))


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
    path = node.names.quadlet(LND)
    before = node.get_file(path)
    pid = show(node, unit(node, LND), "MainPID")["MainPID"]
    assert node.names.owned(path), path              # the profile's Quadlet dir, nothing else
    node.succeed(node.cmd.as_root(f"rm -f {shlex.quote(path)}"))
    t0 = time.monotonic()
    stack.tick(timeout=300)                    # one tick
    assert node.get_file(path) == before
    assert show(node, unit(node, LND), "ActiveState", "NeedDaemonReload") == {
        "ActiveState": "active", "NeedDaemonReload": "no"}
    assert show(node, unit(node, LND), "MainPID")["MainPID"] == pid   # no needless restart
    print(f"unit file back and loaded {time.monotonic() - t0:.1f} s after deletion")


def test_sigkill_reconciler_keeps_apps_up(node, stack):
    units = [unit(node, a) for a in (BTC, "archy-bitcoin-ui", LND, "archy-lnd-ui")]
    pids = {u: show(node, u, "MainPID")["MainPID"] for u in units}
    daemon = node.names.daemon_unit
    old = show(node, daemon, "MainPID", system=True)["MainPID"]
    node.succeed(node.cmd.as_root(f"systemctl kill -s KILL {daemon}"))

    def restarted() -> bool:
        now = show(node, daemon, "MainPID", "ActiveState", system=True)
        return now["ActiveState"] == "active" and now["MainPID"] not in (old, "0")
    assert poll(restarted, timeout=300, interval=2), f"{daemon} not restarted"
    assert poll(lambda: stack.health().get("http_status") == 200, timeout=300, interval=2)
    for u in units:
        assert show(node, u, "ActiveState", "MainPID") == {"ActiveState": "active", "MainPID": pids[u]}, u


def test_corrupt_bitcoin_conf_rewritten_and_restarted_once(node, stack):
    conf = f"{node.names.config_dir(BTC)}/bitcoin.conf"
    good = node.get_file(conf)
    btc = unit(node, BTC)
    cursor = node.journal_cursor()
    node.succeed(node.cmd.as_root(f"printf 'rpcauth=broken\\n' > {conf}"))
    stack.tick(timeout=300)
    assert node.get_file(conf) == good
    node.wait_for_unit(btc, timeout=900)
    for _ in range(3):                         # later ticks must not restart it again
        stack.tick(timeout=300)
    assert journal_count(node, cursor, btc, "Stopping") == 1
    node.wait_for_unit(unit(node, LND), timeout=600)
    assert poll(lambda: status(node, 9080).get("integrations", {}).get("bitcoin", {}).get("ok") is True,
                timeout=300, interval=5), "lnd did not reconnect with the derived credentials"


def test_bitcoind_stop_uses_600s_grace_and_restarts_clean(node, stack):
    btc = unit(node, BTC)
    assert show(node, btc, "TimeoutStopUSec")["TimeoutStopUSec"] == "10min 30s"
    cid = node.succeed(f"{node.cmd.podman} inspect --format '{{{{.Config.StopTimeout}}}}' "
                       f"{node.names.container(BTC)}").strip()
    assert cid == "600"
    before = status(node, 9332)
    assert before["unclean_shutdown"] is False
    t0 = time.monotonic()
    assert stack.stop(BTC)["desired"] == "user-stopped"
    assert poll(lambda: show(node, btc, "ActiveState")["ActiveState"] == "inactive", timeout=700, interval=2)
    took = time.monotonic() - t0
    assert show(node, btc, "Result")["Result"] == "success"     # not timeout / SIGKILL
    assert stack.start(BTC)["desired"] == "started"
    node.wait_for_unit(btc, timeout=900)
    after = status(node, 9332)
    assert after["unclean_shutdown"] is False and after["chain_height"] >= before["chain_height"]
    print(f"bitcoind stopped cleanly in {took:.1f} s")
    node.wait_for_unit(unit(node, LND), timeout=900)
