"""Running commands on the node: every call has a timeout; secrets never go into argv."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

log = logging.getLogger("archipelago.runner")
STOP_GRACE = 5.0   # s a child gets after stop()'s SIGTERM; well inside the unit's TimeoutStopSec=30


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str
    duration: float

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def brief(self) -> str:
        err = (self.stderr or self.stdout).strip().splitlines()
        cmd = " ".join(self.argv[:3]) + (" …" if len(self.argv) > 3 else "")
        return f"{cmd} -> rc={self.rc}" + (f": {err[-1][:200]}" if err else "")


def _signal_group(p: subprocess.Popen, sig: int) -> None:
    """Each command leads its own process group (start_new_session), so this reaches its children."""
    try:
        os.killpg(p.pid, sig)
    except OSError:   # already gone
        pass


class Stopping(Exception):
    """The daemon got SIGTERM: the tick in progress ends here, acting on nothing half-observed."""


class Runner:
    """Real subprocesses and statvfs. The fake in tests/reconciler/recfake.py has the same methods."""

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._live: set[subprocess.Popen] = set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """From the SIGTERM handler: no new commands, SIGTERM to the ones in flight.

        No lock here: the handler runs on the main thread, which may hold any lock of ours.
        A killed `systemctl stop` leaves its job queued in systemd; a killed `podman ps` loses nothing."""
        self._stopping.set()
        for p in list(self._live):
            _signal_group(p, signal.SIGTERM)

    def run(self, argv: list[str] | tuple[str, ...], timeout: float = 30.0) -> Result:
        argv = tuple(argv)
        if self.stopping:
            raise Stopping(f"not running {argv[0]}: the daemon is stopping")
        t0 = time.monotonic()
        try:
            rc, out, err = self._communicate(argv, timeout)
        except OSError as e:
            rc, out, err = 127, "", str(e)
        if self.stopping:   # the result of a command cut short by stop() describes nothing
            raise Stopping(f"{argv[0]} cut short: the daemon is stopping")
        res = Result(argv, rc, out, err, time.monotonic() - t0)
        log.debug("%s (%.2fs)", res.brief(), res.duration)
        return res

    def _communicate(self, argv: tuple[str, ...], timeout: float) -> tuple[int, str, str]:
        with subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, errors="replace", start_new_session=True) as p:
            self._live.add(p)
            try:
                return self._await(p, time.monotonic() + timeout, timeout)
            finally:
                self._live.discard(p)

    def _await(self, p: subprocess.Popen, deadline: float, timeout: float) -> tuple[int, str, str]:
        """communicate() in 1 s slices: a child that ignores stop()'s SIGTERM is killed STOP_GRACE later."""
        killed_at = None
        while True:
            now = time.monotonic()
            if self.stopping and killed_at is None:
                killed_at = now + STOP_GRACE
            try:
                out, err = p.communicate(timeout=max(0.01, min(1.0, deadline - now)))
                return p.returncode, out, err
            except subprocess.TimeoutExpired:
                if time.monotonic() >= min(deadline, killed_at or deadline):
                    _signal_group(p, signal.SIGKILL)   # the group: a grandchild holding the pipe too
                    p.communicate()
                    return 124, "", f"timed out after {timeout:.0f} s"

    def free_bytes(self, path: str) -> int | None:
        """Bytes available to unprivileged writers under path (df's Avail); None when unreadable."""
        try:
            st = os.statvfs(path)
        except OSError:
            return None
        return st.f_bavail * st.f_frsize

    def pid_alive(self, pid: int) -> bool:
        """A process with this pid exists (signal 0: nothing is sent)."""
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:   # someone else's: it exists
            return True
        return True

    def spawn(self, argv: list[str]) -> subprocess.Popen:
        """A long-lived child of the daemon (only the fm3 broken variant uses this)."""
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
