"""The JSON-RPC server on a loopback port with a fake system: results, errors, limits."""
from __future__ import annotations

import http.client
import json
import os
import threading

import pytest

from reconciler.server import MAX_BODY, make_server
from recfake import make


@pytest.fixture
def served(tmp_path):
    rec, fake = make(tmp_path)
    srv = make_server(rec, "127.0.0.1", 0)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield rec, fake, srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def post(port, body: bytes, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.request("POST", "/rpc/v1", body=body, headers=headers or {"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, json.loads(r.read())
    finally:
        c.close()


def call(port, method, params=None):
    return post(port, json.dumps({"jsonrpc": "2.0", "id": 7, "method": method,
                                  **({"params": params} if params is not None else {})}).encode())


def get_health(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", "/health")
        r = c.getresponse()
        return r.status, json.loads(r.read())
    finally:
        c.close()


def test_install_list_health_tick_uninstall(served):
    rec, fake, port = served
    status, body = call(port, "package.install", {"id": "bitcoin-knots", "timeout": 30})
    assert status == 200 and body["id"] == 7
    assert body["result"] == {"id": "bitcoin-knots", "state": "running", "healthy": True,
                              "units": ["archy-bitcoin-knots.service", "archy-bitcoin-ui.service"]}
    _, body = call(port, "container.list")
    rows = {r["app"]: r for r in body["result"]}
    assert rows["bitcoin-knots"]["active"] == "active" and rows["bitcoin-knots"]["desired"] == "started"
    assert set(rows["bitcoin-knots"]) == {"app", "unit", "container", "desired", "active", "state", "health",
                                          "restarts"}
    _, body = call(port, "container.health", {"id": "bitcoin-knots"})
    assert body["result"]["bitcoin-knots"]["healthy"] is True
    _, body = call(port, "reconcile.tick", {})
    assert body["result"]["converged"] is True and body["result"]["steps"] == []
    _, body = call(port, "package.stop", {"id": "bitcoin-knots"})
    assert body["result"] == {"id": "bitcoin-knots", "desired": "user-stopped"}
    _, body = call(port, "package.uninstall", {"id": "bitcoin-knots"})
    assert body["result"]["id"] == "bitcoin-knots" and body["result"]["removed"]


def test_health_endpoint_503_until_a_good_tick(served):
    rec, fake, port = served
    status, body = get_health(port)
    assert status == 503 and body["ok"] is False
    assert body["status"] == "error" and body["error"] == "no reconcile tick completed yet"
    call(port, "reconcile.tick")
    status, body = get_health(port)
    assert status == 200 and body["ok"] is True and body["interval"] == 5.0
    # the seeds' node answers these (platforms/archipelago.yaml health.ok)
    assert body["status"] == "ok" and body["crash_recovery_complete"] is True and "error" not in body
    first = body["last_good_tick"]
    rec.clock.t += 1
    call(port, "reconcile.tick")
    assert get_health(port)[1]["last_good_tick"] > first
    rec.last_good_mono -= 10 * rec.pause
    status, body = get_health(port)
    assert status == 503 and body["error"] == "the reconcile loop stalled: no tick completed in time"


@pytest.mark.parametrize("params,fragment", [
    ({"id": "../../etc/passwd"}, "unknown app"),
    ({"id": "bitcoin-knots/../x"}, "unknown app"),
    ({"id": "archy-bitcoin-ui"}, "unknown app"),          # companions are not installable alone
    ({"id": 5}, "wrong type"),
    ({"id": ["lnd"]}, "wrong type"),
    ({}, "missing parameter"),
    ({"id": "lnd", "force": True}, "unknown parameter"),
    ({"id": "bitcoin-knots", "timeout": True}, "wrong type"),
    ({"id": "bitcoin-knots", "timeout": 1e9}, "timeout must be"),
])
def test_invalid_params_change_nothing(served, params, fragment):
    rec, fake, port = served
    status, body = call(port, "package.install", params)
    assert body["error"]["code"] == -32602 and fragment in body["error"]["message"]
    assert not os.path.exists(rec.paths.desired)
    assert fake.count("systemctl", "daemon-reload") == 0


def test_protocol_errors(served):
    rec, fake, port = served
    assert post(port, b"{not json")[1]["error"]["code"] == -32700
    assert post(port, b'{"jsonrpc": "1.0", "method": "x"}')[1]["error"]["code"] == -32600
    assert post(port, b'[1, 2]')[1]["error"]["code"] == -32600
    assert call(port, "package.destroy", {"id": "lnd"})[1]["error"]["code"] == -32601
    assert call(port, "container.list", [1])[1]["error"]["code"] == -32602


def test_oversized_body_rejected_unread(served):
    rec, fake, port = served
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "package.install",
                       "params": {"id": "x" * (MAX_BODY + 10)}}).encode()
    status, reply = post(port, body)
    assert status == 413 and reply["error"]["code"] == -32600
    assert not os.path.exists(rec.paths.desired)


def test_dependency_and_conflict_errors(served):
    rec, fake, port = served
    _, body = call(port, "package.install", {"id": "lnd"})
    assert body["error"]["code"] == -32001 and "requires bitcoin" in body["error"]["message"]
    call(port, "package.install", {"id": "bitcoin-knots"})
    _, body = call(port, "package.install", {"id": "bitcoin-core"})
    assert body["error"]["code"] == -32002
    call(port, "package.install", {"id": "lnd"})
    _, body = call(port, "package.uninstall", {"id": "bitcoin-knots"})
    assert body["error"]["code"] == -32001 and body["error"]["data"] == {"dependents": ["lnd"]}


def test_install_reports_error_when_never_healthy(served):
    rec, fake, port = served
    fake.crashing.add("archy-bitcoin-knots.service")
    _, body = call(port, "package.install", {"id": "bitcoin-knots", "timeout": 1})
    assert body["error"]["code"] == -32000 and "did not become healthy" in body["error"]["message"]


def test_install_success_before_healthy_variant_lies(tmp_path):
    rec, fake = make(tmp_path, variant="install-success-before-healthy")
    fake.crashing.add("archy-bitcoin-knots.service")
    assert rec.install("bitcoin-knots", timeout=1)["healthy"] is True
    assert fake.units["archy-bitcoin-knots.service"].active == "failed"


def test_uninstall_partial_failure_is_an_error(served):
    rec, fake, port = served
    call(port, "package.install", {"id": "bitcoin-knots"})
    fake.broken = {"systemctl stop --no-block archy-bitcoin-knots.service"}
    _, body = call(port, "package.uninstall", {"id": "bitcoin-knots", "timeout": 1})
    assert body["error"]["code"] == -32000
    assert "archy-bitcoin-knots.service" in body["error"]["data"]["left"]


def test_install_accepts_the_catalogs_image_as_docker_image(served):
    """Seed 001's install names the image; it must be the catalog's, else nothing changes."""
    rec, fake, port = served
    _, body = call(port, "package.install", {"id": "bitcoin-knots", "dockerImage": "docker.io/evil/bitcoind:1"})
    assert body["error"]["code"] == -32602
    assert body["error"]["message"] == ("dockerImage 'docker.io/evil/bitcoind:1' is not bitcoin-knots's image: "
                                        "the catalog installs localhost/archy-standin:1")
    assert not os.path.exists(rec.paths.desired) and fake.count("systemctl", "daemon-reload") == 0
    _, body = call(port, "package.install", {"id": "bitcoin-knots", "dockerImage": 1})
    assert body["error"]["code"] == -32602 and "wrong type" in body["error"]["message"]
    _, body = call(port, "package.install", {"id": "bitcoin-knots", "dockerImage": "localhost/archy-standin:1",
                                             "timeout": 30})
    assert body["result"]["healthy"] is True
