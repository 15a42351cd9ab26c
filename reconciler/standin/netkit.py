"""Listeners: small threaded HTTP servers with a route function, and plain TCP listeners."""
import json
import socket
import socketserver
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

MAX_BODY = 1 << 20
# how often an idle listener thread wakes to check for shutdown: 9 stand-ins with 2-5 listeners
# each at 0.2 s kept a TCG guest measurably busy doing nothing (docs/performance.md)
POLL_INTERVAL = 1.0


@dataclass
class Request:
    method: str
    path: str
    headers: dict            # lower-case names
    body: bytes


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, obj, **headers) -> "Response":
        return cls(status, json.dumps(obj).encode() + b"\n", {"Content-Type": "application/json", **headers})

    @classmethod
    def html(cls, status: int, text: str) -> "Response":
        return cls(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})


Route = Callable[[Request], Response]


class ListenError(Exception):
    pass


def _handler(route: Route):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "standin"
        sys_version = ""

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._send(Response(413, b"too large\n"), close=True)
            body = self.rfile.read(length) if length else b""
            req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            try:
                resp = route(req)
            except Exception as exc:  # a bug in a route must not kill the listener
                resp = Response(500, f"internal error: {exc.__class__.__name__}\n".encode())
            self._send(resp)

        def _send(self, resp: Response, close: bool = False):
            self.send_response(resp.status)
            for key, value in resp.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(resp.body)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.body)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _serve

        def log_message(self, *args):  # quiet: paths can carry tokens
            pass

    return Handler


class _Quiet:
    """A client that gave up (its timeout, a restart) is normal traffic, not a fault: socketserver
    would print a traceback on stderr for it, which a real daemon never does."""

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        print(f"standin: request from {client_address[0]} failed: {exc.__class__.__name__}: {exc}",
              file=sys.stderr, flush=True)


class _HTTP(_Quiet, ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _TCP(_Quiet, socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class Listeners:
    """Every listener of one process; closed together."""

    def __init__(self, bind: str):
        self.bind = bind
        self._servers: list[socketserver.BaseServer] = []

    def _start(self, server):
        self._servers.append(server)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL}, daemon=True).start()

    def http(self, port: int, route: Route, name: str) -> None:
        try:
            server = _HTTP((self.bind, port), _handler(route))
        except OSError as exc:
            raise ListenError(f"{name}: cannot listen on {self.bind}:{port}: {exc.strerror}") from None
        self._start(server)

    def tcp(self, port: int, name: str, session: Callable[[socket.socket], None] | None = None) -> None:
        """A TCP listener; session(sock) talks to each client (default: accept and close)."""
        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                if session:
                    self.request.settimeout(30)
                    try:
                        session(self.request)
                    except OSError:
                        pass
        try:
            server = _TCP((self.bind, port), Handler)
        except OSError as exc:
            raise ListenError(f"{name}: cannot listen on {self.bind}:{port}: {exc.strerror}") from None
        self._start(server)

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()


def json_lines_session(handle: Callable[[dict], object]):
    """Electrum-style protocol: one JSON-RPC request per line, one reply per line."""
    def session(sock: socket.socket) -> None:
        reader = sock.makefile("rb")
        for line in reader:
            if len(line) > MAX_BODY:
                return
            try:
                req = json.loads(line)
                result = handle(req)
                reply = {"jsonrpc": "2.0", "id": req.get("id"), "result": result}
            except RpcFault as fault:
                reply = {"jsonrpc": "2.0", "id": req.get("id") if isinstance(req, dict) else None,
                         "error": {"code": fault.code, "message": fault.message}}
            except (ValueError, AttributeError):
                reply = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
            sock.sendall(json.dumps(reply).encode() + b"\n")
    return session


class RpcFault(Exception):
    def __init__(self, code: int, message: str, http_status: int = 500):
        super().__init__(message)
        self.code, self.message, self.http_status = code, message, http_status
