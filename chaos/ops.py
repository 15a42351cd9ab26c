"""Lifecycle RPCs recorded in the history (invoke -> ok | fail | info).

Synchronous ops go through the platform driver. Asynchronous ones (an install the fault is
meant to interrupt) run ON the node as a transient systemd unit that writes the reply to
RUN_DIR, a scratch dir on the node's tmpfs: the chaos process does not keep a thread on the SSH
connection, and a reply lost with the node (power cut, tmpfs gone) is simply `info`.
"""
from __future__ import annotations

import json
import shlex
import time
from collections.abc import Mapping

from node.api import CommandTimeout, NodeError
from node.driver import RpcError, RpcUnavailable, curl_command, parse_http, parse_rpc
from node.names import HARNESS

from . import history, target

OPS = {"install": "package.install", "uninstall": "package.uninstall",
       "start": "package.start", "stop": "package.stop"}
# Errors that prove nothing was applied (validation, dependency, conflict); any other
# error (-32000 "failed", transport) leaves the outcome unknown.
DEFINITE_FAIL = {-32600, -32601, -32602, -32001, -32002}
RUN_DIR = HARNESS.scratch("chaos")


def op_unit(p: int) -> str:
    """The transient unit running async operation `p` on the node."""
    return HARNESS.mark(f"chaos-op-{p}")


def history_path(configuration: Mapping | None) -> str:
    return (configuration or {}).get("history_path") or history.default_path()


def outcome(err: Exception | None) -> str:
    """ok / fail / info for an RPC's exception (None = success); pure."""
    if err is None:
        return "ok"
    if isinstance(err, RpcError) and not isinstance(err, RpcUnavailable) and err.code in DEFINITE_FAIL:
        return "fail"
    return "info"


def _invoke(path: str, f: str, app: str, **extra) -> int:
    if f not in OPS:
        raise ValueError(f"unknown operation {f!r} (known: {', '.join(OPS)})")
    p = history.next_process(history.load(path))
    history.append(path, {"type": "invoke", "process": p, "f": f, "app": app, **extra})
    return p


def call(configuration: Mapping, f: str, app: str, timeout: float) -> dict:
    """Run one operation synchronously; returns its history completion record."""
    path = history_path(configuration)
    p = _invoke(path, f, app)
    err = None
    try:
        target.driver(configuration).call(OPS[f], timeout=timeout, id=app)
    except (NodeError, OSError) as e:
        err = e
    return history.append(path, {"type": outcome(err), "process": p, "f": f, "app": app,
                                 **({"error": str(err)[:300]} if err else {})})


def start_async(configuration: Mapping, f: str, app: str, timeout: float) -> int:
    """Start an operation on the node in the background; returns its process id."""
    path = history_path(configuration)
    node = target.node(configuration)
    p = _invoke(path, f, app, mode="async")
    body = json.dumps({"jsonrpc": "2.0", "id": p, "method": OPS[f], "params": {"id": app}})
    req, out = f"{RUN_DIR}/op-{p}.req", f"{RUN_DIR}/op-{p}.out"
    node.put_file(req, body.encode(), 0o600)
    t = int(timeout)
    # the driver's curl line: its status mark must not start with "@" (curl -w would read a file)
    script = f"{curl_command(node.names.rpc_url, t, '@' + req)} > {out}.tmp 2>&1; mv {out}.tmp {out}"
    node.succeed(node.cmd.as_root(f"systemd-run --quiet --collect --unit={op_unit(p)} "
                                  f"--property=RuntimeMaxSec={t + 30} sh -c {shlex.quote(script)}"), timeout=30)
    return p


def pending(configuration: Mapping) -> list[dict]:
    """Async invokes not yet completed in the history."""
    recs = history.load(history_path(configuration))
    done = {r.get("process") for r in recs if r.get("type") in history.COMPLETIONS}
    return [r for r in recs if r.get("type") == "invoke" and r.get("mode") == "async"
            and r["process"] not in done]


def reply_ready(configuration: Mapping, p: int) -> bool:
    node = target.node(configuration)
    r = node.run(node.cmd.as_root(f"test -e {RUN_DIR}/op-{p}.out"), timeout=30)
    return r.rc == 0


def collect(configuration: Mapping, timeout: float) -> list[dict]:
    """Complete every pending async op: wait (bounded) for its reply, then ok/fail/info."""
    path = history_path(configuration)
    node = target.node(configuration)
    out = []
    deadline = time.monotonic() + timeout
    for inv in pending(configuration):
        p = inv["process"]
        err: Exception | None = None
        text = None
        while True:
            try:
                r = node.run(node.cmd.as_root(f"cat {RUN_DIR}/op-{p}.out 2>/dev/null || "
                                              f"systemctl is-active --quiet {op_unit(p)} || echo @@gone"), timeout=30)
                text = r.stdout
            except (NodeError, OSError) as e:
                text, err = None, e
            if text and text.strip() != "@@gone":
                break
            if (text or "").strip() == "@@gone" or time.monotonic() > deadline:
                err = err or CommandTimeout(f"op {p}: no reply (node rebooted or the request was cut)")
                text = None
                break
            time.sleep(1.0)
        if text is not None:
            status, body = parse_http(text)
            try:
                parse_rpc(OPS[inv["f"]], status, body, p)
            except RpcError as e:
                err = e
        out.append(history.append(path, {"type": outcome(err), "process": p, "f": inv["f"],
                                          "app": inv["app"], **({"error": str(err)[:300]} if err else {})}))
    return out
