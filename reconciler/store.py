"""Durable state on the node: desired state, canonical secrets, backoff; atomic writes.

All paths hang off a root so tests run against a temporary directory.
"""
from __future__ import annotations

import json
import os
import secrets as pysecrets
import shutil
from dataclasses import dataclass

from .model import ID_RE, STARTED, USER_STOPPED, BitcoinRpcSecret, DesiredState, Secrets, frozen_map
from .scope import STATE_DIR, SYSTEM, Node


@dataclass(frozen=True)
class Paths:
    """Every path the reconciler reads or writes, under `root` (a temp dir in tests). The node block
    (scope.Node) names the rendered files' dirs and the app dirs; the rest is fixed."""
    root: str = "/"
    node: Node = SYSTEM

    def p(self, *parts: str) -> str:
        return os.path.join(self.root, *(x.lstrip("/") for x in parts))

    # settings and catalog
    @property
    def settings(self) -> str: return self.p("/etc/archipelago/reconciler.json")
    @property
    def catalog(self) -> str: return self.p("/etc/archipelago/catalog.json")
    # state
    @property
    def state_dir(self) -> str: return self.p(STATE_DIR)
    @property
    def desired(self) -> str: return self.p(STATE_DIR, "desired.json")
    @property
    def backoff(self) -> str: return self.p(STATE_DIR, "backoff.json")

    @property
    def releases(self) -> str: return self.p(STATE_DIR, "releases.json")
    @property
    def secrets_dir(self) -> str: return self.p(STATE_DIR, "secrets")
    # rendered
    @property
    def quadlet_dir(self) -> str: return self.p(self.node.quadlet_dir)
    @property
    def nginx_dir(self) -> str: return self.p(self.node.nginx_dir)
    @property
    def tor_dir(self) -> str: return self.p(self.node.torrc_dir)   # the torrc snippets (not /var/lib/tor)

    def unit_file(self, stem: str) -> str: return self.p(self.node.quadlet_dir, f"{stem}.container")
    @property
    def network_file(self) -> str: return self.p(self.node.quadlet_dir, f"{self.node.network}.network")
    def data_dir(self, app: str) -> str: return self.p(self.node.fill(self.node.data, app))
    def config_dir(self, app: str) -> str: return self.p(self.node.fill(self.node.config, app))
    def nginx_file(self, app: str) -> str: return self.p(self.node.nginx_dir, f"{app}.conf")
    def tor_file(self, stem: str) -> str: return self.p(self.node.torrc_dir, f"{stem}.conf")
    def hs_dir(self, stem: str) -> str: return self.p(self.node.tor_dir, stem)

    # podman's own state: rootful under /run and /var/lib/containers, rootless under the user's
    @property
    def runtime_dir(self) -> str:
        """$XDG_RUNTIME_DIR in user scope (podman's libpod/, containers/ and podman/ dirs); /run otherwise."""
        if not self.node.user_scope:
            return self.p("/run")
        uid = self.node.uid if self.node.uid is not None else os.getuid()
        return self.p(f"/run/user/{uid}")

    @property
    def ipam_db(self) -> str:
        """netavark's IPAM allocations (a tmpfs: a reboot clears it, a lost state DB does not)."""
        return os.path.join(self.runtime_dir, "containers/networks/ipam.db")

    @property
    def graphroot(self) -> str:
        if not self.node.user_scope:
            return self.p("/var/lib/containers/storage")
        return self.p(self.node.user_home, ".local/share/containers/storage")

    @property
    def owned_roots(self) -> tuple[str, ...]:
        """The only trees the reconciler deletes in (store.remove_path): its state and app dirs, its
        rendered files' dirs, the hidden services, and podman's runtime state (the heal, IPAM)."""
        podman_run = self.runtime_dir if self.node.user_scope else self.p("/run/containers")
        return (self.state_dir, self.quadlet_dir, self.nginx_dir, self.tor_dir, self.p(self.node.tor_dir), podman_run)

    @property
    def disk_paths(self) -> dict[str, str]:
        """node path -> local path whose free space the tick reads: app data and podman's storage."""
        storage = "/var/lib/containers" if not self.node.user_scope else self.host(self.graphroot)
        return {STATE_DIR: self.state_dir, storage: self.p(storage)}

    def host(self, path: str) -> str:
        """The path as the node sees it (inside rendered files), without the test root."""
        if self.root in ("", "/"):
            return path
        return "/" + os.path.relpath(path, self.root)


def atomic_write(path: str, data: bytes, mode: int = 0o644) -> None:
    """temp file in the same dir + fsync + rename + fsync(dir): a crash leaves old or new, never partial."""
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".{os.path.basename(path)}.tmp-{os.getpid()}-{pysecrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return None


class RefusedPath(PermissionError):
    """A delete outside the reconciler's own roots: an OSError, so every step that deletes fails
    the way a permission error would, with this message."""


def owned(path: str, roots) -> bool:
    """`path` is absolute and normalized, and lies strictly inside one of `roots` even with its
    parent's symlinks resolved; pure but for the realpath."""
    if not os.path.isabs(path) or os.path.normpath(path) != path:
        return False
    parent = os.path.realpath(os.path.dirname(path))
    for root in roots:
        real = os.path.realpath(root)
        if path.startswith(root.rstrip("/") + "/") and (parent + "/").startswith(real.rstrip("/") + "/"):
            return True
    return False


def remove_path(path: str, roots) -> None:
    """Delete a file or tree, refused (RefusedPath) unless it lies inside one of `roots`
    (Paths.owned_roots): whatever a settings file or a catalog put into a name, nothing else goes."""
    if not owned(path, roots):
        raise RefusedPath(f"refusing to delete {path}: not inside {', '.join(roots)}")
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


class StoreError(RuntimeError):
    pass


class Store:
    def __init__(self, paths: Paths):
        self.paths = paths

    # ---- desired state ----
    def load_desired(self) -> DesiredState:
        raw = read_bytes(self.paths.desired)
        if raw is None:
            return DesiredState()
        try:
            data = json.loads(raw)
            apps = data["apps"]
            clean = {a: s for a, s in apps.items()
                     if isinstance(a, str) and ID_RE.match(a) and s in (STARTED, USER_STOPPED)}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise StoreError(f"{self.paths.desired}: unreadable desired state") from None
        return DesiredState(frozen_map(clean))

    def save_desired(self, desired: DesiredState) -> None:
        body = json.dumps({"version": 1, "apps": dict(sorted(desired.apps.items()))}, indent=1) + "\n"
        atomic_write(self.paths.desired, body.encode(), 0o644)

    # ---- secrets (0700 dir, 0600 files; never logged) ----
    def _secret_file(self, name: str) -> str:
        return os.path.join(self.paths.secrets_dir, name)

    def _ensure_secret_dir(self) -> None:
        os.makedirs(self.paths.secrets_dir, mode=0o700, exist_ok=True)
        os.chmod(self.paths.secrets_dir, 0o700)

    def load_secrets(self) -> Secrets:
        """Read the canonical secrets, creating missing ones. The rpcauth salt is stored with the
        password so bitcoin.conf renders identically on every tick."""
        self._ensure_secret_dir()
        path = self._secret_file("bitcoin-rpc.json")
        raw = read_bytes(path)
        rpc = None
        if raw is not None:
            try:
                d = json.loads(raw)
                rpc = BitcoinRpcSecret(str(d["user"]), str(d["password"]), str(d["salt"]))
            except (ValueError, KeyError, TypeError):
                rpc = None  # unreadable: regenerate (derived configs follow on this tick)
        if rpc is None:
            rpc = BitcoinRpcSecret("archipelago", pysecrets.token_urlsafe(32), pysecrets.token_hex(16))
            atomic_write(path, json.dumps({"user": rpc.user, "password": rpc.password,
                                           "salt": rpc.salt}).encode(), 0o600)
        # The seeds' node keeps the password alone, one line: the harness reads it there on any node.
        plain = self._secret_file("bitcoin-rpc-password")
        if read_bytes(plain) != rpc.password.encode() + b"\n":
            atomic_write(plain, rpc.password.encode() + b"\n", 0o600)
        mpath = self._secret_file("lnd-macaroon")
        mac = (read_bytes(mpath) or b"").decode(errors="replace").strip()
        if len(mac) != 64 or any(c not in "0123456789abcdef" for c in mac):
            mac = pysecrets.token_hex(32)
            atomic_write(mpath, mac.encode() + b"\n", 0o600)
        for name in os.listdir(self.paths.secrets_dir):
            full = self._secret_file(name)
            if os.path.isfile(full) and os.stat(full).st_mode & 0o077:
                os.chmod(full, 0o600)
        return Secrets(rpc, mac)
