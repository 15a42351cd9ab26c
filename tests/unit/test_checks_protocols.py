"""The apps' own protocols: replies in the real apps' shapes -> ready / not yet / failed, and the
shell text that asks them (no secret on it)."""
import json

import pytest

from harness.checks import protocols as P
from matrix.model import load
from node.commands import Commands
from node.names import REFERENCE


def http(body, code=200) -> str:
    """What curl -w '\\n%{http_code}' prints."""
    return (body if isinstance(body, str) else json.dumps(body)) + f"\n{code}"


# bitcoind 28: getblockchaininfo over JSON-RPC 1.0 (errors come with HTTP 500)
INFO = {"chain": "main", "blocks": 871234, "headers": 871234, "bestblockhash": "00" * 32, "difficulty": 1.1e14,
        "time": 1731000000, "mediantime": 1730999000, "verificationprogress": 0.9999987,
        "initialblockdownload": False, "chainwork": "00" * 32, "size_on_disk": 7e11, "pruned": False, "warnings": []}


def test_bitcoind_ready_reports_the_height():
    a = P.parse_bitcoind(0, http({"result": INFO, "error": None, "id": "archy"}))
    assert (a.state, a.height, a.synced, a.detail) == (P.READY, 871234, True, "height 871234")


def test_bitcoind_warmup_is_not_yet_not_a_failure():
    a = P.parse_bitcoind(0, http({"result": None, "error": {"code": -28, "message": "Loading block index…"},
                                  "id": "archy"}, 500))
    assert a.state == P.NOT_YET and "Loading block index" in a.detail and a.facts["warmup"] == "Loading block index…"


def test_bitcoind_failures_say_what_went_wrong():
    assert "401" in P.parse_bitcoind(0, http("", 401)).detail
    assert P.parse_bitcoind(0, http("", 401)).state == P.FAILED
    err = P.parse_bitcoind(0, http({"result": None, "error": {"code": -1, "message": "Corrupted block database detected"},
                                    "id": 1}, 500))
    assert (err.state, err.detail) == (P.FAILED, "RPC error -1: Corrupted block database detected")
    assert P.parse_bitcoind(0, http("<html>proxy</html>", 502)).state == P.FAILED
    assert P.parse_bitcoind(0, http({"result": {"chain": "main"}, "error": None, "id": 1})).state == P.FAILED
    assert P.parse_bitcoind(7, "\n000", "curl: (7) Failed to connect").state == P.NOT_YET
    cred = P.parse_bitcoind(P.CRED_RC, "", "cannot read the bitcoind RPC password /x as root")
    assert cred.state == P.FAILED and "cannot read" in cred.detail


def test_bitcoind_height_beyond_its_own_headers_fails():
    """The broken stand-in's wrong-height answer: blocks no node can hold."""
    a = P.parse_bitcoind(0, http({"result": {**INFO, "blocks": 1012, "headers": 12}, "error": None, "id": 1}))
    assert a.state == P.FAILED and "blocks 1012 beyond headers 12" in a.detail


def test_bitcoind_initial_block_download_and_warnings():
    a = P.chain_state({**INFO, "blocks": 100, "headers": 871234, "initialblockdownload": True,
                       "verificationprogress": 0.01, "warnings": "Unclean shutdown detected"})   # <= v27: a string
    assert a.ready and a.synced is False and "initial block download" in a.detail
    assert a.facts["warnings"] == ("Unclean shutdown detected",)


def test_recovery_signs_from_bitcoind_answers():
    before = P.Answer(P.READY, "height 50", 50, True)
    seen = [P.parse_bitcoind(0, http({"result": None, "error": {"code": -28, "message": "Replaying blocks…"}, "id": 1}, 500)),
            P.chain_state({**INFO, "blocks": 50, "headers": 50, "initialblockdownload": True,
                           "warnings": ["Unclean shutdown detected: chainstate was rebuilt from the block files"]})]
    assert P.recovery_signs(before, seen) == [
        "warm-up 'Replaying blocks…'", "warning 'Unclean shutdown detected: chainstate was rebuilt from the block files'",
        "back in initial block download"]
    clean = [P.parse_bitcoind(0, http({"result": None, "error": {"code": -28, "message": "Loading block index…"}, "id": 1}, 500)),
             P.chain_state(INFO)]
    assert P.recovery_signs(before, clean) == []


# lnd 0.18 REST gateway
GETINFO = {"version": "0.18.4-beta commit=v0.18.4-beta", "commit_hash": "abc", "identity_pubkey": "02" + "ab" * 32,
           "alias": "node", "color": "#3399ff", "num_pending_channels": 0, "num_active_channels": 0,
           "num_inactive_channels": 0, "num_peers": 3, "block_height": 871234, "block_hash": "00" * 32,
           "best_header_timestamp": "1731000000", "synced_to_chain": True, "synced_to_graph": True,
           "testnet": False, "chains": [{"chain": "bitcoin", "network": "mainnet"}], "uris": [], "features": {}}


def test_lnd_synced_to_chain_is_ready():
    a = P.parse_lnd(0, http(GETINFO))
    assert (a.state, a.height, a.synced) == (P.READY, 871234, True)
    behind = P.parse_lnd(0, http({**GETINFO, "synced_to_chain": False}))
    assert (behind.state, behind.synced) == (P.NOT_YET, False) and "not synced to chain" in behind.detail


def test_lnd_without_or_with_a_wrong_macaroon_fails():
    none = P.parse_lnd(0, http({"code": 2, "message": "expected 1 macaroon, got 0", "details": []}, 500))
    assert none.state == P.FAILED and "expected 1 macaroon, got 0" in none.detail
    wrong = P.parse_lnd(0, http({"code": 2, "message": "verification failed: signature mismatch after caveat "
                                                       "verification", "details": []}, 500))
    assert wrong.state == P.FAILED and "macaroon" in wrong.detail
    assert P.parse_lnd(0, http('{"error":"unauthorized"}', 401)).state == P.FAILED


def test_lnd_starting_or_locked_is_not_yet():
    for msg in ("the RPC server is in the process of starting up, but not yet ready to accept calls",
                "wallet locked, unlock it to enable full RPC access"):
        assert P.parse_lnd(0, http({"code": 2, "message": msg, "details": []}, 500)).state == P.NOT_YET
    assert P.parse_lnd(7, "\n000").state == P.NOT_YET
    assert P.parse_lnd(0, http({"code": 5, "message": "Not Found", "details": []}, 404)).state == P.FAILED


# ElectrumX 1.16: newline-delimited JSON-RPC 2.0
def test_electrumx_server_version_and_tip():
    out = ('{"jsonrpc": "2.0", "result": ["ElectrumX 1.16.0", "1.4"], "id": 0}\n'
           '{"jsonrpc": "2.0", "result": {"hex": "' + "00" * 80 + '", "height": 871234}, "id": 1}\n')
    a = P.parse_electrumx(0, out)
    assert (a.state, a.height) == (P.READY, 871234) and a.detail.startswith("ElectrumX 1.16.0, protocol 1.4")
    assert P.sees("electrumx", "bitcoin", a) is True


def test_electrumx_without_a_chain_tip_or_an_answer():
    out = ('{"jsonrpc": "2.0", "result": ["ElectrumX 1.16.0", "1.4"], "id": 0}\n'
           '{"jsonrpc": "2.0", "error": {"code": -32603, "message": "daemon connection problem"}, "id": 1}\n')
    a = P.parse_electrumx(0, out)
    assert a.ready and a.height is None and "daemon connection problem" in a.detail
    assert P.sees("electrumx", "bitcoin", a) is False
    assert P.parse_electrumx(1, "", "bash: connect: Connection refused").state == P.NOT_YET
    assert P.parse_electrumx(124, "").detail == "no server.version answer (timed out)"
    bad = P.parse_electrumx(0, '{"jsonrpc": "2.0", "error": {"code": -32601, "message": "unknown method"}, "id": 0}\n')
    assert bad.state == P.FAILED


def test_http_pages():
    assert P.parse_http(0, http("<!doctype html><title>x</title>")).ready
    assert P.parse_http(0, http("", 200)).state == P.FAILED
    assert P.parse_http(0, http("bad gateway", 502)).state == P.NOT_YET
    assert P.parse_http(0, http("nope", 404)).detail == "HTTP 404"
    assert P.parse_http(28, "\n000").state == P.NOT_YET


def test_views_of_integrations():
    synced = P.parse_lnd(0, http(GETINFO))
    assert P.sees("lnd", "bitcoin", synced) is True
    assert P.sees("lnd", "bitcoin", P.parse_lnd(0, http({**GETINFO, "synced_to_chain": False}))) is False
    assert P.sees("http", "bitcoin", P.parse_http(0, http("<p>page</p>"))) is None
    assert P.sees("lnd", "electrum", synced) is None


def test_kinds_and_ports_come_from_the_matrix():
    m = load()
    assert [P.kind(m.app(a)) for a in ("bitcoin-knots", "lnd", "electrumx", "btcpay", "archy-lnd-ui")] == \
        ["bitcoind", "lnd", "electrumx", "http", "http"]
    assert [P.port_of(m.app(a)) for a in ("bitcoin-core", "lnd", "electrumx", "fedimint", "archy-bitcoin-ui")] == \
        [8332, 8080, 50001, 8175, 8334]


SUDO = Commands(root="sudo -n ")


def test_the_bitcoind_command_reads_the_password_on_the_node_as_root():
    cmd = P.command(REFERENCE, SUDO, load().app("bitcoin-knots"), timeout=7)
    assert "sudo -n head -n 1 /var/lib/archipelago/secrets/bitcoin-rpc-password" in cmd
    assert "-K -" in cmd and "--max-time 7" in cmd and "http://127.0.0.1:8332/" in cmd
    assert 'user = "archipelago:' in cmd and "getblockchaininfo" in cmd
    assert f"exit {P.CRED_RC}" in cmd
    with pytest.raises(ValueError, match="only letters"):
        P.bitcoind_command("a b", "/p", SUDO.as_root, 8332)


def test_the_lnd_command_sends_the_macaroon_as_hex_from_the_node():
    cmd = P.command(REFERENCE, SUDO, load().app("lnd"))
    assert "sudo -n cat /var/lib/archipelago/secrets/lnd-macaroon" in cmd
    assert "od -An -v -tx1" in cmd and "Grpc-Metadata-macaroon: %s" in cmd
    assert "-k https://127.0.0.1:8080/v1/getinfo" in cmd and "http://127.0.0.1:8080/v1/getinfo" in cmd


def test_the_other_commands_are_bounded():
    m = load()
    assert P.command(REFERENCE, SUDO, m.app("electrumx"), 9).startswith("timeout -k 2 9 bash -c ")
    assert "server.version" in P.command(REFERENCE, SUDO, m.app("electrumx"))
    assert P.command(REFERENCE, SUDO, m.app("mempool"), 5) == \
        "curl -sS --max-time 5 -w '\\n%{http_code}' http://127.0.0.1:4080/"
