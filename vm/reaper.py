"""No leaked VMs: per-run owner records, reaping of runs whose controller died, signal teardown.

Every run dir ${ARCHY_RUN}/<name>/ holds run.lock, flock()ed by the process that claimed the VM
until its run ends (the kernel drops it when that process dies, however it dies), and owner.json
naming that process (pid + start time); `python -m vm up` VMs are detached (owner null, no lock
held) and live until `down`. A later run reaps VMs with no live owner (SIGKILLed test process,
crashed worker) and QEMUs older than a minute in a run dir without owner.json. QEMU itself dies
with its owner (proc.spawn), so reaping is the second line.
"""
import atexit
import fcntl
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Callable

from node.deletion import checked, safe_rmtree

from . import paths, proc

OWNER = "owner.json"
PIDFILE = "qemu.pid"
LOCK = "run.lock"
STARTING_GRACE = 60.0   # s: a QEMU without owner.json younger than this may still be starting


class RunDirBusy(OSError):
    pass


def claim(run_dir: Path, timeout: float = 5.0) -> int:
    """Lock run_dir for this process; returns the fd to keep open until the run ends (close it to
    release). Retries briefly: a reaper in another process holds the lock for a moment to test it."""
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise RunDirBusy(f"{run_dir} is in use by another run (its {LOCK} is locked)") from None
            time.sleep(0.1)


def release(fd: int | None) -> None:
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


def lock_held(run_dir: Path) -> bool:
    """True while some process holds run_dir's lock (a live owner)."""
    try:
        fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def write_owner(run_dir: Path, *, detached: bool, info: dict) -> None:
    pid = None if detached else os.getpid()
    record = {"owner_pid": pid, "owner_start": proc.start_time(pid) if pid else None,
              "created": time.time(), **info}
    tmp = run_dir / (OWNER + ".tmp")
    tmp.write_text(json.dumps(record) + "\n")
    os.replace(tmp, run_dir / OWNER)


def read_owner(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / OWNER).read_text())
    except (OSError, ValueError):
        return None


def owner_alive(record: dict | None) -> bool:
    return bool(record) and proc.same_process(record.get("owner_pid"), record.get("owner_start"))


def stop_run(run_dir: Path, timeout: float = 15, root: Path | None = None) -> int | None:
    """Kill the QEMU of run_dir (if it is really ours) and delete the dir, keeping its serial log
    as ${ARCHY_RUN}/_logs/<name>.serial.log. Returns the QEMU pid killed. run_dir must lie inside
    `root` (default: the run root), else nothing is killed or deleted."""
    root = root or paths.run_root()
    checked(run_dir, within=root)
    pid = proc.read_pid(run_dir / PIDFILE)
    killed = None
    if proc.is_qemu_of(pid, run_dir):
        proc.terminate(pid, timeout)
        killed = pid
    serial = run_dir / "serial.log"
    if serial.is_file():
        logs = run_dir.parent / "_logs"
        logs.mkdir(exist_ok=True)
        os.replace(serial, logs / f"{run_dir.name}.serial.log")
    safe_rmtree(run_dir, within=root)
    return killed


def orphaned(record: dict | None, owner_live: bool, qemu_up: bool, qemu_age: float | None) -> bool:
    """Whether a run dir has no live owner; pure. owner_live: its lock is held, or (a run from
    before the lock) its owner record names a live process."""
    if record and record.get("owner_pid") is None:
        return not qemu_up                    # a detached developer VM (`vm up`) lives until `down`
    if owner_live:
        return False
    if record is None and qemu_up:
        return (qemu_age or 0) >= STARTING_GRACE   # owner.json comes right after QEMU starts
    return True


def reap(progress: Callable[[str], None] = print, root: Path | None = None) -> list[str]:
    """Remove VMs left behind by dead controllers; report each one. Returns the names reaped."""
    root = root or paths.run_root()
    reaped = []
    if not root.is_dir():
        return reaped
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")):
        record = read_owner(d)
        qemu = proc.read_pid(d / PIDFILE)
        live = lock_held(d) or owner_alive(record)
        if not orphaned(record, live, proc.is_qemu_of(qemu, d), proc.age(qemu)):
            continue
        killed = stop_run(d, root=root)
        owner = record.get("owner_pid") if record else None
        progress(f"reaped leftover VM {d.name}: owner pid {owner} gone, "
                 + (f"killed QEMU pid {killed}, " if killed else "QEMU not running, ")
                 + f"removed {d}")
        reaped.append(d.name)
    return reaped


# --- teardown of this process's VMs on exit, Ctrl-C and SIGTERM -----------------------------
_live: dict[int, Callable[[], None]] = {}
_lock = threading.Lock()
_installed = False


def track(key: int, teardown: Callable[[], None]) -> None:
    global _installed
    with _lock:
        _live[key] = teardown
        if not _installed:
            atexit.register(teardown_all)
            if threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGINT, signal.SIGTERM):
                    _chain(sig)
            _installed = True


def untrack(key: int) -> None:
    with _lock:
        _live.pop(key, None)


def teardown_all() -> None:
    with _lock:
        items = list(_live.items())
        _live.clear()
    for _, teardown in items:
        try:
            teardown()
        except Exception as e:   # keep tearing down the others
            print(f"vm teardown failed: {e}")


def _chain(sig: int) -> None:
    previous = signal.getsignal(sig)
    if previous == signal.SIG_IGN:
        return      # the process ignores it (a background job's SIGINT): so do its VMs

    def handler(signum, frame):
        teardown_all()
        if callable(previous):
            return previous(signum, frame)     # e.g. KeyboardInterrupt for SIGINT, pytest's own
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(sig, handler)
