"""Probes of the dependencies, with short timeouts. Details name host:port only, never credentials."""
import base64
import http.client
import json
import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

TIMEOUT = 4.0   # generous: TCG guests on a busy host answer slowly


class ProbeError(Exception):
    """detail for the integrations table"""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    user: str = ""
    password: str = ""

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def endpoint_from_url(url: str, default_port: int) -> Endpoint:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if not parts.hostname:
        raise ProbeError("bad URL (no host)")
    try:
        port = parts.port or default_port
    except ValueError:
        raise ProbeError("bad URL (port)") from None
    return Endpoint(parts.hostname, port, unquote(parts.username or ""), unquote(parts.password or ""))


def endpoint_from_hostport(hostport: str, default_port: int, user: str = "", password: str = "") -> Endpoint:
    ep = endpoint_from_url(f"http://{hostport}", default_port)
    return Endpoint(ep.host, ep.port, user, password)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return "name not resolved"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    return exc.__class__.__name__


def http_request(ep: Endpoint, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                 timeout: float = TIMEOUT) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(ep.host, ep.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read(1 << 20)
    except (OSError, http.client.HTTPException) as exc:
        raise ProbeError(f"{ep}: {_describe(exc)}") from None
    finally:
        conn.close()


def bitcoin_rpc(ep: Endpoint, method: str, params: list | None = None, timeout: float = TIMEOUT):
    token = base64.b64encode(f"{ep.user}:{ep.password}".encode()).decode()
    body = json.dumps({"jsonrpc": "1.0", "id": "standin", "method": method, "params": params or []}).encode()
    status, data = http_request(ep, "POST", "/", body,
                                {"Authorization": f"Basic {token}", "Content-Type": "application/json"}, timeout)
    if status == 401:
        raise ProbeError(f"{ep}: 401 unauthorized (rpcauth mismatch)")
    try:
        reply = json.loads(data)
    except ValueError:
        raise ProbeError(f"{ep}: HTTP {status}, not JSON-RPC") from None
    if reply.get("error"):
        err = reply["error"]
        raise ProbeError(f"{ep}: RPC error {err.get('code')}: {err.get('message')}")
    return reply.get("result")


def lnd_getinfo(ep: Endpoint, macaroon_hex: str | None, timeout: float = TIMEOUT) -> dict | None:
    """lnd's GET /v1/getinfo. None = reachable but no macaroon to authenticate with. lnd answers a
    missing or wrong macaroon with HTTP 500 and a gRPC error body (code 2)."""
    headers = {"Grpc-Metadata-macaroon": macaroon_hex} if macaroon_hex else {}
    status, data = http_request(ep, "GET", "/v1/getinfo", headers=headers, timeout=timeout)
    try:
        reply = json.loads(data)
    except ValueError:
        reply = None
    if status == 200 and isinstance(reply, dict):
        return reply
    message = str(reply.get("message") or "") if isinstance(reply, dict) else ""
    if status == 401 or (status == 500 and isinstance(reply, dict) and reply.get("code") == 2):
        if not macaroon_hex:
            return None
        raise ProbeError(f"{ep}: macaroon rejected ({message or f'HTTP {status}'})")
    raise ProbeError(f"{ep}: HTTP {status}" + (f" ({message})" if message else ""))


def electrum_call(ep: Endpoint, method: str, params: list, timeout: float = TIMEOUT):
    try:
        with socket.create_connection((ep.host, ep.port), timeout=timeout) as sock:
            sock.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode() + b"\n")
            line = sock.makefile("rb").readline(1 << 20)
    except OSError as exc:
        raise ProbeError(f"{ep}: {_describe(exc)}") from None
    try:
        reply = json.loads(line)
    except ValueError:
        raise ProbeError(f"{ep}: no electrum reply") from None
    if reply.get("error"):
        raise ProbeError(f"{ep}: {reply['error'].get('message')}")
    return reply.get("result")


def tcp_probe(ep: Endpoint, timeout: float = TIMEOUT) -> None:
    try:
        socket.create_connection((ep.host, ep.port), timeout=timeout).close()
    except OSError as exc:
        raise ProbeError(f"{ep}: {_describe(exc)}") from None
