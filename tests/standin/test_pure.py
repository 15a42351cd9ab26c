"""Pure parts: rpcauth (Core's vector), config parsing, the block store."""
import json

import pytest
from standin_support import VECTOR_HASH, VECTOR_PASSWORD, VECTOR_SALT, VECTOR_USER

from standin import rpcauth
from standin.chain import Chain
from standin.settings import SettingsError, load_settings, parse_conf, parse_ports

LINE = f"{VECTOR_USER}:{VECTOR_SALT}${VECTOR_HASH}"


def test_rpcauth_matches_core_vector():
    assert rpcauth.rpcauth_hash(VECTOR_SALT, VECTOR_PASSWORD) == VECTOR_HASH
    assert rpcauth.rpcauth_line(VECTOR_USER, VECTOR_SALT, VECTOR_PASSWORD) == f"rpcauth={LINE}"


@pytest.mark.parametrize("user,password,ok", [
    (VECTOR_USER, VECTOR_PASSWORD, True),
    (VECTOR_USER, VECTOR_PASSWORD + "x", False),
    ("rt2", VECTOR_PASSWORD, False),
    (VECTOR_USER, "", False),
])
def test_rpcauth_check(user, password, ok):
    assert rpcauth.check(["garbage-without-separators", LINE], user, password) is ok


def test_rpcauth_key_is_the_salt_hex_string_not_bytes():
    import hashlib
    import hmac
    wrong = hmac.new(bytes.fromhex(VECTOR_SALT), VECTOR_PASSWORD.encode(), hashlib.sha256).hexdigest()
    assert rpcauth.check([f"{VECTOR_USER}:{VECTOR_SALT}${wrong}"], VECTOR_USER, VECTOR_PASSWORD) is False


def test_conf_parse_error_names_the_line():
    assert parse_conf("# c\n[main]\nrpcauth=a:b$c\nrpcauth=d:e$f\n", "b.conf")["rpcauth"] == ["a:b$c", "d:e$f"]
    with pytest.raises(SettingsError, match=r"b.conf: parse error on line 3"):
        parse_conf("server=1\n\n\x00\x00garbage\n", "b.conf")


def test_ports_and_settings_errors():
    assert parse_ports("rpc=1,p2p=2") == {"rpc": 1, "p2p": 2}
    for bad in ("rpc", "rpc=x", "rpc=70000"):
        with pytest.raises(SettingsError, match="STANDIN_PORTS"):
            parse_ports(bad)
    with pytest.raises(SettingsError, match="no port for zmqblock, zmqtx"):
        load_settings({"STANDIN_PROFILE": "bitcoind", "STANDIN_PORTS": "rpc=1,p2p=2,status=3"})
    with pytest.raises(SettingsError, match="unknown profile"):
        load_settings({"STANDIN_PROFILE": "nope"})
    s = load_settings({"STANDIN_PORTS": "ui=5", "STANDIN_PORT_UI": "6"}, "ui")
    assert s.ports == {"ui": 6} and s.status_port == 6


def test_chain_append_load_and_torn_tail(tmp_path):
    chain = Chain(tmp_path / "blocks")
    chain.load()
    for t in range(5):
        chain.append(1000 + t)
    again = Chain(tmp_path / "blocks")
    assert again.load().height == 4 and again.tip == chain.tip
    blk = tmp_path / "blocks" / "blk00000.dat"
    with open(blk, "ab") as fh:
        fh.write(b'{"height":5,"prev":"')          # power cut mid-append
    loaded = Chain(tmp_path / "blocks").load()
    assert loaded.height == 4 and loaded.truncated_bytes > 0 and loaded.corrupt is None
    assert blk.read_bytes().endswith(b"}\n")


def test_chain_corruption_mid_chain_is_detected(tmp_path):
    chain = Chain(tmp_path / "blocks")
    chain.load()
    for t in range(5):
        chain.append(1000 + t)
    blk = tmp_path / "blocks" / "blk00000.dat"
    lines = blk.read_bytes().splitlines(keepends=True)
    record = json.loads(lines[2])
    record["time"] += 1                                  # bit rot in block 2
    lines[2] = json.dumps(record, separators=(",", ":")).encode() + b"\n"
    blk.write_bytes(b"".join(lines))
    loaded = Chain(tmp_path / "blocks").load()
    assert loaded.corrupt and "height 2" in loaded.corrupt and loaded.height == 1


def test_a_client_that_hangs_up_is_not_a_traceback(capfd):
    """A dependent that times out and closes mid-reply must not print a traceback on stderr
    (journald files stderr as errors; the soak's journal rule caught exactly this once)."""
    import socket
    import threading
    from standin.netkit import Listeners, Response

    gate = threading.Event()

    def slow(_req):
        gate.wait(5)
        return Response(200, b"x" * (4 << 20))      # large: the write hits the closed socket

    ls = Listeners("127.0.0.1")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ls.http(port, slow, "rpc")
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()                                    # RST: the server's write fails
        gate.set()
        threading.Event().wait(2.5)                  # an absence check: give the handler time to fail
    finally:
        ls.close()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err, err


def test_the_fault_switch_is_not_data(tmp_path):
    from standin import faults
    from standin.datasum import data_checksum
    (tmp_path / "wallet.db").write_bytes(b"w")
    before = data_checksum(tmp_path)
    (tmp_path / faults.FAULT_FILE).write_text("wrong-height, not-synced bogus\n")
    assert data_checksum(tmp_path) == before
    assert faults.active(tmp_path) == {"wrong-height", "not-synced"}
    (tmp_path / faults.FAULT_FILE).unlink()
    assert faults.active(tmp_path) == frozenset()


def test_every_catalog_app_gives_its_profile_the_ports_it_needs():
    """matrix/apps.yaml is what STANDIN_PORTS carries on the node: each profile's required ports are there
    (electrumx has no ssl port: 50002 is the seeds' electrs UI)."""
    import yaml
    from standin_support import REPO
    from standin.settings import REQUIRED_PORTS
    data = yaml.safe_load((REPO / "matrix/apps.yaml").read_text())
    for app, spec in {**data["apps"], **data["companions"]}.items():
        assert set(REQUIRED_PORTS[spec["profile"]]) <= set(spec["ports"]), app
    assert set(data["apps"]["electrumx"]["ports"]) == {"tcp", "status"}
    assert data["companions"]["archy-electrs-ui"]["ports"]["ui"]["port"] == 50002
