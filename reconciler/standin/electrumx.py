"""ElectrumX: Electrum protocol on its tcp port (and an ssl one when configured), an flock'd LOCK in its
data dir, a bitcoind connection from DAEMON_URL."""
import fcntl
import os

from .chain import atomic_write
from .clients import ProbeError, bitcoin_rpc, endpoint_from_url
from .netkit import RpcFault, json_lines_session
from .service import Fatal, Standin, log
from .settings import read_env_file


class ElectrumX(Standin):
    capabilities = ("bitcoin",)

    def prepare(self) -> None:
        super().prepare()
        self.env = read_env_file(self.s, "electrumx.env", ("DAEMON_URL",))
        lock = self.s.data / "LOCK"
        try:
            stale = lock.exists()
            self.lock_fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError:
            # plyvel's words on the seeds' node (003): root without DAC_OVERRIDE in a dir it does not own
            raise Fatal(f"IO error: {lock.name}: Permission denied") from None
        try:
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.lock_fd)
            raise Fatal(f"another ElectrumX instance holds {lock}") from None
        os.ftruncate(self.lock_fd, 0)
        os.write(self.lock_fd, f"{os.getpid()}\n".encode())
        self.unclean_shutdown = stale
        if stale:
            log(f"stale {lock}: the last run did not shut down cleanly")
        meta = self.s.data / "db" / "meta.json"
        if not meta.exists():
            meta.parent.mkdir(exist_ok=True)
            atomic_write(meta, b'{"db_version": 8, "coin": "Bitcoin"}\n')
        self.daemon_height: int | None = None

    def open_listeners(self) -> None:
        session = json_lines_session(self.electrum)
        self.listeners.tcp(self.s.ports["tcp"], "tcp", session)
        if "ssl" in self.s.ports:   # plain text too: the image has no certificate
            self.listeners.tcp(self.s.ports["ssl"], "ssl", session)

    def checks(self):
        return {"bitcoin": self.check_bitcoin}

    def check_bitcoin(self) -> str:
        url = self.env.get("DAEMON_URL")
        if not url:
            self.daemon_height = None
            raise ProbeError("not configured (electrumx.env has no DAEMON_URL)")
        ep = endpoint_from_url(url, 8332)
        try:
            self.daemon_height = bitcoin_rpc(ep, "getblockcount")
        except ProbeError:
            self.daemon_height = None
            raise
        return f"height {self.daemon_height} via {ep}"

    def electrum(self, req: dict):
        method = req.get("method")
        if method == "server.version":
            return ["ElectrumX 1.16.0", "1.4"]
        if method == "server.banner":
            return f"archy stand-in {self.s.app}"
        if method == "server.ping":
            return None
        if method == "blockchain.headers.subscribe":
            if self.daemon_height is None:
                raise RpcFault(-32603, "daemon connection problem")
            return {"hex": "00" * 80, "height": self.daemon_height}   # an 80-byte header, as hex
        raise RpcFault(-32601, f"unknown method {method!r}")

    def extra_status(self) -> dict:
        return {"daemon_height": self.daemon_height}

    def close(self) -> None:
        super().close()
        (self.s.data / "LOCK").unlink(missing_ok=True)
        os.close(self.lock_fd)
