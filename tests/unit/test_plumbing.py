"""Pure parts of targets, node waits, driver replies and verdict folding."""
import pytest

from harness.plugin import missing_capability, parse_duration
from harness.results import phase_verdict
from matrix.model import Cell
from node.api import port_listening
from node.driver import RpcError, RpcUnavailable, parse_http, parse_rpc
from node.target import TargetError, parse


def test_parse_ssh_target():
    t = parse("ssh://admin@lab-node.example:2222?disposable=1&key=~/.ssh/id_ed25519&known_hosts=/tmp/kh")
    assert (t.kind, t.url, t.name, t.disposable) == ("ssh", "ssh://admin@lab-node.example:2222", "lab-node.example:2222", True)
    assert "destructive" in t.capabilities and "power_cut" not in t.capabilities
    assert t.known_hosts == "/tmp/kh" and t.identity_file.endswith("/.ssh/id_ed25519")
    t = parse("ssh://admin@node.lan?name=lab")
    assert (t.name, t.disposable, t.url) == ("lab", False, "ssh://admin@node.lan:22")
    assert "destructive" not in t.capabilities
    assert parse("vm://vm3").name == "vm3" and "power_cut" in parse("vm://vm3").capabilities


@pytest.mark.parametrize("url,msg", [
    ("http://node", "unknown scheme http://"),
    ("node.lan", "unknown scheme (none)"),
    ("ssh://admin@node?disposible=1", "unknown parameter(s) disposible"),
    ("ssh://admin@node?disposable=maybe", "disposable='maybe' is not a boolean"),
    ("ssh://admin@node:99999", "invalid port"),
])
def test_bad_targets(url, msg):
    with pytest.raises(TargetError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        parse(url)


def test_missing_capability():
    reboot = Cell("lnd", "reboot_survival", "MUST", ("reboot", "destructive"))
    soak = Cell("lnd", "soak", "MUST", ("soak",))
    plain = parse("ssh://a@h")
    disposable = parse("ssh://a@h?disposable=1")
    assert "not marked disposable" in missing_capability(reboot, plain, True, 60)
    assert missing_capability(reboot, disposable, False, 60) == \
        "destructive cell: pass --allow-destructive to run it on h:22"
    assert missing_capability(reboot, disposable, True, 60) is None
    assert missing_capability(reboot, parse("vm://vm0"), False, 60) is None  # the VM is ours to break
    assert missing_capability(soak, plain, False, 0) == "soak disabled (--soak-duration 0)"
    assert missing_capability(Cell("x", "y", "MUST", ("tor_network",)), parse("vm://vm0"), True, 1) == \
        "target vm0 lacks capability 'tor_network'"


def test_parse_duration():
    assert [parse_duration(x) for x in ("90", "90s", "10m", "6h", "0")] == [90, 90, 600, 21600, 0]
    with pytest.raises(pytest.UsageError):
        parse_duration("ten minutes")


def test_port_listening():
    ss = ("LISTEN 0 4096 0.0.0.0:8332 0.0.0.0:*\nLISTEN 0 4096 127.0.0.1:5678 0.0.0.0:*\n"
          "LISTEN 0 4096 [::]:9735 [::]:*\nLISTEN 0 5 127.0.0.2:2222 0.0.0.0:*\nLISTEN 0 5 *:4080 *:*\n")
    assert port_listening(ss, 8332) and port_listening(ss, 5678) and port_listening(ss, 9735)
    assert port_listening(ss, 4080)
    assert not port_listening(ss, 2222)            # bound to another address
    assert port_listening(ss, 2222, "127.0.0.2")
    assert not port_listening(ss, 833) and not port_listening("", 8332)


def test_rpc_replies():
    assert parse_http('{"a": 1}\narchy_http_status=200') == (200, '{"a": 1}')
    assert parse_http('{"a": 1}') == (0, '{"a": 1}')
    assert parse_rpc("m", 200, '{"jsonrpc": "2.0", "id": 3, "result": {"ok": true}}', 3) == {"ok": True}
    with pytest.raises(RpcError) as e:
        parse_rpc("package.install", 200, '{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"unknown app"}}', 1)
    assert (e.value.code, str(e.value)) == (-32602, "package.install: unknown app (code -32602)")
    with pytest.raises(RpcUnavailable, match="HTTP 502, not JSON"):
        parse_rpc("m", 502, "<html>bad gateway</html>", 1)
    with pytest.raises(RpcError, match="reply id 2 != request id 1"):
        parse_rpc("m", 200, '{"jsonrpc":"2.0","id":2,"result":1}', 1)


def test_phase_verdict():
    assert phase_verdict({"setup": ("passed", ""), "call": ("passed", ""), "teardown": ("passed", "")}) == ("passed", "")
    assert phase_verdict({"setup": ("skipped", "destructive cell: ...")}) == ("not_run", "destructive cell: ...")
    assert phase_verdict({"setup": ("failed", "node vm0: unreachable")}) == ("failed", "setup: node vm0: unreachable")
    assert phase_verdict({"setup": ("passed", ""), "call": ("passed", ""),
                          "teardown": ("failed", "journal check: 1 error")}) == ("failed", "teardown: journal check: 1 error")
    assert phase_verdict({"setup": ("passed", ""), "call": ("skipped", "no tor network")}) == ("not_run", "no tor network")
    assert phase_verdict({"setup": ("passed", "")}) == ("not_run", "no result (interrupted)")


@pytest.mark.parametrize("body_from", ["stdin", "file"])
def test_curl_command_round_trip(body_from, tmp_path):
    """The driver's curl line against a real local server, as the chaos ops run it with a body
    file: a status mark starting with "@" made curl read the -w format from a file (found by
    the kill -9 mid-install experiment: no install request was ever sent)."""
    import json
    import shutil
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from node.driver import curl_command
    if not shutil.which("curl"):
        pytest.fail("curl is not installed (Debian package curl)")

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self):
            data = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(json.dumps({"got": json.loads(data)}).encode())

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=srv.handle_request, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_port}/rpc/v1"
    req = tmp_path / "op.req"
    req.write_text('{"id": 7}')
    if body_from == "file":
        cmd, stdin = curl_command(url, 10, f"@{req}"), None
    else:
        cmd, stdin = curl_command(url, 10, "@-"), req.read_text()
    r = subprocess.run(cmd, shell=True, input=stdin, capture_output=True, text=True, timeout=30)
    srv.server_close()
    assert parse_http(r.stdout) == (200, '{"got": {"id": 7}}'), r.stderr
