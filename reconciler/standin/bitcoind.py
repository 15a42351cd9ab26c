"""bitcoind (Knots / Core): rpcauth JSON-RPC, P2P and ZMQ listeners, a growing block store,
a shutdown flush that takes real seconds and unclean-shutdown detection on the next start."""
import base64
import binascii
import json
import os
import threading
import time

from . import faults, rpcauth
from .chain import Chain, atomic_write, fsync_dir
from .netkit import Request, Response, RpcFault
from .service import Fatal, Standin, log, log_error
from .settings import read_conf

MARKER = ".clean_shutdown"
UNCLEAN_WARNING = "Unclean shutdown detected: chainstate was rebuilt from the block files"
DISK_CHECK_SECONDS = 2.0


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, sep, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class Bitcoind(Standin):
    def prepare(self) -> None:
        conf = read_conf(self.s, "bitcoin.conf") or {}
        self.rpcauth = conf.get("rpcauth", [])
        if not self.rpcauth:
            log_error("bitcoin.conf has no rpcauth: every RPC call will get 401")
        super().prepare()
        self.check_disk()
        self.marker = self.s.data / MARKER
        self.chain = Chain(self.s.data / "blocks")
        fresh = not any(self.chain.dir.glob("blk*.dat")) if self.chain.dir.exists() else True
        loaded = self.chain.load()
        if loaded.truncated_bytes:
            log(f"discarded a torn block record ({loaded.truncated_bytes} bytes) at the tip")
        self.unclean_shutdown = not fresh and not self.marker.exists()
        if self.marker.exists():
            self.marker.unlink()              # a crash during this run must show on the next start
            fsync_dir(self.s.data)
        if loaded.corrupt:
            self.state = "corrupt"
            log_error(f"Corrupted block database detected: {loaded.corrupt}")
        elif self.unclean_shutdown:
            self.state = "reindexing"
            self.reindex_done = time.monotonic() + self.s.reindex_seconds
            log(f"unclean shutdown detected (no {MARKER}); reindexing for {self.s.reindex_seconds:g}s")
        if self.chain.height < 0 and not loaded.corrupt:
            self.chain.append(int(time.time()))   # genesis
        self.warnings = [UNCLEAN_WARNING] if self.unclean_shutdown else []

    def check_disk(self) -> None:
        st = os.statvfs(self.s.data)
        free_mb = st.f_bavail * st.f_frsize / (1 << 20)
        if free_mb < self.s.min_free_mb:
            raise Fatal(f"Error: Disk space is too low! ({free_mb:.0f} MiB free in {self.s.data},"
                        f" need {self.s.min_free_mb:g} MiB)")

    def open_listeners(self) -> None:
        p = self.s.ports
        self.listeners.http(p["rpc"], self.route_rpc, "rpc")
        self.listeners.tcp(p["p2p"], "p2p")
        self.listeners.tcp(p["zmqblock"], "zmqpubrawblock")
        self.listeners.tcp(p["zmqtx"], "zmqpubrawtx")

    def background(self, stop: threading.Event) -> None:
        next_block = time.monotonic() + self.s.block_seconds
        next_disk = time.monotonic() + DISK_CHECK_SECONDS
        while not stop.wait(1.0):   # blocks and disk checks are per second at most
            now = time.monotonic()
            if self.state == "reindexing" and now >= self.reindex_done:
                self.write_chainstate()
                self.state = "running"
                log(f"reindex done at height {self.chain.height}")
            if now >= next_disk:
                next_disk = now + DISK_CHECK_SECONDS
                try:
                    self.check_disk()
                except Fatal as exc:
                    self.fatal = str(exc)
                    stop.set()
                    return
            if self.s.block_seconds and self.state == "running" and now >= next_block:
                next_block = now + self.s.block_seconds
                try:
                    self.chain.append(int(time.time()))
                except OSError as exc:
                    self.fatal = f"Error: failed to write block: {exc.strerror}"
                    stop.set()
                    return

    def write_chainstate(self) -> None:
        state = {"height": self.chain.height, "tip": self.chain.tip}
        atomic_write(self.s.data / "chainstate.json", json.dumps(state).encode() + b"\n")

    def close(self) -> None:
        super().close()                       # RPC, P2P and ZMQ go first, as in bitcoind
        if self.state == "corrupt" or self.chain.corrupt:
            return
        total = self.s.flush_seconds
        log(f"flushing chainstate to disk ({total:g}s)")
        deadline = time.monotonic() + total
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(1.0, left))        # models the flush's disk work; SIGKILL here = unclean
        self.write_chainstate()
        atomic_write(self.marker, f"{time.time():.3f}\n".encode())
        log(f"flush complete at height {self.chain.height}; wrote {MARKER}")

    def healthy(self) -> bool:
        return super().healthy() and not self.chain.corrupt

    def extra_status(self) -> dict:
        return {"chain_height": self.chain.height, "tip_hash": self.chain.tip, "chain_ok": not self.chain.corrupt}

    # -- JSON-RPC --
    def route_rpc(self, req: Request) -> Response:
        creds = parse_basic_auth(req.headers.get("authorization"))
        if not creds or not rpcauth.check(self.rpcauth, *creds):
            return Response(401, b"", {"WWW-Authenticate": 'Basic realm="jsonrpc"'})
        if req.method != "POST":
            return Response(405, b"JSONRPC server handles only POST requests\n")
        try:
            payload = json.loads(req.body)
        except ValueError:
            return Response.json(500, {"result": None, "id": None, "error": {"code": -32700, "message": "Parse error"}})
        if isinstance(payload, list):
            return Response.json(200, [self.rpc_one(item)[1] for item in payload])
        status, reply = self.rpc_one(payload)
        return Response.json(status, reply)

    def rpc_one(self, req) -> tuple[int, dict]:
        rid = req.get("id") if isinstance(req, dict) else None
        try:
            if not isinstance(req, dict) or not isinstance(req.get("method"), str):
                raise RpcFault(-32600, "Invalid Request object", 400)
            params = req.get("params") or []
            result = self.dispatch(req["method"], params if isinstance(params, list) else [])
            return 200, {"result": result, "error": None, "id": rid}
        except RpcFault as fault:
            return fault.http_status, {"result": None, "error": {"code": fault.code, "message": fault.message}, "id": rid}

    def dispatch(self, method: str, params: list):
        if method == "stop":
            threading.Thread(target=self.request_stop, daemon=True).start()
            return "Bitcoin Core stopping"
        if method == "uptime":
            return int(time.time() - self.started_at)
        if method == "echo":
            return params
        if self.chain.corrupt:
            raise RpcFault(-1, "Corrupted block database detected")
        if self.state == "reindexing":
            raise RpcFault(-28, "Verifying blocks…")
        if self.state != "running":
            raise RpcFault(-28, "Shutting down")
        height, tip = self.chain.height, self.chain.tip
        if method == "getblockchaininfo":
            wrong = "wrong-height" in faults.active(self.s.data)
            return {"chain": "main", "blocks": height + faults.WRONG_HEIGHT_OFFSET if wrong else height,
                    "headers": height, "bestblockhash": tip, "difficulty": 1.0,
                    "verificationprogress": 1.0, "initialblockdownload": False,
                    "chainwork": f"{height + 1:064x}", "pruned": False,
                    "size_on_disk": sum(f.stat().st_size for f in self.chain.dir.glob("blk*.dat")),
                    "warnings": list(self.warnings)}
        if method == "getblockcount":
            return height
        if method == "getbestblockhash":
            return tip
        if method == "getnetworkinfo":
            sub = "/Satoshi:28.1.0/Knots:20250305/" if "knots" in self.s.app else "/Satoshi:28.1.0/"
            return {"version": 280100, "subversion": sub, "connections": 0, "networkactive": True,
                    "warnings": list(self.warnings)}
        if method == "getzmqnotifications":
            return [{"type": "pubrawblock", "address": f"tcp://0.0.0.0:{self.s.ports['zmqblock']}", "hwm": 1000},
                    {"type": "pubrawtx", "address": f"tcp://0.0.0.0:{self.s.ports['zmqtx']}", "hwm": 1000}]
        raise RpcFault(-32601, "Method not found", 404)
