"""lnd: macaroon-protected REST, P2P/gRPC listeners, a bitcoind connection from lnd.conf."""
import hashlib
import hmac
import os

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

    def route_rest(self, req: Request) -> Response:
        given = req.headers.get("grpc-metadata-macaroon", "").strip().lower()
        if not given or not hmac.compare_digest(given.encode(), self.macaroon_hex.encode()):
            return Response.json(401, {"code": 16, "message": "verification failed: signature mismatch after caveat verification"})
        if req.method == "GET" and req.path.split("?")[0] == "/v1/getinfo":
            return Response.json(200, {
                "version": "0.18.4-beta standin", "alias": self.s.app, "identity_pubkey": self.identity_pubkey,
                "num_active_channels": 0, "num_peers": 0, "block_height": self.block_height,
                "block_hash": self.block_hash, "synced_to_chain": self.synced(), "synced_to_graph": self.synced(),
                "chains": [{"chain": "bitcoin", "network": "mainnet"}]})
        return Response.json(404, {"code": 5, "message": "Not Found"})
