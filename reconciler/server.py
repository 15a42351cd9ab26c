"""JSON-RPC 2.0 on POST /rpc/v1 and GET /health (127.0.0.1:5678), see docs/architecture.md.

Only for callers on the node itself: a request must name the server's own loopback address as its
Host and carry no Origin (a page in a browser on the node, or a DNS-rebound name, cannot drive
it), and a POST must be application/json (a form cannot send that cross-site without a
preflight). Every connection gets HEADER_TIMEOUT s for its request line and headers and
BODY_TIMEOUT s for its body, and at most WORKERS are served at once; more are answered 503.
"""
from __future__ import annotations

import io
import json
import logging
import math
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .daemon import INVALID, OpError, Reconciler

log = logging.getLogger("archipelago.rpc")

MAX_BODY = 64 * 1024
HEADER_TIMEOUT, BODY_TIMEOUT, WRITE_TIMEOUT = 10.0, 30.0, 30.0
WORKERS = 16
LOCAL_HOSTS = ("127.0.0.1", "localhost")
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INTERNAL = -32700, -32600, -32601, -32603
SERVER_BUSY = -32000

# method -> allowed params (name -> accepted types); anything else is invalid params
SIGNATURES = {
    "package.install": {"id": (str,), "timeout": (int, float), "dockerImage": (str,)},
    "package.uninstall": {"id": (str,), "purge": (bool,), "timeout": (int, float)},
    "package.start": {"id": (str,)},
    "package.stop": {"id": (str,)},
    "container.list": {},
    "container.health": {"id": (str,)},
    "reconcile.tick": {},
}
REQUIRED = {"package.install": ("id",), "package.uninstall": ("id",), "package.start": ("id",),
            "package.stop": ("id",)}


def check_params(method: str, params) -> dict:
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise OpError(INVALID, "params must be an object")
    allowed = SIGNATURES[method]
    for name, value in params.items():
        if name not in allowed:
            raise OpError(INVALID, f"unknown parameter {str(name)[:40]!r}")
        types = allowed[name]
        # bool is an int in Python: a timeout of true is still wrong
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise OpError(INVALID, f"parameter {name!r} has the wrong type")
        if name == "timeout" and (not math.isfinite(value) or not 1 <= value <= 3600):
            raise OpError(INVALID, "timeout must be between 1 and 3600 seconds")
    for name in REQUIRED.get(method, ()):
        if name not in params:
            raise OpError(INVALID, f"missing parameter {name!r}")
    return params


def dispatch(rec: Reconciler, method: str, params: dict):
    if method == "package.install":
        return rec.install(params["id"], **({"timeout": params["timeout"]} if "timeout" in params else {}),
                           docker_image=params.get("dockerImage"))
    if method == "package.uninstall":
        return rec.uninstall(params["id"], purge=params.get("purge", False), timeout=params.get("timeout"))
    if method == "package.start":
        return rec.set_run(params["id"], True)
    if method == "package.stop":
        return rec.set_run(params["id"], False)
    if method == "container.list":
        return rec.container_list()
    if method == "container.health":
        return rec.container_health(params.get("id"))
    if method == "reconcile.tick":
        return rec.tick().as_dict()
    raise AssertionError(method)


def handle_rpc(rec: Reconciler, body: bytes) -> tuple[int, dict]:
    """(HTTP status, JSON-RPC response) for one request body."""
    try:
        req = json.loads(body)
    except (ValueError, RecursionError):    # UnicodeDecodeError is a ValueError; RecursionError: [[[[...
        return 200, _error(None, PARSE_ERROR, "parse error: body is not JSON (or nested too deeply)")
    if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
        return 200, _error(req.get("id") if isinstance(req, dict) else None, INVALID_REQUEST,
                           "invalid request: need jsonrpc '2.0' and a method")
    rid = req.get("id")
    if rid is not None and not isinstance(rid, (str, int)):
        return 200, _error(None, INVALID_REQUEST, "invalid request: id must be a string or a number")
    method = req["method"]
    if method not in SIGNATURES:
        return 200, _error(rid, METHOD_NOT_FOUND, f"method not found: {method[:64]}")
    try:
        result = dispatch(rec, method, check_params(method, req.get("params")))
    except OpError as e:
        return 200, _error(rid, e.code, e.message, e.data)
    except Exception as e:  # never a traceback (or a secret) on the wire; the journal has the type
        log.exception("%s failed", method)
        return 200, _error(rid, INTERNAL, f"internal error: {type(e).__name__}")
    return 200, {"jsonrpc": "2.0", "id": rid, "result": result}


def _error(rid, code: int, message: str, data=None) -> dict:
    err = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": rid, "error": err}


def health_body(rec: Reconciler) -> tuple[int, dict]:
    """200 {"ok": true, "status": "ok", "crash_recovery_complete": true, ...} (the seeds' fields) while
    the loop ticks; 503 with "status": "error" when it stalls or podman stays broken after a self-heal."""
    ok = rec.healthy()
    body = {"ok": ok, "last_good_tick": rec.last_good_tick, "interval": rec.pause}
    healing = rec.heal_failed if not rec.variant.off("health-honest") else None
    if healing:
        ok = body["ok"] = False
        body.update(status="error", error=f"podman self-heal failed: {healing[:300]}")
    elif ok:
        body.update(status="ok", crash_recovery_complete=True)
    else:
        body.update(status="error", error="no reconcile tick completed yet" if rec.last_good_tick is None
                    else "the reconcile loop stalled: no tick completed in time")
    if rec.last_report.disk_pressure:    # a node condition, not a reconciler fault: the status stays
        body["disk_pressure"] = rec.last_report.disk_pressure
    return (200 if ok else 503), body


class _DeadlineReader(io.RawIOBase):
    """The socket's reads, refused once `deadline` (monotonic) has passed: a per-read timeout alone
    lets a client trickle one byte at a time and hold its worker forever."""

    def __init__(self, sock):
        self.sock, self.deadline = sock, math.inf

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("read deadline passed")
        self.sock.settimeout(left)
        return self.sock.recv_into(buf)


def refusal(headers, port: int, post: bool) -> tuple[int, str] | None:
    """(HTTP status, why) when a request is not one a local caller sends, else None; pure."""
    if headers.get("Host", "").lower() not in {f"{h}:{port}" for h in LOCAL_HOSTS}:
        return HTTPStatus.FORBIDDEN, f"Host must be 127.0.0.1:{port} or localhost:{port}"
    if "Origin" in headers:
        return HTTPStatus.FORBIDDEN, "requests with an Origin header (from a browser) are refused"
    if post and headers.get_content_type() != "application/json":
        return HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json"
    return None


class Handler(BaseHTTPRequestHandler):
    server_version = "archipelago"
    sys_version = ""
    rec: Reconciler = None  # set by make_server
    header_timeout = HEADER_TIMEOUT

    def log_message(self, fmt, *args):  # request lines only; bodies (may hold ids) are never logged
        log.debug("%s %s", self.address_string(), fmt % args)

    def setup(self):
        super().setup()
        self.rfile.close()           # replaced: reads go through the deadline
        self.reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self.reader)

    def handle_one_request(self):
        self.reader.deadline = time.monotonic() + self.header_timeout
        super().handle_one_request()

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.connection.settimeout(WRITE_TIMEOUT)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _refused(self, post: bool) -> bool:
        why = refusal(self.headers, self.server.server_address[1], post)
        if why:
            self.close_connection = True  # the body (if any) is never read
            self._send(why[0], _error(None, INVALID_REQUEST, why[1]))
        return why is not None

    def do_GET(self):
        if self._refused(post=False):
            return
        if self.path.split("?")[0] == "/health":
            self._send(*health_body(self.rec))
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        if self._refused(post=True):
            return
        if self.path.split("?")[0] != "/rpc/v1":
            self._send(404, {"error": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length") or -1)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(HTTPStatus.LENGTH_REQUIRED, _error(None, INVALID_REQUEST, "Content-Length required"))
            return
        if length > MAX_BODY:
            self.close_connection = True  # do not read (or wait for) the oversized body
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                       _error(None, INVALID_REQUEST, f"request body larger than {MAX_BODY} bytes"))
            return
        self.reader.deadline = time.monotonic() + BODY_TIMEOUT
        body = self.rfile.read(length)
        self._send(*handle_rpc(self.rec, body))


class BoundedServer(ThreadingHTTPServer):
    """One daemon thread per connection, at most `workers` at once; a connection beyond that is
    answered 503 at once rather than queued (no unbounded threads, no unbounded backlog of them)."""
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64    # a burst waits in the backlog for its 503, not in SYN retries

    def __init__(self, address, handler, workers: int = WORKERS):
        super().__init__(address, handler)
        self.workers = workers
        self.slots = threading.BoundedSemaphore(workers)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            _busy(request, self.workers)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:      # the thread did not start: its slot is free again
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def _busy(sock, workers: int) -> None:
    body = json.dumps(_error(None, SERVER_BUSY, f"server busy: {workers} requests in progress, "
                                                "try again")).encode()
    head = (f"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    try:
        sock.settimeout(1)        # the accept loop waits for no client
        sock.sendall(head + body)
    except OSError:
        pass


def make_server(rec: Reconciler, host: str = "127.0.0.1", port: int = 5678, *,
                workers: int = WORKERS, header_timeout: float = HEADER_TIMEOUT) -> BoundedServer:
    handler = type("BoundHandler", (Handler,), {"rec": rec, "header_timeout": header_timeout})
    return BoundedServer((host, port), handler, workers)
