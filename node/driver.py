"""PlatformDriver: lifecycle operations through the node's JSON-RPC, called on the node itself.

`curl` runs on the node against the daemon's local API (`node.names.rpc_url`, 127.0.0.1:5678 on
the reference node) so no port is exposed; the request body goes on stdin (never on the command
line, never logged: params may carry secrets).
"""
from __future__ import annotations

import itertools
import json
import math

from .api import Node, NodeError
from .platform import Platform, Rpc
from .platform import load as load_platform

# The harness speaks the reference's method names; a platform profile maps each to its own.
_VERB = {method: verb for verb, method in Rpc().methods}

# The client's deadline for install/uninstall/stop. A node's own deadline must be shorter, so that
# its answer ("did not become healthy") arrives instead of a curl timeout (the reference's is 840 s).
INSTALL_DEADLINE = 900.0
_STATUS_MARK = "\narchy_http_status="  # curl -w: a leading "@" would name a file


class RpcError(NodeError):
    def __init__(self, code: int | None, message: str, data=None, method: str = ""):
        self.code, self.message, self.data, self.method = code, message, data, method
        super().__init__(f"{method or 'rpc'}: {message}" + (f" (code {code})" if code is not None else ""))


class RpcUnavailable(RpcError):
    """The RPC endpoint did not answer (daemon down, connection refused, HTTP error)."""


def curl_command(url: str, timeout: float, body: str | None = None) -> str:
    """curl printing the body then the status mark (parse_http); body is a --data-binary
    argument: "@-" for stdin, "@/path" for a file on the node."""
    t = max(1, math.ceil(timeout))
    data = f"-H 'Content-Type: application/json' --data-binary {body} " if body else ""
    return f"curl -sS --max-time {t} {data}-w '\\n{_STATUS_MARK.strip()}%{{http_code}}' {url}"


def parse_http(out: str) -> tuple[int, str]:
    """Split curl's output into (http status, body); pure."""
    body, mark, code = out.rpartition(_STATUS_MARK)
    if not mark:
        return 0, out
    try:
        return int(code.strip()), body
    except ValueError:
        return 0, out


def parse_rpc(method: str, status: int, body: str, req_id: int):
    """The `result` of a JSON-RPC 2.0 reply, or RpcError; pure."""
    try:
        reply = json.loads(body)
    except ValueError:
        raise RpcUnavailable(None, f"HTTP {status}, not JSON: {body[:200]!r}", method=method) from None
    if not isinstance(reply, dict):
        raise RpcError(None, f"reply is not an object: {body[:200]!r}", method=method)
    if err := reply.get("error"):
        raise RpcError(err.get("code"), err.get("message", "?"), err.get("data"), method=method)
    if reply.get("id") != req_id:
        raise RpcError(None, f"reply id {reply.get('id')!r} != request id {req_id}", method=method)
    if "result" not in reply:
        raise RpcError(None, "reply has neither result nor error", method=method)
    return reply["result"]


class PlatformDriver:
    def __init__(self, node: Node, url: str | None = None, health_url: str | None = None,
                 images: dict[str, str] | None = None):
        self.node = node
        self.platform: Platform = getattr(node, "platform", None) or load_platform()
        self.url, self.health_url = url or node.names.rpc_url, health_url or node.names.health_url
        self.images = images or {}          # app id -> image, for a platform whose install names it
        self._ids = itertools.count(1)

    def request(self, method: str, params: dict) -> tuple[str, dict]:
        """The node's own method name and params for a reference method name."""
        verb = _VERB.get(method)
        if verb is None:
            return method, params
        name = self.platform.rpc.method(verb)
        if name is None:
            raise RpcError(None, f"platform {self.platform.name} has no {verb} method", method=method)
        if verb == "install":
            app = params.get("id", "")
            if "{image}" in "".join(v for _, v in self.platform.rpc.install) and not self.images.get(app):
                raise RpcError(None, f"platform {self.platform.name} installs by image and none is known "
                                     f"for {app}", method=method)
            params = {**self.platform.rpc.install_params(app, self.images.get(app, "")),
                      **{k: v for k, v in params.items() if k != "id"}}
        return name, params

    def call(self, method: str, timeout: float = 60, **params):
        req_id = next(self._ids)
        method, params = self.request(method, params)
        body = json.dumps({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params})
        r = self.node.run(curl_command(self.url, timeout, "@-"), timeout=timeout + 15, input=body.encode())
        if r.rc != 0:
            raise RpcUnavailable(None, f"curl exited {r.rc}: {r.stderr.strip()[:200]}", method=method)
        status, text = parse_http(r.stdout)
        return parse_rpc(method, status, text, req_id)

    def health(self, timeout: float = 30) -> dict:
        """GET /health -> its JSON body plus "http_status" (200 healthy, 503 stale ticks)."""
        r = self.node.run(curl_command(self.health_url, timeout), timeout=timeout + 15)
        if r.rc != 0:
            raise RpcUnavailable(None, f"curl exited {r.rc}: {r.stderr.strip()[:200]}", method="health")
        status, text = parse_http(r.stdout)
        try:
            body = json.loads(text)
        except ValueError:
            body = {"body": text[:200]}
        return {**(body if isinstance(body, dict) else {"body": body}), "http_status": status}

    def healthy(self, timeout: float = 30) -> bool:
        """Whether the daemon's health says ok, read as its platform says."""
        return self.platform.health.is_ok(self.health(timeout))

    # -- the methods of the contract -----------------------------------------------------
    def install(self, app: str, timeout: float = INSTALL_DEADLINE):
        return self.call("package.install", timeout=timeout, id=app)

    def uninstall(self, app: str, timeout: float = INSTALL_DEADLINE):
        return self.call("package.uninstall", timeout=timeout, id=app)

    def start(self, app: str, timeout: float = 300):
        return self.call("package.start", timeout=timeout, id=app)

    def stop(self, app: str, timeout: float = INSTALL_DEADLINE):
        return self.call("package.stop", timeout=timeout, id=app)

    def containers(self, timeout: float = 60) -> list[dict]:
        return self.call("container.list", timeout=timeout)

    def container_health(self, app: str | None = None, timeout: float = 120) -> dict:
        return self.call("container.health", timeout=timeout, **({"id": app} if app else {}))

    def tick(self, timeout: float = 300) -> dict:
        return self.call("reconcile.tick", timeout=timeout)
