"""The harness's protocol checks (harness/checks/protocols.py) against the stand-ins, run locally:
the real shell text with the real curl/bash, the stand-ins answering in the real apps' shapes, and
the two faults a broken stand-in can be given (a wrong chain height, lnd not synced), which the
checks must fail while the stand-in's own /status still says all is well."""
import os
from dataclasses import replace

import pytest
from standin_support import VECTOR_PASSWORD, VECTOR_USER, LocalShell

from harness.checks import probes, protocols as P
from matrix.model import Port, load
from node.names import REFERENCE

MATRIX = load()


def as_app(proc, app_id: str):
    """The matrix's app, on the stand-in's local ports."""
    return replace(MATRIX.app(app_id), ports=tuple(Port(n, p, n == "ui") for n, p in proc.ports.items()))


def secret(shell, name: str, data: bytes) -> None:
    path = os.path.join(shell.names.secrets_dir, name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(data)


@pytest.fixture
def shell(tmp_path):
    (tmp_path / "secrets").mkdir(mode=0o700)
    return LocalShell(replace(REFERENCE, secrets_dir=str(tmp_path / "secrets"), bitcoin_rpc_user=VECTOR_USER))


def start_lnd(standin, bitcoind):
    p = standin("lnd", start=False)
    (p.config / "lnd.conf").write_text(
        f"[Bitcoind]\nbitcoind.rpchost=127.0.0.1:{bitcoind.ports['rpc']}\nbitcoind.rpcuser={VECTOR_USER}\n"
        f"bitcoind.rpcpass={VECTOR_PASSWORD}\n")
    return p.start()


def test_bitcoind_answers_getblockchaininfo_with_the_password_kept_on_the_node(bitcoind, shell):
    app = as_app(bitcoind, "bitcoin-knots")
    secret(shell, "bitcoin-rpc-password", VECTOR_PASSWORD.encode() + b"\n")
    a = P.probe(shell, app)
    assert a.ready and a.synced and a.height is not None and a.height <= bitcoind.status()["chain_height"]
    assert all(VECTOR_PASSWORD not in c for c in shell.commands), "the password must never be on a command line"
    secret(shell, "bitcoin-rpc-password", b"rotated\n")
    refused = P.probe(shell, app)
    assert refused.state == P.FAILED and "401" in refused.detail
    os.unlink(os.path.join(shell.names.secrets_dir, "bitcoin-rpc-password"))
    missing = P.probe(shell, app)
    assert missing.state == P.FAILED and "cannot read the bitcoind RPC password" in missing.detail


def test_wrong_height_fault_fails_the_check_while_status_says_all_is_well(bitcoind, shell):
    app = as_app(bitcoind, "bitcoin-knots")
    secret(shell, "bitcoin-rpc-password", VECTOR_PASSWORD.encode())
    assert P.probe(shell, app).ready
    (bitcoind.data / ".standin-fault").write_text("wrong-height\n")
    broken = P.probe(shell, app)
    assert broken.state == P.FAILED and "beyond headers" in broken.detail
    problems = probes.health_problems(app, broken, {"ActiveState": "active"}, {"State": {"Status": "running"}},
                                      shell.names)
    assert problems and "beyond headers" in problems[0]
    st = bitcoind.status()
    assert st["healthy"] and st["chain_ok"], "the fault must change the protocol answer only"
    (bitcoind.data / ".standin-fault").unlink()
    assert P.probe(shell, app).ready


def test_bitcoind_after_a_crash_warms_up_with_minus_28_then_says_it_recovered(bitcoind, shell):
    app = as_app(bitcoind, "bitcoin-knots")
    secret(shell, "bitcoin-rpc-password", VECTOR_PASSWORD.encode())
    before = P.wait_ready(shell, app, 15)
    bitcoind.kill()
    bitcoind.start(wait=False)
    seen: list[P.Answer] = []
    after = P.wait_ready(shell, app, 20, seen)
    assert after.height >= before.height
    warmups = [a for a in seen if a.state == P.NOT_YET and "RPC -28" in a.detail]
    assert warmups or bitcoind.status()["unclean_shutdown"], "a reindexing bitcoind answers -28"
    assert any("Unclean shutdown" in s for s in P.recovery_signs(before, seen))
    bitcoind.stop()
    bitcoind.start()
    assert P.recovery_signs(before, [P.wait_ready(shell, app, 15)]) == [], "a clean restart shows none"


def test_lnd_getinfo_with_the_macaroon_binary_or_hex(standin, bitcoind, shell):
    lnd = start_lnd(standin, bitcoind)
    app = as_app(lnd, "lnd")
    binary = (lnd.data / "admin.macaroon").read_bytes()           # as real lnd writes it
    secret(shell, "lnd-macaroon", binary)
    a = P.wait_ready(shell, app, 15)
    assert a.synced is True and a.height is not None
    secret(shell, "lnd-macaroon", binary.hex().encode() + b"\n")   # as the reference keeps it
    assert P.probe(shell, app).ready
    assert all(binary.hex() not in c for c in shell.commands), "the macaroon must never be on a command line"
    secret(shell, "lnd-macaroon", b"ab" * 64)
    wrong = P.probe(shell, app)
    assert wrong.state == P.FAILED and "verification failed" in wrong.detail
    secret(shell, "lnd-macaroon", b"")
    assert "cannot read the lnd macaroon" in P.probe(shell, app).detail


def test_not_synced_fault_fails_the_check_while_status_says_synced(standin, bitcoind, shell):
    lnd = start_lnd(standin, bitcoind)
    app = as_app(lnd, "lnd")
    secret(shell, "lnd-macaroon", (lnd.data / "admin.macaroon").read_bytes())
    assert P.wait_ready(shell, app, 15).synced
    (lnd.data / ".standin-fault").write_text("not-synced")
    broken = P.probe(shell, app)
    assert (broken.state, broken.synced) == (P.NOT_YET, False)
    with pytest.raises(AssertionError, match="lnd: not ready within 3s through lnd REST /v1/getinfo .*not synced"):
        P.wait_ready(shell, app, 3)
    assert probes.health_problems(app, broken, {"ActiveState": "active"}, {"State": {"Status": "running"}},
                                  shell.names) == [f"lnd: lnd REST /v1/getinfo: {broken.detail}"]
    assert lnd.status()["synced_to_chain"] is True, "the fault must change the protocol answer only"


def test_electrumx_server_version_and_its_view_of_bitcoind(standin, bitcoind, shell):
    ex = standin("electrumx", start=False)
    (ex.config / "electrumx.env").write_text(
        f"DAEMON_URL=http://{VECTOR_USER}:{VECTOR_PASSWORD}@127.0.0.1:{bitcoind.ports['rpc']}/\n")
    ex.start()
    app = as_app(ex, "electrumx")
    a = P.wait_ready(shell, app, 15, pred=lambda a: a.height is not None, what="at a chain tip")
    assert a.detail.startswith("ElectrumX 1.16.0, protocol 1.4") and P.sees("electrumx", "bitcoin", a)
    bitcoind.stop()
    down = P.wait_ready(shell, app, 15, pred=lambda a: a.ready and a.height is None, what="without a tip")
    assert P.sees("electrumx", "bitcoin", down) is False
    ex.stop()
    assert P.probe(shell, app).state == P.NOT_YET


def test_ui_pages_over_http(standin, shell):
    ui = standin("ui", "archy-bitcoin-ui")
    a = P.probe(shell, as_app(ui, "archy-bitcoin-ui"))
    assert a.ready and a.detail.startswith("HTTP 200")
    ui.stop()
    assert P.probe(shell, as_app(ui, "archy-bitcoin-ui")).state == P.NOT_YET
