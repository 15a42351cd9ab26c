"""lnd: macaroon-protected REST, P2P/gRPC listeners, a bitcoind connection from lnd.conf."""
import hashlib
import hmac
import os
import time

from . import faults
from .chain import atomic_write
from .clients import ProbeError, bitcoin_rpc, endpoint_from_hostport, endpoint_from_url, tcp_probe
from .netkit import Request, Response
from .service import Standin, log
from .settings import read_conf, read_text


class Lnd(Standin):
    capabilities = ("bitcoin",)

    def prepare(self) -> None:
        super().prepare()
        self.conf = read_conf(self.s, "lnd.conf")
        if self.conf is None:
            log("no lnd.conf: the bitcoin backend is not configured")
        from_config = read_text(self.s.config / "admin.macaroon.hex")
        if from_config and from_config.strip():
            self.macaroon_hex = from_config.strip().lower()
        else:
            path = self.s.data / "admin.macaroon"
            if not path.exists():
                atomic_write(path, os.urandom(64), 0o600)
                log(f"created {path}")
            self.macaroon_hex = path.read_bytes().hex()
        wallet = self.s.data / "wallet.db"
        if not wallet.exists():
            atomic_write(wallet, os.urandom(32), 0o600)
        self.identity_pubkey = "02" + hashlib.sha256(wallet.read_bytes()).hexdigest()
        self.block_height, self.block_hash = 0, ""

    def open_listeners(self) -> None:
        p = self.s.ports
        self.listeners.http(p["rest"], self.route_rest, "rest")
        self.listeners.tcp(p["p2p"], "p2p")
        self.listeners.tcp(p["grpc"], "grpc")

    def _conf(self, key: str) -> str:
        values = (self.conf or {}).get(key) or (self.conf or {}).get(key.replace("bitcoind.", "bitcoind_"))
        return values[-1] if values else ""

    def checks(self):
        return {"bitcoin": self.check_bitcoin}

    def check_bitcoin(self) -> str:
        host = self._conf("bitcoind.rpchost")
        if not host:
            raise ProbeError("not configured (lnd.conf has no bitcoind.rpchost)")
        ep = endpoint_from_hostport(host, 8332, self._conf("bitcoind.rpcuser"), self._conf("bitcoind.rpcpass"))
        info = bitcoin_rpc(ep, "getblockchaininfo")
        for key in ("bitcoind.zmqpubrawblock", "bitcoind.zmqpubrawtx"):
            if self._conf(key):
                tcp_probe(endpoint_from_url(self._conf(key), 28332))
        self.block_height, self.block_hash = info.get("blocks", 0), info.get("bestblockhash", "")
        return f"height {self.block_height} via {ep}"

    def synced(self) -> bool:
        return bool(self.integrations.get("bitcoin", {}).get("ok"))

    def extra_status(self) -> dict:
        return {"synced_to_chain": self.synced(), "block_height": self.block_height}

    def getinfo(self) -> dict:
        """lnd's GetInfo as its REST gateway renders it (int64 fields as strings). The not-synced
        fault changes this answer only: the stand-in's own status still says synced."""
        synced = self.synced() and "not-synced" not in faults.active(self.s.data)
        return {
            "version": "0.18.4-beta commit=v0.18.4-beta", "commit_hash": "standin", "identity_pubkey": self.identity_pubkey,
            "alias": self.s.app, "color": "#3399ff", "num_pending_channels": 0, "num_active_channels": 0,
            "num_inactive_channels": 0, "num_peers": 0, "block_height": self.block_height,
            "block_hash": self.block_hash, "best_header_timestamp": str(int(time.time())),
            "synced_to_chain": synced, "synced_to_graph": synced, "testnet": False,
            "chains": [{"chain": "bitcoin", "network": "mainnet"}], "uris": [], "features": {},
            "require_htlc_interceptor": False, "store_final_htlc_resolutions": False}

    def route_rest(self, req: Request) -> Response:
        # lnd's REST gateway maps gRPC errors to HTTP: a missing or wrong macaroon is gRPC Unknown (2), HTTP 500.
        given = req.headers.get("grpc-metadata-macaroon", "").strip().lower()
        if not given:
            return grpc_error(500, 2, "expected 1 macaroon, got 0")
        if not hmac.compare_digest(given.encode(), self.macaroon_hex.encode()):
            return grpc_error(500, 2, "verification failed: signature mismatch after caveat verification")
        if req.method == "GET" and req.path.split("?")[0] == "/v1/getinfo":
            return Response.json(200, self.getinfo())
        return grpc_error(404, 5, "Not Found")


def grpc_error(status: int, code: int, message: str) -> Response:
    return Response.json(status, {"code": code, "message": message, "details": []})
