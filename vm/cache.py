"""Atomic, lock-protected cache directories: built once in a temp dir, then renamed into place.

Concurrent callers (xdist workers, other engineers' runs) block on the lock and then reuse the
result instead of building it twice.
"""
import fcntl
import os
import time
from pathlib import Path
from typing import Callable

from node.deletion import safe_rmtree

from . import paths
from .errors import VMTimeout


def ensure_dir(final: Path, build: Callable[[Path], None], *, progress: Callable[[str], None],
               what: str, lock_timeout: float = 3600) -> Path:
    """Return `final` (inside the cache), building it with build(tmpdir) under an exclusive lock
    if it is missing."""
    root = paths.cache_root()
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    lock_path = final.with_name(final.name + ".lock")
    with open(lock_path, "w") as lock:
        _lock(lock, lock_timeout, progress, what)
        if final.is_dir():             # somebody else built it while we waited
            return final
        for stale in final.parent.glob(final.name + ".tmp-*"):
            safe_rmtree(stale, within=root)
        tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
        tmp.mkdir()
        try:
            build(tmp)
            os.rename(tmp, final)
        finally:
            if tmp.exists():
                safe_rmtree(tmp, within=root)
    return final


def _lock(lock, timeout: float, progress, what: str) -> None:
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if not told:
                progress(f"waiting for another process building the {what} ...")
                told = True
            if time.monotonic() > deadline:
                raise VMTimeout(f"{what} build lock {lock.name} still held after {timeout:.0f} s")
            time.sleep(1)
