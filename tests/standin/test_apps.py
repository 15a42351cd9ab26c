"""lnd, electrumx, btcpay/mempool/fedimint and UI companions against a real bitcoind stand-in on loopback."""
import json
import os
import shutil
import socket

import pytest
from standin_support import VECTOR_PASSWORD, VECTOR_USER, free_port, http, wait_until


def lnd_conf(bitcoind, password=VECTOR_PASSWORD) -> str:
    return (f"[Bitcoind]\nbitcoind.rpchost=127.0.0.1:{bitcoind.ports['rpc']}\nbitcoind.rpcuser={VECTOR_USER}\n"
            f"bitcoind.rpcpass={password}\nbitcoind.zmqpubrawblock=tcp://127.0.0.1:{bitcoind.ports['zmqblock']}\n")


def start_lnd(standin, bitcoind, password=VECTOR_PASSWORD):
    p = standin("lnd", start=False)
    (p.config / "lnd.conf").write_text(lnd_conf(bitcoind, password))
    return p.start()


def macaroon(lnd) -> str:
    return (lnd.data / "admin.macaroon").read_bytes().hex()


def test_lnd_rest_requires_the_macaroon(standin, bitcoind):
    """As lnd's REST gateway answers: a missing or wrong macaroon is gRPC Unknown (2), HTTP 500."""
    lnd = start_lnd(standin, bitcoind)
    port = lnd.ports["rest"]
    code, _, body = http(port, "/v1/getinfo")
    assert (code, json.loads(body)) == (500, {"code": 2, "message": "expected 1 macaroon, got 0", "details": []})
    code, _, body = http(port, "/v1/getinfo", headers={"Grpc-Metadata-macaroon": "00" * 64})
    assert code == 500 and json.loads(body)["message"].startswith("verification failed")
    code, _, body = http(port, "/v1/getinfo", headers={"Grpc-Metadata-macaroon": macaroon(lnd)})
    info = json.loads(body)
    assert code == 200 and info["alias"] == "lnd"
    assert {"identity_pubkey", "block_height", "block_hash", "synced_to_chain", "chains"} <= set(info)
    assert isinstance(info["block_height"], int) and isinstance(info["best_header_timestamp"], str)
    code, _, body = http(port, "/v1/nope", headers={"Grpc-Metadata-macaroon": macaroon(lnd)})
    assert (code, json.loads(body)["code"]) == (404, 5)


def test_lnd_macaroon_from_config_wins(standin, bitcoind):
    p = standin("lnd", start=False)
    (p.config / "lnd.conf").write_text(lnd_conf(bitcoind))
    (p.config / "admin.macaroon.hex").write_text("ab" * 32 + "\n")
    p.start()
    assert http(p.ports["rest"], "/v1/getinfo", headers={"Grpc-Metadata-macaroon": "ab" * 32})[0] == 200


def test_lnd_synced_to_chain_follows_bitcoind(standin, bitcoind):
    lnd = start_lnd(standin, bitcoind)
    st = wait_until(lambda: (s := lnd.status())["synced_to_chain"] and s, what="lnd synced")
    assert st["integrations"]["bitcoin"]["ok"] and st["healthy"]
    bitcoind.stop()
    down = wait_until(lambda: (s := lnd.status())["synced_to_chain"] is False and s, what="lnd to notice bitcoind down")
    assert down["integrations"]["bitcoin"]["ok"] is False and "refused" in down["integrations"]["bitcoin"]["detail"]
    assert down["healthy"] is True, "a dependency outage is an integration state, not lnd's own health"
    code, _, body = http(lnd.ports["rest"], "/v1/getinfo", headers={"Grpc-Metadata-macaroon": macaroon(lnd)})
    assert json.loads(body)["synced_to_chain"] is False
    bitcoind.start()
    wait_until(lambda: lnd.status()["synced_to_chain"], what="lnd synced again")


def test_lnd_with_stale_password_reports_401_not_secrets(standin, bitcoind):
    lnd = start_lnd(standin, bitcoind, password="rotated-secret-xyz")
    st = wait_until(lambda: (s := lnd.status())["integrations"]["bitcoin"]["detail"] != "not checked yet" and s)
    assert st["synced_to_chain"] is False and "401" in st["integrations"]["bitcoin"]["detail"]
    assert "rotated-secret-xyz" not in json.dumps(st) and "rotated-secret-xyz" not in lnd.log_text()


def electrum(port: int, method: str, params=()):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(json.dumps({"id": 7, "method": method, "params": list(params)}).encode() + b"\n")
        return json.loads(s.makefile("rb").readline())


def start_electrumx(standin, bitcoind, data=None):
    p = standin("electrumx", start=False, data=data)
    (p.config / "electrumx.env").write_text(
        f"DAEMON_URL=http://{VECTOR_USER}:{VECTOR_PASSWORD}@127.0.0.1:{bitcoind.ports['rpc']}/\n")
    return p.start()


def test_electrumx_lock_and_daemon(standin, bitcoind):
    ex = start_electrumx(standin, bitcoind)
    lock = ex.data / "LOCK"
    assert lock.exists()
    st = wait_until(lambda: (s := ex.status())["integrations"]["bitcoin"]["ok"] and s, what="electrumx daemon ok")
    assert st["unclean_shutdown"] is False
    reply = electrum(ex.ports["tcp"], "blockchain.headers.subscribe")
    assert reply["result"]["height"] >= 0
    assert electrum(ex.ports["ssl"], "server.version", ["t", "1.4"])["result"][1] == "1.4"
    ex.stop()
    assert not lock.exists()


def test_electrumx_without_an_ssl_port_serves_tcp_only(standin, bitcoind):
    """The catalog's electrumx: tcp and status (the seeds' node serves its UI companion on 50002)."""
    p = standin("electrumx", ports={"tcp": free_port(), "status": free_port()}, start=False)
    (p.config / "electrumx.env").write_text(f"DAEMON_URL=http://127.0.0.1:{bitcoind.ports['rpc']}/\n")
    p.start()
    assert electrum(p.ports["tcp"], "server.version", ["t", "1.4"])["result"][1] == "1.4"
    assert p.wait_status()["app"] == "electrumx"
    p.stop()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_electrumx_needs_dac_override_for_a_data_dir_it_does_not_own(standin, bitcoind, tmp_path):
    """Seed 003: the data dir belongs to container uid 1, electrumx runs as container root and
    --cap-drop=ALL took DAC_OVERRIDE: it dies on its LOCK. setpriv makes this process that root."""
    data = tmp_path / "owned-by-1"
    data.mkdir(mode=0o750)
    os.chown(data, 1, 1)
    denied = standin("electrumx", start=False, data=data)
    denied.prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    (denied.config / "electrumx.env").write_text(f"DAEMON_URL=http://127.0.0.1:{bitcoind.ports['rpc']}/\n")
    denied.start(wait=False)
    assert denied.wait_exit(15) == 1
    assert "IO error: LOCK: Permission denied" in denied.log_text()
    allowed = standin("electrumx", "electrumx-2", start=False, data=data)
    allowed.prefix = ["setpriv", "--bounding-set", "-dac_read_search", "--"]   # DAC_OVERRIDE kept, as the catalog adds it
    (allowed.config / "electrumx.env").write_text(f"DAEMON_URL=http://127.0.0.1:{bitcoind.ports['rpc']}/\n")
    allowed.start()
    assert (data / "LOCK").exists() and allowed.status()["healthy"]


def test_electrumx_second_instance_on_same_data_refuses(standin, bitcoind):
    first = start_electrumx(standin, bitcoind)
    second = standin("electrumx", "electrumx-2", start=False, data=first.data)
    second.start(wait=False)
    assert second.wait_exit(15) == 1
    assert "holds" in second.log_text() and (first.data / "LOCK").exists()


def test_electrumx_stale_lock_is_unclean(standin, bitcoind):
    ex = start_electrumx(standin, bitcoind)
    ex.kill()
    assert (ex.data / "LOCK").exists()
    ex.start()
    assert ex.status()["unclean_shutdown"] is True


@pytest.mark.parametrize("profile", ["btcpay", "mempool", "fedimint"])
def test_webapps_check_their_integrations(standin, bitcoind, profile):
    links = {"bitcoin": {"host": "127.0.0.1", "port": bitcoind.ports["rpc"], "user": VECTOR_USER,
                         "password": VECTOR_PASSWORD}}
    if profile == "btcpay":
        lnd = start_lnd(standin, bitcoind)
        links["lnd"] = {"url": f"http://127.0.0.1:{lnd.ports['rest']}/", "macaroon": macaroon(lnd)}
    if profile == "mempool":
        ex = start_electrumx(standin, bitcoind)
        links["electrum"] = {"host": "127.0.0.1", "port": ex.ports["tcp"]}
    app = standin(profile, start=False)
    (app.config / "integrations.json").write_text(json.dumps(links))
    app.start()
    st = wait_until(lambda: (s := app.status())["integrations"] and all(v["ok"] for v in s["integrations"].values())
                    and s, what=f"{profile} integrations ok")
    assert set(st["integrations"]) == set(links)
    code, headers, page = http(app.ports["ui"], "/")
    assert code == 200 and b"<title>" in page and "X-Frame-Options" not in headers
    bitcoind.stop()
    down = wait_until(lambda: (s := app.status())["integrations"]["bitcoin"]["ok"] is False and s)
    assert down["healthy"] is True


def test_webapp_without_integrations_file_reports_not_configured(standin):
    app = standin("fedimint")
    st = wait_until(lambda: (s := app.status())["integrations"]["bitcoin"]["detail"] != "not checked yet" and s)
    assert st["integrations"]["bitcoin"] == {"ok": False, "detail": "not configured (integrations.json has no 'bitcoin')"}


def test_ui_companion_page_is_frameable_and_has_status(standin):
    ui = standin("ui", "archy-bitcoin-ui")
    code, headers, page = http(ui.ports["ui"], "/apps/bitcoin-knots/")
    assert code == 200 and b"archy-bitcoin-ui" in page
    assert not any(h.lower() == "x-frame-options" for h in headers)
    assert ui.status()["healthy"] is True and ui.status()["app"] == "archy-bitcoin-ui"


def test_data_checksum_stable_across_restart_and_changes_with_data(standin, bitcoind):
    lnd = start_lnd(standin, bitcoind)
    before = lnd.status()["data_checksum"]
    lnd.stop()
    lnd.start()
    assert lnd.status()["data_checksum"] == before
    (lnd.data / "channel.backup").write_bytes(b"new channel")
    assert lnd.status()["data_checksum"] != before
    (lnd.data / "channel.backup").unlink()
    (lnd.data / "wallet.db").write_bytes(b"same size?" * 3)      # content change, any size
    assert lnd.status()["data_checksum"] != before


def test_healthcheck_script_follows_status(standin, monkeypatch):
    import os
    import subprocess
    import sys
    from standin_support import STANDIN_PATH
    ui = standin("ui", "archy-lnd-ui")
    env = {**os.environ, "PYTHONPATH": str(STANDIN_PATH), "STANDIN_PORTS": f"ui={ui.ports['ui']}"}
    run = lambda: subprocess.run([sys.executable, "-m", "standin.healthcheck"], env=env, timeout=20).returncode
    assert run() == 0
    ui.stop()
    assert run() == 1


@pytest.mark.parametrize("profile", ["lnd", "ui"])
def test_the_exit_at_start_fault_makes_every_start_fail_until_it_goes(standin, bitcoind, profile):
    """The crash loop of chaos/crash_loop.py: same program, same config, every start exits 1."""
    p = standin(profile, start=False)
    p.data.mkdir(parents=True, exist_ok=True)
    (p.data / ".standin-fault").write_text("exit-at-start\n")
    for _ in range(2):
        p.start(wait=False)
        assert p.wait_exit(15) == 1
    assert "exit-at-start fault" in p.log_text()
    (p.data / ".standin-fault").unlink()
    p.start()
