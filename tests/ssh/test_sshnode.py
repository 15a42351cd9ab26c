"""SSHNode against a real sshd on 127.0.0.1: commands, timeouts, files, stdin, pinned keys, waits."""
import json
import logging
import socket
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness import inventory
from node import infra, ssh
from node.api import CommandFailed, CommandTimeout, HostKeyMismatch, NodeError, NodeUnreachable
from node.driver import PlatformDriver, RpcError, RpcUnavailable


def test_succeed_and_fail(ssh_node):
    assert ssh_node.succeed("echo hello; echo err >&2") == "hello\n"
    r = ssh_node.run("echo out; echo oops >&2; exit 3")
    assert (r.rc, r.stdout, r.stderr) == (3, "out\n", "oops\n")
    with pytest.raises(CommandFailed) as e:
        ssh_node.succeed("echo bad >&2; exit 7")
    assert e.value.result.rc == 7 and str(e.value) == "127.0.0.1:" + str(ssh_node.port) + ": `echo bad >&2; exit 7` exited 7: bad"
    assert ssh_node.fail("false") == ""
    with pytest.raises(NodeError, match="succeeded but was expected to fail"):
        ssh_node.fail("true")


def test_quoting_survives_the_timeout_wrapper(ssh_node):
    assert ssh_node.succeed("""printf '%s|' "a b" 'c'"'"'d' $((1+2))""") == "a b|c'd|3|"


def test_remote_timeout(ssh_node):
    start = time.monotonic()
    with pytest.raises(CommandTimeout, match=r"`sleep 30` timed out after 2s"):
        ssh_node.run("sleep 30", timeout=2)
    assert time.monotonic() - start < 8
    assert ssh_node.succeed("echo still usable") == "still usable\n"


def test_client_deadline(ssh_node, monkeypatch):
    # a node that stops answering: make the client deadline fire before the remote `timeout`
    monkeypatch.setattr(ssh, "CLIENT_GRACE", -7.0)
    start = time.monotonic()
    with pytest.raises(CommandTimeout, match="client deadline"):
        ssh_node.run("sleep 20", timeout=3)
    assert time.monotonic() - start < 5


def test_put_and_get_file(ssh_node, tmp_path):
    data = bytes(range(256)) * 100
    target = tmp_path / "sub dir" / "blob.bin"
    ssh_node.put_file(str(target), data, mode=0o600)
    assert target.read_bytes() == data
    assert ssh_node.succeed(f"stat -c %a '{target}'").strip() == "600"
    assert ssh_node.get_file(str(target)) == data
    assert list(target.parent.iterdir()) == [target]  # no temp file left behind
    with pytest.raises(CommandFailed):
        ssh_node.get_file(str(tmp_path / "missing"))


def test_input_goes_to_stdin_and_never_to_the_log(ssh_node, caplog):
    secret = b"rpc-password-Zq81xWv0"
    with caplog.at_level(logging.DEBUG):
        assert ssh_node.succeed("cat", input=secret) == secret.decode()
        assert ssh_node.succeed("wc -c", input=b"x" * 300_000).strip() == "300000"
    assert caplog.records and "cat" in caplog.text
    assert "Zq81xWv0" not in caplog.text


def test_reconnect_after_the_connection_drops(ssh_node):
    ssh_node._client.get_transport().close()  # what a reboot does to the connection
    assert ssh_node.succeed("echo back") == "back\n"
    ssh_node.reconnect()
    assert ssh_node.succeed("echo again") == "again\n"
    assert ssh_node.boot_id() == open("/proc/sys/kernel/random/boot_id").read().strip()


def test_testinfra_host_runs_through_the_nodes_bounded_run(ssh_node, monkeypatch):
    seen = []
    real = ssh_node.run

    def run(cmd, timeout=60, input=None):
        seen.append(timeout)
        return real(cmd, timeout, input)
    monkeypatch.setattr(ssh_node, "run", run)
    assert ssh_node.host.file("/etc/hostname").exists
    assert ssh_node.host.file("/etc/shadow").mode == 0o640 or ssh_node.host.file("/etc/shadow").mode == 0o600
    assert ssh_node.host.socket(f"tcp://127.0.0.1:{ssh_node.port}").is_listening
    assert ssh_node.host.run("echo via-testinfra").stdout == "via-testinfra\n"
    assert len(seen) >= 4 and set(seen) == {infra.DEFAULT_TIMEOUT}      # every command: the node's run


def test_a_testinfra_command_is_bounded(ssh_node):
    start = time.monotonic()
    with pytest.raises(CommandTimeout):
        infra.host(ssh_node, timeout=2).run("sleep 60")
    assert time.monotonic() - start < 20


def test_unreachable(sshd):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(NodeUnreachable) as e:
        ssh.SSHNode("127.0.0.1", port, user="root", known_hosts=str(sshd.known_hosts),
                    identity_file=sshd.identity, connect_timeout=3)
    assert str(e.value) == f"ssh://root@127.0.0.1:{port}: cannot connect: Unable to connect to port {port} on 127.0.0.1"
    assert time.monotonic() - start < 5


def test_changed_host_key(sshd, tmp_path):
    other = tmp_path / "other"
    from sshd_helper import keygen
    pub = keygen(other)
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{sshd.port} {' '.join(pub.split()[:2])}\n")
    with pytest.raises(HostKeyMismatch) as e:
        sshd.node(known_hosts=str(kh))
    msg = str(e.value)
    assert msg.startswith(f"{sshd.url}: host key changed: got ssh-ed25519 SHA256:") and f"in {kh}" in msg
    assert "\n" not in msg


def test_unpinned_host_key_is_rejected(sshd, tmp_path):
    kh = tmp_path / "empty_known_hosts"
    kh.write_text("")
    with pytest.raises(HostKeyMismatch, match=r"host key not pinned in .*empty_known_hosts"):
        sshd.node(known_hosts=str(kh))


def test_wrong_client_key(sshd, tmp_path):
    from sshd_helper import keygen
    keygen(tmp_path / "stranger")
    with pytest.raises(NodeUnreachable, match="Authentication failed"):
        sshd.node(identity_file=str(tmp_path / "stranger"))


def test_waits(ssh_node, tmp_path):
    flag = tmp_path / "flag"
    ssh_node.succeed(f"(sleep 1; touch '{flag}') >/dev/null 2>&1 &")
    assert ssh_node.wait_until_succeeds(f"test -f '{flag}' && echo there", timeout=20) == "there\n"
    with pytest.raises(CommandTimeout, match=r"did not succeed within 1s \(last rc 1"):
        ssh_node.wait_until_succeeds("test -f /nonexistent-archy", timeout=1, interval=0.2)

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    with pytest.raises(CommandTimeout, match=f"nothing listening on 127.0.0.1:{port} within 1s"):
        ssh_node.wait_for_open_port(port, timeout=1)
    srv.listen()
    ssh_node.wait_for_open_port(port, timeout=10)
    with pytest.raises(CommandTimeout, match=f"127.0.0.1:{port} still listening after 1s"):
        ssh_node.wait_for_closed_port(port, timeout=1)
    threading.Timer(0.5, srv.close).start()
    ssh_node.wait_for_closed_port(port, timeout=10)


def test_inventory_snapshot_sees_the_listener(ssh_node, sshd):
    inv = inventory.snapshot(ssh_node)
    assert f"127.0.0.1:{sshd.port} sshd" in inv["ports"]
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    srv.listen()
    try:
        d = inventory.diff(inv, inventory.snapshot(ssh_node))
    finally:
        srv.close()
    assert [p.split()[0] for p in d["ports"]["added"]] == [f"127.0.0.1:{port}"]
    assert d["ports"]["removed"] == []


def test_witnesses_catch_collateral_deletion(ssh_node, tmp_path):
    dirs = [tmp_path / "lnd", tmp_path / "btcpay", tmp_path / "not-installed"]
    dirs[0].mkdir()
    dirs[1].mkdir()
    planted = inventory.plant_witnesses(ssh_node, [str(d) for d in dirs])
    assert sorted(planted) == [f"{dirs[1]}/.archy-witness", f"{dirs[0]}/.archy-witness"]
    assert inventory.verify_witnesses(ssh_node, planted) == []
    (dirs[1] / ".archy-witness").unlink()
    (dirs[0] / ".archy-witness").write_text("tampered")
    assert sorted(inventory.verify_witnesses(ssh_node, planted)) == [
        f"witness changed: {dirs[0]}/.archy-witness", f"witness deleted: {dirs[1]}/.archy-witness"]


class _Rpc(BaseHTTPRequestHandler):
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if req["params"].get("id") == "nope":
            body = {"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32602, "message": "unknown app 'nope'"}}
        else:
            body = {"jsonrpc": "2.0", "id": req["id"], "result": {"method": req["method"], "params": req["params"]}}
        self._send(200, body)

    def do_GET(self):
        self._send(503, {"ok": False, "last_good_tick": 1.0, "interval": 5})

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


def test_driver_calls_json_rpc_from_the_node(ssh_node):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Rpc)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        d = PlatformDriver(ssh_node, url=f"{base}/rpc/v1", health_url=f"{base}/health")
        assert d.install("lnd", timeout=10) == {"method": "package.install", "params": {"id": "lnd"}}
        assert d.tick(timeout=10)["method"] == "reconcile.tick"
        with pytest.raises(RpcError) as e:
            d.uninstall("nope", timeout=10)
        assert e.value.code == -32602 and "unknown app 'nope'" in str(e.value)
        assert d.health() == {"ok": False, "last_good_tick": 1.0, "interval": 5, "http_status": 503}
    finally:
        srv.shutdown()
        srv.server_close()
    with pytest.raises(RpcUnavailable, match="curl exited 7"):
        d.call("container.list", timeout=5)


def test_artifacts_are_collected_and_redacted(ssh_node, tmp_path, monkeypatch):
    from harness import artifacts
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir(mode=0o700)
    (secrets_dir / "bitcoin-rpc-password").write_text("Kq3vU8pLr2Zx9wQe\n")
    conf = tmp_path / "bitcoin.conf"
    conf.write_text("rpcauth=archy:0f1e2d$8a7b6c5d\nserver=1\n# copied by hand: Kq3vU8pLr2Zx9wQe\n")
    ssh_node.names = replace(ssh_node.names, state_dir=str(tmp_path), secrets_dir=str(secrets_dir))
    monkeypatch.setattr(artifacts, "_known", set())
    real = artifacts.commands
    monkeypatch.setattr(artifacts, "commands",
                        lambda app, cursor, names, **kw: {**real(app, cursor, names, **kw),
                                                          "config.txt": f"cat '{conf}'"})
    paths = artifacts.collect(ssh_node, tmp_path / "out", app="bitcoin-knots", attach=False)
    names = sorted(p.name for p in paths)
    assert names == ["config.txt", "journal.txt", "podman-inspect.json", "podman-logs.txt", "podman-ps.txt", "units.txt"]
    text = (tmp_path / "out" / "config.txt").read_text()
    assert "rpcauth=archy:***" in text and "server=1" in text
    assert "Kq3vU8pLr2Zx9wQe" not in text and "copied by hand: ***" in text
    assert all("Kq3vU8pLr2Zx9wQe" not in p.read_text() for p in paths)
