"""Running commands on the node: every call has a timeout; secrets never go into argv."""
from __future__ import annotations

import logging
import os
import subprocess
import time
from dataclasses import dataclass

log = logging.getLogger("archipelago.runner")


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


class Runner:
    """Real subprocesses and statvfs. The fake in tests/reconciler/recfake.py has the same methods."""

    def run(self, argv: list[str] | tuple[str, ...], timeout: float = 30.0) -> Result:
        argv = tuple(argv)
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                               stdin=subprocess.DEVNULL, errors="replace")
            res = Result(argv, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
        except subprocess.TimeoutExpired:
            res = Result(argv, 124, "", f"timed out after {timeout:.0f} s", time.monotonic() - t0)
        except OSError as e:
            res = Result(argv, 127, "", str(e), time.monotonic() - t0)
        log.debug("%s (%.2fs)", res.brief(), res.duration)
        return res

    def free_bytes(self, path: str) -> int | None:
        """Bytes available to unprivileged writers under path (df's Avail); None when unreadable."""
        try:
            st = os.statvfs(path)
        except OSError:
            return None
        return st.f_bavail * st.f_frsize

    def spawn(self, argv: list[str]) -> subprocess.Popen:
        """A long-lived child of the daemon (only the fm3 broken variant uses this)."""
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
