"""Helpers for the stand-in tests: run profiles as local processes on free loopback ports.

Not in conftest.py: several test folders have a conftest, and `from conftest import` would pick
whichever was imported first."""
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STANDIN_PATH = REPO / "reconciler"
sys.path.insert(0, str(STANDIN_PATH))  # the pure modules (rpcauth, chain, settings) for direct tests

PROFILE_PORTS = {
    "bitcoind": ("rpc", "p2p", "zmqblock", "zmqtx", "status"),
    "lnd": ("rest", "p2p", "grpc", "status"),
    "electrumx": ("tcp", "ssl", "status"),
    "btcpay": ("ui", "status"), "mempool": ("ui", "status"), "fedimint": ("api", "ui", "status"),
    "ui": ("ui",),
}
FAST = {"STANDIN_FLUSH_SECONDS": "1.5", "STANDIN_BLOCK_SECONDS": "0.3", "STANDIN_REINDEX_SECONDS": "1.5",
        "STANDIN_CHECK_INTERVAL": "0.3", "STANDIN_MIN_FREE_MB": "1"}
# the Bitcoin Core test vector (test/functional/rpc_users.py)
VECTOR_USER, VECTOR_SALT = "rt", "93648e835a54c573682c2eb19f882535"
VECTOR_PASSWORD = "cA773lm788buwYe4g4WT+05pKyNruVKjQ25x3n0DQcM="
VECTOR_HASH = "7681e9c5b74bdd85e78166031d2058e1069b3ed7ed967c93fc63abba06f31144"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (OSError, ValueError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def http(port: int, path: str = "/", method: str = "GET", body: bytes | None = None, headers: dict | None = None,
         timeout: float = 5.0) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def rpc(port: int, user: str, password: str, method: str, params=None) -> tuple[int, dict | None]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    status, _, body = http(port, "/", "POST", json.dumps({"id": 1, "method": method, "params": params or []}).encode(),
                           {"Authorization": f"Basic {token}"})
    return status, (json.loads(body) if body.strip() else None)


class Proc:
    """One stand-in process; .status() reads its status endpoint."""

    def __init__(self, profile: str, app: str, data: Path, config: Path, ports: dict, env: dict):
        self.profile, self.app, self.data, self.config, self.ports, self.env = profile, app, data, config, ports, env
        self.proc: subprocess.Popen | None = None
        self.log = data.parent / f"{app}.log"
        self.prefix: list[str] = []   # e.g. setpriv, to run it as a capability-dropped container root

    @property
    def status_port(self) -> int:
        return self.ports.get("status", self.ports.get("ui"))

    def start(self, wait: bool = True) -> "Proc":
        env = {**os.environ, **FAST, "PYTHONPATH": str(STANDIN_PATH), "STANDIN_PROFILE": self.profile,
               "STANDIN_APP": self.app, "STANDIN_DATA": str(self.data), "STANDIN_CONFIG": str(self.config),
               "STANDIN_BIND": "127.0.0.1", "STANDIN_PORTS": ",".join(f"{k}={v}" for k, v in self.ports.items()),
               **self.env}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([*self.prefix, sys.executable, "-m", "standin"], env=env, stdout=log, stderr=log)
        if wait:
            self.wait_status()
        return self

    def wait_status(self, timeout: float = 15.0) -> dict:
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.app} exited {self.proc.returncode}: {self.log_text()[-500:]}")
            return self.status()
        return wait_until(ready, timeout, what=f"{self.app} status")

    def status(self) -> dict:
        code, _, body = http(self.status_port, "/status", timeout=3)
        assert code == 200, code
        return json.loads(body)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 30.0) -> float:
        """SIGTERM; returns seconds until exit."""
        t0 = time.monotonic()
        self.signal(signal.SIGTERM)
        rc = self.wait_exit(timeout)
        assert rc == 0, f"{self.app} exited {rc}: {self.log_text()[-500:]}"
        return time.monotonic() - t0

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.wait_exit(10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class LocalShell:
    """What the harness's protocol checks need of a node (`run`, `names`, `cmd`), on this machine:
    their shell text runs here through sh, with the real curl, bash and coreutils."""

    def __init__(self, names, cmd=None):
        from node.commands import ROOT
        self.names, self.cmd = names, cmd or ROOT
        self.commands: list[str] = []

    def run(self, cmd: str, timeout: float = 60, input: bytes | None = None):
        from node.api import CommandResult
        self.commands.append(cmd)
        t0 = time.monotonic()
        p = subprocess.run(["sh", "-c", cmd], input=input, capture_output=True, timeout=timeout)
        return CommandResult(cmd, p.returncode, p.stdout.decode(errors="replace"),
                             p.stderr.decode(errors="replace"), time.monotonic() - t0)

