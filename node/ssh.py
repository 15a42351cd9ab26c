"""SSHNode: a Node over paramiko, with pinned host keys.

testinfra's paramiko backend falls short in three ways, so this module uses paramiko directly:
  * it connects with WarningPolicy (any host key accepted) -> we build the SSHClient ourselves
    with RejectPolicy + the pinned known_hosts;
  * `run` has no timeout -> every command is wrapped in `timeout -k 5 N sh -c ...` on the node
    and read with a client-side deadline on the channel;
  * `run` cannot feed stdin -> we open the channel ourselves and send `input` (never logged).
testinfra's modules run on top of this `run` (`node.host`, node/infra.py).
"""
from __future__ import annotations

import logging
import math
import select
import shlex
import time

import paramiko

from . import capabilities as caps
from . import infra, keyfiles, timing
from .api import CommandResult, CommandTimeout, HostKeyMismatch, Node, NodeUnreachable, _short
from .keyfiles import KeyFileError
from .platform import Platform
from .platform import load as load_platform

log = logging.getLogger("archy.ssh")

CLIENT_GRACE = 10.0   # the client waits this long past the remote `timeout -k 5 N`


def _fingerprint(key: paramiko.PKey) -> str:
    return f"{key.get_name()} SHA256:{key.fingerprint.split(':', 1)[-1]}" if hasattr(key, "fingerprint") \
        else key.get_name()


def base_url(user: str | None, host: str, port: int) -> str:
    """How a node is named in messages and reports: ssh://[user@]host:port."""
    return f"ssh://{user + '@' if user else ''}{host}:{port}"


class SSHNode(Node):
    """Built from parsed parts (node.target.connect, or VMNode for its own port and keys)."""

    def __init__(self, host: str, port: int = 22, *, user: str | None = None, known_hosts: str,
                 identity_file: str | None = None, disposable: bool = False, name: str | None = None,
                 capabilities: frozenset[str] | None = None, connect_timeout: float = 10,
                 platform: Platform | None = None):
        self.url = base_url(user, host, port)
        self.hostname, self.port = host, port
        self.platform = platform or load_platform()
        self.user = user or self.platform.login        # the profile's login when none is named
        self.known_hosts = known_hosts
        self.identity_file = identity_file
        self.connect_timeout = connect_timeout
        self.disposable = disposable
        self.name = name or f"{self.hostname}:{self.port}"
        self.capabilities = capabilities if capabilities is not None else caps.ssh(disposable)
        self.names = self.platform.names
        self.cmd = self.platform.commands(self.user)
        self.host = infra.host(self)     # testinfra's modules over this node's own `run`
        self._client: paramiko.SSHClient | None = None
        self._connect()

    # -- connection ----------------------------------------------------------------------
    def _connect(self) -> None:
        client = paramiko.SSHClient()
        try:
            keyfiles.check(self.known_hosts, self.identity_file)
            client.load_host_keys(self.known_hosts)
        except (KeyFileError, OSError) as e:
            why = e.strerror if isinstance(e, OSError) else str(e)
            raise NodeUnreachable(f"{self.url}: {why}") from None
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(self.hostname, self.port, username=self.user,
                           key_filename=self.identity_file, timeout=self.connect_timeout,
                           banner_timeout=self.connect_timeout, auth_timeout=self.connect_timeout,
                           allow_agent=self.identity_file is None,
                           look_for_keys=self.identity_file is None)
        except paramiko.BadHostKeyException as e:
            client.close()
            raise HostKeyMismatch(
                f"{self.url}: host key changed: got {_fingerprint(e.key)}, pinned "
                f"{_fingerprint(e.expected_key)} in {self.known_hosts}") from None
        except paramiko.SSHException as e:
            client.close()
            if "known_hosts" in str(e):
                raise HostKeyMismatch(f"{self.url}: host key not pinned in {self.known_hosts}") from None
            raise NodeUnreachable(f"{self.url}: ssh: {e}") from None
        except (OSError, EOFError) as e:  # refused, no route, DNS, timeout
            client.close()
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e) or type(e).__name__
            raise NodeUnreachable(f"{self.url}: cannot connect: {why}") from None
        transport = client.get_transport()
        transport.set_keepalive(15)
        self._client = client

    def reconnect(self) -> None:
        self.close()
        self._connect()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _transport(self) -> paramiko.Transport:
        t = self._client.get_transport() if self._client else None
        if t is None or not t.is_active():
            self.reconnect()  # e.g. after a reboot the old transport is dead
            t = self._client.get_transport()
        return t

    # -- the one primitive ---------------------------------------------------------------
    def run(self, cmd: str, timeout: float = 60, input: bytes | None = None) -> CommandResult:
        start = time.monotonic()
        try:
            return self._run(cmd, timeout, input)
        finally:
            timing.command(time.monotonic() - start)    # one SSH round trip, failed ones too

    def _run(self, cmd: str, timeout: float, input: bytes | None) -> CommandResult:
        n = max(1, math.ceil(timeout))
        wrapped = f"timeout -k 5 {n} sh -c {shlex.quote(cmd)}"
        log.info("%s$ %s", self.name, _short(cmd, 400))
        start = time.monotonic()
        try:
            # a loaded TCG guest can take a while to start a session (pam_systemd starts root's
            # user manager on the first one): allow up to the command's own budget
            open_timeout = max(self.connect_timeout, min(n, 120))
            try:
                chan = self._transport().open_session(timeout=open_timeout)
            except paramiko.SSHException as e:
                if "Timeout opening channel" not in str(e):
                    raise
                raise CommandTimeout(f"{self.name}: no session within {open_timeout:.0f}s for "
                                     f"`{_short(cmd)}` (node too slow to start a session)") from None
            deadline = time.monotonic() + n + 5 + CLIENT_GRACE  # counted from the open channel
            chan.settimeout(max(1.0, deadline - time.monotonic()))
            chan.exec_command(wrapped)
            if input:
                chan.sendall(input)
            chan.shutdown_write()
            out, err = self._drain(chan, deadline)
        except (CommandTimeout, TimeoutError) as e:  # TimeoutError: a send blocked past the deadline
            if isinstance(e, CommandTimeout) and str(e):
                raise
            raise CommandTimeout(f"{self.name}: `{_short(cmd)}` still running after {n}s "
                                 f"(client deadline; channel closed)") from None
        except (paramiko.SSHException, EOFError, OSError) as e:
            raise NodeUnreachable(f"{self.url}: connection lost running `{_short(cmd)}`: "
                                  f"{e or type(e).__name__}") from None
        rc = chan.recv_exit_status()
        chan.close()
        if rc == -1:          # paramiko's "no exit status": the transport closed under the command
            raise NodeUnreachable(f"{self.url}: connection lost running `{_short(cmd)}` (no exit status)")
        took = time.monotonic() - start
        res = CommandResult(cmd, rc, out.decode(errors="replace"), err.decode(errors="replace"), took)
        if rc in (124, 137) and took >= n - 0.5:  # coreutils timeout: 124 TERM, 137 after -k KILL
            raise CommandTimeout(f"{self.name}: `{_short(cmd)}` timed out after {n}s")
        return res

    @staticmethod
    def _drain(chan: paramiko.Channel, deadline: float) -> tuple[bytes, bytes]:
        out, err = bytearray(), bytearray()
        while True:
            got = False
            while chan.recv_ready():
                out += chan.recv(65536)
                got = True
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
                got = True
            if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                if chan.eof_received or chan.closed:
                    return bytes(out), bytes(err)
            left = deadline - time.monotonic()
            if left <= 0:
                chan.close()
                raise CommandTimeout()
            if not got:
                select.select([chan], [], [], min(0.5, left))
