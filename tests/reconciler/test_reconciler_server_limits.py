"""The JSON-RPC server's limits against a real server on loopback: slow headers are cut off, the
workers are bounded, deep nesting is a parse error, and only a local, non-browser JSON caller is
answered (Host, Origin, Content-Type)."""
from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from node.driver import curl_command, parse_http
from reconciler.server import make_server
from recfake import make

WORKERS, HEADER_TIMEOUT = 4, 1.0


@pytest.fixture
def served(tmp_path):
    rec, fake = make(tmp_path)
    srv = make_server(rec, "127.0.0.1", 0, workers=WORKERS, header_timeout=HEADER_TIMEOUT)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield rec, srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def request(port, method="POST", path="/rpc/v1", body: bytes | None = None, headers=None):
    """(HTTP status, JSON body); headers replace the defaults (Host is http.client's own unless given)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        h = {"Content-Type": "application/json"} if headers is None else headers
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, json.loads(r.read())
    finally:
        c.close()


LIST = json.dumps({"jsonrpc": "2.0", "id": 3, "method": "container.list"}).encode()


def test_the_normal_path_still_works(served):
    rec, port = served
    assert request(port, body=LIST) == (200, {"jsonrpc": "2.0", "id": 3, "result": []})
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        status, body = request(port, body=LIST, headers={"Host": host, "Content-Type": "application/json; charset=utf-8"})
        assert status == 200 and body["result"] == [], host
    assert request(port, "GET", "/health", headers={})[0] == 503      # answered (no good tick yet)


@pytest.mark.parametrize("headers,status,fragment", [
    ({"Host": "evil.example:{port}"}, 403, "Host must be 127.0.0.1:{port} or localhost:{port}"),
    ({"Host": "127.0.0.1"}, 403, "Host must be"),                         # no port
    ({"Host": "127.0.0.1:1"}, 403, "Host must be"),                       # another port
    ({"Host": "127.0.0.1.nip.io:{port}"}, 403, "Host must be"),           # DNS rebinding
    ({"Host": "[::1]:{port}"}, 403, "Host must be"),
    ({"Origin": "http://127.0.0.1:{port}"}, 403, "Origin header"),
    ({"Origin": "null"}, 403, "Origin header"),
    ({"Origin": "http://evil.example"}, 403, "Origin header"),
    ({"Content-Type": "text/plain"}, 415, "Content-Type must be application/json"),
    ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "Content-Type must be"),
    ({"Content-Type": "multipart/form-data; boundary=x"}, 415, "Content-Type must be"),
    ({"Content-Type": None}, 415, "Content-Type must be"),
], ids=["wrong host", "host without port", "host other port", "rebound name", "ipv6 host", "same-origin Origin",
        "null Origin", "foreign Origin", "text/plain", "form", "multipart", "no content type"])
def test_a_request_not_from_a_local_json_caller_is_refused_unread(served, headers, status, fragment):
    rec, port = served
    h = {"Content-Type": "application/json"}
    for k, v in headers.items():                       # None: the header is not sent at all
        h.pop(k) if v is None else h.__setitem__(k, v.format(port=port))
    install = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "package.install",
                          "params": {"id": "bitcoin-knots", "timeout": 5}}).encode()
    got, body = request(port, body=install, headers=h)
    assert got == status and body["error"]["code"] == -32600
    assert fragment.format(port=port) in body["error"]["message"]
    assert rec.container_list() == []                                     # nothing was installed


def test_a_get_with_a_foreign_host_or_an_origin_is_refused(served):
    rec, port = served
    assert request(port, "GET", "/health", headers={"Host": "evil.example"})[0] == 403
    assert request(port, "GET", "/health", headers={"Origin": "http://evil.example"})[0] == 403


@pytest.mark.parametrize("body", [
    b"[" * 30_000 + b"]" * 30_000,                        # RecursionError in json
    b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    b"1" * 10_000,                                        # int beyond Python's digit limit
    b"\xff\xfe{",                                         # not UTF-8
    b"",
], ids=["deep list", "deep object", "huge int", "bad bytes", "empty"])
def test_any_parse_failure_is_minus_32700(served, body):
    rec, port = served
    status, reply = request(port, body=body)
    assert status == 200 and reply["error"]["code"] == -32700 and reply["id"] is None
    assert request(port, body=LIST)[0] == 200                            # and the server still serves


def _open(port) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def _closed_by_server(s: socket.socket) -> bool:
    try:
        return s.recv(4096) == b""
    except (ConnectionResetError, TimeoutError):
        return False


def test_slow_headers_are_cut_off(served):
    rec, port = served
    s = _open(port)
    s.sendall(b"POST /rpc/v1 HTTP/1.1\r\n")
    t0, cut = time.monotonic(), None
    try:
        for _ in range(40):                                # one header byte every 0.25 s, for up to 10 s
            try:
                s.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                cut = time.monotonic() - t0
                break
            s.settimeout(0.25)
            try:
                if s.recv(1) == b"":
                    cut = time.monotonic() - t0
                    break
            except ConnectionResetError:
                cut = time.monotonic() - t0
                break
            except TimeoutError:
                pass
    finally:
        s.close()
    assert cut is not None, "a client trickling headers was never cut off"
    assert HEADER_TIMEOUT - 0.3 <= cut <= HEADER_TIMEOUT + 2


def test_a_silent_connection_is_cut_off(served):
    rec, port = served
    s = _open(port)
    t0 = time.monotonic()
    try:
        assert _closed_by_server(s)
        assert time.monotonic() - t0 <= HEADER_TIMEOUT + 2
    finally:
        s.close()


def test_many_parallel_connections_are_bounded(served):
    rec, port = served
    before = threading.active_count()
    silent = [_open(port) for _ in range(WORKERS)]          # each holds a worker until its header deadline
    time.sleep(0.3)
    extra = [_open(port) for _ in range(20)]
    try:
        time.sleep(0.3)
        assert threading.active_count() - before <= WORKERS
        for s in extra:                                      # answered at once, not queued
            head = s.recv(4096)
            assert head.startswith(b"HTTP/1.0 503 "), head[:80]
            assert b'"code": -32000' in head and b"server busy" in head
    finally:
        for s in silent + extra:
            s.close()
    deadline = time.monotonic() + HEADER_TIMEOUT + 5       # the slots come back
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert threading.active_count() == before
    assert request(port, body=LIST)[0] == 200


def test_the_callers_in_the_repo_send_what_the_server_requires(served):
    """The driver's curl line (harness, chaos) and urllib (reconciler/provision.py's health wait)
    against the real server: Host, Content-Type and no Origin are what they send by themselves."""
    rec, port = served
    if not shutil.which("curl"):
        pytest.fail("curl is not installed (Debian package curl)")
    base = f"http://127.0.0.1:{port}"
    r = subprocess.run(curl_command(f"{base}/rpc/v1", 10, "@-"), shell=True, input=LIST.decode(),
                       capture_output=True, text=True, timeout=30)
    assert parse_http(r.stdout) == (200, '{"jsonrpc": "2.0", "id": 3, "result": []}'), r.stderr
    r = subprocess.run(curl_command(f"{base}/health", 10), shell=True, capture_output=True, text=True, timeout=30)
    assert parse_http(r.stdout)[0] == 503, r.stderr                      # answered: no good tick yet
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{base}/health", timeout=5)
    assert e.value.code == 503
