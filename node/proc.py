"""Stopping a child's process group: politely first, so its own cleanup runs, then firmly.

Standard library only and nothing from the project: every layer (chaos, harness, ci) uses it.
"""
from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable


def stop_group(proc: subprocess.Popen, *, interrupt: float, terminate: float | None, kill: float = 10,
               on_ignored: Callable[[signal.Signals, float], None] | None = None) -> int | None:
    """Stop the process group `proc` leads (started with start_new_session=True).

    SIGINT, then SIGTERM, then SIGKILL to the whole group, each followed by at most that many
    seconds' wait for the leader to exit; `terminate=None` goes from SIGINT straight to SIGKILL.
    SIGINT comes first because it is what runs the child's cleanup (pytest finalizers, chaos
    rollbacks). `on_ignored(signal, seconds)` hears of each signal the leader outlived.
    Returns the leader's exit status, or None if it outlived the SIGKILL wait too. A group
    that is already gone is not an error.
    """
    for sig, wait in ((signal.SIGINT, interrupt), (signal.SIGTERM, terminate), (signal.SIGKILL, kill)):
        if wait is None:
            continue
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return proc.poll()
        try:
            return proc.wait(wait)
        except subprocess.TimeoutExpired:
            if on_ignored is not None:
                on_ignored(sig, wait)
    return None
