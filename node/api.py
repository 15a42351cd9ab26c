"""The Node API (docs/architecture.md): one abstract `run`, everything else built on it once.

Backends (SSHNode, VMNode) only implement run/reconnect/close (+ VM extras); waits, file
transfer, journal and reboot are generic so both behave the same.
"""
from __future__ import annotations

import base64
import json
import logging
import shlex
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable

from . import timing
from .commands import ROOT, Commands
from .journal import json_lines
from .names import REFERENCE, Names

log = logging.getLogger("archy.node")


@dataclass(frozen=True)
class CommandResult:
    cmd: str
    rc: int
    stdout: str
    stderr: str
    duration: float


class NodeError(Exception):
    """Every error the harness reports cleanly (str() is one line)."""


class NodeUnreachable(NodeError):
    """Connect / auth failure; the message names the URL."""


class HostKeyMismatch(NodeUnreachable):
    """The node's host key is not the pinned one."""


class CommandFailed(NodeError):
    def __init__(self, result: CommandResult, node: str = ""):
        self.result = result
        tail = (result.stderr.strip() or result.stdout.strip()).splitlines()[-3:]
        super().__init__(f"{node + ': ' if node else ''}`{_short(result.cmd)}` exited {result.rc}"
                         + (f": {' | '.join(tail)}" if tail else ""))


class CommandTimeout(NodeError):
    pass


class CapabilityMissing(NodeError):
    pass


def _short(cmd: str, n: int = 160) -> str:
    one = " ".join(cmd.split())
    return one if len(one) <= n else one[: n - 3] + "..."


def port_listening(ss_output: str, port: int, addr: str = "127.0.0.1") -> bool:
    """Whether `ss -Htln` output shows a listener that accepts connections to addr:port.

    Wildcard listeners (0.0.0.0, *, [::]) count for any address; pure so it is unit-tested.
    """
    wild = {"0.0.0.0", "*", "[::]", "::"}
    for line in ss_output.splitlines():
        cols = line.split()
        if len(cols) < 4:
            continue
        local = cols[3]  # State Recv-Q Send-Q Local:Port Peer:Port
        host, _, p = local.rpartition(":")
        host = host.split("%")[0]  # strip an interface scope ("0.0.0.0%lo")
        if p == str(port) and (host in wild or host.strip("[]") == addr.strip("[]")):
            return True
    return False


class Node(ABC):
    name: str = "node"
    disposable: bool = False
    capabilities: frozenset[str] = frozenset({"node"})
    names: Names = REFERENCE          # what this node's platform calls its units, paths and API
    cmd: Commands = ROOT              # how it runs privileged tools (root login, sudo, user units)

    # -- the one primitive -------------------------------------------------------------
    @abstractmethod
    def run(self, cmd: str, timeout: float = 60, input: bytes | None = None) -> CommandResult:
        """Run `cmd` through sh on the node; bounded by `timeout` (raises CommandTimeout)."""

    @abstractmethod
    def reconnect(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    # -- built on run ------------------------------------------------------------------
    def succeed(self, cmd: str, timeout: float = 60, input: bytes | None = None) -> str:
        r = self.run(cmd, timeout=timeout, input=input)
        if r.rc != 0:
            raise CommandFailed(r, self.name)
        return r.stdout

    def fail(self, cmd: str, timeout: float = 60) -> str:
        r = self.run(cmd, timeout=timeout)
        if r.rc == 0:
            raise NodeError(f"{self.name}: `{_short(cmd)}` succeeded but was expected to fail")
        return r.stdout

    def put_file(self, remote: str, data: bytes, mode: int = 0o644) -> None:
        """Atomic: written to a temp file in the same directory, then renamed over. As root
        (`cmd.as_root`): platform files and the harness's scratch under /run both need it."""
        q = shlex.quote(remote)
        self.succeed(self.cmd.as_root(f'd=$(dirname {q}) && mkdir -p "$d" && t=$(mktemp "$d/.put.XXXXXX") && '
                                      f'cat > "$t" && chmod {mode:o} "$t" && mv -f "$t" {q}'), input=data)

    def get_file(self, remote: str) -> bytes:
        return base64.b64decode(self.succeed(self.cmd.as_root(f"base64 -w0 < {shlex.quote(remote)}")))

    def wait_until_succeeds(self, cmd: str, timeout: float = 120, interval: float = 1.0) -> str:
        last = None

        def ok():
            nonlocal last
            last = self.run(cmd, timeout=max(1.0, min(60.0, deadline - time.monotonic())))
            return last.rc == 0

        deadline = time.monotonic() + timeout
        if poll(ok, timeout, interval):
            return last.stdout
        why = (last.stderr.strip() or last.stdout.strip()).splitlines()[-1:] if last else []
        raise CommandTimeout(f"{self.name}: `{_short(cmd)}` did not succeed within {timeout:.0f}s"
                             + (f" (last rc {last.rc}{': ' + why[0] if why else ''})" if last else ""))

    def wait_for_unit(self, unit: str, timeout: float = 300, *, system: bool = False) -> None:
        """Active within the timeout; fails fast when systemd marks the unit failed. An app's
        unit is asked in the apps' scope (`cmd.systemctl`); `system=True` asks the system manager
        (the daemon, nginx, tor: system units on a rootless node too; reading needs no root)."""
        q = shlex.quote(unit)
        systemctl = "systemctl" if system else self.cmd.systemctl
        state = ""

        def active():
            nonlocal state
            try:
                state = self.run(f"{systemctl} is-active {q}", timeout=30).stdout.strip()
            except CommandTimeout:  # systemctl stuck while the node boots: not yet, ask again
                state = "unresponsive"
                return False
            if state == "failed":
                status = self.run(f"{systemctl} status --no-pager -n 5 {q}", timeout=30).stdout
                raise NodeError(f"{self.name}: unit {unit} failed: "
                                + " | ".join(status.strip().splitlines()[-3:]))
            return state == "active"

        if not poll(active, timeout, 1.0):
            raise CommandTimeout(f"{self.name}: unit {unit} not active within {timeout:.0f}s "
                                 f"(state {state or 'unknown'})")

    def wait_settled(self, timeout: float = 300) -> None:
        """Nothing starting or stopping: systemd's job queue empty (the system manager's, and the
        apps' scope where that is another one)."""
        queues = dict.fromkeys(["systemctl list-jobs --no-legend --no-pager",
                                f"{self.cmd.systemctl} list-jobs --no-legend --no-pager"])
        ask = " ; ".join(queues)            # both queues in one round trip
        jobs = ""

        def idle() -> bool:
            nonlocal jobs
            jobs = self.run(ask, timeout=30).stdout.strip()
            return not jobs

        if not poll(idle, timeout, 1.0):
            raise CommandTimeout(f"{self.name}: systemd still has jobs after {timeout:.0f}s: "
                                 + " | ".join(jobs.splitlines()[:3]))

    def _listening(self, port: int, addr: str) -> bool:
        return port_listening(self.succeed(f"ss -Htln 'sport = :{int(port)}'", timeout=30),
                              port, addr)

    def wait_for_open_port(self, port: int, addr: str = "127.0.0.1", timeout: float = 120) -> None:
        if not poll(lambda: self._listening(port, addr), timeout, 0.5):
            raise CommandTimeout(f"{self.name}: nothing listening on {addr}:{port} within {timeout:.0f}s")

    def wait_for_closed_port(self, port: int, addr: str = "127.0.0.1", timeout: float = 120) -> None:
        if not poll(lambda: not self._listening(port, addr), timeout, 0.5):
            raise CommandTimeout(f"{self.name}: {addr}:{port} still listening after {timeout:.0f}s")

    def boot_id(self) -> str:
        return self.succeed("cat /proc/sys/kernel/random/boot_id", timeout=30).strip()

    def journal_cursor(self) -> str:
        out = self.succeed(f"{self.cmd.journalctl} -q -n 1 -o json --no-pager", timeout=30).strip()
        return json.loads(out.splitlines()[-1]).get("__CURSOR", "") if out else ""

    def journal_since(self, cursor: str, timeout: float = 60) -> list[dict]:
        after = f"--after-cursor={shlex.quote(cursor)}" if cursor else ""
        return json_lines(self.succeed(f"{self.cmd.journalctl} -q -o json --no-pager {after}", timeout=timeout))

    def reboot(self, timeout: float = 600) -> None:
        """Graceful reboot; returns once a new boot id answers over a fresh connection."""
        if "reboot" not in self.capabilities:
            raise CapabilityMissing(f"{self.name}: reboot not allowed on this node")
        old = self.boot_id()
        try:
            self.run(self.cmd.as_root("systemctl --no-block reboot"), timeout=30)
        except (NodeUnreachable, CommandTimeout):
            pass  # the connection may die with the node before the reply arrives
        self._wait_new_boot(old, timeout)

    def _wait_new_boot(self, old_boot: str, timeout: float) -> None:
        def new_boot():
            if not self._ready_to_log_in():
                return False
            try:
                self.reconnect()
                return self.boot_id() != old_boot
            except NodeError:
                return False

        if not poll(new_boot, timeout, 2.0):
            raise CommandTimeout(f"{self.name}: no new boot within {timeout:.0f}s{self._boot_hint()}")

    def _ready_to_log_in(self) -> bool:
        """A cheap check before a full login while the node reboots (VM nodes read the banner)."""
        return True

    def _boot_hint(self) -> str:
        """Where to look when a boot does not come back (VM nodes name the serial log)."""
        return ""

    # -- VM only -------------------------------------------------------------------------
    def _vm_only(self, what: str):
        raise CapabilityMissing(f"{self.name}: {what} needs a VM node")

    def power_cut(self, timeout: float = 600) -> None:
        self._vm_only("power_cut")

    def pause(self) -> None:
        self._vm_only("pause")

    def resume(self) -> None:
        self._vm_only("resume")

    def snapshot(self, name: str) -> None:
        self._vm_only("snapshot")

    def restore(self, name: str = "golden") -> None:
        self._vm_only("restore")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def poll(cond: Callable[[], bool], timeout: float, interval: float) -> bool:
    """Call cond until it is true or the deadline passes; the only waiting loop in the harness.

    The pause starts at `interval` and grows by half each miss up to 4x (at most 5 s, never below
    `interval`): a quick answer is seen quickly, and a long wait does not spend the node's CPU on
    a command a second (each one an SSH session; under TCG about half a second of guest CPU).
    Its wall time, checks included, is charged to its caller in node.timing."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    pause, cap = interval, max(interval, min(4 * interval, 5.0))
    try:
        while True:
            if cond():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(pause, left))
            pause = min(pause * 1.5, cap)
    finally:
        timing.waited(time.monotonic() - t0)
