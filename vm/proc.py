"""Host process helpers: start a QEMU tied to its parent, identify it by its run dir, stop it
within a deadline."""
import os
import signal
import subprocess
import time
from pathlib import Path

from node.api import poll

from .errors import VMTimeout


def spawn(argv: list[str], log: Path, tied: bool) -> subprocess.Popen:
    """QEMU as a child of this process, never `-daemonize`d. Tied: SIGKILLed by the kernel when the
    thread that started it dies (`setpriv --pdeathsig`, util-linux; the flag survives the exec), so a
    SIGKILLed pytest leaves no VM behind. Untied (`python -m vm up`): outlives the CLI. Either way
    in its own session, so a terminal's Ctrl-C reaches our teardown, not QEMU directly."""
    prefix = ["setpriv", "--pdeathsig", "KILL", "--"] if tied else []
    with open(log, "ab") as out:
        child = subprocess.Popen(prefix + argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                 start_new_session=True)
    if tied:
        _await_exec(child, "setpriv")
    return child


def _await_exec(child: subprocess.Popen, wrapper: str, timeout: float = 30) -> None:
    """Popen returns once `setpriv` is exec'd, before it sets the death signal: a parent killed in
    that window would leave the child untied. setpriv sets it before it execs the real program, so
    the tie holds once the child's executable is no longer the wrapper (or the child is gone)."""
    def past_wrapper() -> bool:
        try:   # exe, not cmdline: cmdline reads empty until the new program's stack is set up
            return child.poll() is not None or Path(os.readlink(f"/proc/{child.pid}/exe")).name != wrapper
        except OSError:
            return True
    if not poll(past_wrapper, timeout, 0.005):
        child.kill()
        child.wait(timeout=10)
        raise VMTimeout(f"{wrapper} did not exec its program within {timeout:.0f} s")


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is dead for our purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start_time(pid: int) -> int | None:
    """Process start time in clock ticks since boot: tells a live owner from a reused pid."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def age(pid: int | None) -> float | None:
    """Seconds since the process started; None when it is gone."""
    started = start_time(pid) if pid else None
    if started is None:
        return None
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return uptime - started / os.sysconf("SC_CLK_TCK")


def same_process(pid: int | None, started: int | None) -> bool:
    return alive(pid) and (started is None or start_time(pid) == started)


def is_qemu_of(pid: int | None, run_dir: Path) -> bool:
    """True when pid is a QEMU whose command line names run_dir (never kill a recycled pid)."""
    if not alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"qemu-system" in cmdline[0] and any(str(run_dir).encode() in a for a in cmdline)


def terminate(pid: int, timeout: float = 15) -> None:
    """SIGTERM (QEMU exits cleanly), then SIGKILL after `timeout`; returns once the pid is gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(pid):
                return
            time.sleep(0.05)
