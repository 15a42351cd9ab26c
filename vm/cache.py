"""Atomic, lock-protected cache directories: built once in a temp dir, then renamed into place.

Concurrent callers (xdist workers, other engineers' runs) block on the lock and then reuse the
result instead of building it twice.
"""
import fcntl
import os
import shutil
import time
from pathlib import Path
from typing import Callable

from .errors import VMError, VMTimeout


def ensure_dir(final: Path, build: Callable[[Path], None], *, progress: Callable[[str], None],
               what: str, lock_timeout: float = 3600) -> Path:
    """Return `final`, building it with build(tmpdir) under an exclusive lock if it is missing."""
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    lock_path = final.with_name(final.name + ".lock")
    with open(lock_path, "w") as lock:
        _lock(lock, lock_timeout, progress, what)
        if final.is_dir():             # somebody else built it while we waited
            return final
        for stale in final.parent.glob(final.name + ".tmp-*"):
            safe_rmtree(stale)
        tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
        tmp.mkdir()
        try:
            build(tmp)
            os.rename(tmp, final)
        finally:
            if tmp.exists():
                safe_rmtree(tmp)
    return final


def safe_rmtree(path: Path) -> None:
    """rm -r that refuses to descend into mounts (a chroot's /dev or /proc left by a killed build)."""
    real = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        mounts = [line.split()[1] for line in f]
    inside = [m for m in mounts if m == real or m.startswith(real + "/")]
    if inside:
        raise VMError(f"refusing to delete {path}: still mounted: {', '.join(inside)} (umount them first)")
    shutil.rmtree(path, ignore_errors=True)


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
