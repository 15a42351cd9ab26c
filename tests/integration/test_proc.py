"""node.proc.stop_group against real process groups: a child that ignores SIGINT, one that ignores
SIGTERM too, one that cleans up on SIGINT; its grandchild, in the same group, goes with it."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node.proc import stop_group

# argv[1]: signals the child ignores; argv[2] == "exit-on-int": SIGINT runs its cleanup (exit 3).
# It starts a grandchild in its own group (`sleep`, default handlers) and prints its pid when ready.
CHILD = r"""
import signal, subprocess, sys, time
for name in filter(None, sys.argv[1].split(",")):
    signal.signal(getattr(signal, name), signal.SIG_IGN)
if sys.argv[2] == "exit-on-int":
    signal.signal(signal.SIGINT, lambda *a: sys.exit(3))
print(subprocess.Popen(["sleep", "120"]).pid, flush=True)
time.sleep(120)
"""


@pytest.fixture
def spawn():
    procs = []

    def start(ignore: str, mode: str = "") -> tuple[subprocess.Popen, int]:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, ignore, mode], stdout=subprocess.PIPE, text=True,
                                start_new_session=True)
        procs.append(proc)
        return proc, int(proc.stdout.readline())
    yield start
    for proc in procs:   # whatever a failed test left behind
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        proc.stdout.close()


def gone(pid: int, within: float = 5) -> bool:
    """Exited within `within` s (a zombie counts: in a container nobody may reap an orphan)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("ignore,terminate,rc,ignored", [
    ("SIGINT", 5, -signal.SIGTERM, [signal.SIGINT]),
    ("SIGINT,SIGTERM", 0.5, -signal.SIGKILL, [signal.SIGINT, signal.SIGTERM]),
    ("SIGINT,SIGTERM", None, -signal.SIGKILL, [signal.SIGINT]),          # no SIGTERM step at all
], ids=["ignores-int", "ignores-int-and-term", "no-term-step"])
def test_escalates_until_the_leader_exits(spawn, ignore, terminate, rc, ignored):
    proc, grandchild = spawn(ignore)
    heard = []
    assert stop_group(proc, interrupt=0.5, terminate=terminate, kill=5,
                      on_ignored=lambda sig, wait: heard.append(sig)) == rc
    assert heard == ignored
    assert gone(grandchild), "the signals went to the leader only, not its group"


def test_cleanup_on_sigint_is_awaited(spawn):
    proc, grandchild = spawn("", "exit-on-int")
    assert stop_group(proc, interrupt=5, terminate=5, on_ignored=pytest.fail) == 3
    assert gone(grandchild)


def test_a_group_already_gone_is_not_an_error():
    proc = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    proc.wait()
    assert stop_group(proc, interrupt=1, terminate=1, on_ignored=pytest.fail) == 0
