"""btcpay, mempool, fedimint: a UI page, a small database in /data, integrations from integrations.json."""
import os

from .chain import atomic_write
from .clients import (ProbeError, Endpoint, bitcoin_rpc, electrum_call, endpoint_from_url, lnd_getinfo)
from .netkit import Request, Response
from .service import Standin
from .settings import read_integrations

CAPABILITIES = {"btcpay": ("bitcoin", "lnd"), "mempool": ("electrum", "bitcoin"), "fedimint": ("bitcoin",)}
DEFAULT_PORTS = {"bitcoin": 8332, "lnd": 8080, "electrum": 50001}


def endpoint(entry: dict, cap: str) -> Endpoint:
    user, password = str(entry.get("user") or ""), str(entry.get("password") or "")
    if entry.get("host"):
        try:
            port = int(entry.get("port") or DEFAULT_PORTS[cap])
        except (TypeError, ValueError):
            raise ProbeError("bad port in integrations.json") from None
        return Endpoint(str(entry["host"]), port, user, password)
    if entry.get("url"):
        ep = endpoint_from_url(str(entry["url"]), DEFAULT_PORTS[cap])
        return Endpoint(ep.host, ep.port, user or ep.user, password or ep.password)
    raise ProbeError(f"integrations.json '{cap}' has no host or url")


class WebApp(Standin):
    def __init__(self, settings):
        self.capabilities = CAPABILITIES[settings.profile]
        super().__init__(settings)

    def prepare(self) -> None:
        super().prepare()
        self.integ = read_integrations(self.s)
        db = self.s.data / f"{self.s.profile}.db"
        if not db.exists():
            atomic_write(db, os.urandom(64), 0o600)

    def open_listeners(self) -> None:
        self.listeners.http(self.s.ports["ui"], self.route_ui, "ui")
        if "api" in self.s.ports:
            self.listeners.http(self.s.ports["api"], self.route_api, "api")

    def route_api(self, req: Request) -> Response:
        return Response.json(200, {"app": self.s.app, "healthy": self.healthy()})

    def checks(self):
        return {cap: (lambda cap=cap: self.check(cap)) for cap in self.capabilities}

    def check(self, cap: str) -> str:
        entry = self.integ.get(cap)
        if not isinstance(entry, dict):
            raise ProbeError(f"not configured (integrations.json has no '{cap}')")
        ep = endpoint(entry, cap)
        if cap == "bitcoin":
            return f"height {bitcoin_rpc(ep, 'getblockchaininfo').get('blocks')} via {ep}"
        if cap == "lnd":
            info = lnd_getinfo(ep, str(entry.get("macaroon") or "") or None)
            if info is None:
                return f"reachable via {ep} (no macaroon)"
            if not info.get("synced_to_chain"):
                raise ProbeError(f"{ep}: lnd not synced to chain")
            return f"synced at height {info.get('block_height')} via {ep}"
        version = electrum_call(ep, "server.version", [self.s.app, "1.4"])
        return f"{version[0] if isinstance(version, list) and version else version} via {ep}"
